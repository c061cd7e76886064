package oauthkit_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFullLoginFlow(t *testing.T) {
	a := newApp(t)
	b := a.browser()

	// Anonymous page request: sent to login with the page as return-to.
	res := a.get(b, "/profile?tab=1")
	require.Equal(t, http.StatusFound, res.StatusCode)
	require.Equal(t, "/auth/test/login?next=%2Fprofile%3Ftab%3D1", res.Header.Get("Location"))

	authURL := a.startLogin(b, "/auth/test/login?next=%2Fprofile%3Ftab%3D1")
	before := a.sessionCookie(b)
	require.NotEmpty(t, before)
	q := authURL.Query()
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Equal(t, a.srv.URL+"/auth/test/callback", q.Get("redirect_uri"))
	assert.NotContains(t, authURL.String(), "profile", "return-to stays server-side")

	res = a.get(b, a.approve(authURL))
	require.Equal(t, http.StatusFound, res.StatusCode, "err: %v", a.lastErr())
	assert.Equal(t, "/profile?tab=1", res.Header.Get("Location"))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", res.Header.Get("Referrer-Policy"))
	after := a.sessionCookie(b)
	assert.NotEqual(t, before, after, "session token renewed at login")
	assert.EqualValues(t, 1, a.as.tokenHits.Load())

	r2, err := b.Get(a.srv.URL + "/profile")
	require.NoError(t, err)
	body, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	require.Equal(t, http.StatusOK, r2.StatusCode)
	assert.Equal(t, "test|1234567890123456789|ada@example.com", string(body))

	// Logout: POST only, revokes, destroys the session.
	res = a.get(b, "/logout")
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/logout", nil)
	res, err = b.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/", res.Header.Get("Location"))
	assert.EqualValues(t, 1, a.as.revokeHits.Load())
	res = a.get(b, "/profile")
	assert.Equal(t, http.StatusFound, res.StatusCode, "signed out")
}
