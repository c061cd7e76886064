package oauthkit_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/fakeas"
)

// formAction is the action of the kit's end-session form.
var formAction = regexp.MustCompile(`<form method="post" action="([^"]*)">`)

// rpLogout signs b in through the OpenID provider, posts /logout and
// returns the end-session page, the ID token the login stored and the
// session token that was signed in.
func rpLogout(t *testing.T, a *app, b *http.Client) (*http.Response, string, string, string) {
	t.Helper()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	token := a.sessionCookie(b)
	var stored struct{ IDToken string }
	require.NoError(t, json.Unmarshal([]byte(a.session(b)["oauthkit.token"].(string)), &stored))
	require.NotEmpty(t, stored.IDToken)
	res, page := a.do(b, http.MethodPost, "/logout", nil)
	return res, page, stored.IDToken, token
}

// RP-initiated logout: the local session ends first; the page POSTs the
// ID token, client id, post-logout URL and a state to the provider's
// end_session_endpoint (never in a URL); the provider's redirect back is
// accepted once, with that state, and lands on AfterLogoutPath.
func TestRPInitiatedLogout(t *testing.T) {
	t.Parallel()
	a, as := newOpenIDApp(t)
	b := a.browser()
	res, page, idToken, oldToken := rpLogout(t, a, b)

	require.Equal(t, http.StatusOK, res.StatusCode, page)
	assert.Empty(t, res.Header.Get("Location"))
	assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", res.Header.Get("Referrer-Policy"))
	csp := res.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "script-src 'sha256-")
	assert.Contains(t, csp, "frame-ancestors 'none'")
	assert.NotContains(t, csp, "unsafe-inline")
	m := formAction.FindStringSubmatch(page)
	require.NotNil(t, m, page)
	assert.Equal(t, as.URL+fakeas.EndSessionPath, m[1])
	form := hiddenInputs(t, page)
	assert.Equal(t, idToken, form.Get("id_token_hint"))
	assert.Equal(t, fakeas.ClientID, form.Get("client_id"))
	assert.Equal(t, a.srv.URL+"/logged-out", form.Get("post_logout_redirect_uri"))
	state := form.Get("state")
	assert.Len(t, state, 43)

	assert.False(t, a.inStore(oldToken), "the local session ended before the trip to the provider")
	assert.Equal(t, http.StatusFound, a.withCookie(http.MethodGet, "/profile", oldToken, nil).StatusCode)
	assert.False(t, a.signedIn(b))

	// The browser submits the form to the provider.
	pres, err := b.PostForm(m[1], form)
	require.NoError(t, err)
	pres.Body.Close()
	require.Equal(t, http.StatusSeeOther, pres.StatusCode)
	back := pres.Header.Get("Location")
	assert.NotContains(t, back, idToken)
	reqs := as.EndSessionRequests()
	require.Len(t, reqs, 1)
	assert.Equal(t, idToken, reqs[0].Get("id_token_hint"))

	bu, err := url.Parse(back)
	require.NoError(t, err)
	require.Equal(t, state, bu.Query().Get("state"))
	res, _ = a.do(b, http.MethodGet, bu.RequestURI(), nil)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/", res.Header.Get("Location"))
	res, _ = a.do(b, http.MethodGet, bu.RequestURI(), nil)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "the state is single use")
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStateNotFound)
}

