package oauthkittest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Emails is GitHub's GET /user/emails, for GitHub's Requests and FailNext
// (GET /user counts as UserInfo, the token endpoint as Token and Refresh,
// the authorize page as Authorize).
const Emails Endpoint = "emails"

// GitHubUser is a user of the GitHub fake, as GET /user and GET
// /user/emails describe them.
type GitHubUser struct {
	// Login is the user's handle, which LoginAs and SetNextLogin take.
	Login string
	// ID is the numeric user id (the kit's subject); zero picks one.
	ID int64
	// Name and AvatarURL are GET /user's name and avatar_url.
	Name      string
	AvatarURL string
	// Email is the public profile email of GET /user ("" is null).
	Email string
	// Emails is GET /user/emails; with no entries, the list is empty.
	Emails []GitHubEmail
}

// GitHubEmail is one address of GET /user/emails.
type GitHubEmail struct {
	// Email is the address; Primary and Verified are GitHub's flags, which
	// the kit's GitHub client needs both of to trust the address.
	Email    string
	Primary  bool
	Verified bool
	// Visibility is "public", "private" or "" (null).
	Visibility string
}

// GitHub is a fake of GitHub's OAuth web flow and user API, shaped as
// GitHub answers: the token endpoint answers form-encoded unless asked
// for JSON and reports errors with 200 OK (bad_verification_code,
// incorrect_client_credentials, redirect_uri_mismatch), scopes are
// comma-separated, GET /user/emails needs the user:email (or user) scope
// and answers 404 without it. PKCE is checked when the client sends it.
// With GitHubExpiringTokens, tokens expire and come with a refresh token,
// as GitHub Apps' user tokens do.
//
// It serves github.com and api.github.com on one loopback port; Transport
// routes requests for those hosts there, so application code that calls
// the real URLs runs unchanged.
type GitHub struct {
	host     string
	srv      server
	fb       faultBox
	expiring bool
	optErrs  []error

	mu      sync.Mutex
	clients map[string]Client
	users   map[string]*GitHubUser // by login
	codes   map[string]*githubCode
	tokens  map[string]*githubToken // access and refresh tokens
	tickets map[string]*githubTicket
	next    []string
	nextID  int64
}

// githubTicket is one LoginAs call: its user, and the code its login got.
type githubTicket struct{ login, code string }

type githubCode struct {
	clientID, redirectURI, login, challenge string
	scopes                                  []string
}

type githubToken struct {
	clientID, login string
	scopes          []string
	refresh         bool
	expiry          time.Time // zero: never
}

// GitHubOption configures the GitHub fake.
type GitHubOption func(*GitHub)

// GitHubExpiringTokens makes access tokens expire after eight hours with a
// refresh token (GitHub Apps with expiring user tokens).
func GitHubExpiringTokens() GitHubOption { return func(g *GitHub) { g.expiring = true } }

// WithGitHubUser registers u at start, as AddUser does.
func WithGitHubUser(u GitHubUser) GitHubOption {
	return func(g *GitHub) { g.optErrs = append(g.optErrs, g.AddUser(u)) }
}

// WithGitHubClient registers an OAuth App at start, as AddClient does.
func WithGitHubClient(c Client) GitHubOption {
	return func(g *GitHub) { g.optErrs = append(g.optErrs, g.AddClient(c)) }
}

// NewGitHub starts a GitHub fake for a test and closes it when the test ends.
func NewGitHub(t testing.TB, opts ...GitHubOption) *GitHub {
	t.Helper()
	g, err := StartGitHub(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// StartGitHub starts a GitHub fake on a free loopback port; Close stops it.
func StartGitHub(opts ...GitHubOption) (*GitHub, error) {
	g := &GitHub{
		fb:      newFaultBox(),
		clients: map[string]Client{},
		users:   map[string]*GitHubUser{},
		codes:   map[string]*githubCode{},
		tokens:  map[string]*githubToken{},
		tickets: map[string]*githubTicket{},
		nextID:  1000,
	}
	for _, o := range opts {
		o(g)
	}
	if err := errors.Join(g.optErrs...); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("oauthkittest: %w", err)
	}
	g.host = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", g.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", g.token)
	mux.HandleFunc("GET /user", g.user)
	mux.HandleFunc("GET /user/emails", g.emails)
	g.srv.serve(ln, g.fb.middleware(g.endpointOf, mux), g.fb.closing)
	return g, nil
}

