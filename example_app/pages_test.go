package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReauthPage: when the provider grant has ended, kit.Token returns
// ErrReauthRequired and the API page asks the user to log in again, with
// the login buttons returning to the page. Nobody signs the user out: the
// session stays signed in until they log in again or POST /logout.
func TestReauthPage(t *testing.T) {
	clock := &testClock{}
	a, base := startApp(t, Config{now: clock.Now}, "127.0.0.1")
	addTokenRoute(a)
	c := browserlessClient(t)
	loginHTTP(t, c, base, "/auth/dev/login", "test-user2")

	// The refresh token is used elsewhere (rotated at the provider), so the
	// session's copy is dead; once the access token expires the grant has
	// ended for this session.
	tok := getToken(t, c, base)
	status, code := opRefresh(t, a.dev, tok.Refresh)
	require.Equal(t, http.StatusOK, status, code)
	clock.Advance(10 * time.Minute)

	for range 2 { // the same page each time: nothing was signed out
		p := get(t, c, base+"/api-demo")
		assert.Equal(t, http.StatusUnauthorized, p.Status)
		assert.Equal(t, "/api-demo", p.URL.Path, "no redirect")
		assert.Contains(t, p.Body, `<h1 id="reauth">Please log in</h1>`)
		assert.Contains(t, p.Body, `href="/auth/dev/login?next=%2Fapi-demo"`, "a login button back to this page")
		assert.Contains(t, p.Body, `<form method="post" action="/logout"`, "and the way out")
		assert.Equal(t, "no-store", p.Header.Get("Cache-Control"))
	}
	profile := get(t, c, base+"/profile")
	require.Equal(t, http.StatusOK, profile.Status)
	assert.Equal(t, "/profile", profile.URL.Path, "still signed in")

	// Logging in again brings the page back.
	api := loginHTTP(t, c, base, "/auth/dev/login?next=%2Fapi-demo", "test-user2")
	require.Equal(t, http.StatusOK, api.Status, api.Body)
	assert.Equal(t, "/api-demo", api.URL.Path)
	assert.Contains(t, api.Body, `&#34;sub&#34;: &#34;test-user2&#34;`)
}

// TestLogoutEverywhere: the profile's "Sign out everywhere" button ends
// every session of the user, in every browser (this one included), and
// leaves other users signed in; the home page says how many ended. It is a
// same-origin POST behind RequireAuth, like the logout button.
func TestLogoutEverywhere(t *testing.T) {
	a, base := startApp(t, Config{}, "127.0.0.1")
	first, second, someoneElse := browserlessClient(t), browserlessClient(t), browserlessClient(t)
	profile := loginHTTP(t, first, base, "/auth/dev/login?next=%2Fprofile", "test-user2")
	assert.Contains(t, profile.Body, `<form method="post" action="/account/logout-everywhere">`)
	assert.Contains(t, profile.Body, `id="logout-everywhere"`)
	loginHTTP(t, second, base, "/auth/dev/login", "test-user2")
	loginHTTP(t, someoneElse, base, "/auth/dev/login", a.dev.Users[0].Subject)
	signedIn := func(c *http.Client) bool {
		t.Helper()
		return get(t, c, base+"/profile").URL.Path == "/profile"
	}
	require.True(t, signedIn(first))
	require.True(t, signedIn(second))

	cross, _ := http.NewRequest(http.MethodPost, base+"/account/logout-everywhere", nil)
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	cross.Header.Set("Origin", "https://evil.example")
	res, err := second.Do(cross)
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, readPage(t, res).Status, "a cross-site form cannot sign the user out")
	require.True(t, signedIn(first))

	res, err = noFollow(first).PostForm(base+"/account/logout-everywhere", nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/", res.Header.Get("Location"))
	home := get(t, first, base+"/")
	assert.Contains(t, home.Body, `<p class="notice" id="notice">You are signed out everywhere: 2 sessions ended.</p>`)
	assert.NotContains(t, get(t, first, base+"/").Body, `id="notice"`, "the notice shows once")

	assert.False(t, signedIn(first), "this browser")
	assert.False(t, signedIn(second), "the user's other browser")
	assert.True(t, signedIn(someoneElse), "another user")

	// Anonymous, RequireAuth answers a POST with 401 and nothing ends.
	res, err = noFollow(first).PostForm(base+"/account/logout-everywhere", nil)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.True(t, signedIn(someoneElse))
}

// TestProfileShowsIdentity renders the profile page for provider-chosen
// values: the name and a hostile avatar URL are escaped, only https
// pictures are shown, and the email says whether the provider verified it.
func TestProfileShowsIdentity(t *testing.T) {
	a, _ := startApp(t, Config{}, "127.0.0.1")
	render := func(u *oauthkit.User) string {
		t.Helper()
		d := a.anonymousPage("Your profile")
		a.setUser(&d, u)
		rec := httptest.NewRecorder()
		a.render(rec, httptest.NewRequest(http.MethodGet, "/profile", nil), http.StatusOK, "profile", d)
		require.Equal(t, http.StatusOK, rec.Code)
		return rec.Body.String()
	}
	user := func(name, avatar, email string, verified bool) *oauthkit.User {
		return &oauthkit.User{Provider: "dev", ID: "id2", Name: name, AvatarURL: avatar, Email: email, EmailVerified: verified, LoginAt: time.Now()}
	}

	body := render(user(`Ada <b>Lovelace</b>`, `https://avatars.example/u/2?s=72&x="><script>alert(1)</script>`, "ada@example.com", true))
	assert.Contains(t, body, `<dd id="name">Ada &lt;b&gt;Lovelace&lt;/b&gt;</dd>`)
	assert.Contains(t, body, `<img class="avatar" id="avatar" src="https://avatars.example/u/2?s=72&amp;x=%22%3e%3cscript%3ealert%281%29%3c/script%3e"`)
	assert.NotContains(t, body, "<script>")
	assert.Contains(t, body, `<span id="email">ada@example.com</span> <span class="muted" id="email-verified">(verified)</span>`)

	body = render(user("", "http://avatars.example/u/2", "ada@example.com", false))
	assert.NotContains(t, body, `id="avatar"`, "plain http: mixed content, and the CSP allows only https images")
	assert.Contains(t, body, `<dd id="name"><span class="muted">not given</span></dd>`)
	assert.Contains(t, body, `(not verified)`)

	for _, bad := range []string{"javascript:alert(1)", "data:image/png;base64,AAAA", "//avatars.example/u/2", "https://user:pw@avatars.example/", "https:///x"} {
		assert.NotContains(t, render(user("Ada", bad, "", false)), `id="avatar"`, bad)
	}
}
