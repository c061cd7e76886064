package client

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Providers that report errors inside 2xx documents must not carry an
// echoed credential into error strings either (security.md item 65).
func TestEnvelopeErrorsRedactEchoedTokens(t *testing.T) {
	const at = "AT-MARK-1-secret-access-token"
	for _, tc := range []struct {
		name string
		body string
		call func(hc *http.Client) error
	}{
		{"slack ok:false", `{"ok":false,"error":"invalid_auth","error_description":"token ` + at + ` is revoked"}`,
			func(hc *http.Client) error {
				s, err := NewSlack("CID", "SEC", WithHTTPClient(hc))
				require.NoError(t, err)
				_, _, err = s.IDEmail(context.Background(), at)
				return err
			}},
		{"naver resultcode", `{"resultcode":"024","message":"Authentication failed (` + at + `)"}`,
			func(hc *http.Client) error {
				n, err := NewNaver("CID", "SEC", WithHTTPClient(hc))
				require.NoError(t, err)
				_, _, err = n.IDEmail(context.Background(), at)
				return err
			}},
		{"naver revoke 200 with error", `{"error":"invalid_request","error_description":"bad token ` + at + `"}`,
			func(hc *http.Client) error {
				n, err := NewNaver("CID", "SEC", WithHTTPClient(hc))
				require.NoError(t, err)
				return n.RevokeToken(context.Background(), at, "access_token")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc := providerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			}))
			err := tc.call(hc)
			require.Error(t, err)
			var oe *OAuthError
			require.ErrorAs(t, err, &oe)
			assert.NotContains(t, err.Error(), at)
			assert.NotContains(t, oe.Description, at)
			assert.True(t, strings.Contains(oe.Description, redacted), "the rest of the message is kept: %q", oe.Description)
		})
	}
}
