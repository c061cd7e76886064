package client

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var _ interface {
	VerifyIDToken(context.Context, *Token, string) (*IDClaims, error)
} = (*Google)(nil)

func TestGoogleIDToken(t *testing.T) {
	key := newRSAKey(t, "g1")
	other := newRSAKey(t, "g1") // same kid, different key: a forged signature
	f, hc := newFakeServer(t)
	f.json("/oauth2/v3/certs", 200, jwksBody(t, key))
	g, err := NewGoogle("CID", "SEC", WithHTTPClient(hc), WithScopes("openid", "email"))
	require.NoError(t, err)
	now := time.Now()

	claims := idTokenClaims(googleIssuer, "CID", "N", now)
	c, err := g.VerifyIDToken(context.Background(), &Token{IDToken: key.sign(t, claims)}, "N")
	require.NoError(t, err)
	assert.Equal(t, "people/"+claims["sub"].(string), c.Subject, "subject in the People API's form")
	assert.Equal(t, "www.googleapis.com", f.requests("/oauth2/v3/certs")[0].Host)

	// Google sometimes omits the scheme in iss; go-oidc accepts it for Google.
	bare := idTokenClaims("accounts.google.com", "CID", "N", now)
	_, err = g.VerifyIDToken(context.Background(), &Token{IDToken: key.sign(t, bare)}, "N")
	assert.NoError(t, err)

	for name, tc := range map[string]struct {
		token string
		nonce string
		want  error
	}{
		"wrong nonce":    {key.sign(t, claims), "other", ErrIDTokenNonce},
		"wrong audience": {key.sign(t, idTokenClaims(googleIssuer, "someone-else", "N", now)), "N", ErrIDTokenAudience},
		"wrong issuer":   {key.sign(t, idTokenClaims("https://evil.example", "CID", "N", now)), "N", ErrIDTokenIssuer},
		"expired":        {key.sign(t, idTokenClaims(googleIssuer, "CID", "N", now.Add(-3*time.Hour))), "N", ErrIDTokenExpired},
		"bad signature":  {other.sign(t, claims), "N", ErrIDTokenSignature},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := g.VerifyIDToken(context.Background(), &Token{IDToken: tc.token}, tc.nonce)
			assert.ErrorIs(t, err, ErrIDToken)
			assert.ErrorIs(t, err, tc.want)
		})
	}

	// openid requested but no ID token: an error, not a silent pass.
	_, err = g.VerifyIDToken(context.Background(), &Token{AccessToken: "AT"}, "N")
	assert.ErrorIs(t, err, ErrIDTokenMissing)

	// The default scopes do not ask for an ID token: nothing to verify.
	plain, err := NewGoogle("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	c, err = plain.VerifyIDToken(context.Background(), &Token{AccessToken: "AT"}, "N")
	assert.NoError(t, err)
	assert.Nil(t, c)
}
