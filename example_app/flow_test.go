package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// TestFlowWithoutBrowser drives the whole site against the embedded
// provider with an HTTP client and a cookie jar: the provider's real login
// page (its password form), the profile, the user API with the token's
// expiry, a refresh after the access token expires (moved clock),
// refresh-token rotation and reuse detection, and revocation at logout.
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
	assert.Contains(t, profile.Body, "test-user2@example.com")
	assert.Contains(t, profile.Body, "Development provider")
	assert.Contains(t, profile.Body, `<code id="user-id">test-user2</code>`)
	assert.Contains(t, profile.Body, `<dd id="name">Second Test User</dd>`, "the ID token's name")
	assert.Contains(t, profile.Body, `<span class="muted" id="email-verified">(verified)</span>`)
	assert.NotContains(t, profile.Body, `id="avatar"`, "the demo users have no picture")
	assert.Equal(t, "no-store", profile.Header.Get("Cache-Control"))
	// The session record is oauthkit.SessionCodec's, not gob.
	baseURL, _ := url.Parse(base)
	var record []byte
	for _, ck := range c.Jar.Cookies(baseURL) {
		if ck.Name == a.sessions.Cookie.Name {
			var err error
			record, _, err = a.sessions.Store.Find(ck.Value)
			require.NoError(t, err)
		}
	}
	require.NotEmpty(t, record, "no stored session")
	_, values, err := (oauthkit.SessionCodec{}).Decode(record)
	require.NoError(t, err)
	assert.Contains(t, values, "oauthkit.user")
	_, _, err = (scs.GobCodec{}).Decode(record)
	assert.Error(t, err, "a gob record")

	t1 := getToken(t, c, base)
	api := get(t, c, base+"/api-demo")
	require.Equal(t, http.StatusOK, api.Status, api.Body)
	assert.Contains(t, api.Body, `&#34;sub&#34;: &#34;test-user2&#34;`, "userinfo, pretty-printed and escaped")
	assert.NotContains(t, api.Body, `id="refreshed"`)
	assert.Contains(t, api.Body, "valid for")

	// The access token (5 minutes at the embedded provider) counts as expired:
	// the API page refreshes it first, and the refresh token rotates.
	clock.Advance(10 * time.Minute)
	api = get(t, c, base+"/api-demo")
	require.Equal(t, http.StatusOK, api.Status, api.Body)
	assert.Contains(t, api.Body, `id="refreshed"`)
	assert.Contains(t, api.Body, `&#34;sub&#34;: &#34;test-user2&#34;`)
	t2 := getToken(t, c, base)
	assert.NotEqual(t, t1.Access, t2.Access, "refresh gave a new access token")
	assert.NotEqual(t, t1.Refresh, t2.Refresh, "the refresh token rotated")

	// Once more, so the token the session holds at logout is known to work.
	clock.Advance(10 * time.Minute)
	api = get(t, c, base+"/api-demo")
	assert.Contains(t, api.Body, `id="refreshed"`)
	t3 := getToken(t, c, base)
	assert.NotEqual(t, t2.Refresh, t3.Refresh)
	require.Equal(t, http.StatusOK, opUserinfo(t, a.dev, t3.Access))

	// A rotated-out refresh token is dead, and presenting it (as a thief
	// with a copy would) ends the whole grant: the site's tokens die with
	// it and its next refresh asks the user to log in again.
	status, code := opRefresh(t, a.dev, t1.Refresh)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", code, "the rotated-out refresh token is dead")
	assert.NotEqual(t, http.StatusOK, opUserinfo(t, a.dev, t3.Access), "reuse ended the grant")
	clock.Advance(10 * time.Minute)
	api = get(t, c, base+"/api-demo")
	assert.Contains(t, api.Body, `id="reauth"`, "the refresh was refused: log in again")

	// Logout (POST) revokes the grant at the provider and ends the session;
	// the page that ends the provider's session too is TestProviderLogout's.
	loginHTTP(t, c, base, "/auth/dev/login", "test-user2")
	t4 := getToken(t, c, base)
	require.Equal(t, http.StatusOK, opUserinfo(t, a.dev, t4.Access))
	res, err := noFollow(c).PostForm(base+"/logout", nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	status, code = opRefresh(t, a.dev, t4.Refresh)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", code, "logout revoked the refresh token")
	assert.NotEqual(t, http.StatusOK, opUserinfo(t, a.dev, t4.Access), "and its access token")

	after := get(t, c, base+"/profile")
	assert.Equal(t, "/login", after.URL.Path, "signed out: the profile asks to sign in again")
	assert.Contains(t, after.Body, `id="notice"`)
}

