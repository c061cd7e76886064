package oauthkit_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
	"github.com/oauthkit/oauthkit/internal/providertest"
)

// fakeAS is the shared fake authorization server (internal/fakeas): it
// auto-approves every authorization request, checks PKCE, redirect_uri and
// single use of codes, and counts requests.
type fakeAS = fakeas.Server

// fakeUser is an account at the fake AS.
type fakeUser = fakeas.User

func newFakeAS(t testing.TB) *fakeAS { return fakeas.New(t) }

// provider is the fake AS's client named name: the one place the root tests
// build a client for it.
func provider(t testing.TB, as *fakeAS, name string) *fakeas.Provider {
	t.Helper()
	p, err := as.Client(name, nil)
	require.NoError(t, err)
	return p
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
			{Client: provider(t, as, "test"), RedirectURL: a.srv.URL + "/auth/test/callback"},
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
		base := strings.TrimSuffix(cfg.Providers[0].RedirectURL, "/auth/test/callback")
		cfg.Providers = append(cfg.Providers, oauthkit.Provider{
			Client:      provider(t, as, name),
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

// withSessionCodec has the session manager store its records with
// oauthkit.SessionCodec instead of scs's default gob codec.
func withSessionCodec() appOption {
	return func(cfg *oauthkit.Config) { cfg.Sessions.Codec = oauthkit.SessionCodec{} }
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
	states := oauthkit.PendingStates(v)
	require.NotNil(a.t, states, "unreadable pending logins %q", v)
	return len(states)
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
	a.as.Srv.Client().Transport.(*http.Transport).CloseIdleConnections()
}

// budget is what is left of the test binary's -timeout, less a margin for
// the report: the bound of every wait that is not itself under test, so a
// slow machine makes a test slower, never failing.
func budget(t *testing.T) time.Duration {
	dl, ok := t.Deadline()
	if !ok {
		return time.Hour
	}
	return max(time.Until(dl)-20*time.Second, time.Second)
}

// hangTimeout is the ProviderTimeout of tests whose provider hangs: the
// hang never answers, so the value only decides how long the test waits
// for its 504, and must leave the healthy calls before the hang (a login's
// code exchange) room on a loaded machine: 2 s (ten times the 200 ms it
// was), less only when the budget is nearly spent.
func hangTimeout(t *testing.T) time.Duration {
	return min(budget(t)/10, 2*time.Second)
}

// withBudgetTimeout bounds provider calls by the test's budget instead of
// the default 10 s, for tests whose load (hundreds of concurrent logins
// under -race) a slow machine can take longer than that to serve.
func withBudgetTimeout(t *testing.T) appOption {
	return func(cfg *oauthkit.Config) { cfg.ProviderTimeout = budget(t) }
}

// putData stores v as the application's own session data in b's session.
func (a *app) putData(b *http.Client, v string) {
	a.t.Helper()
	res, _ := a.do(b, http.MethodPut, "/data?v="+v, nil)
	require.Equal(a.t, http.StatusOK, res.StatusCode)
}

func (a *app) data(b *http.Client) string {
	a.t.Helper()
	_, body := a.do(b, http.MethodGet, "/data", nil)
	return body
}

// mountKit adds a second kit on the app's session manager under prefix, with
// one provider "test" of its own fake AS, and a protected page and token
// route of its own.
func (a *app) mountKit(prefix string) (*oauthkit.Kit, *fakeAS) {
	a.t.Helper()
	as := newFakeAS(a.t)
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:  a.sm,
		Providers: []oauthkit.Provider{{Client: provider(a.t, as, "test"), RedirectURL: a.srv.URL + prefix + "/auth/test/callback"}},
		LoginPath: prefix + "/auth/test/login",
		Now:       a.clock.Now,
	})
	require.NoError(a.t, err)
	a.mux.Handle(prefix+"/auth/test/login", kit.LoginHandler("test"))
	a.mux.Handle(prefix+"/auth/test/callback", kit.CallbackHandler("test"))
	a.mux.Handle(prefix+"/profile", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	a.mux.HandleFunc(prefix+"/whoami", func(w http.ResponseWriter, r *http.Request) {
		_, signedIn := kit.User(r.Context())
		_, err := kit.Token(r.Context())
		fmt.Fprintf(w, "%v %v", signedIn, err)
	})
	return kit, as
}

func withOpenIDNamedProvider(t *testing.T) appOption {
	return func(c *oauthkit.Config) {
		c.Providers = append(c.Providers, oauthkit.Provider{
			Client: provider(t, newFakeAS(t), "openid"), RedirectURL: strings.Replace(c.Providers[0].RedirectURL, "/test/", "/openid/", 1)})
	}
}

// victim is a browser with one pending login and the callback the fake AS
// approved for it (the code is issued but not exchanged yet).
type victim struct {
	b       *http.Client
	authURL *url.URL
	state   string
	cb      string // callback path+query, as the provider redirects to
	code    string
}

func (a *app) newVictim() victim {
	a.t.Helper()
	b := a.browser()
	authURL := a.startLogin(b, "/auth/test/login")
	cb := a.approve(authURL)
	u, err := url.Parse(cb)
	require.NoError(a.t, err)
	return victim{b: b, authURL: authURL, state: stateOf(authURL), cb: cb, code: u.Query().Get("code")}
}

// completes asserts that v's login still succeeds: its pending login was
// left alone by whatever the test did before.
func (a *app) completes(v victim) {
	a.t.Helper()
	res := a.get(v.b, v.cb)
	require.Equal(a.t, http.StatusFound, res.StatusCode, "victim's login must still complete: %v", a.lastErr())
	assert.Equal(a.t, "/", res.Header.Get("Location"))
	assert.True(a.t, a.signedIn(v.b))
}

// secrets are values that must never reach a response body.
var secrets = []string{"csecret", "at-", "rt-", "AT-MARK-1", "RT-MARK-2"}

// rejected asserts a failed kit response: status, typed error, and a safe
// body (no markup from the query, no secret, none of the extra values).
func (a *app) rejected(res *http.Response, body string, status int, target error, extra ...string) error {
	a.t.Helper()
	require.Equal(a.t, status, res.StatusCode)
	err := a.takeErr()
	require.ErrorIs(a.t, err, target)
	assert.Equal(a.t, status, oauthkit.HTTPStatus(err))
	assert.Empty(a.t, res.Header.Get("Location"), "no redirect on failure")
	assert.Equal(a.t, "no-store", res.Header.Get("Cache-Control"))
	for _, s := range append(append([]string{"<script", "alert(", "<b>"}, secrets...), extra...) {
		if s != "" {
			assert.NotContains(a.t, body, s, "response body echoes %q", s)
		}
	}
	return err
}

func (a *app) callbackFrom(b *http.Client, provider, rawQuery string) (*http.Response, string) {
	a.t.Helper()
	return a.do(b, http.MethodGet, "/auth/"+provider+"/callback?"+rawQuery, nil)
}

// tokenFault installs h as the token endpoint of a's fake AS.
func tokenFault(a *app, status int, contentType, body string) {
	a.as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = fmt.Fprint(w, body)
	}
}

// requireAuthCaptures sends an anonymous GET for target to RequireAuth, as a
// server would parse the request line, follows its redirect through a whole
// login and asserts that the final Location is want and that every emitted
// Location passes the oracle. Targets a server refuses to parse (control
// characters) never reach the kit and are skipped.
func (a *app) requireAuthCaptures(t *testing.T, target, want string) {
	t.Helper()
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.URL, req.RequestURI = u, target
	rec := httptest.NewRecorder()
	a.kit.RequireAuth(http.NotFoundHandler()).ServeHTTP(rec, a.withSession(req))
	require.Equal(t, http.StatusFound, rec.Code, target)
	loc := rec.Header().Get("Location")
	require.True(t, strings.HasPrefix(loc, "/auth/test/login"), loc)
	lu, err := url.Parse(loc)
	require.NoError(t, err)
	if next := lu.Query().Get("next"); next != "" {
		assert.NoError(t, redirectOracle(next), "%q captured as next=%q", target, next)
	}
	res := a.login(a.browser(), lu.RequestURI())
	require.Equal(t, http.StatusFound, res.StatusCode)
	assert.Equal(t, want, res.Header.Get("Location"), "RequireAuth captured %q", target)
}

// withSession loads an empty session into req's context, as LoadAndSave does.
func (a *app) withSession(req *http.Request) *http.Request {
	ctx, err := a.sm.Load(req.Context(), "")
	require.NoError(a.t, err)
	return req.WithContext(ctx)
}

// withCookie sends one request carrying only the given session cookie.
func (a *app) withCookie(method, path, token string, hdr http.Header) *http.Response {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, nil)
	require.NoError(a.t, err)
	req.AddCookie(&http.Cookie{Name: a.sm.Cookie.Name, Value: token})
	for k, v := range hdr {
		req.Header[k] = v
	}
	c := &http.Client{Transport: a.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	require.NoError(a.t, err)
	res.Body.Close()
	return res
}

// withCookieClient is a client without a jar that sends only the given
// session cookie.
func (a *app) withCookieClient(token string) *http.Client {
	return &http.Client{Transport: &cookieTransport{next: a.srv.Client().Transport, name: a.sm.Cookie.Name, value: token},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type cookieTransport struct {
	next        http.RoundTripper
	name, value string
}

func (t *cookieTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.AddCookie(&http.Cookie{Name: t.name, Value: t.value})
	return t.next.RoundTrip(r)
}

func (a *app) inStore(token string) bool {
	a.t.Helper()
	_, found, err := a.sm.Store.Find(token)
	require.NoError(a.t, err)
	return found
}

// Secret hygiene (security.md item 65, goal G14): with marker values for the
// client secret, access token, refresh token and code, and the generated
// PKCE verifiers captured at the token endpoint, no marker appears in the
// kit's logs, in any response the app sends (status, headers, Location,
// Set-Cookie, body) or in any error the kit reports, across a successful
// login and every provider failure mode.

const (
	markAT   = "AT-MARK-1"
	markRT   = "RT-MARK-2"
	markCS   = "CS-MARK-3"
	markCode = "CODE-MARK-4"
)

// markerAS is a provider whose every answer is built around the markers.
type markerAS struct {
	srv *httptest.Server

	tokenMode, refreshMode, userMode, revokeMode atomic.Value // string

	mu        sync.Mutex
	verifiers []string
	tokenHits atomic.Int64
}

func newMarkerAS(t *testing.T) *markerAS {
	m := &markerAS{}
	for _, v := range []*atomic.Value{&m.tokenMode, &m.refreshMode, &m.userMode, &m.revokeMode} {
		v.Store("ok")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+markCode+"&state="+q.Get("state"), http.StatusFound)
	})
	mux.HandleFunc("POST /token", m.token)
	mux.HandleFunc("GET /user", m.user)
	mux.HandleFunc("GET /user/emails", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"email":"ada@example.com","primary":true,"verified":true}]`)
	})
	mux.HandleFunc("POST /revoke", m.revoke)
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

// everything is every marker plus the verifiers seen so far: what a
// careless provider might echo back.
func (m *markerAS) everything() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(append([]string{markAT, markRT, markCS, markCode}, m.verifiers...), " ")
}

func (m *markerAS) markers() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string{markAT, markRT, markCS, markCode}, m.verifiers...)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// faultAnswer writes the answer for a failure mode. Bodies echo every
// marker and verifier (all); error_description echoes what this request
// carried (sent), as a careless provider might ("the code X is invalid").
func (m *markerAS) faultAnswer(w http.ResponseWriter, mode string, r *http.Request) bool {
	all := m.everything()
	_ = r.ParseForm()
	sent := r.PostForm.Encode() + " " + r.Header.Get("Authorization")
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	switch mode {
	case "500 html":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "<html><b>"+all+"</b></html>")
	case "400 error, markers in other members":
		writeJSON(w, http.StatusBadRequest, `{"error":"invalid_grant","access_token":"`+markAT+`","refresh_token":"`+markRT+`","client_secret":"`+markCS+`"}`)
	case "200 error, markers in other members":
		writeJSON(w, http.StatusOK, `{"error":"bad_verification_code","access_token":"`+markAT+`","hint":`+q(all)+`}`)
	case "200 error, markers in error_description":
		writeJSON(w, http.StatusOK, `{"error":"bad_verification_code","error_description":`+q("invalid request: "+sent)+`}`)
	case "400 error, markers in error_description":
		writeJSON(w, http.StatusBadRequest, `{"error":"invalid_grant","error_description":`+q("token revoked; you sent "+sent)+`}`)
	case "truncated json":
		writeJSON(w, http.StatusOK, `{"access_token":"`+markAT+`","refresh_token":"`+markRT+`","tok`)
	case "bad expires_in":
		writeJSON(w, http.StatusOK, `{"access_token":"`+markAT+`","refresh_token":"`+markRT+`","expires_in":"zzz"}`)
	case "bad token_type":
		writeJSON(w, http.StatusOK, `{"access_token":"`+markAT+`","token_type":`+q("mac "+markAT)+`}`)
	case "401 with markers":
		writeJSON(w, http.StatusUnauthorized, `{"message":`+q("Bad credentials "+all)+`}`)
	case "200 html":
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html>"+all+"</html>")
	default:
		return false
	}
	return true
}

