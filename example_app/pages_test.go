package main

import (
	"net/http"
	"testing"
	"time"

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
	assert.Contains(t, api.Body, `&#34;sub&#34;: &#34;id2&#34;`)
}