// TestProviderLogout: POST /logout ends the session and answers with the
// kit's page that POSTs the logout to the embedded provider's
// end_session_endpoint (id_token_hint, client_id, the registered
// post-logout URL and a state), under the kit's script-hash CSP rather than
// the site's no-script one. Submitting it ends the user's session at the
// provider, which sends the browser back to /logged-out and then home.
//
// The embedded provider keeps no login session of its own (its page asks
// who signs in on every login, logged out or not); what its end_session
// does is end every grant it gave this client for the user the
// id_token_hint names. So the proof is another browser's tokens, which the
// app's own logout (revocation of this browser's grant) leaves alive: they
// die when, and only when, the provider accepted the logout.
func TestProviderLogout(t *testing.T) {
	a, base := startApp(t, Config{}, "127.0.0.1")
	addTokenRoute(a)
	c, other := browserlessClient(t), browserlessClient(t)
	loginHTTP(t, c, base, "/auth/dev/login", "test-user2")
	loginHTTP(t, other, base, "/auth/dev/login", "test-user2")
	otherTok := getToken(t, other, base)

	res, err := noFollow(c).PostForm(base+"/logout", nil)
	require.NoError(t, err)
	logout := readPage(t, res)
	require.Equal(t, http.StatusOK, logout.Status, logout.Body)
	action, fields := endSessionForm(t, logout)
	assert.Equal(t, a.dev.Issuer+"/end_session", action, "the embedded provider's end_session_endpoint")
	assert.Equal(t, a.dev.ClientID, fields.Get("client_id"))
	assert.Len(t, strings.Split(fields.Get("id_token_hint"), "."), 3, "the login's ID token, a JWS")
	assert.Equal(t, base+"/logged-out", fields.Get("post_logout_redirect_uri"))
	state := fields.Get("state")
	require.NotEmpty(t, state)
	csp := logout.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "script-src 'sha256-", "the kit's CSP lets its one script run")
	assert.NotContains(t, csp, "form-action 'self'", "the site's CSP would block the POST to the provider")
	assert.Equal(t, "no-referrer", logout.Header.Get("Referrer-Policy"))

	// The local session is already over; the other browser's grant is not.
	assert.Equal(t, "/login", get(t, c, base+"/profile").URL.Path)
	require.Equal(t, http.StatusOK, opUserinfo(t, a.dev, otherTok.Access))

	// The browser submits the form: the OP ends the session and sends it
	// back to the registered URL with the state.
	res, err = noFollow(c).PostForm(action, fields)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusFound, res.StatusCode, "the OP accepted the logout: %s", body)
	back, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, base+"/logged-out", back.Scheme+"://"+back.Host+back.Path)
	assert.Equal(t, state, back.Query().Get("state"))

	assert.NotEqual(t, http.StatusOK, opUserinfo(t, a.dev, otherTok.Access), "the OP ended the user's session: every token it gave this client is gone")
	status, code := opRefresh(t, a.dev, otherTok.Refresh)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", code)

	// /logged-out checks the state and sends the user home, once.
	home := get(t, c, back.String())
	require.Equal(t, http.StatusOK, home.Status, home.Body)
	assert.Equal(t, "/", home.URL.Path)
	assert.Contains(t, home.Body, `id="signin-dev"`, "anonymous")
	replay := get(t, c, back.String())
	assert.Equal(t, http.StatusBadRequest, replay.Status, "the state is single use")

	// Signing in again goes through the provider's login page.
	form := get(t, c, base+"/auth/dev/login")
	assert.Equal(t, devLoginPath, form.URL.Path)
	assert.Contains(t, form.Body, `name="password"`)
}

// TestLogoutChannels: the OpenID Connect provider's back-channel route
// reaches the kit outside the session middleware and the site's
// CrossOriginProtection (a JSON answer, no cookie), and the front-channel
// route ends the session it is loaded in and may be framed by the
// provider's origin only, whatever the site's framing headers say.
func TestLogoutChannels(t *testing.T) {
	a, base := startApp(t, Config{}, "127.0.0.1")
	issuer, err := url.Parse(a.dev.Issuer)
	require.NoError(t, err)
	providerOrigin := "http://" + issuer.Host

	t.Run("back-channel", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, base+"/auth/dev/backchannel-logout",
			strings.NewReader(url.Values{"logout_token": {"not.a.token"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example") // refused by CrossOriginProtection elsewhere
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
		var e struct {
			Error string `json:"error"`
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&e))
		assert.Equal(t, "invalid_request", e.Error, "the kit verified the token and refused it")
		assert.Empty(t, res.Header.Values("Set-Cookie"), "no session is loaded or made")

		res, err = http.Get(base + "/auth/dev/backchannel-logout")
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	})

	t.Run("front-channel", func(t *testing.T) {
		c := browserlessClient(t)
		loginHTTP(t, c, base, "/auth/dev/login", "test-user2")
		framing := func(p page) {
			t.Helper()
			assert.Equal(t, "frame-ancestors "+providerOrigin, p.Header.Get("Content-Security-Policy"))
			assert.Empty(t, p.Header.Values("X-Frame-Options"), "the site's DENY would block the provider's iframe")
		}

		bad := get(t, c, base+"/auth/dev/frontchannel-logout?iss=https%3A%2F%2Fother.example%2F&sid=s1")
		assert.Equal(t, http.StatusBadRequest, bad.Status)
		framing(bad)
		assert.Equal(t, "/profile", get(t, c, base+"/profile").URL.Path, "a foreign issuer ends nothing")

		ok := get(t, c, base+"/auth/dev/frontchannel-logout")
		assert.Equal(t, http.StatusOK, ok.Status, ok.Body)
		framing(ok)
		assert.Equal(t, "/login", get(t, c, base+"/profile").URL.Path, "the framed request ended its session")
	})

	t.Run("providers without logout notifications get no routes", func(t *testing.T) {
		_, gh := startApp(t, Config{GitHub: &Credentials{ClientID: "id", ClientSecret: "secret"}}, "127.0.0.1")
		for _, path := range []string{"/auth/github/backchannel-logout", "/auth/github/frontchannel-logout"} {
			assert.Equal(t, http.StatusNotFound, get(t, browserlessClient(t), gh+path).Status, path)
		}
	})
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
		require.Equal(t, devLoginPath, form.URL.Path)
		assert.Equal(t, "DENY", form.Header.Get("X-Frame-Options"), "the provider's login page cannot be framed")
		assert.Contains(t, form.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		assert.Contains(t, form.Header.Get("Content-Security-Policy"), "default-src 'none'", "a self-contained page")
	})
}
