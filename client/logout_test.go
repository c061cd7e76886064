package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEndSession(t *testing.T) {
	t.Run("advertised", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
			d["end_session_endpoint"] = testIssuer + "/logout"
		}))
		o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		req, err := o.EndSession("IDT", "https://app.example/logged-out", "S")
		require.NoError(t, err)
		assert.Equal(t, testIssuer+"/logout", req.Endpoint)
		assert.Equal(t, url.Values{"client_id": {"CID"}, "id_token_hint": {"IDT"},
			"post_logout_redirect_uri": {"https://app.example/logged-out"}, "state": {"S"}}, req.Params)

		req, err = o.EndSession("IDT", "", "S")
		require.NoError(t, err)
		assert.Equal(t, url.Values{"client_id": {"CID"}, "id_token_hint": {"IDT"}}, req.Params,
			"state is returned only to a post_logout_redirect_uri")
	})
	t.Run("not advertised", func(t *testing.T) {
		o, _ := newTestOpenID(t, newRSAKey(t, "k1"))
		_, err := o.EndSession("IDT", "https://app.example/logged-out", "S")
		assert.ErrorIs(t, err, ErrEndSessionNotSupported)
	})
	t.Run("plain http endpoint refuses the metadata", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
			d["end_session_endpoint"] = "http://id.example.com/logout"
		}))
		_, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
		assert.ErrorIs(t, err, ErrOpenIDConfiguration)
	})
}

// logoutClaims are valid logout-token claims for testIssuer and CID.
func logoutClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":    testIssuer,
		"aud":    "CID",
		"sub":    "user-42",
		"sid":    "SID-1",
		"jti":    "JTI-1",
		"iat":    now.Add(-time.Second).Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"events": map[string]any{backChannelEvent: map[string]any{}},
	}
}

func TestVerifyLogoutToken(t *testing.T) {
	key := newRSAKey(t, "k1")
	now := time.Now()
	o, _ := newTestOpenID(t, key)

	lt, err := o.VerifyLogoutToken(context.Background(), key.sign(t, logoutClaims(now)))
	require.NoError(t, err)
	assert.Equal(t, testIssuer, lt.Issuer)
	assert.Equal(t, "user-42", lt.Subject)
	assert.Equal(t, "SID-1", lt.SessionID)
	assert.Equal(t, "JTI-1", lt.ID)
	assert.Equal(t, now.Add(-time.Second).Unix(), lt.IssuedAt.Unix())

	onlySID := logoutClaims(now)
	delete(onlySID, "sub")
	lt, err = o.VerifyLogoutToken(context.Background(), key.sign(t, onlySID))
	require.NoError(t, err)
	assert.Equal(t, "", lt.Subject)
	assert.Equal(t, "SID-1", lt.SessionID)

	other := newRSAKey(t, "k2")
	for _, tc := range []struct {
		name  string
		mod   func(map[string]any)
		key   *testKey
		cause error
	}{
		{"no events", func(c map[string]any) { delete(c, "events") }, key, ErrLogoutTokenClaims},
		{"another event", func(c map[string]any) { c["events"] = map[string]any{"urn:other": map[string]any{}} }, key, ErrLogoutTokenClaims},
		{"event is not an object", func(c map[string]any) { c["events"] = map[string]any{backChannelEvent: "yes"} }, key, ErrLogoutTokenClaims},
		{"an ID token (nonce)", func(c map[string]any) { c["nonce"] = "N" }, key, ErrLogoutTokenClaims},
		{"no jti", func(c map[string]any) { delete(c, "jti") }, key, ErrLogoutTokenClaims},
		{"no iat", func(c map[string]any) { delete(c, "iat") }, key, ErrLogoutTokenClaims},
		{"neither sub nor sid", func(c map[string]any) { delete(c, "sub"); delete(c, "sid") }, key, ErrLogoutTokenClaims},
		{"another audience", func(c map[string]any) { c["aud"] = "someone-else" }, key, ErrIDTokenAudience},
		{"another issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }, key, ErrIDTokenIssuer},
		{"expired", func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }, key, ErrIDTokenExpired},
		{"iat in the future", func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }, key, ErrIDTokenExpired},
		{"unknown key", nil, other, ErrIDTokenSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := logoutClaims(now)
			if tc.mod != nil {
				tc.mod(c)
			}
			_, err := o.VerifyLogoutToken(context.Background(), tc.key.sign(t, c))
			assert.ErrorIs(t, err, ErrLogoutToken)
			assert.ErrorIs(t, err, tc.cause)
		})
	}
	for name, raw := range map[string]string{
		"empty":     "",
		"garbage":   "not.a.jwt",
		"oversized": strings.Repeat("a", maxLogoutToken+1),
		"unsigned":  unsignedJWT(t, logoutClaims(now)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := o.VerifyLogoutToken(context.Background(), raw)
			assert.ErrorIs(t, err, ErrLogoutToken)
			assert.ErrorIs(t, err, ErrIDTokenSignature)
		})
	}
}

// unsignedJWT is claims as an alg "none" JWT, which no verifier may accept.
func unsignedJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(b) + "."
}