func (m *markerAS) token(w http.ResponseWriter, r *http.Request) {
	m.tokenHits.Add(1)
	_ = r.ParseForm()
	mode := m.tokenMode.Load().(string)
	if r.PostForm.Get("grant_type") == "refresh_token" {
		mode = m.refreshMode.Load().(string)
	}
	if v := r.PostForm.Get("code_verifier"); v != "" {
		m.mu.Lock()
		m.verifiers = append(m.verifiers, v)
		m.mu.Unlock()
	}
	if m.faultAnswer(w, mode, r) {
		return
	}
	writeJSON(w, http.StatusOK, `{"access_token":"`+markAT+`","refresh_token":"`+markRT+`","token_type":"Bearer","expires_in":60}`)
}

func (m *markerAS) user(w http.ResponseWriter, r *http.Request) {
	if m.faultAnswer(w, m.userMode.Load().(string), r) {
		return
	}
	writeJSON(w, http.StatusOK, `{"id":42,"login":"ada","email":null}`)
}

func (m *markerAS) revoke(w http.ResponseWriter, r *http.Request) {
	m.faultAnswer(w, m.revokeMode.Load().(string), r)
}

// captureTransport records every response the app sends to the browser.
type captureTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (c *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	dump, derr := httputil.DumpResponse(res, true)
	if derr != nil {
		return nil, derr
	}
	c.mu.Lock()
	c.buf.Write(dump)
	c.buf.WriteString("\n")
	c.mu.Unlock()
	return res, nil
}

