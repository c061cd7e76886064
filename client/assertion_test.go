package client

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertionSecret is a client secret long enough for HS256.
const assertionSecret = "0123456789abcdef0123456789abcdef-hs256"

// testKeys are one key of each type the client signs with, made once.
var testKeys = func() map[jose.SignatureAlgorithm]crypto.Signer {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, edk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[jose.SignatureAlgorithm]crypto.Signer{jose.RS256: rk, jose.ES256: ek, jose.EdDSA: edk}
}()

// assertionClient is coreClient authenticating with method at the token,
// refresh and revocation endpoints, with opts (the key or source).
func assertionClient(t *testing.T, method AuthMethod, hc *http.Client, opts ...Option) *OAuth2 {
	t.Helper()
	return coreClient(t, method, hc, func(c *config) {
		c.ClientSecret = ""
		if method == ClientSecretJWT {
			c.ClientSecret = assertionSecret
		}
		for _, o := range opts {
			if o != nil {
				o(c)
			}
		}
	})
}

// assertionClaims are the claims of a client assertion.
type assertionClaims struct {
	Iss, Sub, Aud, Jti string
	Iat, Exp           int64
}

// verifyAssertion checks the RFC 7523 §2.2 form of a recorded request (no
// Basic header, client_id, assertion type, no secret) and verifies its
// assertion with key, returning the header and claims.
func verifyAssertion(t *testing.T, got recorded, alg jose.SignatureAlgorithm, key any) (jose.Header, assertionClaims) {
	t.Helper()
	assert.Empty(t, got.Header.Values("Authorization"), "no Basic header with an assertion")
	form, err := url.ParseQuery(got.Body)
	require.NoError(t, err)
	assert.Equal(t, []string{coreClientID}, form["client_id"])
	assert.Equal(t, []string{ClientAssertionType}, form["client_assertion_type"])
	assert.NotContains(t, form, "client_secret")
	require.Len(t, form["client_assertion"], 1)
	jws, err := jose.ParseSignedCompact(form.Get("client_assertion"), []jose.SignatureAlgorithm{alg})
	require.NoError(t, err)
	payload, err := jws.Verify(key)
	require.NoError(t, err, "the assertion verifies with the client's key")
	var c assertionClaims
	require.NoError(t, json.Unmarshal(payload, &c))
	return jws.Signatures[0].Header, c
}

// TestClientAssertionRequests: every key type signs a verifiable assertion
// for the code exchange, the refresh and the revocation, sent as form
// fields, with the client's clock and the token endpoint as audience.
func TestClientAssertionRequests(t *testing.T) {
	type keyCase struct {
		name   string
		method AuthMethod
		alg    jose.SignatureAlgorithm
		opt    Option
		verify any
		kid    string
	}
	cases := []keyCase{{name: "client_secret_jwt", method: ClientSecretJWT, alg: jose.HS256, verify: []byte(assertionSecret)}}
	for alg, k := range testKeys {
		cases = append(cases, keyCase{name: string(alg), method: PrivateKeyJWT, alg: alg,
			opt: WithClientAssertionKey(k, "kid-"+string(alg)), verify: k.Public(), kid: "kid-" + string(alg)})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hc, rec := coreServer(t, 200, "application/json", coreAccessTokenJSON)
			c := assertionClient(t, tc.method, hc, tc.opt)
			_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
			require.NoError(t, err)
			_, err = c.RefreshToken(context.Background(), "REFRESH_TOKEN")
			require.NoError(t, err)
			require.NoError(t, c.RevokeToken(context.Background(), "REFRESH_TOKEN", "refresh_token"))
			require.Equal(t, 3, rec.count())

			wantAud := map[string]string{"/access-token": coreTokenURL, "/refresh": coreRefreshURL, "/revoke": coreTokenURL}
			jtis := map[string]bool{}
			for _, got := range rec.reqs {
				h, claims := verifyAssertion(t, got, tc.alg, tc.verify)
				assert.Equal(t, string(tc.alg), h.Algorithm)
				assert.Equal(t, tc.kid, h.KeyID)
				assert.Equal(t, "JWT", h.ExtraHeaders[jose.HeaderType])
				assert.Equal(t, coreClientID, claims.Iss)
				assert.Equal(t, coreClientID, claims.Sub)
				assert.Equal(t, wantAud[got.Path], claims.Aud, got.Path)
				assert.Equal(t, coreNow.Unix(), claims.Iat, "iat by the client's clock")
				assert.Equal(t, coreNow.Add(2*time.Minute).Unix(), claims.Exp)
				assert.Len(t, claims.Jti, 36, "a UUID")
				jtis[claims.Jti] = true
			}
			assert.Len(t, jtis, 3, "each request has its own jti")
			form, err := url.ParseQuery(rec.reqs[0].Body)
			require.NoError(t, err)
			assert.Equal(t, "CODE", form.Get("code"))
			assert.Equal(t, "authorization_code", form.Get("grant_type"))
		})
	}
}

