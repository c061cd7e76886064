package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oauthkit/oauthkit/internal/providertest"
)

// providerServer starts h on loopback and returns an HTTP client that routes
// every URL to it (redirects not followed, like the package default).
// Handlers see the production host in r.Host and can assert it.
func providerServer(t testing.TB, h http.Handler) *http.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &http.Client{
		Transport: &providertest.Loopback{Target: srv.Listener.Addr().String()},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// recorded is one request a test server saw.
type recorded struct {
	Method string
	Host   string
	Path   string
	Query  string
	Header http.Header
	Body   string
}

// assertRequest checks the method, production host and path a test server
// saw.
func assertRequest(t *testing.T, got recorded, method, host, path string) {
	t.Helper()
	assert.Equal(t, method, got.Method)
	assert.Equal(t, host, got.Host)
	assert.Equal(t, path, got.Path)
}

// userAPIClient is a provider client with the upstream user-API methods,
// which are not part of Provider.
type userAPIClient interface {
	Provider
	IDEmail(ctx context.Context, accessToken string) (id, email string, err error)
	Profile(ctx context.Context, accessToken string) (json.RawMessage, error)
}