func (c *captureTransport) String() string { c.mu.Lock(); defer c.mu.Unlock(); return c.buf.String() }

type secretsRig struct {
	*app
	mas     *markerAS
	logs    *syncBuffer
	capture *captureTransport
	errText strings.Builder
}

func newSecretsRig(t *testing.T) *secretsRig {
	r := &secretsRig{mas: newMarkerAS(t), logs: &syncBuffer{}}
	scheme, host, _ := strings.Cut(r.mas.srv.URL, "://")
	r.app = newApp(t, withLogs(r.logs), func(cfg *oauthkit.Config) {
		c, err := client.New(client.Config{
			ClientID: "cid", ClientSecret: markCS,
			AuthorizeEndpoint:    r.mas.srv.URL + "/authorize",
			AccessTokenEndpoint:  r.mas.srv.URL + "/token",
			RefreshTokenEndpoint: r.mas.srv.URL + "/token",
			RevokeTokenEndpoint:  r.mas.srv.URL + "/revoke",
		}, client.WithRevocationEndpointAuthMethod(client.ClientSecretPost), client.WithName("test"))
		require.NoError(t, err)
		// The user API is a real client.GitHub whose requests go to the
		// marker provider (/user, then /user/emails).
		gh, err := client.NewGitHub("cid", markCS, client.WithHTTPClient(&http.Client{
			Transport:     providertest.Rewrite{Scheme: scheme, Host: host},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}))
		require.NoError(t, err)
		cfg.Providers[0].Client = &kfUserAPI{OAuth2: c, gh: gh}
	})
	r.capture = &captureTransport{base: r.srv.Client().Transport}
	return r
}