// TestClientAssertionSource: an assertion made elsewhere is sent as it is,
// the source is asked with the token endpoint as audience, and a failing
// or empty source fails before any request.
func TestClientAssertionSource(t *testing.T) {
	hc, rec := coreServer(t, 200, "application/json", coreAccessTokenJSON)
	var audiences []string
	c := assertionClient(t, PrivateKeyJWT, hc, WithClientAssertion(func(_ context.Context, aud string) (string, error) {
		audiences = append(audiences, aud)
		return "eyJ.projected.token", nil
	}))
	_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	require.NoError(t, err)
	require.NoError(t, c.RevokeToken(context.Background(), "ACCESS_TOKEN", ""))
	assert.Equal(t, []string{coreTokenURL, coreTokenURL}, audiences)
	for _, got := range rec.reqs {
		form, err := url.ParseQuery(got.Body)
		require.NoError(t, err)
		assert.Equal(t, "eyJ.projected.token", form.Get("client_assertion"))
		assert.Equal(t, ClientAssertionType, form.Get("client_assertion_type"))
		assert.Equal(t, coreClientID, form.Get("client_id"))
		assert.Empty(t, got.Header.Values("Authorization"))
	}

	cause := errors.New("token file unreadable")
	for name, src := range map[string]AssertionSource{
		"error": func(context.Context, string) (string, error) { return "", cause },
		"empty": func(context.Context, string) (string, error) { return " ", nil },
	} {
		t.Run(name, func(t *testing.T) {
			hc, rec := coreServer(t, 200, "application/json", coreAccessTokenJSON)
			c := assertionClient(t, PrivateKeyJWT, hc, WithClientAssertion(src))
			_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
			assert.ErrorIs(t, err, ErrGetAccessToken)
			assert.ErrorIs(t, err, ErrClientAssertion)
			if name == "error" {
				assert.ErrorIs(t, err, cause)
			}
			assert.ErrorIs(t, c.RevokeToken(context.Background(), "AT", ""), ErrClientAssertion)
			assert.Zero(t, rec.count(), "nothing is sent without an assertion")
		})
	}
}

// failingSigner is a key that cannot sign (an unreachable HSM).
type failingSigner struct{ crypto.Signer }

var errHSM = errors.New("hsm unreachable")

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, errHSM }

// TestClientAssertionSignerFails: a key that fails to sign is a typed
// error naming no key material, and no request is sent.
func TestClientAssertionSignerFails(t *testing.T) {
	hc, rec := coreServer(t, 200, "application/json", coreAccessTokenJSON)
	k := testKeys[jose.ES256].(*ecdsa.PrivateKey)
	c := assertionClient(t, PrivateKeyJWT, hc, WithClientAssertionKey(failingSigner{k}, "k1"))
	_, err := c.RefreshToken(context.Background(), "RT")
	assert.ErrorIs(t, err, ErrRefreshToken)
	assert.ErrorIs(t, err, ErrClientAssertion)
	assert.ErrorIs(t, err, errHSM)
	raw, kerr := k.Bytes()
	require.NoError(t, kerr)
	assert.NotContains(t, err.Error(), hex.EncodeToString(raw))
	assert.NotContains(t, err.Error(), base64.RawURLEncoding.EncodeToString(raw))
	assert.Zero(t, rec.count())
}

// TestClientAssertionInvalidClient: a server refusing the assertion is the
// usual *OAuthError, with the assertion it echoed redacted.
func TestClientAssertionInvalidClient(t *testing.T) {
	var rec *coreRecorder
	hc, rec := coreServerFunc(t, func(w http.ResponseWriter, r *http.Request) {
		form, _ := url.ParseQuery(rec.last().Body) // the recorder read the body
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"error":             "invalid_client",
			"error_description": "bad assertion " + form.Get("client_assertion"),
		})
	})
	c := assertionClient(t, PrivateKeyJWT, hc, WithClientAssertionKey(testKeys[jose.EdDSA], "k1"))
	_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	var oe *OAuthError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "invalid_client", oe.Code)
	assert.Equal(t, http.StatusUnauthorized, oe.StatusCode)
	assert.Equal(t, "bad assertion "+redacted, oe.Description)
	assert.NotContains(t, err.Error(), "eyJ")

	// A body that is no OAuth error document is cut to an excerpt, with
	// the echoed assertion redacted too.
	var rec2 *coreRecorder
	hc, rec2 = coreServerFunc(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "rejected: "+rec2.last().Body)
	})
	c = assertionClient(t, PrivateKeyJWT, hc, WithClientAssertionKey(testKeys[jose.ES256], "k1"))
	_, err = c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	var he *HTTPError
	require.ErrorAs(t, err, &he)
	sent, err := url.ParseQuery(rec2.last().Body)
	require.NoError(t, err)
	assert.NotContains(t, he.Body, sent.Get("client_assertion"))
	assert.Contains(t, he.Body, "client_assertion="+redacted)
}

