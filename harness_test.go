package oauthkit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// fakeAS is an authorization server on loopback: it auto-approves every
// authorization request for its current user, and checks PKCE, redirect_uri
// and single use of codes like a real one. Counters let tests assert which
// requests were (not) made.
type fakeAS struct {
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	codes     map[string]grant // code -> grant
	refreshes map[string]string
	user      fakeUser

	authorizeHits, tokenHits, refreshHits, userHits, revokeHits atomic.Int64
	lastRevoked                                                 atomic.Value

	// tokenHandler, when set, replaces the token endpoint (fault injection).
	tokenHandler http.HandlerFunc
	// now is the clients' clock for token expiry (the app's clock).
	now func() time.Time
	// revokeHandler, when set, replaces the revocation endpoint.
	revokeHandler http.HandlerFunc
	expiresIn     int
}

type fakeUser struct {
	ID    string
	Email string
}

type grant struct {
	challenge, redirectURI string
	user                   fakeUser
}

func newFakeAS(t testing.TB) *fakeAS {
	as := &fakeAS{
		t:         t,
		codes:     map[string]grant{},
		refreshes: map[string]string{},
		user:      fakeUser{ID: "1234567890123456789", Email: "ada@example.com"},
		expiresIn: 3600,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", as.authorize)
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if h := as.tokenHandler; h != nil {
			as.tokenHits.Add(1)
			h(w, r)
			return
		}
		as.token(w, r)
	})
	mux.HandleFunc("GET /user", as.userinfo)
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		as.revokeHits.Add(1)
		_ = r.ParseForm()
		as.lastRevoked.Store(r.PostForm.Get("token"))
		if h := as.revokeHandler; h != nil {
			h(w, r)
		}
	})
	as.srv = httptest.NewServer(mux)
	t.Cleanup(as.srv.Close)
	return as
}