func (r *secretsRig) browser() *http.Client {
	b := r.app.browser()
	b.Transport = r.capture
	return b
}

// collectErrs moves the errors the kit reported into errText, in every
// form a site might log them.
func (r *secretsRig) collectErrs() int {
	n := 0
	for err := r.lastErr(); err != nil; err = r.lastErr() {
		n++
		fmt.Fprintf(&r.errText, "%s\n%v\n%+v\n", err.Error(), err, err)
	}
	return n
}

func (r *secretsRig) assertClean(t *testing.T) {
	t.Helper()
	r.collectErrs()
	sources := map[string]string{
		"logs":          r.logs.String(),
		"responses":     r.capture.String(),
		"error strings": r.errText.String(),
	}
	markers := r.mas.markers()
	require.Greater(t, len(markers), 4, "verifiers captured")
	for name, text := range sources {
		require.NotEmpty(t, text, name)
		for _, m := range markers {
			if i := strings.Index(text, m); i >= 0 {
				t.Errorf("secret %q in %s: …%s…", m, name, text[max(0, i-150):min(len(text), i+50)])
			}
		}
	}
}

// Provider faults through the kit (security.md items 62-64, catalogue rows
// 18-20, 25-29, 38, 42, 43; goals G7, G9, G18, G19). Each fault is put
// behind the token endpoint, the user API (a real client.GitHub routed to the
// faulty server) and the revocation endpoint of a kit on loopback. Login
// faults must end in the documented status with the right sentinel, no
// login and no retry; revocation faults must never block logout.

