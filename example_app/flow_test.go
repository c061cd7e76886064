package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFlowWithoutBrowser drives the whole site against the embedded
// provider with an HTTP client and a cookie jar: the provider's real login
// form, the profile, the user API with the token's expiry, a refresh after the access token expires
// (moved clock), refresh-token rotation, and revocation at logout.
func TestFlowWithoutBrowser(t *testing.T) {
	clock := &testClock{}
	a, base := startApp(t, Config{now: clock.Now}, "127.0.0.1")
	require.NotNil(t, a.dev, "no provider configured: the embedded provider runs")
	addTokenRoute(a)
	c := browserlessClient(t)

	home := get(t, c, base+"/")
	require.Equal(t, http.StatusOK, home.Status)
	assert.Contains(t, home.Body, `id="signin-dev"`)
	assert.Contains(t, home.Body, "test-user2")
	assert.Contains(t, home.Body, devPassword)

	// Anonymous: the profile sends us to the login page, which keeps "next".
	login := get(t, c, base+"/profile")
	require.Equal(t, "/login", login.URL.Path)
	assert.Equal(t, "/profile", login.URL.Query().Get("next"))
	assert.Contains(t, login.Body, `href="/auth/dev/login?next=%2Fprofile"`)

	profile := loginHTTP(t, c, base, "/auth/dev/login?next=%2Fprofile", "test-user2")
	require.Equal(t, http.StatusOK, profile.Status, profile.Body)
	require.Equal(t, "/profile", profile.URL.Path)
	assert.Contains(t, profile.Body, "test-user2@zitadel.ch")
	assert.Contains(t, profile.Body, "Development provider")
	assert.Contains(t, profile.Body, `<code id="user-id">id2</code>`)
	assert.Contains(t, profile.Body, `<dd id="name">Test User2</dd>`, "the ID token's name")
	assert.Contains(t, profile.Body, `<span class="muted" id="email-verified">(verified)</span>`)
	assert.NotContains(t, profile.Body, `id="avatar"`, "the example OP gives no picture")
	assert.Equal(t, "no-store", profile.Header.Get("Cache-Control"))

	t1 := getToken(t, c, base)
	api := get(t, c, base+"/api-demo")
	require.Equal(t, http.StatusOK, api.Status, api.Body)
	assert.Contains(t, api.Body, `&#34;sub&#34;: &#34;id2&#34;`, "userinfo, pretty-printed and escaped")
	assert.NotContains(t, api.Body, `id="refreshed"`)
	assert.Contains(t, api.Body, "valid for")

	// The access token (5 minutes at the example OP) counts as expired:
	// the API page refreshes it first, and the refresh token rotates.
	clock.Advance(10 * time.Minute)
	api = get(t, c, base+"/api-demo")
	require.Equal(t, http.StatusOK, api.Status, api.Body)
	assert.Contains(t, api.Body, `id="refreshed"`)
	assert.Contains(t, api.Body, `&#34;sub&#34;: &#34;id2&#34;`)
	t2 := getToken(t, c, base)
	assert.NotEqual(t, t1.Access, t2.Access, "refresh gave a new access token")
	assert.NotEqual(t, t1.Refresh, t2.Refresh, "the refresh token rotated")
	status, code := opRefresh(t, a.dev, t1.Refresh)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", code, "the rotated-out refresh token is dead")

	// Once more, so the token the session holds at logout is known to work.
	clock.Advance(10 * time.Minute)
	api = get(t, c, base+"/api-demo")
	assert.Contains(t, api.Body, `id="refreshed"`)
	t3 := getToken(t, c, base)
	assert.NotEqual(t, t2.Refresh, t3.Refresh)
	require.Equal(t, http.StatusOK, opUserinfo(t, a.dev, t3.Access))

	// Logout (POST) revokes the grant at the provider and ends the session.
	res, err := noFollow(c).PostForm(base+"/logout", nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/", res.Header.Get("Location"))
	status, code = opRefresh(t, a.dev, t3.Refresh)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", code, "logout revoked the refresh token")
	assert.NotEqual(t, http.StatusOK, opUserinfo(t, a.dev, t3.Access), "and its access token")

	after := get(t, c, base+"/profile")
	assert.Equal(t, "/login", after.URL.Path, "signed out: the profile asks to sign in again")
	assert.Contains(t, after.Body, `id="notice"`)
}

// TestFriendlyErrorPages checks the app's ErrorHandler pages and the
// protective headers.
func TestFriendlyErrorPages(t *testing.T) {
	clock := &testClock{}
	a, base := startApp(t, Config{now: clock.Now}, "127.0.0.1")
	c := browserlessClient(t)
	nf := noFollow(c)

	// startLogin begins a login and returns its state.
	startLogin := func() string {
		res, err := nf.Get(base + "/auth/dev/login")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusFound, res.StatusCode)
		u, err := url.Parse(res.Header.Get("Location"))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(u.String(), a.dev.Issuer), "redirects to the embedded provider")
		state := u.Query().Get("state")
		require.NotEmpty(t, state)
		return state
	}
	expectPage := func(p page, status int, title string) {
		t.Helper()
		assert.Equal(t, status, p.Status)
		assert.Contains(t, p.Body, `<h1 id="error-title">`+title+`</h1>`)
		assert.Contains(t, p.Body, `href="/static/style.css"`, "the app's layout, not the kit's bare page")
	}

	t.Run("denied consent", func(t *testing.T) {
		state := startLogin()
		p := get(t, c, base+"/auth/dev/callback?error=access_denied&state="+url.QueryEscape(state))
		expectPage(p, http.StatusForbidden, "Login cancelled")
	})
	t.Run("expired login", func(t *testing.T) {
		state := startLogin()
		clock.Advance(11 * time.Minute)
		defer clock.Advance(-11 * time.Minute)
		p := get(t, c, base+"/auth/dev/callback?code=x&state="+url.QueryEscape(state))
		expectPage(p, http.StatusBadRequest, "Login expired")
	})
	t.Run("unknown state", func(t *testing.T) {
		startLogin()
		p := get(t, c, base+"/auth/dev/callback?code=x&state=forged-state-value")
		expectPage(p, http.StatusBadRequest, "Login not recognised")
	})
	t.Run("not found", func(t *testing.T) {
		expectPage(get(t, c, base+"/nowhere"), http.StatusNotFound, "Page not found")
	})
	t.Run("logout by GET", func(t *testing.T) {
		expectPage(get(t, c, base+"/logout"), http.StatusMethodNotAllowed, "Method not allowed")
	})
	t.Run("cross-origin logout", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, base+"/logout", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		res, err := c.Do(req)
		require.NoError(t, err)
		expectPage(readPage(t, res), http.StatusForbidden, "Request refused")
	})
	t.Run("security headers", func(t *testing.T) {
		p := get(t, c, base+"/")
		assert.Contains(t, p.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		assert.Contains(t, p.Header.Get("Content-Security-Policy"), "default-src 'none'")
		assert.Contains(t, p.Header.Get("Content-Security-Policy"), "img-src 'self' https:;", "provider avatars")
		assert.Equal(t, "DENY", p.Header.Get("X-Frame-Options"))
		assert.Empty(t, p.Header.Get("Strict-Transport-Security"), "plain-http development")
		css := get(t, c, base+"/static/style.css")
		assert.Equal(t, http.StatusOK, css.Status)
		assert.Contains(t, css.Header.Get("Content-Type"), "text/css")

		form := get(t, c, base+"/auth/dev/login")
		require.Contains(t, form.URL.Path, "/login/username")
		assert.Equal(t, "DENY", form.Header.Get("X-Frame-Options"), "the provider's login form cannot be framed")
		assert.Equal(t, "frame-ancestors 'none'", form.Header.Get("Content-Security-Policy"))
	})
}
