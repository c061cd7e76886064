package client

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 7009 §2.2.1: a 503 from the revocation endpoint is a temporary error
// carrying Retry-After; other failures are not temporary.
func TestRevokeTemporaryErrorCarriesRetryAfter(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name      string
		status    int
		header    string
		temporary bool
		min, max  time.Duration
	}{
		{"503 seconds", http.StatusServiceUnavailable, "2", true, 2 * time.Second, 2 * time.Second},
		{"503 date", http.StatusServiceUnavailable, date, true, 80 * time.Second, 91 * time.Second},
		{"503 garbage", http.StatusServiceUnavailable, "soon", true, 0, 0},
		{"429 no header", http.StatusTooManyRequests, "", true, 0, 0},
		{"500 with header", http.StatusInternalServerError, "2", false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits := 0
			hc := providerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits++
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
			}))
			c, err := newOAuth2(config{
				ClientID: "cid", ClientSecret: "sec",
				AuthorizeEndpoint: "https://as.example/authorize", AccessTokenEndpoint: "https://as.example/token",
				RevokeTokenEndpoint: "https://as.example/revoke", RevocationEndpointAuthMethod: ClientSecretPost,
				HTTPClient: hc,
			})
			require.NoError(t, err)
			err = c.RevokeToken(context.Background(), "tok", "refresh_token")
			require.ErrorIs(t, err, ErrRevokeToken)
			var he *HTTPError
			require.True(t, errors.As(err, &he))
			assert.Equal(t, tc.temporary, he.Temporary())
			assert.GreaterOrEqual(t, he.RetryAfter, tc.min)
			assert.LessOrEqual(t, he.RetryAfter, tc.max)
			assert.Equal(t, 1, hits, "never retried by the client itself")
		})
	}
}
