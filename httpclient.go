package oauthkit

import (
	"context"
	"net/http"

	"github.com/oauthkit/oauthkit/client"
)

// HTTPClient returns an *http.Client that calls the signed-in user's
// provider APIs with the token Kit.Token gives (refreshed when expired):
// "Authorization: Bearer", or, for a DPoP-bound grant (a client made with
// client.WithDPoP), "Authorization: DPoP" with a fresh proof per request
// and one retry on the server's nonce challenge. The grant's DPoP key stays
// server-side with the token; only proofs leave.
//
// The client holds the token valid now: make one per request rather than
// keeping it. Errors are Token's. Code outside a request (a background job)
// wraps the token of Kit.TokenFor in a client.Transport the same way.
func (k *Kit) HTTPClient(ctx context.Context) (*http.Client, error) {
	t, err := k.Token(ctx)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &client.Transport{Token: t}}, nil
}
