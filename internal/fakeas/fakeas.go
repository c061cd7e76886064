// Package fakeas is the one fake authorization server of the kit's tests,
// the integration module and the benchmarks: an OAuth2 server plus a user
// API on loopback that auto-approves every authorization request, checks
// PKCE (S256), redirect_uri and single use of codes like a real one,
// rotates refresh tokens, and counts every request so tests assert which
// requests were (not) made. Fault-injection hooks replace the token and
// revocation endpoints. Client builds the matching client: the only place
// that constructs one. Only tests import it.
package fakeas

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oauthkit/oauthkit/client"
)

// The credentials the server accepts, in the form or as HTTP Basic.
const (
	ClientID     = "cid"
	ClientSecret = "csecret"
)

// UserHeader names the request header ("id|email") that picks the user an
// authorization request is approved for, so concurrent logins can be
// distinct users; without it the server's current user is approved.
const UserHeader = "X-Fake-User"

// DefaultUser is the current user of a new server.
var DefaultUser = User{ID: "1234567890123456789", Email: "ada@example.com"}

// User is an account at the fake server. An email starting with
// "unverified" is one the server does not vouch for (email_verified false);
// an all-digit ID is served as a JSON number, "null" as null, any other as
// a string.
type User struct{ ID, Email string }

type grant struct {
	challenge, redirectURI string
	user                   User
}

// Server is the fake authorization server. Set its hooks before the first
// request.
type Server struct {
	// Srv is the loopback server; URL is its base URL.
	Srv *httptest.Server
	URL string

	mu        sync.Mutex
	codes     map[string]grant
	refreshes map[string]User
	tokens    map[string]User
	user      User

	// Hit counters. TokenHits counts the token requests that are not
	// refresh grants (code exchanges, failed ones and those TokenHandler
	// answers included), TokenOK the successful code exchanges,
	// RefreshHits the refresh grants.
	AuthorizeHits, TokenHits, TokenOK, RefreshHits, UserHits, RevokeHits atomic.Int64
	// LastRevoked is the token of the last revocation request (a string).
	LastRevoked atomic.Value

	// TokenHandler, when set, answers the token endpoint (fault injection).
	TokenHandler http.HandlerFunc
	// RevokeHandler, when set, answers the revocation endpoint after it is
	// counted and LastRevoked is recorded; unset, revocation answers 200.
	RevokeHandler http.HandlerFunc
	// ExpiresIn is the lifetime of issued access tokens, in seconds.
	ExpiresIn int
	// StaticCode, when set, is a code the token endpoint accepts any number
	// of times without PKCE or redirect_uri checks, for benchmarks that
	// replay one callback.
	StaticCode string
	// PKCEOptional lets authorization requests without a code challenge
	// through, for clients (the benchmarks' peers) that send none.
	PKCEOptional bool
}

// New starts a server closed at the end of t.
func New(t testing.TB) *Server {
	s := Start()
	t.Cleanup(s.Srv.Close)
	return s
}

// Start starts a server the caller closes (Srv.Close), for a TestMain.
func Start() *Server {
	s := &Server{
		codes:     map[string]grant{},
		refreshes: map[string]User{},
		tokens:    map[string]User{},
		user:      DefaultUser,
		ExpiresIn: 3600,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if h := s.TokenHandler; h != nil {
			s.TokenHits.Add(1)
			h(w, r)
			return
		}
		s.token(w, r)
	})
	mux.HandleFunc("GET /user", s.userinfo)
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeHits.Add(1)
		_ = r.ParseForm()
		s.LastRevoked.Store(r.PostForm.Get("token"))
		if h := s.RevokeHandler; h != nil {
			h(w, r)
		}
	})
	s.Srv = httptest.NewServer(mux)
	s.URL = s.Srv.URL
	return s
}

// SetUser changes the user approved when a request names none.
func (s *Server) SetUser(u User) { s.mu.Lock(); s.user = u; s.mu.Unlock() }