// kfFault is one misbehaviour of a provider endpoint.
type kfFault struct {
	name    string
	handler func(other string) http.HandlerFunc // nil: refused or tls
	refused bool
	tls     bool
	hang    bool // never answers: run with hangTimeout; expect 504
	huge    bool // heap check
	// cause is what the kit's error must also match (besides the sentinel).
	cause func(t *testing.T, err error)
	// revokeOK: at the revocation endpoint this answer is a success.
	revokeOK bool
}

func kfHTTPStatus(status int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var he *client.HTTPError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, status, he.StatusCode)
	}
}

func kfIs(target error) func(*testing.T, error) {
	return func(t *testing.T, err error) { t.Helper(); require.ErrorIs(t, err, target) }
}

func kfFaults() []kfFault {
	return []kfFault{
		{name: "500 html", cause: kfHTTPStatus(500), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "<html><b>upstream exploded</b></html>")
			}
		}},
		{name: "503 retry-after", cause: kfHTTPStatus(503), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}},
		{name: "200 html", revokeOK: true, cause: kfIs(client.ErrInvalidResponse), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = io.WriteString(w, "<html>captive portal</html>")
			}
		}},
		{name: "truncated json", revokeOK: true, cause: kfIs(client.ErrInvalidResponse), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"access_token":"abc","tok`)
			}
		}},
		{name: "100 MiB body", huge: true, cause: kfIs(client.ErrResponseTooLarge), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { providertest.WriteHuge(w) }
		}},
		{name: "gzip bomb", huge: true, cause: kfIs(client.ErrResponseTooLarge), handler: func(string) http.HandlerFunc {
			bomb := providertest.GzipBomb()
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", "gzip")
				_, _ = w.Write(bomb)
			}
		}},
		{name: "hang", hang: true, cause: kfIs(context.DeadlineExceeded), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				// Consume the body so net/http notices the client leaving.
				_, _ = io.Copy(io.Discard, r.Body)
				<-r.Context().Done()
			}
		}},
		{name: "drip", hang: true, cause: kfIs(context.DeadlineExceeded), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { providertest.Drip(w, r, "") }
		}},
		{name: "redirect loop", cause: kfIs(client.ErrRedirect), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.String(), http.StatusFound)
			}
		}},
		{name: "307 elsewhere", cause: kfIs(client.ErrRedirect), handler: func(other string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other+r.URL.Path, http.StatusTemporaryRedirect)
			}
		}},
		{name: "refused", refused: true, cause: kfIs(syscall.ECONNREFUSED)},
		{name: "untrusted tls", tls: true, cause: func(t *testing.T, err error) {
			t.Helper()
			var ce *tls.CertificateVerificationError
			require.ErrorAs(t, err, &ce)
		}},
	}
}

