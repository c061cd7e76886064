package client

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// rewriteTransport sends every request to one loopback test server whatever
// host its URL names, keeping the path and query and the original Host header,
// so provider clients are tested against their real production URLs over real
// HTTP.
type rewriteTransport struct {
	target string // host:port of the test server
	base   http.RoundTripper
}

func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Host = req.URL.Host
	r.URL.Scheme = "http"
	r.URL.Host = t.target
	return t.base.RoundTrip(r)
}

// providerServer starts h on loopback and returns an HTTP client that routes
// every URL to it (redirects not followed, like the package default).
// Handlers see the production host in r.Host and can assert it.
func providerServer(t *testing.T, h http.Handler) *http.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &http.Client{
		Transport: &rewriteTransport{target: srv.Listener.Addr().String(), base: http.DefaultTransport},
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