// TestClientAssertionConfig: keys the client cannot sign with, and
// assertion options that do not match the auth method, are start-up
// errors.
func TestClientAssertionConfig(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	src := func(context.Context, string) (string, error) { return "a", nil }
	base := Config{ClientID: "CID", AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL}
	pk := WithTokenEndpointAuthMethod(PrivateKeyJWT)
	cases := []struct {
		name string
		cfg  Config
		opts []Option
	}{
		{"P-384 key", base, []Option{pk, WithClientAssertionKey(p384, "k")}},
		{"1024-bit RSA key", base, []Option{pk, WithClientAssertionKey(rsa1024, "k")}},
		{"nil key", base, []Option{pk, WithClientAssertionKey(nil, "k")}},
		{"nil source", base, []Option{pk, WithClientAssertion(nil)}},
		{"private_key_jwt without a key", base, []Option{pk}},
		{"key and source", base, []Option{pk, WithClientAssertionKey(testKeys[jose.ES256], "k"), WithClientAssertion(src)}},
		{"key with another method", Config{ClientID: "CID", ClientSecret: "S", AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL},
			[]Option{WithClientAssertionKey(testKeys[jose.ES256], "k")}},
		{"client_secret_jwt with a short secret", Config{ClientID: "CID", ClientSecret: "short-secret", AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL},
			[]Option{WithTokenEndpointAuthMethod(ClientSecretJWT)}},
		{"client_secret_jwt without a secret", base, []Option{WithTokenEndpointAuthMethod(ClientSecretJWT)}},
		{"revocation private_key_jwt without a key", Config{ClientID: "CID", ClientSecret: "S", AuthorizeEndpoint: coreAuthorizeURL,
			AccessTokenEndpoint: coreTokenURL, RevokeTokenEndpoint: coreRevokeURL}, []Option{WithRevocationEndpointAuthMethod(PrivateKeyJWT)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg, tc.opts...)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	c, err := New(base, pk, WithClientAssertionKey(testKeys[jose.RS256], "k"))
	require.NoError(t, err, "private_key_jwt needs no client secret")
	tok, rev := c.AuthMethods()
	assert.Equal(t, PrivateKeyJWT, tok)
	assert.Empty(t, rev)
}

// TestJWKSHandler: the handler serves the public halves of the keys, which
// verify the client's assertions, and nothing private.
func TestJWKSHandler(t *testing.T) {
	keys := map[string]crypto.PublicKey{}
	for alg, k := range testKeys {
		keys["kid-"+string(alg)] = k // a signer: only its public half is served
	}
	keys["pub-only"] = testKeys[jose.ES256].Public()
	h, err := JWKSHandler(keys)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/jwk-set+json", resp.Header.Get("Content-Type"))
	for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`} {
		assert.NotContains(t, string(body), private)
	}
	var set jose.JSONWebKeySet
	require.NoError(t, json.Unmarshal(body, &set))
	require.Len(t, set.Keys, 4)
	for _, k := range set.Keys {
		assert.True(t, k.IsPublic(), k.KeyID)
		assert.Equal(t, "sig", k.Use)
	}

	// An assertion of the client verifies with the key the set serves.
	hc, rec := coreServer(t, 200, "application/json", coreAccessTokenJSON)
	c := assertionClient(t, PrivateKeyJWT, hc, WithClientAssertionKey(testKeys[jose.RS256], "kid-RS256"))
	_, err = c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	require.NoError(t, err)
	served := set.Key("kid-RS256")
	require.Len(t, served, 1)
	assert.Equal(t, "RS256", served[0].Algorithm)
	verifyAssertion(t, rec.only(t), jose.RS256, served[0].Key)

	resp, err = http.Post(srv.URL, "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, err = JWKSHandler(map[string]crypto.PublicKey{"k": p384})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = JWKSHandler(map[string]crypto.PublicKey{"k": "not a key"})
	assert.ErrorIs(t, err, ErrInvalidConfig)
}