// kfEndpoint is a faulty endpoint: base is "scheme://host:port".
type kfEndpoint struct {
	base            string
	hits, otherHits atomic.Int64
}

func kfServe(t *testing.T, f kfFault) *kfEndpoint {
	t.Helper()
	e := &kfEndpoint{}
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { e.otherHits.Add(1) }))
	t.Cleanup(other.Close)
	switch {
	case f.refused:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		e.base = "http://" + l.Addr().String()
		require.NoError(t, l.Close())
	case f.tls:
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { e.hits.Add(1) }))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		t.Cleanup(srv.Close)
		e.base = srv.URL
	default:
		h := f.handler(other.URL)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.hits.Add(1)
			h(w, r)
		}))
		t.Cleanup(srv.Close)
		e.base = srv.URL
	}
	return e
}

// wantHits is how many requests the endpoint must have seen for one call.
func (e *kfEndpoint) wantHits(f kfFault) int64 {
	if f.refused || f.tls {
		return 0
	}
	return 1
}

// kfUserAPI is the harness provider with its user API replaced by a real
// client.GitHub whose requests all go to base.
type kfUserAPI struct {
	*client.OAuth2
	gh *client.GitHub
}

func (p *kfUserAPI) IDEmail(ctx context.Context, at string) (string, string, error) {
	return p.gh.IDEmail(ctx, at)
}

func (p *kfUserAPI) Identify(ctx context.Context, t *client.Token, nonce string) (*client.Identity, error) {
	return p.gh.Identify(ctx, t, nonce)
}

// withClient rebuilds the harness provider's client with mod applied to its
// configuration (endpoints, for instance); wrap, if set, decorates it.
func withClient(t *testing.T, mod func(*client.Config), wrap func(*client.OAuth2) client.Provider) appOption {
	return func(cfg *oauthkit.Config) {
		tp := cfg.Providers[0].Client.(*fakeas.Provider)
		cc := tp.OAuth2.Config()
		mod(&cc)
		// No WithHTTPClient: the package default, as a site would have.
		c, err := client.New(cc, fakeas.Options(tp.Name(), nil)...)
		require.NoError(t, err)
		if wrap != nil {
			cfg.Providers[0].Client = wrap(c)
			return
		}
		cfg.Providers[0].Client = tp.WithOAuth2(c)
	}
}

func kfTimeout(t *testing.T, f kfFault) appOption {
	return func(cfg *oauthkit.Config) {
		if f.hang {
			cfg.ProviderTimeout = hangTimeout(t)
		}
	}
}