// Close stops the fake and waits for its handlers; safe to call twice.
func (g *GitHub) Close() { g.srv.close() }

// AddClient registers an OAuth App: ID, Secret and RedirectURIs (GitHub
// accepts the secret in the form or in basic authentication).
func (g *GitHub) AddClient(c Client) error {
	if c.ID == "" || c.Secret == "" {
		return fmt.Errorf("%w: a GitHub client needs ID and Secret", ErrRegistration)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, dup := g.clients[c.ID]; dup {
		return fmt.Errorf("%w: client %q registered twice", ErrRegistration, c.ID)
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	g.clients[c.ID] = c
	return nil
}

// AddUser registers u, or replaces the user of the same Login.
func (g *GitHub) AddUser(u GitHubUser) error {
	if u.Login == "" {
		return fmt.Errorf("%w: GitHub user without Login", ErrRegistration)
	}
	u.Emails = slices.Clone(u.Emails)
	g.mu.Lock()
	defer g.mu.Unlock()
	if u.ID == 0 {
		if old, ok := g.users[u.Login]; ok {
			u.ID = old.ID
		} else {
			g.nextID++
			u.ID = g.nextID
		}
	}
	g.users[u.Login] = &u
	return nil
}

// githubHosts are the hosts the fake stands in for.
var githubHosts = []string{"github.com", "api.github.com"}

// Transport routes requests for github.com and api.github.com to the fake
// (over plain HTTP on loopback) and every other request to base (nil:
// http.DefaultTransport). Give it to the application's GitHub client
// (client.WithHTTPClient) so that its code runs against the fake.
func (g *GitHub) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return routeTransport{base: base, hosts: githubHosts, to: g.host}
}

// HTTPClient is an *http.Client with Transport(nil).
func (g *GitHub) HTTPClient() *http.Client { return &http.Client{Transport: g.Transport(nil)} }

// routeTransport sends requests for hosts to the loopback address to.
type routeTransport struct {
	base  http.RoundTripper
	hosts []string
	to    string
}

func (t routeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if slices.Contains(t.hosts, r.URL.Host) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = "http", t.to
	}
	return t.base.RoundTrip(r)
}

// FailNext queues faults for endpoint e (Authorize, Token, Refresh,
// UserInfo for GET /user, Emails); see Provider.FailNext.
func (g *GitHub) FailNext(e Endpoint, faults ...Fault) { g.fb.failNext(e, faults) }

// Requests is how many requests endpoint e has received so far.
func (g *GitHub) Requests(e Endpoint) int { return g.fb.requests(e) }

func (g *GitHub) endpointOf(r *http.Request) Endpoint {
	switch r.URL.Path {
	case "/login/oauth/authorize":
		return Authorize
	case "/login/oauth/access_token":
		if form, err := peekForm(r); err == nil && form.Get("grant_type") == "refresh_token" {
			return Refresh
		}
		return Token
	case "/user":
		return UserInfo
	case "/user/emails":
		return Emails
	}
	return ""
}

// SetNextLogin makes the next authorization that LoginAs did not start
// log in the user of this login.
func (g *GitHub) SetNextLogin(login string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.users[login]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownUser, login)
	}
	g.next = append(g.next, login)
	return nil
}