// The post-logout route refuses a missing, wrong or stale state, keeps a
// pending logout through a wrong guess, and takes no other method.
func TestPostLogoutState(t *testing.T) {
	t.Parallel()
	a, _ := newOpenIDApp(t)
	b := a.browser()
	_, page, _, _ := rpLogout(t, a, b)
	state := hiddenInputs(t, page).Get("state")
	require.NotEmpty(t, state)

	for _, q := range []string{"", "?state=", "?state=" + strings.Repeat("A", 43), "?state=" + state[:42]} {
		res, _ := a.do(b, http.MethodGet, "/logged-out"+q, nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, q)
		assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStateNotFound, q)
	}
	res, _ := a.do(a.browser(), http.MethodGet, "/logged-out?state="+state, nil)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "another browser's state")
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStateNotFound)
	res, _ = a.do(b, http.MethodPost, "/logged-out?state="+state, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrMethodNotAllowed)

	res, _ = a.do(b, http.MethodGet, "/logged-out?state="+state+"&x="+strings.Repeat("a", 17<<10), nil)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "an oversized query")
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrInvalidCallback)

	res, _ = a.do(b, http.MethodGet, "/logged-out?state="+state, nil)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode, "wrong guesses did not consume it")

	_, page, _, _ = rpLogout(t, a, b)
	state = hiddenInputs(t, page).Get("state")
	a.clock.Add(oauthkit.DefaultPendingTTL + 1)
	res, _ = a.do(b, http.MethodGet, "/logged-out?state="+state, nil)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStateExpired)
}

// Provider.LocalLogout, or a provider without end_session_endpoint (the
// plain OAuth2 fake), ends only the local session: 303, no provider trip.
func TestLocalLogout(t *testing.T) {
	t.Parallel()
	a, as := newOpenIDApp(t, func(c *oauthkit.Config) { c.Providers[0].LocalLogout = true })
	b := a.browser()
	res, _, _, oldToken := rpLogout(t, a, b)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/", res.Header.Get("Location"))
	assert.False(t, a.inStore(oldToken))
	assert.Empty(t, as.EndSessionRequests())

	plain := newApp(t)
	pb := plain.browser()
	require.Equal(t, http.StatusFound, plain.login(pb, "/auth/test/login").StatusCode)
	res, _ = plain.do(pb, http.MethodPost, "/logout", nil)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
}

// Without a PostLogoutRedirectURL the provider keeps the browser: no
// post_logout_redirect_uri and no state are sent, and nothing is kept.
func TestRPInitiatedLogoutWithoutReturn(t *testing.T) {
	t.Parallel()
	a, _ := newOpenIDApp(t, func(c *oauthkit.Config) { c.Providers[0].PostLogoutRedirectURL = "" })
	b := a.browser()
	res, page, idToken, _ := rpLogout(t, a, b)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, url.Values{"client_id": {fakeas.ClientID}, "id_token_hint": {idToken}}, hiddenInputs(t, page))
	assert.Nil(t, a.session(b), "no session is created for a state nobody checks")
}

// New refuses a post-logout URL that is not absolute, or plain http off
// loopback.
func TestPostLogoutRedirectURLValidated(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"/logged-out", "http://app.example/logged-out", "https://app.example/x#f"} {
		_, err := oauthkit.New(oauthkit.Config{
			Sessions: secureSessions(),
			Providers: []oauthkit.Provider{{Client: provider(t, newFakeAS(t), "test"),
				RedirectURL: "https://app.example/cb", PostLogoutRedirectURL: u}},
		})
		assert.ErrorIs(t, err, oauthkit.ErrInvalidConfig, u)
	}
}

func secureSessions() *scs.SessionManager {
	sm := scs.New()
	sm.Cookie.Secure = true
	return sm
}

// A refresh answered without an ID token (the usual case, OIDC Core §12.2)
// keeps the login's, so a later RP-initiated logout still sends it.
func TestRPInitiatedLogoutAfterRefresh(t *testing.T) {
	t.Parallel()
	a, as := newOpenIDApp(t)
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	var stored struct{ IDToken, RefreshToken string }
	require.NoError(t, json.Unmarshal([]byte(a.session(b)["oauthkit.token"].(string)), &stored))
	require.NotEmpty(t, stored.RefreshToken)
	as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"AT2","token_type":"Bearer","expires_in":3600,"refresh_token":"RT2"}`))
	}
	a.clock.Add(2 * time.Hour)
	res, body := a.do(b, http.MethodGet, "/api/token", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Equal(t, "AT2", body)

	res, page := a.do(b, http.MethodPost, "/logout", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, stored.IDToken, hiddenInputs(t, page).Get("id_token_hint"))
}