// kfLoginFails runs one login against the faulty setup and checks the
// outcome: status, sentinel, cause, no login, state consumed, no retry.
func kfLoginFails(t *testing.T, a *app, f kfFault, e *kfEndpoint, sentinel error) {
	t.Helper()
	b := a.browser()
	authURL := a.startLogin(b, "/auth/test/login")
	cb := a.approve(authURL)
	a.drainErrs()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	base := runtime.NumGoroutine()
	heap0, total0 := providertest.Heap()

	res, body := a.do(b, http.MethodGet, cb, nil)
	want := http.StatusBadGateway
	if f.hang {
		want = http.StatusGatewayTimeout
	}
	require.Equal(t, want, res.StatusCode)
	err := a.takeErr()
	require.ErrorIs(t, err, sentinel)
	assert.Equal(t, want, oauthkit.HTTPStatus(err))
	f.cause(t, err)
	assert.NotContains(t, body, "upstream exploded", "provider body not echoed")
	assert.Equal(t, e.wantHits(f), e.hits.Load(), "requests to the faulty endpoint (no retry)")
	assert.Zero(t, e.otherHits.Load(), "redirect target never contacted")
	if f.huge {
		heap1, total1 := providertest.Heap()
		assert.Less(t, int64(heap1)-int64(heap0), int64(4<<20), "heap growth")
		assert.Less(t, total1-total0, uint64(32<<20), "bytes allocated for a capped body")
	}
	providertest.Settle(t, base, a.closeIdle)

	assert.False(t, a.signedIn(b), "no login")
	assert.Zero(t, a.pending(b), "state consumed")
	res, _ = a.do(b, http.MethodGet, cb, nil)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "replay refused")
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStateNotFound)
	assert.Equal(t, e.wantHits(f), e.hits.Load(), "a replay makes no request")
}

// Session store faults (security.md item 71, catalogue row 30, goal G13):
// with the store failing, no protected content is served, no browser is sent
// to the provider without its pending login saved, no callback signs anyone
// in, nothing panics; once the store recovers the next login works.

var errStoreDown = errors.New("session store down (test fault)")

// faultStore is an scs.Store whose operations can be switched to fail; a
// fault injector for the third-party interface, backed by memstore.
type faultStore struct {
	inner                         *memstore.MemStore
	failFind, failCommit, failDel atomic.Bool
	// commitOK lets this many more commits succeed while failCommit is set
	// (to fail a later commit of the same request).
	commitOK                     atomic.Int64
	finds, commits, dels, failed atomic.Int64
	// expiry is the expiry of the last commit that succeeded (Unix ns).
	expiry atomic.Int64
}

var _ scs.Store = (*faultStore)(nil)

func newFaultStore() *faultStore {
	return &faultStore{inner: memstore.NewWithCleanupInterval(time.Hour)}
}

func (s *faultStore) Find(token string) ([]byte, bool, error) {
	s.finds.Add(1)
	if s.failFind.Load() {
		s.failed.Add(1)
		return nil, false, errStoreDown
	}
	return s.inner.Find(token)
}

func (s *faultStore) Commit(token string, b []byte, expiry time.Time) error {
	s.commits.Add(1)
	if s.failCommit.Load() && s.commitOK.Add(-1) < 0 {
		s.failed.Add(1)
		return errStoreDown
	}
	s.expiry.Store(expiry.UnixNano())
	return s.inner.Commit(token, b, expiry)
}

func (s *faultStore) Delete(token string) error {
	s.dels.Add(1)
	if s.failDel.Load() {
		s.failed.Add(1)
		return errStoreDown
	}
	return s.inner.Delete(token)
}

func (s *faultStore) heal() {
	s.failFind.Store(false)
	s.failCommit.Store(false)
	s.failDel.Store(false)
	s.commitOK.Store(0)
}

