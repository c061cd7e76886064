package oauthkit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	r := newSecretsRig(t)

	// A successful login (and a page behind RequireAuth).
	b := r.browser()
	res := r.login(b, "/auth/test/login?next=%2Fprofile")
	require.Equal(t, http.StatusFound, res.StatusCode, "login: %v", r.lastErr())
	res, body := r.do(b, http.MethodGet, "/profile", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "test|42|ada@example.com", body)

	// Every token-endpoint failure.
	tokenModes := []string{
		"500 html", "400 error, markers in other members", "200 error, markers in other members",
		"200 error, markers in error_description", "400 error, markers in error_description",
		"truncated json", "bad expires_in",
	}
	for _, mode := range tokenModes {
		r.mas.tokenMode.Store(mode)
		res := r.login(r.browser(), "/auth/test/login")
		assert.GreaterOrEqual(t, res.StatusCode, 400, mode)
		assert.Equal(t, 1, r.collectErrs(), mode)
	}
	r.mas.tokenMode.Store("ok")

	// Every user-API failure.
	for _, mode := range []string{"500 html", "401 with markers", "400 error, markers in error_description", "200 html", "truncated json"} {
		r.mas.userMode.Store(mode)
		res := r.login(r.browser(), "/auth/test/login")
		assert.Equal(t, http.StatusBadGateway, res.StatusCode, mode)
		assert.Equal(t, 1, r.collectErrs(), mode)
	}
	r.mas.userMode.Store("ok")

	// Refresh failures: the token expires (60 s), the app asks for it.
	// The harness's /api/token writes err.Error() into its response.
	for _, mode := range []string{"500 html", "400 error, markers in error_description", "truncated json", "200 error, markers in error_description"} {
		r.mas.refreshMode.Store(mode)
		b := r.browser()
		require.Equal(t, http.StatusFound, r.login(b, "/auth/test/login").StatusCode)
		r.clock.Add(2 * time.Minute)
		res, _ := r.do(b, http.MethodGet, "/api/token", nil)
		assert.GreaterOrEqual(t, res.StatusCode, 400, mode)
	}
	r.mas.refreshMode.Store("ok")

	// Revocation failures at logout.
	for _, mode := range []string{"500 html", "400 error, markers in error_description", "401 with markers"} {
		r.mas.revokeMode.Store(mode)
		b := r.browser()
		require.Equal(t, http.StatusFound, r.login(b, "/auth/test/login").StatusCode)
		res, _ := r.do(b, http.MethodPost, "/logout", nil)
		assert.Equal(t, http.StatusSeeOther, res.StatusCode, mode)
	}
	assert.Contains(t, r.logs.String(), "revocation failed", "the failures were logged")

	r.assertClean(t)
}