func (as *fakeAS) authorize(w http.ResponseWriter, r *http.Request) {
	as.authorizeHits.Add(1)
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := client.GenerateState()
	as.mu.Lock()
	user := as.user
	// approveAs picks the user per request, for concurrent distinct users.
	if id, email, ok := strings.Cut(r.Header.Get("X-Fake-User"), "|"); ok {
		user = fakeUser{ID: id, Email: email}
	}
	as.codes[code] = grant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), user: user}
	as.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := url.Values{"code": {code}, "state": {q.Get("state")}}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (as *fakeAS) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f := r.PostForm
	w.Header().Set("Content-Type", "application/json")
	fail := func(code string) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"error":%q}`, code)
	}
	if f.Get("client_id") != "cid" || f.Get("client_secret") != "csecret" {
		fail("invalid_client")
		return
	}
	var u fakeUser
	switch f.Get("grant_type") {
	case "authorization_code":
		as.tokenHits.Add(1)
		as.mu.Lock()
		g, ok := as.codes[f.Get("code")]
		delete(as.codes, f.Get("code"))
		as.mu.Unlock()
		if !ok || g.redirectURI != f.Get("redirect_uri") || client.S256Challenge(f.Get("code_verifier")) != g.challenge {
			fail("invalid_grant")
			return
		}
		u = g.user
	case "refresh_token":
		as.refreshHits.Add(1)
		as.mu.Lock()
		id, ok := as.refreshes[f.Get("refresh_token")]
		delete(as.refreshes, f.Get("refresh_token")) // rotation
		as.mu.Unlock()
		if !ok {
			fail("invalid_grant")
			return
		}
		u = fakeUser{ID: id, Email: ""}
	default:
		fail("unsupported_grant_type")
		return
	}
	rt := "rt-" + client.GenerateState()
	as.mu.Lock()
	as.refreshes[rt] = u.ID
	as.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token":  "at-" + u.ID + "-" + u.Email + "-" + client.GenerateState(),
		"token_type":    "Bearer",
		"refresh_token": rt,
		"expires_in":    as.expiresIn,
	})
}

func (as *fakeAS) userinfo(w http.ResponseWriter, r *http.Request) {
	as.userHits.Add(1)
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer at-")
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	parts := strings.SplitN(at, "-", 3)
	w.Header().Set("Content-Type", "application/json")
	// The profile is derived from the id and email the token carries: an
	// address starting with "unverified" is one the AS does not vouch for.
	_, _ = fmt.Fprintf(w, `{"id":%s,"email":%q,"email_verified":%t,"name":%q,"avatar_url":%q}`,
		parts[0], parts[1], parts[1] != "" && !strings.HasPrefix(parts[1], "unverified"),
		"User "+parts[0], "https://avatars.example/"+parts[0]+".png")
}

// testProvider is a generic client plus the fake AS's user API: a real client
// doing real HTTP, like the provider clients of package client.
type testProvider struct {
	*client.OAuth2
	userURL string
	hc      *http.Client
	// opts are the options the client was built with, for withClient.
	opts []client.Option
}

func (p *testProvider) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := p.identity(ctx, accessToken)
	if err != nil {
		return "", "", err
	}
	return id.Subject, id.Email, nil
}

// Identify reads the fake AS's user API: the generic client's Identify
// knows no user API.
func (p *testProvider) Identify(ctx context.Context, t *client.Token, nonce string) (*client.Identity, error) {
	return p.identity(ctx, t.AccessToken)
}

func (p *testProvider) identity(ctx context.Context, accessToken string) (*client.Identity, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.userURL, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	res, err := p.hc.Do(req)
	if err != nil {
		return nil, &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, &client.RequestError{Op: client.ErrGetIDEmail, Err: &client.HTTPError{StatusCode: res.StatusCode}}
	}
	dec := json.NewDecoder(io.LimitReader(res.Body, 1<<20))
	dec.UseNumber()
	var v struct {
		ID            json.Number `json:"id"`
		Email         string      `json:"email"`
		EmailVerified bool        `json:"email_verified"`
		Name          string      `json:"name"`
		AvatarURL     string      `json:"avatar_url"`
	}
	if err := dec.Decode(&v); err != nil {
		return nil, &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	return &client.Identity{Subject: v.ID.String(), Email: v.Email, EmailVerified: v.EmailVerified, Name: v.Name, AvatarURL: v.AvatarURL}, nil
}

func (as *fakeAS) provider(t testing.TB, name string) *testProvider {
	opts := []client.Option{
		client.WithRevocationEndpointAuthMethod(client.ClientSecretPost),
		client.WithName(name),
		client.WithScopes("user"),
	}
	c, err := client.New(client.Config{
		ClientID: "cid", ClientSecret: "csecret",
		AuthorizeEndpoint:    as.srv.URL + "/authorize",
		AccessTokenEndpoint:  as.srv.URL + "/token",
		RefreshTokenEndpoint: as.srv.URL + "/token",
		RevokeTokenEndpoint:  as.srv.URL + "/revoke",
	}, opts...)
	require.NoError(t, err)
	return &testProvider{OAuth2: c, userURL: as.srv.URL + "/user", hc: as.srv.Client(), opts: opts}
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// app is a site using the kit, served over TLS on loopback (Secure cookies
// need https in Go's cookie jar), with the routes a user would mount.
type app struct {
	t     *testing.T
	as    *fakeAS
	kit   *oauthkit.Kit
	sm    *scs.SessionManager
	srv   *httptest.Server
	clock *clock
	errs  chan error
	// mux is the site's router, for tests that add routes of their own.
	mux *http.ServeMux
	// backing is the session store behind the kit's guard.
	backing scs.Store
}

type appOption func(*oauthkit.Config)

func newApp(t *testing.T, opts ...appOption) *app {
	t.Helper()
	as := newFakeAS(t)
	a := &app{t: t, as: as, clock: newClock(), errs: make(chan error, 2048)}
	as.now = a.clock.Now
	a.sm = scs.New()
	a.backing = memstore.NewWithCleanupInterval(time.Hour)
	a.sm.Store = a.backing
	a.sm.Cookie.Secure = true
	a.srv = httptest.NewUnstartedServer(nil)
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)

	cfg := oauthkit.Config{
		Sessions: a.sm,
		Providers: []oauthkit.Provider{
			{Client: as.provider(t, "test"), RedirectURL: a.srv.URL + "/auth/test/callback"},
		},
		LoginPath: "/auth/test/login",
		Now:       a.clock.Now,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			select {
			case a.errs <- err:
			default:
			}
			oauthkit.DefaultErrorHandler(w, r, err)
		},
		RevokeOnLogout: true,
		// Quiet unless a test captures the records (withLogs); the default,
		// slog.Default(), has a test of its own.
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	kit, err := oauthkit.New(cfg)
	require.NoError(t, err)
	a.kit = kit

	mux := http.NewServeMux()
	for _, p := range kit.Providers() {
		mux.Handle("/auth/"+p.Name+"/login", kit.LoginHandler(p.Name))
		mux.Handle("/auth/"+p.Name+"/callback", kit.CallbackHandler(p.Name))
	}
	mux.Handle("/logout", kit.LogoutHandler())
	mux.Handle("/profile", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.kit.User(r.Context())
		if !ok {
			http.Error(w, "no user in context", http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprintf(w, "%s|%s|%s", u.Provider, u.ID, u.Email)
	})))
	mux.Handle("/api/token", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := kit.Token(r.Context())
		if err != nil {
			http.Error(w, err.Error(), oauthkit.HTTPStatus(err))
			return
		}
		_, _ = io.WriteString(w, tok.AccessToken)
	})))
	// The application's own session data: PUT /data?v=x stores v, GET /data
	// shows it.
	mux.HandleFunc("PUT /data", func(w http.ResponseWriter, r *http.Request) {
		a.sm.Put(r.Context(), "app.data", r.URL.Query().Get("v"))
	})
	mux.HandleFunc("GET /data", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, a.sm.GetString(r.Context(), "app.data"))
	})
	a.mux = mux
	a.srv.Config.Handler = a.sm.LoadAndSave(mux)
	return a
}

// browser is one user agent: its own cookie jar, redirects not followed.
func (a *app) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(a.t, err)
	c := a.srv.Client()
	return &http.Client{
		Transport: c.Transport,
		Jar:       jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func (a *app) get(b *http.Client, path string) *http.Response {
	a.t.Helper()
	res, err := b.Get(a.srv.URL + path)
	require.NoError(a.t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// startLogin runs GET /auth/test/login and returns the provider
// authorization URL it redirected to.
func (a *app) startLogin(b *http.Client, path string) *url.URL {
	a.t.Helper()
	res := a.get(b, path)
	require.Equal(a.t, http.StatusFound, res.StatusCode)
	u, err := url.Parse(res.Header.Get("Location"))
	require.NoError(a.t, err)
	return u
}

// approve lets the fake AS approve the authorization request and returns
// the callback path+query it redirects the browser to.
func (a *app) approve(authURL *url.URL) string {
	a.t.Helper()
	return a.approveAs(authURL, fakeUser{})
}

// approveAs is approve for a given user (zero: the fake AS's current user).
func (a *app) approveAs(authURL *url.URL, u fakeUser) string {
	a.t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	req := mustReq(a.t, http.MethodGet, authURL.String())
	if u.ID != "" {
		req.Header.Set("X-Fake-User", u.ID+"|"+u.Email)
	}
	res, err := noFollow.Do(req)
	require.NoError(a.t, err)
	res.Body.Close()
	require.Equal(a.t, http.StatusFound, res.StatusCode)
	cb, err := url.Parse(res.Header.Get("Location"))
	require.NoError(a.t, err)
	return cb.RequestURI()
}

// login runs a whole login in b and returns the final redirect.
func (a *app) login(b *http.Client, loginPath string) *http.Response {
	a.t.Helper()
	return a.get(b, a.approve(a.startLogin(b, loginPath)))
}

func mustReq(t *testing.T, method, u string) *http.Request {
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	// The fake AS does not follow redirects for us.
	return req
}

func (a *app) lastErr() error {
	select {
	case err := <-a.errs:
		return err
	default:
		return nil
	}
}

// sessionCookie returns the browser's session cookie value.
func (a *app) sessionCookie(b *http.Client) string {
	u, _ := url.Parse(a.srv.URL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == a.sm.Cookie.Name {
			return c.Value
		}
	}
	return ""
}

// withProvider adds a second provider named name, backed by its own fake
// AS, mounted at /auth/<name>/{login,callback}.
func withProvider(t *testing.T, name string) (appOption, *fakeAS) {
	as := newFakeAS(t)
	return func(cfg *oauthkit.Config) {
		as.now = cfg.Now
		base := strings.TrimSuffix(cfg.Providers[0].RedirectURL, "/auth/test/callback")
		cfg.Providers = append(cfg.Providers, oauthkit.Provider{
			Client:      as.provider(t, name),
			RedirectURL: base + "/auth/" + name + "/callback",
		})
	}, as
}

// syncBuffer is an io.Writer safe for concurrent use, for captured logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// withLogs sends the kit's log records, as text, to buf.
func withLogs(buf *syncBuffer) appOption {
	return func(cfg *oauthkit.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// do sends one request from b and returns the response with its body read.
func (a *app) do(b *http.Client, method, path string, hdr http.Header) (*http.Response, string) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, nil)
	require.NoError(a.t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := b.Do(req)
	require.NoError(a.t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(a.t, err)
	return res, string(body)
}

// takeErr returns the error the kit handed to the error handler for the
// last failed request, failing the test when there was none.
func (a *app) takeErr() error {
	a.t.Helper()
	err := a.lastErr()
	require.Error(a.t, err, "the error handler was not called")
	return err
}

// drainErrs empties the captured errors and returns how many there were.
func (a *app) drainErrs() int {
	n := 0
	for a.lastErr() != nil {
		n++
	}
	return n
}

// signedIn reports whether b's session holds a user, by asking a
// RequireAuth page.
func (a *app) signedIn(b *http.Client) bool {
	a.t.Helper()
	res := a.get(b, "/profile")
	return res.StatusCode == http.StatusOK
}

// stored decodes the backing store's record of token, past the kit's
// guard: whether it exists, its deadline and its values.
func (a *app) stored(token string) (bool, time.Time, map[string]any) {
	a.t.Helper()
	raw, found, err := a.backing.Find(token)
	require.NoError(a.t, err)
	if !found {
		return false, time.Time{}, nil
	}
	deadline, values, err := a.sm.Codec.Decode(raw)
	require.NoError(a.t, err)
	return true, deadline, values
}

// sessionUser is the user stored in b's session (nil if none).
func (a *app) sessionUser(b *http.Client) *oauthkit.User {
	a.t.Helper()
	s, _ := a.session(b)["oauthkit.user"].(string)
	if s == "" {
		return nil
	}
	var u oauthkit.User
	require.NoError(a.t, json.Unmarshal([]byte(s), &u))
	return &u
}

// session decodes the stored session behind b's cookie (nil if none).
func (a *app) session(b *http.Client) map[string]any {
	a.t.Helper()
	return a.sessionByToken(a.sessionCookie(b))
}

func (a *app) sessionByToken(token string) map[string]any {
	a.t.Helper()
	if token == "" {
		return nil
	}
	raw, found, err := a.sm.Store.Find(token)
	require.NoError(a.t, err)
	if !found {
		return nil
	}
	_, values, err := a.sm.Codec.Decode(raw)
	require.NoError(a.t, err)
	return values
}

// pending counts the pending logins stored in b's session.
func (a *app) pending(b *http.Client) int {
	a.t.Helper()
	v, _ := a.session(b)["oauthkit.pending"].(string)
	if v == "" {
		return 0
	}
	var list []json.RawMessage
	require.NoError(a.t, json.Unmarshal([]byte(v), &list))
	return len(list)
}

// stateOf returns the state of an authorization URL.
func stateOf(authURL *url.URL) string { return authURL.Query().Get("state") }

// tryLogin is login for goroutines other than the test's: it reports
// failures as errors instead of failing the test. A non-zero u is the user
// the fake AS approves.
func (a *app) tryLogin(b *http.Client, loginPath string, u fakeUser) (*http.Response, error) {
	res, err := b.Get(a.srv.URL + loginPath)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("login: status %d", res.StatusCode)
	}
	req, err := http.NewRequest(http.MethodGet, res.Header.Get("Location"), nil)
	if err != nil {
		return nil, err
	}
	if u.ID != "" {
		req.Header.Set("X-Fake-User", u.ID+"|"+u.Email)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	res, err = noFollow.Do(req)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	cb, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("authorize: status %d, %v", res.StatusCode, err)
	}
	res, err = b.Get(a.srv.URL + cb.RequestURI())
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res, nil
}

// closeIdle drops the idle connections of the app's and the fake AS's test
// clients, so goroutine counts can settle.
func (a *app) closeIdle() {
	a.srv.Client().Transport.(*http.Transport).CloseIdleConnections()
	a.as.srv.Client().Transport.(*http.Transport).CloseIdleConnections()
}