// Approve sends the authorization request authURL as a browser would, for
// u (zero: the current user), and returns the redirect back to the app (the
// callback URL with code and state).
func (s *Server) Approve(authURL string, u User) (*url.URL, error) {
	req, err := http.NewRequest(http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	if u.ID != "" {
		req.Header.Set(UserHeader, u.ID+"|"+u.Email)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	res, err := noFollow.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("fakeas: authorize answered %d", res.StatusCode)
	}
	return url.Parse(res.Header.Get("Location"))
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	s.AuthorizeHits.Add(1)
	q := r.URL.Query()
	pkce := q.Get("code_challenge_method") == "S256" && len(q.Get("code_challenge")) == 43
	noPKCE := s.PKCEOptional && q.Get("code_challenge") == "" && q.Get("code_challenge_method") == ""
	if q.Get("response_type") != "code" || q.Get("client_id") != ClientID || q.Get("state") == "" || !(pkce || noPKCE) {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || q.Get("redirect_uri") == "" {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	code := client.GenerateState()
	s.mu.Lock()
	user := s.user
	if id, email, ok := strings.Cut(r.Header.Get(UserHeader), "|"); ok {
		user = User{ID: id, Email: email}
	}
	s.codes[code] = grant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), user: user}
	s.mu.Unlock()
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f := r.PostForm
	w.Header().Set("Content-Type", "application/json")
	fail := func(code string) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"error":%q}`, code)
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	var u User
	switch f.Get("grant_type") {
	case "refresh_token":
		s.RefreshHits.Add(1)
		if id != ClientID || secret != ClientSecret {
			fail("invalid_client")
			return
		}
		s.mu.Lock()
		ru, ok := s.refreshes[f.Get("refresh_token")]
		delete(s.refreshes, f.Get("refresh_token")) // rotation
		s.mu.Unlock()
		if !ok {
			fail("invalid_grant")
			return
		}
		u = ru
	default:
		s.TokenHits.Add(1)
		if id != ClientID || secret != ClientSecret {
			fail("invalid_client")
			return
		}
		if f.Get("grant_type") != "authorization_code" {
			fail("unsupported_grant_type")
			return
		}
		code := f.Get("code")
		if s.StaticCode != "" && code == s.StaticCode {
			// Fixed answers, stored nowhere: a benchmark replaying the
			// code costs the server the same small work every time.
			s.mu.Lock()
			u = s.user
			s.mu.Unlock()
			s.TokenOK.Add(1)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"access_token":  "at-" + u.ID + "-" + u.Email + "-static",
				"token_type":    "Bearer",
				"refresh_token": "rt-static",
				"expires_in":    s.ExpiresIn,
				"scope":         "user",
			})
			return
		} else {
			s.mu.Lock()
			g, ok := s.codes[code]
			delete(s.codes, code) // single use, like a real AS
			s.mu.Unlock()
			if !ok || g.redirectURI != f.Get("redirect_uri") ||
				(g.challenge != "" && client.S256Challenge(f.Get("code_verifier")) != g.challenge) ||
				(g.challenge == "" && f.Get("code_verifier") != "") {
				fail("invalid_grant")
				return
			}
			u = g.user
		}
		s.TokenOK.Add(1)
	}
	at := "at-" + u.ID + "-" + u.Email + "-" + client.GenerateState()
	rt := "rt-" + client.GenerateState()
	s.mu.Lock()
	s.refreshes[rt] = u
	s.tokens[at] = u
	s.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token":  at,
		"token_type":    "Bearer",
		"refresh_token": rt,
		"expires_in":    s.ExpiresIn,
		"scope":         "user",
	})
}

// userinfo serves the profile of the user a token was issued to. A token
// the server did not issue (a TokenHandler's) names its user itself:
// "at-<id>-<email>-<anything>".
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	s.UserHits.Add(1)
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	u, ok := s.tokens[at]
	s.mu.Unlock()
	if !ok {
		rest, prefixed := strings.CutPrefix(at, "at-")
		parts := strings.SplitN(rest, "-", 3)
		if !prefixed || len(parts) < 2 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		u = User{ID: parts[0], Email: parts[1]}
	}
	id := u.ID
	if id != "null" && strings.Trim(id, "0123456789") != "" || id == "" {
		id = fmt.Sprintf("%q", id)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"id":%s,"login":%q,"email":%q,"email_verified":%t,"name":%q,"avatar_url":%q}`,
		id, "user"+u.ID, u.Email, u.Email != "" && !strings.HasPrefix(u.Email, "unverified"),
		"User "+u.ID, "https://avatars.example/"+u.ID+".png")
}

