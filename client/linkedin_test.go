package client

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLinkedInConfig(t *testing.T) {
	l, err := NewLinkedIn("CID", "SEC")
	require.NoError(t, err)
	cfg := l.cfg
	assert.Equal(t, "https://www.linkedin.com/oauth/v2/authorization", cfg.AuthorizeEndpoint)
	assert.Equal(t, "https://www.linkedin.com/oauth/v2/accessToken", cfg.AccessTokenEndpoint)
	assert.Equal(t, "https://www.linkedin.com/oauth/v2/accessToken", cfg.RefreshTokenEndpoint)
	assert.Empty(t, cfg.RevokeTokenEndpoint)
	assert.Equal(t, []string{"openid", "profile", "email"}, cfg.BaseScopes)
	assert.Equal(t, ClientSecretPost, cfg.TokenEndpointAuthMethod)
	assert.Equal(t, "linkedin", l.Name())
	assert.Equal(t, "https://www.linkedin.com/oauth", l.Capabilities().Issuer)
}

func TestLinkedInIDEmail(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		id, email  string
		want       []error
	}{
		{name: "success", status: 200, body: `{"sub":"424242","email":"arthur@camelot.bt","email_verified":true,"name":"Arthur"}`, id: "424242", email: "arthur@camelot.bt"},
		{name: "unverified email", status: 200, body: `{"sub":"424242","email":"arthur@camelot.bt","email_verified":false}`, id: "424242"},
		{name: "no email scope", status: 200, body: `{"sub":"424242"}`, id: "424242"},
		{name: "userinfo 400", status: 400, body: `{"serviceErrorCode":65600,"message":"Invalid access token","status":401}`, want: []error{ErrGetIDEmail}},
		{name: "userinfo 401 oauth error", status: 401, body: `{"error":"invalid_token"}`, want: []error{ErrGetIDEmail}},
		{name: "missing sub", status: 200, body: `{"email":"a@x","email_verified":true}`, want: []error{ErrGetIDEmail, ErrMissingID}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, hc := newFakeServer(t)
			f.json("/v2/userinfo", tc.status, tc.body)
			l, err := NewLinkedIn("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			id, email, err := l.IDEmail(context.Background(), "TOKEN")
			reqs := f.requests("/v2/userinfo")
			require.Len(t, reqs, 1)
			assert.Equal(t, "api.linkedin.com", reqs[0].Host)
			assert.Equal(t, "Bearer TOKEN", reqs[0].Header.Get("Authorization"))
			if tc.want != nil {
				for _, w := range tc.want {
					assert.ErrorIs(t, err, w)
				}
				if tc.status != 200 {
					assert.Equal(t, tc.status, StatusCode(err))
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.id, id)
			assert.Equal(t, tc.email, email)
		})
	}
}

func TestLinkedInIDToken(t *testing.T) {
	key := newRSAKey(t, "li")
	f, hc := newFakeServer(t)
	f.json("/oauth/openid/jwks", 200, jwksBody(t, key))
	l, err := NewLinkedIn("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	c, err := l.VerifyIDToken(context.Background(), &Token{IDToken: key.sign(t, idTokenClaims("https://www.linkedin.com/oauth", "CID", "N", time.Now()))}, "N")
	require.NoError(t, err)
	assert.Equal(t, "user-42", c.Subject)
	assert.Equal(t, "www.linkedin.com", f.requests("/oauth/openid/jwks")[0].Host)
	_, err = l.VerifyIDToken(context.Background(), &Token{IDToken: key.sign(t, idTokenClaims("https://www.linkedin.com", "CID", "N", time.Now()))}, "N")
	assert.ErrorIs(t, err, ErrIDTokenIssuer)
	_, err = l.VerifyIDToken(context.Background(), &Token{AccessToken: "AT"}, "N")
	assert.ErrorIs(t, err, ErrIDTokenMissing)
}
