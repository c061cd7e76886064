package client

import (
	"context"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fcSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestFranceConnectConfig(t *testing.T) {
	for _, tc := range []struct {
		integration bool
		host        string
	}{{false, "https://app.franceconnect.gouv.fr"}, {true, "https://fcp.integ01.dev-franceconnect.fr"}} {
		fc, err := NewFranceConnect("CID", fcSecret, fcIntegration(tc.integration)...)
		require.NoError(t, err)
		cfg := fc.cfg
		assert.Equal(t, tc.host+"/api/v1/authorize", cfg.AuthorizeEndpoint)
		assert.Equal(t, tc.host+"/api/v1/token", cfg.AccessTokenEndpoint)
		assert.Equal(t, tc.host+"/api/v1/userinfo", fc.userinfoURL)
		assert.False(t, fc.Capabilities().Refresh)
		assert.False(t, fc.Capabilities().Revoke)
		assert.Equal(t, []string{"openid", "email"}, cfg.BaseScopes)
		assert.Equal(t, "franceconnect", fc.Name())
		assert.Equal(t, tc.host, fc.Capabilities().Issuer)
		assert.True(t, fc.Capabilities().Nonce)
	}
}

func TestFranceConnectAuthorizationURL(t *testing.T) {
	fc, err := NewFranceConnect("CID", fcSecret)
	require.NoError(t, err)
	_, err = fc.AuthCodeURL("https://app/cb", AuthURLOptions{State: "S"}, nil)
	assert.ErrorIs(t, err, ErrNonceRequired)
	_, err = fc.AuthCodeURL("https://app/cb", AuthURLOptions{State: "S"}, OpenIDParams{})
	assert.ErrorIs(t, err, ErrNonceRequired)

	u, err := fc.AuthCodeURL("https://app/cb", AuthURLOptions{State: "S", Nonce: "NONCE", CodeChallenge: "CC", CodeChallengeMethod: "S256"},
		OpenIDParams{ACRValues: "eidas1"})
	require.NoError(t, err)
	q := mustQuery(t, u)
	assert.Equal(t, "NONCE", q.Get("nonce"))
	assert.Equal(t, "CC", q.Get("code_challenge"), "PKCE is kept")
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Equal(t, "eidas1", q.Get("acr_values"))
}

func TestFranceConnectIDEmail(t *testing.T) {
	for _, integration := range []bool{false, true} {
		host := "app.franceconnect.gouv.fr"
		if integration {
			host = "fcp.integ01.dev-franceconnect.fr"
		}
		t.Run(host, func(t *testing.T) {
			f, hc := newFakeServer(t)
			fc, err := NewFranceConnect("CID", fcSecret, append(fcIntegration(integration), WithHTTPClient(hc))...)
			require.NoError(t, err)
			f.json("/api/v1/userinfo", 200, `{"sub":42,"email":"arthur@camelot.bt","given_name":"Arthur"}`)
			id, email, err := fc.IDEmail(context.Background(), "TOKEN")
			require.NoError(t, err)
			assert.Equal(t, "42", id)
			assert.Equal(t, "arthur@camelot.bt", email)
			reqs := f.requests("/api/v1/userinfo")
			require.Len(t, reqs, 1)
			assert.Equal(t, host, reqs[0].Host)
			assert.Equal(t, "Bearer TOKEN", reqs[0].Header.Get("Authorization"))
			assert.Equal(t, "application/json", reqs[0].Header.Get("Accept"))

			f.json("/api/v1/userinfo", 400, `{"error":"invalid_token"}`)
			_, _, err = fc.IDEmail(context.Background(), "TOKEN")
			assert.ErrorIs(t, err, ErrGetIDEmail)
			assert.Equal(t, 400, StatusCode(err))

			f.json("/api/v1/userinfo", 200, `{"sub":42,"email":"arthur@camelot.bt","email_verified":false}`)
			_, email, err = fc.IDEmail(context.Background(), "TOKEN")
			require.NoError(t, err)
			assert.Empty(t, email, "an explicit email_verified false is honoured")
		})
	}
}

func hs256(t *testing.T, secret string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(secret)}, nil)
	require.NoError(t, err)
	return signWith(t, s, claims)
}

func TestFranceConnectIDToken(t *testing.T) {
	const iss = "https://app.franceconnect.gouv.fr"
	now := time.Now()
	rsaKey := newRSAKey(t, "k")
	cases := []struct {
		name string
		raw  func() string
		want error
	}{
		{name: "valid HS256", raw: func() string { return hs256(t, fcSecret, idTokenClaims(iss, "CID", "N", now)) }},
		{name: "other secret", raw: func() string { return hs256(t, strings.Repeat("x", 64), idTokenClaims(iss, "CID", "N", now)) }, want: ErrIDTokenSignature},
		{name: "RS256 refused", raw: func() string { return rsaKey.sign(t, idTokenClaims(iss, "CID", "N", now)) }, want: ErrIDTokenSignature},
		{name: "integration issuer refused in production", raw: func() string {
			return hs256(t, fcSecret, idTokenClaims("https://fcp.integ01.dev-franceconnect.fr", "CID", "N", now))
		}, want: ErrIDTokenIssuer},
		{name: "wrong nonce", raw: func() string { return hs256(t, fcSecret, idTokenClaims(iss, "CID", "X", now)) }, want: ErrIDTokenNonce},
	}
	fc, err := NewFranceConnect("CID", fcSecret, WithHTTPClient(failingClient(assert.AnError)))
	require.NoError(t, err)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := fc.VerifyIDToken(context.Background(), &Token{AccessToken: "AT", IDToken: tc.raw()}, "N")
			if tc.want != nil {
				assert.ErrorIs(t, err, ErrIDToken)
				assert.ErrorIs(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "user-42", c.Subject)
		})
	}
}

// fcIntegration returns the option selecting the integration platform when
// integration is true.
func fcIntegration(integration bool) []Option {
	if integration {
		return []Option{WithFranceConnectIntegration()}
	}
	return nil
}
