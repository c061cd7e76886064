package oauthkit_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Items 58 and 69: RequireAuth for anonymous requests writes no session,
// redirects pages and answers 401 to APIs and non-GET methods.
func TestRequireAuthAnonymous(t *testing.T) {
	t.Parallel()
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

func TestStoreFaultRequireAuth(t *testing.T) {
	t.Parallel()
	s := newStoreFaultApp(t)
	b := s.browser()
	require.Equal(t, http.StatusFound, s.login(b, "/auth/test/login").StatusCode)
	res, body := s.do(b, http.MethodGet, "/profile", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "secret page")
	require.EqualValues(t, 1, s.served.Load())

	s.store.failFind.Store(true)
	for _, hdr := range []http.Header{nil, {"Accept": {"application/json"}}} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
			res, body := s.do(b, method, "/profile", hdr)
			s.is5xx(t, res, body)
		}
	}
	assert.EqualValues(t, 1, s.served.Load(), "protected handler not reached while the store fails")
	assert.EqualValues(t, 6, s.scsErrors.Load())

	s.store.heal()
	res, body = s.do(b, http.MethodGet, "/profile", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode, "the session survived the outage")
	assert.Contains(t, body, "secret page of test|")
}
