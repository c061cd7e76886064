package client

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProviderServerRoutesProductionURLs(t *testing.T) {
	var got recorded
	hc := providerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = recorded{Method: r.Method, Host: r.Host, Path: r.URL.Path, Body: string(b)}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"AT","token_type":"bearer","expires_in":60}`)
	}))
	c, err := newOAuth2(config{
		ClientID: "CID", ClientSecret: "SEC",
		AuthorizeEndpoint:   "https://as.example/authorize",
		AccessTokenEndpoint: "https://as.example/token",
		HTTPClient:          hc,
	})
	require.NoError(t, err)
	tok, err := c.AccessToken(context.Background(), "CODE", "https://app/cb", "")
	require.NoError(t, err)
	require.Equal(t, "AT", tok.AccessToken)
	require.Equal(t, "as.example", got.Host)
	require.Equal(t, "/token", got.Path)
	require.Equal(t, http.MethodPost, got.Method)
}