// sfApp is the harness app on a faultStore, with a counting protected page
// and scs's ErrorFunc counting (and answering 500) instead of logging.
type sfApp struct {
	*app
	store     *faultStore
	served    atomic.Int64 // protected handler invocations
	routes    http.Handler // the routes inside LoadAndSave
	scsErrors atomic.Int64
}

func newStoreFaultApp(t *testing.T) *sfApp {
	s := &sfApp{store: newFaultStore()}
	logs := &syncBuffer{}
	s.app = newApp(t, withLogs(logs), func(cfg *oauthkit.Config) { cfg.Sessions.Store = s.store })
	s.backing = s.store
	s.sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		s.scsErrors.Add(1)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
	// A failed lazy commit makes scs answer 500 before the kit's own
	// WriteHeader, which net/http reports as superfluous: keep it quiet.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	mux := http.NewServeMux()
	mux.Handle("/auth/test/login", s.kit.LoginHandler("test"))
	mux.Handle("/auth/test/callback", s.kit.CallbackHandler("test"))
	mux.Handle("/logout", s.kit.LogoutHandler())
	mux.Handle("/data", s.app.mux) // the app's own session data
	mux.Handle("/profile", s.kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.served.Add(1)
		u, _ := s.kit.User(r.Context())
		_, _ = fmt.Fprintf(w, "secret page of %s|%s", u.Provider, u.ID)
	})))
	s.routes = mux
	s.srv.Config.Handler = s.sm.LoadAndSave(mux)
	t.Cleanup(func() { assert.NotContains(t, logs.String(), "panic") })
	return s
}

// putFirst is a middleware that modifies the session before next runs, as
// a site's own middleware may (a visit counter, a flash message).
func putFirst(sm *scs.SessionManager, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "app.visits", sm.GetInt(r.Context(), "app.visits")+1)
		next.ServeHTTP(w, r)
	})
}

// is5xx asserts a server-error answer that carries nothing protected and
// no redirect to the provider.
func (s *sfApp) is5xx(t *testing.T, res *http.Response, body string) {
	t.Helper()
	assert.GreaterOrEqual(t, res.StatusCode, 500, "status")
	assert.Less(t, res.StatusCode, 600, "status")
	assert.NotContains(t, body, "secret page")
	assert.False(t, strings.HasPrefix(res.Header.Get("Location"), s.as.Srv.URL), "no Location to the AS: %q", res.Header.Get("Location"))
}

// withOpenID makes the app's "test" provider an OpenID Connect one: a fake
// AS in OpenID mode (ID tokens with sid, JWKS, end_session_endpoint)
// reached through the real discovered client, with post-logout return to
// /logged-out. The app mounts PostLogoutHandler there and the provider's
// back- and front-channel logout routes at /backchannel and /frontchannel.
func withOpenID(t *testing.T) (appOption, *fakeAS) {
	as := newFakeAS(t)
	as.EnableOpenID()
	c, err := as.OpenIDClient(context.Background(), "test", nil)
	require.NoError(t, err)
	return func(cfg *oauthkit.Config) {
		base := strings.TrimSuffix(cfg.Providers[0].RedirectURL, "/auth/test/callback")
		cfg.Providers[0].Client = c
		cfg.Providers[0].PostLogoutRedirectURL = base + "/logged-out"
	}, as
}

// newOpenIDApp is newApp with withOpenID and its logout routes mounted.
func newOpenIDApp(t *testing.T, opts ...appOption) (*app, *fakeAS) {
	t.Helper()
	oidc, as := withOpenID(t)
	a := newApp(t, append([]appOption{oidc}, opts...)...)
	a.mux.Handle("/logged-out", a.kit.PostLogoutHandler())
	a.mux.Handle("/backchannel", a.kit.BackChannelLogoutHandler("test"))
	a.mux.Handle("/frontchannel", a.kit.FrontChannelLogoutHandler("test"))
	return a, as
}

// hiddenInputs are the name/value pairs of an HTML form's hidden inputs, as
// the kit's end-session page writes them.
func hiddenInputs(t *testing.T, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
