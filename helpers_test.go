package oauthkit_test

import (
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
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/fakeas"
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
	as.Now = a.clock.Now
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
		as.Now = cfg.Now
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