// LoginAs logs the user of login in to the application through its login
// URL and GitHub's web flow; see Provider.LoginAs. hc's transport is
// wrapped with Transport, so the browser reaches the fake's github.com.
func (g *GitHub) LoginAs(ctx context.Context, hc *http.Client, loginURL, login string) error {
	g.mu.Lock()
	_, ok := g.users[login]
	g.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownUser, login)
	}
	ticket := rand.Text()
	t := &githubTicket{login: login}
	g.mu.Lock()
	g.tickets[ticket] = t
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.tickets, ticket)
		g.mu.Unlock()
	}()
	c := *hc
	c.Transport = ticketTransport{base: g.Transport(c.Transport), hosts: githubHosts, ticket: ticket}
	if err := followLogin(ctx, &c, loginURL, func(host string) bool { return slices.Contains(githubHosts, host) }); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.code == "" {
		return &LoginError{URL: loginURL, Reason: "the flow never reached GitHub's authorize page"}
	}
	if _, pending := g.codes[t.code]; pending {
		return &LoginError{URL: loginURL, Reason: "the application did not exchange the authorization code"}
	}
	return nil
}

// authorize is GitHub's authorize page, approving at once for the user
// the LoginAs ticket, SetNextLogin or the login parameter names.
func (g *GitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	g.mu.Lock()
	c, ok := g.clients[q.Get("client_id")]
	login := ""
	ticket := g.tickets[r.Header.Get(ticketHeader)]
	if ticket != nil && ticket.code == "" {
		login = ticket.login
	}
	if login == "" && len(g.next) > 0 {
		login, g.next = g.next[0], g.next[1:]
	}
	if login == "" {
		if _, ok := g.users[q.Get("login")]; ok {
			login = q.Get("login")
		}
	}
	g.mu.Unlock()
	if !ok {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" && len(c.RedirectURIs) > 0 {
		redirect = c.RedirectURIs[0]
	}
	if !slices.Contains(c.RedirectURIs, redirect) {
		http.Error(w, "The redirect_uri MUST match the registered callback URL for this application.", http.StatusBadRequest)
		return
	}
	if m := q.Get("code_challenge_method"); q.Get("code_challenge") != "" && m != "S256" {
		http.Error(w, "code_challenge_method must be S256", http.StatusBadRequest)
		return
	}
	if login == "" {
		http.Error(w, "no user chosen: use LoginAs or SetNextLogin", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	g.mu.Lock()
	if ticket != nil && ticket.login == login {
		ticket.code = code
	}
	g.codes[code] = &githubCode{clientID: c.ID, redirectURI: redirect, login: login, challenge: q.Get("code_challenge"),
		scopes: strings.FieldsFunc(q.Get("scope"), func(r rune) bool { return r == ' ' || r == ',' })}
	g.mu.Unlock()
	u, _ := url.Parse(redirect)
	v := u.Query()
	v.Set("code", code)
	if s := q.Get("state"); s != "" {
		v.Set("state", s)
	}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// token is GitHub's access_token endpoint: errors come with 200 OK.
func (g *GitHub) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		githubAnswer(w, r, map[string]string{"error": "incorrect_client_credentials",
			"error_description": "The client_id and/or client_secret passed are incorrect."})
		return
	}
	var login string
	var scopes []string
	switch r.PostForm.Get("grant_type") {
	case "refresh_token":
		t, ok := g.tokens[r.PostForm.Get("refresh_token")]
		if !ok || !t.refresh || t.clientID != id {
			githubAnswer(w, r, map[string]string{"error": "bad_refresh_token", "error_description": "The refresh token passed is incorrect or expired."})
			return
		}
		delete(g.tokens, r.PostForm.Get("refresh_token"))
		login, scopes = t.login, t.scopes
	case "", "authorization_code":
		code, ok := g.codes[r.PostForm.Get("code")]
		if !ok || code.clientID != id {
			githubAnswer(w, r, map[string]string{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
			return
		}
		if ru := r.PostForm.Get("redirect_uri"); ru != "" && ru != code.redirectURI {
			githubAnswer(w, r, map[string]string{"error": "redirect_uri_mismatch", "error_description": "The redirect_uri MUST match the registered callback URL for this application."})
			return
		}
		if code.challenge != "" {
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if base64.RawURLEncoding.EncodeToString(sum[:]) != code.challenge {
				githubAnswer(w, r, map[string]string{"error": "bad_verification_code", "error_description": "The code_verifier does not match the code_challenge."})
				return
			}
		}
		delete(g.codes, r.PostForm.Get("code"))
		login, scopes = code.login, code.scopes
	default:
		githubAnswer(w, r, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	access := "gho_" + rand.Text()
	at := &githubToken{clientID: id, login: login, scopes: scopes}
	resp := map[string]string{"access_token": access, "token_type": "bearer", "scope": strings.Join(scopes, ",")}
	if g.expiring {
		at.expiry = time.Now().Add(8 * time.Hour)
		refresh := "ghr_" + rand.Text()
		g.tokens[refresh] = &githubToken{clientID: id, login: login, scopes: scopes, refresh: true, expiry: time.Now().Add(180 * 24 * time.Hour)}
		resp["expires_in"] = "28800"
		resp["refresh_token"] = refresh
		resp["refresh_token_expires_in"] = "15552000"
	}
	g.tokens[access] = at
	githubAnswer(w, r, resp)
}

// githubAnswer writes a token-endpoint answer, JSON when the client
// accepts it and form-encoded otherwise; always 200, as GitHub does.
func githubAnswer(w http.ResponseWriter, r *http.Request, m map[string]string) {
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "json") {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
			if k == "expires_in" || k == "refresh_token_expires_in" {
				var n int64
				_, _ = fmt.Sscan(v, &n)
				out[k] = n
			}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	v := url.Values{}
	for k, s := range m {
		v.Set(k, s)
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	_, _ = io.WriteString(w, v.Encode())
}

// bearer finds the user of the request's token (Bearer or token scheme).
func (g *GitHub) bearer(w http.ResponseWriter, r *http.Request) (*GitHubUser, *githubToken, bool) {
	auth := r.Header.Get("Authorization")
	tok := ""
	for _, scheme := range []string{"Bearer ", "bearer ", "token "} {
		if strings.HasPrefix(auth, scheme) {
			tok = strings.TrimPrefix(auth, scheme)
		}
	}
	g.mu.Lock()
	t, ok := g.tokens[tok]
	var u *GitHubUser
	if ok && !t.refresh && (t.expiry.IsZero() || time.Now().Before(t.expiry)) {
		u = g.users[t.login]
	}
	g.mu.Unlock()
	if u == nil {
		githubAPIError(w, http.StatusUnauthorized, "Bad credentials")
		return nil, nil, false
	}
	return u, t, true
}

func githubAPIError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message, "documentation_url": "https://docs.github.com/rest"})
}

// user is GET /user.
func (g *GitHub) user(w http.ResponseWriter, r *http.Request) {
	u, _, ok := g.bearer(w, r)
	if !ok {
		return
	}
	nullable := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"login": u.Login, "id": u.ID, "node_id": fmt.Sprintf("U_%d", u.ID), "type": "User",
		"name": nullable(u.Name), "email": nullable(u.Email), "avatar_url": u.AvatarURL,
		"html_url": "https://github.com/" + u.Login,
	})
}

// emails is GET /user/emails: 404 without the user:email or user scope.
func (g *GitHub) emails(w http.ResponseWriter, r *http.Request) {
	u, t, ok := g.bearer(w, r)
	if !ok {
		return
	}
	if !slices.Contains(t.scopes, "user:email") && !slices.Contains(t.scopes, "user") {
		githubAPIError(w, http.StatusNotFound, "Not Found")
		return
	}
	list := make([]map[string]any, 0, len(u.Emails))
	for _, e := range u.Emails {
		var vis any
		if e.Visibility != "" {
			vis = e.Visibility
		}
		list = append(list, map[string]any{"email": e.Email, "primary": e.Primary, "verified": e.Verified, "visibility": vis})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(list)
}
