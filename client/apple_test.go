package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func appleKeyPEM(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestAppleConfig(t *testing.T) {
	_, p8 := appleKeyPEM(t)
	a, err := NewApple("com.example.web", "TEAM123456", "KEY1234567", p8)
	require.NoError(t, err)
	cfg := a.cfg
	assert.Equal(t, "https://appleid.apple.com/auth/authorize", cfg.AuthorizeEndpoint)
	assert.Equal(t, "https://appleid.apple.com/auth/token", cfg.AccessTokenEndpoint)
	assert.Equal(t, "https://appleid.apple.com/auth/token", cfg.RefreshTokenEndpoint)
	assert.Equal(t, "https://appleid.apple.com/auth/revoke", cfg.RevokeTokenEndpoint)
	assert.Equal(t, ClientSecretPost, cfg.RevocationEndpointAuthMethod)
	assert.Equal(t, []string{"name", "email"}, cfg.BaseScopes)
	assert.Equal(t, "apple", a.Name())
	assert.Equal(t, "https://appleid.apple.com", a.Capabilities().Issuer)

	_, _, err = a.IDEmail(context.Background(), "AT")
	assert.ErrorIs(t, err, ErrIDEmailNotSupported)
	_, err = a.Profile(context.Background(), "AT")
	assert.ErrorIs(t, err, ErrProfileNotSupported)
}

func TestAppleInvalidConfig(t *testing.T) {
	_, p8 := appleKeyPEM(t)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(rk)
	require.NoError(t, err)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	der, err = x509.MarshalPKCS8PrivateKey(p384)
	require.NoError(t, err)
	p384PEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	cases := []struct {
		name, cid, team, kid string
		key                  []byte
	}{
		{"empty client id", "", "TEAM", "KID", p8},
		{"bad team", "cid", "TE/AM", "KID", p8},
		{"empty key id", "cid", "TEAM", "", p8},
		{"not pem", "cid", "TEAM", "KID", []byte("nope")},
		{"rsa key", "cid", "TEAM", "KID", rsaPEM},
		{"p384 key", "cid", "TEAM", "KID", p384PEM},
	}
	for _, tc := range cases {
		_, err := NewApple(tc.cid, tc.team, tc.kid, tc.key)
		assert.ErrorIs(t, err, ErrInvalidConfig, tc.name)
	}
}

func TestAppleAuthorizationURL(t *testing.T) {
	_, p8 := appleKeyPEM(t)
	a, err := NewApple("com.example.web", "TEAM123456", "KEY1234567", p8)
	require.NoError(t, err)
	u, err := a.AuthCodeURL("https://app/cb", AuthURLOptions{State: "S", Nonce: "N"}, nil)
	require.NoError(t, err)
	q := mustQuery(t, u)
	assert.Equal(t, "form_post", q.Get("response_mode"))
	assert.Equal(t, "name email", q.Get("scope"))
	assert.Equal(t, "N", q.Get("nonce"))

	u, err = a.AuthCodeURL("https://app/cb", AuthURLOptions{Scopes: []string{}}, nil)
	require.NoError(t, err)
	assert.False(t, mustQuery(t, u).Has("response_mode"), "no scopes: Apple's default query mode")

	extra := Values{"response_mode": {"fragment"}}
	u, err = a.AuthCodeURL("https://app/cb", AuthURLOptions{}, extra)
	require.NoError(t, err)
	assert.Equal(t, "fragment", mustQuery(t, u).Get("response_mode"))

	u, err = a.AuthCodeURL("https://app/cb", AuthURLOptions{}, AppleParams{})
	require.NoError(t, err)
	assert.Equal(t, "form_post", mustQuery(t, u).Get("response_mode"))
}

// appleSecretClaims verifies the client secret of a recorded form body with
// pub and returns its header and claims.
func appleSecretClaims(t *testing.T, body string, pub *ecdsa.PublicKey) (jose.Header, map[string]any) {
	t.Helper()
	form, err := url.ParseQuery(body)
	require.NoError(t, err)
	jws, err := jose.ParseSignedCompact(form.Get("client_secret"), []jose.SignatureAlgorithm{jose.ES256})
	require.NoError(t, err)
	payload, err := jws.Verify(pub)
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	return jws.Signatures[0].Header, claims
}

func TestAppleClientSecret(t *testing.T) {
	key, p8 := appleKeyPEM(t)
	f, hc := newFakeServer(t)
	f.json("/auth/token", 200, `{"access_token":"AT","token_type":"Bearer","expires_in":3600,"refresh_token":"RT","id_token":"x"}`)
	f.json("/auth/revoke", 200, ``)
	now := time.Unix(1_800_000_000, 0)
	a, err := NewApple("com.example.web", "TEAM123456", "KEY1234567", p8, WithHTTPClient(hc), WithClock(func() time.Time { return now }))
	require.NoError(t, err)

	tok, err := a.AccessToken(context.Background(), "CODE", "https://app/cb", "VERIFIER")
	require.NoError(t, err)
	assert.Equal(t, "AT", tok.AccessToken)
	reqs := f.requests("/auth/token")
	require.Len(t, reqs, 1)
	assert.Equal(t, "appleid.apple.com", reqs[0].Host)
	form, err := url.ParseQuery(reqs[0].Body)
	require.NoError(t, err)
	assert.Equal(t, "com.example.web", form.Get("client_id"))
	assert.Equal(t, "VERIFIER", form.Get("code_verifier"))
	assert.Empty(t, reqs[0].Header.Get("Authorization"))

	hdr, claims := appleSecretClaims(t, reqs[0].Body, &key.PublicKey)
	assert.Equal(t, "ES256", hdr.Algorithm)
	assert.Equal(t, "KEY1234567", hdr.KeyID)
	assert.Equal(t, map[string]any{
		"iss": "TEAM123456",
		"sub": "com.example.web",
		"aud": "https://appleid.apple.com",
		"iat": float64(now.Unix()),
		"exp": float64(now.Add(time.Hour).Unix()),
	}, claims)

	// Cached while fresh, also for refresh and revocation.
	_, err = a.RefreshToken(context.Background(), "RT")
	require.NoError(t, err)
	require.NoError(t, a.RevokeToken(context.Background(), "RT", "refresh_token"))
	first, _ := url.ParseQuery(reqs[0].Body)
	second, _ := url.ParseQuery(f.requests("/auth/token")[1].Body)
	revoke := f.requests("/auth/revoke")
	require.Len(t, revoke, 1)
	rv, _ := url.ParseQuery(revoke[0].Body)
	assert.Equal(t, first.Get("client_secret"), second.Get("client_secret"))
	assert.Equal(t, first.Get("client_secret"), rv.Get("client_secret"))
	assert.Equal(t, "RT", rv.Get("token"))
	assert.Equal(t, "refresh_token", rv.Get("token_type_hint"))
	assert.Equal(t, "com.example.web", rv.Get("client_id"))

	// Renewed near expiry.
	now = now.Add(56 * time.Minute)
	_, err = a.RefreshToken(context.Background(), "RT")
	require.NoError(t, err)
	third := f.requests("/auth/token")[2]
	_, claims = appleSecretClaims(t, third.Body, &key.PublicKey)
	assert.Equal(t, float64(now.Unix()), claims["iat"])
}

func TestAppleIDToken(t *testing.T) {
	_, p8 := appleKeyPEM(t)
	key := newRSAKey(t, "apple1")
	f, hc := newFakeServer(t)
	f.json("/auth/keys", 200, jwksBody(t, key))
	a, err := NewApple("com.example.web", "TEAM123456", "KEY1234567", p8, WithHTTPClient(hc))
	require.NoError(t, err)
	c := idTokenClaims("https://appleid.apple.com", "com.example.web", "N", time.Now())
	c["email_verified"] = "true"
	c["is_private_email"] = "true"
	got, err := a.VerifyIDToken(context.Background(), &Token{IDToken: key.sign(t, c)}, "N")
	require.NoError(t, err)
	assert.Equal(t, &IDClaims{Issuer: "https://appleid.apple.com", Subject: "user-42", Email: "arthur@camelot.bt", EmailVerified: true, Nonce: "N"}, got)
	assert.Equal(t, "appleid.apple.com", f.requests("/auth/keys")[0].Host)

	_, err = a.VerifyIDToken(context.Background(), &Token{AccessToken: "AT"}, "N")
	assert.ErrorIs(t, err, ErrIDTokenMissing, "Apple always sends an ID token, even without openid scope")
	c["aud"] = "CID"
	_, err = a.VerifyIDToken(context.Background(), &Token{IDToken: key.sign(t, c)}, "N")
	assert.ErrorIs(t, err, ErrIDTokenAudience)
}
