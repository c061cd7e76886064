package oauthkit_test

import (
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// TestHTTPClient: the client Kit.HTTPClient gives a signed-in request calls
// the provider's API with the session's token (the fake's user API answers
// only a token it issued), and an anonymous request gets Token's error and
// no client. The DPoP case runs against oidc-provider
// (integration/dpop_test.go).
func TestHTTPClient(t *testing.T) {
	a := newApp(t)
	a.mux.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) {
		hc, err := a.kit.HTTPClient(r.Context())
		if err != nil {
			if errors.Is(err, oauthkit.ErrNotSignedIn) {
				http.Error(w, "anonymous", http.StatusUnauthorized)
				return
			}
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		res, err := hc.Get(a.as.URL + "/user")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	})
	b := a.browser()

	res := a.get(b, "/call")
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "anonymous: ErrNotSignedIn, no client")

	a.login(b, "/auth/test/login").Body.Close()
	before := a.as.UserHits.Load()
	res, err := b.Get(a.srv.URL + "/call")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	assert.Contains(t, string(body), `"id"`)
	assert.EqualValues(t, 1, a.as.UserHits.Load()-before, "one API call, with the session's token")
}
