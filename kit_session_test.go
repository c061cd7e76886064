package oauthkit_test

// Session management (security.md section 1.K, items 54-58, and 1.Q item
// 69): token renewal at login, destruction at logout, cookie attributes,
// configurations New refuses, and RequireAuth for anonymous requests.

import (
	"net/http"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

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

// Item 54 / G16: a new session token at every login; the old one is gone.
func TestSessionTokenRenewedAtEveryLogin(t *testing.T) {
	a := newApp(t)
	b := a.browser()
	for i := range 3 {
		authURL := a.startLogin(b, "/auth/test/login")
		before := a.sessionCookie(b)
		require.NotEmpty(t, before)
		require.True(t, a.inStore(before), "login %d: pending login stored", i)
		res := a.get(b, a.approve(authURL))
		require.Equal(t, http.StatusFound, res.StatusCode)
		after := a.sessionCookie(b)
		assert.NotEqual(t, before, after, "login %d: session token renewed", i)
		assert.False(t, a.inStore(before), "login %d: old token gone from the store", i)
		assert.True(t, a.inStore(after))
		// The pre-login token is worthless on a RequireAuth route.
		assert.Equal(t, http.StatusFound, a.withCookie(http.MethodGet, "/profile", before, nil).StatusCode)
		assert.Equal(t, http.StatusOK, a.withCookie(http.MethodGet, "/profile", after, nil).StatusCode)
	}
	assert.EqualValues(t, 3, a.as.TokenHits.Load())
}

// Item 55: logout destroys the session and expires the cookie.
func TestLogoutDestroysSession(t *testing.T) {
	a := newApp(t)
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	old := a.sessionCookie(b)
	require.True(t, a.inStore(old))

	res, _ := a.do(b, http.MethodPost, "/logout", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/", res.Header.Get("Location"))
	assert.False(t, a.inStore(old), "old token not in the store")
	var expired bool
	for _, c := range res.Cookies() {
		if c.Name == a.sm.Cookie.Name {
			expired = c.MaxAge < 0 && c.Value == "" && c.Expires.Before(time.Now())
		}
	}
	assert.True(t, expired, "Set-Cookie expires the session cookie: %q", res.Header.Values("Set-Cookie"))
	assert.Empty(t, a.sessionCookie(b))
	assert.Equal(t, http.StatusFound, a.withCookie(http.MethodGet, "/profile", old, nil).StatusCode)
}

// Item 56: the attributes of the cookie /login sets.
func TestLoginCookieAttributes(t *testing.T) {
	a := newApp(t)
	res, _ := a.do(a.browser(), http.MethodGet, "/auth/test/login", nil)
	require.Equal(t, http.StatusFound, res.StatusCode)
	var c *http.Cookie
	for _, rc := range res.Cookies() {
		if rc.Name == a.sm.Cookie.Name {
			c = rc
		}
	}
	require.NotNil(t, c, "/login sets the session cookie")
	assert.True(t, c.HttpOnly)
	assert.True(t, c.Secure)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Equal(t, "/", c.Path)
	assert.Empty(t, c.Domain)
	assert.NotContains(t, res.Header.Get("Location"), c.Value, "the session token is not in the URL")
}

// Items 30, 56 and 15: configurations New refuses.
func TestNewRefusesUnsafeConfig(t *testing.T) {
	as := newFakeAS(t)
	sessions := func(mod func(*scs.SessionManager)) *scs.SessionManager {
		sm := scs.New()
		sm.Store = memstore.New()
		sm.Cookie.Secure = true
		if mod != nil {
			mod(sm)
		}
		return sm
	}
	prov := func(name, redirect string) oauthkit.Provider {
		return oauthkit.Provider{Client: provider(t, as, name), RedirectURL: redirect}
	}
	const https = "https://app.example/auth/test/callback"
	cases := map[string]oauthkit.Config{
		"SameSite=Strict": {Sessions: sessions(func(sm *scs.SessionManager) { sm.Cookie.SameSite = http.SameSiteStrictMode }),
			Providers: []oauthkit.Provider{prov("test", https)}},
		"not HttpOnly": {Sessions: sessions(func(sm *scs.SessionManager) { sm.Cookie.HttpOnly = false }),
			Providers: []oauthkit.Provider{prov("test", https)}},
		"https redirect, cookie not Secure": {Sessions: sessions(func(sm *scs.SessionManager) { sm.Cookie.Secure = false }),
			Providers: []oauthkit.Provider{prov("test", https)}},
		"http non-loopback redirect": {Sessions: sessions(nil),
			Providers: []oauthkit.Provider{prov("test", "http://app.example/auth/test/callback")}},
		"relative redirect": {Sessions: sessions(nil),
			Providers: []oauthkit.Provider{prov("test", "/auth/test/callback")}},
		"duplicate provider names": {Sessions: sessions(nil),
			Providers: []oauthkit.Provider{prov("test", https), prov("test", "https://app.example/auth/test2/callback")}},
		"no sessions":  {Providers: []oauthkit.Provider{prov("test", https)}},
		"no providers": {Sessions: sessions(nil)},
	}
	for name, cfg := range cases {
		kit, err := oauthkit.New(cfg)
		assert.Error(t, err, name)
		assert.Nil(t, kit, name)
	}

	// Plain http is fine on loopback, with a non-Secure cookie (development).
	for _, u := range []string{"http://127.0.0.1:8080/cb", "http://localhost:8080/cb", "http://[::1]:8080/cb"} {
		_, err := oauthkit.New(oauthkit.Config{
			Sessions:  sessions(func(sm *scs.SessionManager) { sm.Cookie.Secure = false }),
			Providers: []oauthkit.Provider{prov("test", u)},
		})
		assert.NoError(t, err, u)
	}
}

// Items 58 and 69: RequireAuth for anonymous requests writes no session,
// redirects pages and answers 401 to APIs and non-GET methods.
func TestRequireAuthAnonymous(t *testing.T) {
	a := newApp(t)
	b := a.browser()

	res, _ := a.do(b, http.MethodGet, "/profile", nil)
	assert.Equal(t, http.StatusFound, res.StatusCode)
	assert.Equal(t, "/auth/test/login?next=%2Fprofile", res.Header.Get("Location"))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	assert.Empty(t, res.Header.Values("Set-Cookie"), "anonymous RequireAuth creates no session")

	res, _ = a.do(b, http.MethodHead, "/profile", nil)
	assert.Equal(t, http.StatusFound, res.StatusCode)
	assert.Empty(t, res.Header.Values("Set-Cookie"))

	for label, hdr := range map[string]http.Header{
		"Accept: JSON":   {"Accept": {"application/json"}},
		"XMLHttpRequest": {"X-Requested-With": {"XMLHttpRequest"}},
	} {
		res, body := a.do(b, http.MethodGet, "/profile", hdr)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, label)
		assert.Empty(t, res.Header.Get("Location"), label)
		assert.Contains(t, res.Header.Get("WWW-Authenticate"), `realm="oauthkit"`, label)
		assert.NotContains(t, body, "<", label)
		assert.Empty(t, res.Header.Values("Set-Cookie"), label)
	}
	// A browser that accepts both HTML and JSON still gets the page flow.
	res, _ = a.do(b, http.MethodGet, "/profile", http.Header{"Accept": {"text/html,application/json;q=0.9"}})
	assert.Equal(t, http.StatusFound, res.StatusCode)

	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		res, _ := a.do(b, m, "/profile", nil)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, m)
		assert.NotEmpty(t, res.Header.Get("WWW-Authenticate"), m)
		assert.Empty(t, res.Header.Values("Set-Cookie"), m)
	}
	assert.Empty(t, a.sessionCookie(b), "the browser holds no session cookie")
	assert.Zero(t, a.drainErrs())
}

// Item 57: an anonymous /login session only lives as long as its pending
// login; the signed-in session gets the full lifetime.
func TestPendingSessionDeadline(t *testing.T) {
	a := newApp(t)
	b := a.browser()
	res, _ := a.do(b, http.MethodGet, "/auth/test/login", nil)
	var c *http.Cookie
	for _, rc := range res.Cookies() {
		if rc.Name == a.sm.Cookie.Name {
			c = rc
		}
	}
	require.NotNil(t, c)
	assert.WithinDuration(t, a.clock.Now().Add(oauthkit.DefaultPendingTTL), c.Expires, 2*time.Second)

	authURL := a.startLogin(b, "/auth/test/login")
	res, _ = a.do(b, http.MethodGet, a.approve(authURL), nil)
	require.Equal(t, http.StatusFound, res.StatusCode)
	for _, rc := range res.Cookies() {
		if rc.Name == a.sm.Cookie.Name {
			c = rc
		}
	}
	assert.WithinDuration(t, time.Now().Add(a.sm.Lifetime), c.Expires, 2*time.Second)
}