// Provider is the generic client plus the fake server's user API: a real
// client doing real HTTP, like the provider clients of package client.
type Provider struct {
	*client.OAuth2
	// UserURL is the user API the identity is read from.
	UserURL string
	hc      *http.Client
}

// Options are the client options Client uses, for tests that rebuild the
// client with changes (WithOAuth2).
func Options(name string, hc *http.Client) []client.Option {
	opts := []client.Option{
		client.WithRevocationEndpointAuthMethod(client.ClientSecretPost),
		client.WithName(name),
		client.WithScopes("user"),
	}
	if hc != nil {
		opts = append(opts, client.WithHTTPClient(hc))
	}
	return opts
}

// Client builds the client registered at s (ClientID, ClientSecret, scope
// "user"; the kit's clock stamps token expiry) named name, reaching s through hc (nil: the
// client package's default; the user API then goes through the test
// server's client). Every test builds its fake provider client here.
func (s *Server) Client(name string, hc *http.Client) (*Provider, error) {
	c, err := client.New(client.Config{
		ClientID: ClientID, ClientSecret: ClientSecret,
		AuthorizeEndpoint:    s.URL + "/authorize",
		AccessTokenEndpoint:  s.URL + "/token",
		RefreshTokenEndpoint: s.URL + "/token",
		RevokeTokenEndpoint:  s.URL + "/revoke",
	}, Options(name, hc)...)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = s.Srv.Client()
	}
	return &Provider{OAuth2: c, UserURL: s.URL + "/user", hc: hc}, nil
}

// IDEmail reads the user API.
func (p *Provider) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := p.identity(ctx, accessToken)
	if err != nil {
		return "", "", err
	}
	return id.Subject, id.Email, nil
}

// Identify reads the user API: the generic client's Identify knows none.
func (p *Provider) Identify(ctx context.Context, t *client.Token, nonce string) (*client.Identity, error) {
	return p.identity(ctx, t.AccessToken)
}

func (p *Provider) identity(ctx context.Context, accessToken string) (*client.Identity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.UserURL, nil)
	if err != nil {
		return nil, &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	res, err := p.hc.Do(req)
	if err != nil {
		return nil, &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, &client.RequestError{Op: client.ErrGetIDEmail, Err: &client.HTTPError{StatusCode: res.StatusCode}}
	}
	dec := json.NewDecoder(io.LimitReader(res.Body, client.MaxResponseBytes))
	dec.UseNumber()
	var v struct {
		ID            any    `json:"id"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
		AvatarURL     string `json:"avatar_url"`
	}
	if err := dec.Decode(&v); err != nil {
		return nil, &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	var sub string
	switch id := v.ID.(type) {
	case json.Number:
		sub = id.String()
	case string:
		sub = id
	}
	return &client.Identity{Subject: sub, Email: v.Email, EmailVerified: v.EmailVerified, Name: v.Name, AvatarURL: v.AvatarURL}, nil
}

// ForgetRefreshTokens drops every refresh token issued so far, as a
// provider does when the user revokes the app's grant.
func (s *Server) ForgetRefreshTokens() { s.mu.Lock(); clear(s.refreshes); s.mu.Unlock() }

// WithOAuth2 is p with its OAuth2 client replaced by c (a client rebuilt
// from p's configuration), keeping the user API.
func (p *Provider) WithOAuth2(c *client.OAuth2) *Provider {
	q := *p
	q.OAuth2 = c
	return &q
}
