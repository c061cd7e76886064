package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dpopProofSeen is a DPoP proof a test server received, its signature
// verified with the key of its own "jwk" header.
type dpopProofSeen struct {
	typ, alg string
	jwk      jose.JSONWebKey
	jkt      string
	claims   map[string]any
}

// readProof parses and verifies a DPoP proof as a server would.
func readProof(proof string) (*dpopProofSeen, error) {
	jws, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("not one signature")
	}
	h := jws.Signatures[0].Header
	if h.JSONWebKey == nil {
		return nil, errors.New("no jwk header")
	}
	if !h.JSONWebKey.IsPublic() {
		return nil, errors.New("jwk header holds a private key")
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		return nil, err
	}
	p := &dpopProofSeen{alg: h.Algorithm, jwk: *h.JSONWebKey}
	p.typ, _ = h.ExtraHeaders["typ"].(string)
	tp, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	p.jkt = base64.RawURLEncoding.EncodeToString(tp)
	if err := decodeExact(payload, &p.claims); err != nil {
		return nil, err
	}
	return p, nil
}

// mustProof is readProof for a recorded request, which must carry one.
func mustProof(t *testing.T, r recorded) *dpopProofSeen {
	t.Helper()
	vs := r.Header.Values("DPoP")
	require.Len(t, vs, 1, "DPoP headers")
	p, err := readProof(vs[0])
	require.NoError(t, err)
	return p
}

// athOf is the "ath" of an access token (RFC 9449 §4.2).
func athOf(at string) string {
	sum := sha256.Sum256([]byte(at))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// dpopServer stands in for a DPoP authorization and resource server: the
// token endpoints (/access-token, /refresh) answer tokens of tokenType,
// the resource paths (/userinfo, /api) require "Authorization: DPoP" with
// a proof bound to the token; when nonce is set every proof must carry it
// (a 400 use_dpop_nonce at the token endpoints, a 401 challenge at the
// resources, each with the DPoP-Nonce header). rotate gives a new nonce
// with every challenge, so the client can never satisfy it.
type dpopServer struct {
	mu        sync.Mutex
	reqs      []recorded
	nonce     string
	rotate    bool
	tokenType string
	// tokenNonce is sent as DPoP-Nonce with successful token answers.
	tokenNonce string
	userinfo   string
}

func (s *dpopServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, recorded{Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(b)})
	resource := r.URL.Path == "/userinfo" || r.URL.Path == "/api"
	fail := func(status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		if resource {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`DPoP error=%q, algs="ES256"`, code))
		}
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"error":%q}`, code)
	}
	var p *dpopProofSeen
	if v := r.Header.Get("DPoP"); v != "" {
		var err error
		if p, err = readProof(v); err != nil {
			fail(http.StatusBadRequest, "invalid_dpop_proof")
			return
		}
	}
	if p != nil && s.nonce != "" && (s.rotate || p.claims["nonce"] != s.nonce) {
		if s.rotate {
			s.nonce = uuid.NewString()
		}
		w.Header().Set("DPoP-Nonce", s.nonce)
		status := http.StatusBadRequest
		if resource {
			status = http.StatusUnauthorized
		}
		fail(status, "use_dpop_nonce")
		return
	}
	if resource {
		scheme, at, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if scheme != "DPoP" || p == nil || p.claims["ath"] != athOf(at) {
			fail(http.StatusUnauthorized, "invalid_token")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, s.userinfo)
		return
	}
	tt := s.tokenType
	if tt == "" {
		tt = "DPoP"
	}
	if s.tokenNonce != "" {
		w.Header().Set("DPoP-Nonce", s.tokenNonce)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"access_token":"AT-%d","token_type":%q,"expires_in":3600,"refresh_token":"RT-%d"}`, len(s.reqs), tt, len(s.reqs))
}

func (s *dpopServer) seen() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

// dpopClient is coreClient made WithDPoP, talking to s.
func dpopClient(t *testing.T, s *dpopServer, method AuthMethod, mods ...func(*config)) *OAuth2 {
	t.Helper()
	return coreClient(t, method, providerServer(t, s), append([]func(*config){func(c *config) { WithDPoP()(c) }}, mods...)...)
}

func TestDPoPCodeExchangeProof(t *testing.T) {
	s := &dpopServer{}
	c := dpopClient(t, s, ClientSecretPost)
	tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "VERIFIER")
	require.NoError(t, err)
	assert.Equal(t, "DPoP", tok.TokenType)
	require.NotNil(t, tok.DPoPKey, "a key pair per grant, made by the exchange")

	reqs := s.seen()
	require.Len(t, reqs, 1)
	coreAssertFormPost(t, reqs[0], "/access-token", ClientSecretPost, url.Values{
		"grant_type": {"authorization_code"}, "code": {"CODE"}, "redirect_uri": {coreRedirectURI}, "code_verifier": {"VERIFIER"},
	})
	p := mustProof(t, reqs[0])
	assert.Equal(t, "dpop+jwt", p.typ)
	assert.Equal(t, "ES256", p.alg)
	assert.Equal(t, tok.DPoPKey.Thumbprint(), p.jkt, "the proof is signed by the token's key")
	assert.Equal(t, "POST", p.claims["htm"])
	assert.Equal(t, coreTokenURL, p.claims["htu"])
	assert.Equal(t, json.Number(fmt.Sprint(coreNow.Unix())), p.claims["iat"], "iat by the client's clock")
	_, err = uuid.Parse(fmt.Sprint(p.claims["jti"]))
	assert.NoError(t, err, "jti is a UUID")
	assert.NotContains(t, p.claims, "ath", "no access token yet")
	assert.NotContains(t, p.claims, "nonce", "no nonce known yet")

	t.Run("key from the context", func(t *testing.T) {
		k, err := NewDPoPKey()
		require.NoError(t, err)
		tok, err := c.AccessToken(ContextWithDPoPKey(context.Background(), k), "CODE", coreRedirectURI, "")
		require.NoError(t, err)
		assert.Same(t, k, tok.DPoPKey)
		assert.Equal(t, k.Thumbprint(), mustProof(t, s.seen()[1]).jkt)
	})
	t.Run("a key per grant", func(t *testing.T) {
		tok2, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
		require.NoError(t, err)
		assert.NotEqual(t, tok.DPoPKey.Thumbprint(), tok2.DPoPKey.Thumbprint())
	})
}

func TestDPoPProofHTUHasNoQuery(t *testing.T) {
	s := &dpopServer{}
	c := dpopClient(t, s, ClientSecretPost, func(c *config) { c.AccessTokenEndpoint = coreTokenURL + "?tenant=t1" })
	_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	require.NoError(t, err)
	r := s.seen()[0]
	assert.Equal(t, "tenant=t1", r.Query)
	assert.Equal(t, coreTokenURL, mustProof(t, r).claims["htu"], "RFC 9449 §4.2: htu without query")
}

func TestDPoPRefreshKeepsKey(t *testing.T) {
	s := &dpopServer{}
	c := dpopClient(t, s, ClientSecretBasic)
	tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	require.NoError(t, err)
	refreshed, err := c.RefreshToken(ContextWithDPoPKey(context.Background(), tok.DPoPKey), tok.RefreshToken)
	require.NoError(t, err)
	assert.Same(t, tok.DPoPKey, refreshed.DPoPKey, "a refreshed token stays bound to the grant's key")
	assert.Equal(t, "DPoP", refreshed.TokenType)

	reqs := s.seen()
	require.Len(t, reqs, 2)
	assertRequest(t, reqs[1], http.MethodPost, coreHost, "/refresh")
	first, second := mustProof(t, reqs[0]), mustProof(t, reqs[1])
	assert.Equal(t, first.jkt, second.jkt, "jkt stable across the refresh")
	assert.Equal(t, coreRefreshURL, second.claims["htu"])
	assert.NotEqual(t, first.claims["jti"], second.claims["jti"])
}

func TestDPoPRefreshNeedsKey(t *testing.T) {
	s := &dpopServer{}
	c := dpopClient(t, s, ClientSecretPost)
	_, err := c.RefreshToken(context.Background(), "RT")
	assert.ErrorIs(t, err, ErrDPoPKeyRequired)
	assert.ErrorIs(t, err, ErrRefreshToken)
	_, err = c.RefreshToken(ContextWithDPoPKey(context.Background(), &DPoPKey{}), "RT")
	assert.ErrorIs(t, err, ErrInvalidDPoPKey, "the zero key cannot sign")
	assert.Empty(t, s.seen(), "no request without the grant's key")
}

func TestDPoPNonceRetry(t *testing.T) {
	s := &dpopServer{nonce: "N-1"}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c := dpopClient(t, s, PrivateKeyJWT, func(c *config) {
		c.assertionKeySet, c.assertionKey, c.assertionKeyID = true, priv, "k1"
	})
	tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	require.NoError(t, err)

	reqs := s.seen()
	require.Len(t, reqs, 2, "one refused exchange, one retry")
	p1, p2 := mustProof(t, reqs[0]), mustProof(t, reqs[1])
	assert.NotContains(t, p1.claims, "nonce")
	assert.Equal(t, "N-1", p2.claims["nonce"])
	assert.NotEqual(t, p1.claims["jti"], p2.claims["jti"], "a new proof")
	assert.Equal(t, p1.jkt, p2.jkt)
	f1, err := url.ParseQuery(reqs[0].Body)
	require.NoError(t, err)
	f2, err := url.ParseQuery(reqs[1].Body)
	require.NoError(t, err)
	assert.Equal(t, "CODE", f2.Get("code"))
	assert.NotEqual(t, f1.Get("client_assertion"), f2.Get("client_assertion"), "a new client assertion, not a replay")
	assert.NotEqual(t, assertionJTI(t, f1.Get("client_assertion")), assertionJTI(t, f2.Get("client_assertion")))

	// The nonce is remembered: the refresh meets no challenge.
	_, err = c.RefreshToken(ContextWithDPoPKey(context.Background(), tok.DPoPKey), tok.RefreshToken)
	require.NoError(t, err)
	require.Len(t, s.seen(), 3)
	assert.Equal(t, "N-1", mustProof(t, s.seen()[2]).claims["nonce"])
}

// assertionJTI is the jti of a client assertion (not verified).
func assertionJTI(t *testing.T, a string) any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(a, []jose.SignatureAlgorithm{jose.ES256})
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims))
	require.NotEmpty(t, claims["jti"])
	return claims["jti"]
}

func TestDPoPNonceFromAnyResponse(t *testing.T) {
	s := &dpopServer{tokenNonce: "N-2"}
	c := dpopClient(t, s, ClientSecretPost)
	tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	require.NoError(t, err)
	_, err = c.RefreshToken(ContextWithDPoPKey(context.Background(), tok.DPoPKey), tok.RefreshToken)
	require.NoError(t, err)
	assert.Equal(t, "N-2", mustProof(t, s.seen()[1]).claims["nonce"], "the nonce of a successful answer is used next")
}

func TestDPoPNonceChallengeRepeated(t *testing.T) {
	s := &dpopServer{nonce: "N-1", rotate: true}
	c := dpopClient(t, s, ClientSecretPost)
	_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	assert.ErrorIs(t, err, ErrDPoPNonce)
	assert.ErrorIs(t, err, ErrGetAccessToken)
	var oe *OAuthError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "use_dpop_nonce", oe.Code)
	assert.Equal(t, http.StatusBadRequest, StatusCode(err))
	assert.Len(t, s.seen(), 2, "retried once, never a loop")
}

func TestDPoPNonceChallengeWithoutNonce(t *testing.T) {
	hc, rec := coreServer(t, http.StatusBadRequest, "application/json", `{"error":"use_dpop_nonce"}`)
	c := coreClient(t, ClientSecretPost, hc, func(c *config) { WithDPoP()(c) })
	_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	assert.ErrorIs(t, err, ErrDPoPNonce)
	assert.Equal(t, 1, rec.count(), "no nonce to retry with")
}

func TestDPoPNoRetryOnOtherErrors(t *testing.T) {
	hc, rec := coreServerFunc(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("DPoP-Nonce", "N-1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
	})
	c := coreClient(t, ClientSecretPost, hc, func(c *config) { WithDPoP()(c) })
	_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	assert.ErrorIs(t, err, ErrInvalidGrant)
	assert.NotErrorIs(t, err, ErrDPoPNonce)
	assert.Equal(t, 1, rec.count(), "a code is retried only after use_dpop_nonce")
}

func TestDPoPTokenTypeMismatch(t *testing.T) {
	t.Run("WithDPoP, Bearer answered", func(t *testing.T) {
		c := dpopClient(t, &dpopServer{tokenType: "Bearer"}, ClientSecretPost)
		_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
		assert.ErrorIs(t, err, ErrTokenTypeMismatch)
		assert.ErrorIs(t, err, ErrUnsupportedTokenType)
		assert.ErrorIs(t, err, ErrGetAccessToken)
	})
	t.Run("WithDPoP, no token_type", func(t *testing.T) {
		hc, _ := coreServer(t, 200, "application/json", `{"access_token":"AT"}`)
		c := coreClient(t, ClientSecretPost, hc, func(c *config) { WithDPoP()(c) })
		_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
		assert.ErrorIs(t, err, ErrTokenTypeMismatch)
	})
	t.Run("WithDPoP, lower case dpop", func(t *testing.T) {
		c := dpopClient(t, &dpopServer{tokenType: "dpop"}, ClientSecretPost)
		tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
		require.NoError(t, err)
		assert.Equal(t, "DPoP", tok.TokenType)
	})
	t.Run("without WithDPoP, DPoP answered", func(t *testing.T) {
		s := &dpopServer{}
		c := coreClient(t, ClientSecretPost, providerServer(t, s))
		k, err := NewDPoPKey()
		require.NoError(t, err)
		_, err = c.AccessToken(ContextWithDPoPKey(context.Background(), k), "CODE", coreRedirectURI, "")
		assert.ErrorIs(t, err, ErrTokenTypeMismatch)
		assert.ErrorIs(t, err, ErrUnsupportedTokenType)
		require.Len(t, s.seen(), 1)
		assert.Empty(t, s.seen()[0].Header.Values("DPoP"), "no proof from a client without WithDPoP")
	})
}

func TestDPoPDiscovery(t *testing.T) {
	cases := []struct {
		name string
		algs any
		ok   bool
	}{
		{"absent", nil, true},
		{"ES256 listed", []string{"RS256", "ES256"}, true},
		{"ES256 missing", []string{"RS256", "EdDSA"}, false},
		{"empty list", []string{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, hc := newFakeServer(t)
			f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
				if tc.algs != nil {
					d["dpop_signing_alg_values_supported"] = tc.algs
				}
			}))
			_, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc), WithDPoP())
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorIs(t, err, ErrOpenIDConfiguration)
			_, err = DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
			assert.NoError(t, err, "without WithDPoP the list does not matter")
		})
	}
}

func TestDPoPIdentify(t *testing.T) {
	key := newRSAKey(t, "k1")
	s := &dpopServer{nonce: "RS-N", userinfo: `{"sub":"user-42","email":"arthur@camelot.bt","email_verified":true}`}
	f, _ := newFakeServer(t)
	f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer))
	f.json("/jwks", 200, jwksBody(t, key))
	mux := http.NewServeMux()
	mux.Handle("/userinfo", s)
	mux.Handle("/", f)
	hc := providerServer(t, mux)
	o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc), WithDPoP())
	require.NoError(t, err)
	dk, err := NewDPoPKey()
	require.NoError(t, err)
	tok := &Token{AccessToken: "AT-DPOP", TokenType: "DPoP", DPoPKey: dk,
		IDToken: key.sign(t, idTokenClaims(testIssuer, "CID", "N", time.Now()))}

	id, err := o.Identify(context.Background(), tok, "N")
	require.NoError(t, err)
	assert.Equal(t, "user-42", id.Subject)
	reqs := s.seen()
	require.Len(t, reqs, 2, "a 401 nonce challenge, then the retry")
	for i, r := range reqs {
		assertRequest(t, r, http.MethodGet, "id.example.com", "/userinfo")
		assert.Equal(t, "DPoP AT-DPOP", r.Header.Get("Authorization"), "request %d", i)
		p := mustProof(t, r)
		assert.Equal(t, dk.Thumbprint(), p.jkt)
		assert.Equal(t, athOf("AT-DPOP"), p.claims["ath"])
		assert.Equal(t, "GET", p.claims["htm"])
		assert.Equal(t, testIssuer+"/userinfo", p.claims["htu"])
	}
	assert.Equal(t, "RS-N", mustProof(t, reqs[1]).claims["nonce"])

	// Profile takes the key from the context; the nonce is remembered.
	_, err = o.Profile(ContextWithDPoPKey(context.Background(), dk), "AT-DPOP")
	require.NoError(t, err)
	require.Len(t, s.seen(), 3)
	assert.Equal(t, "RS-N", mustProof(t, s.seen()[2]).claims["nonce"])

	t.Run("repeated challenge", func(t *testing.T) {
		s.mu.Lock()
		s.rotate = true
		s.mu.Unlock()
		_, err := o.Profile(ContextWithDPoPKey(context.Background(), dk), "AT-DPOP")
		assert.ErrorIs(t, err, ErrDPoPNonce)
		assert.ErrorIs(t, err, ErrGetProfile)
		assert.Equal(t, http.StatusUnauthorized, StatusCode(err))
		assert.Len(t, s.seen(), 5, "retried once")
	})
}

func TestDPoPKeyJSONRoundTrip(t *testing.T) {
	k, err := NewDPoPKey()
	require.NoError(t, err)
	b, err := json.Marshal(k)
	require.NoError(t, err)
	var back DPoPKey
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, k.Thumbprint(), back.Thumbprint())
	assert.True(t, back.priv.Equal(k.priv))

	t.Run("token with its key", func(t *testing.T) {
		tok := &Token{AccessToken: "AT", TokenType: "DPoP", DPoPKey: k}
		b, err := json.Marshal(tok)
		require.NoError(t, err)
		var got Token
		require.NoError(t, json.Unmarshal(b, &got))
		require.NotNil(t, got.DPoPKey)
		assert.Equal(t, k.Thumbprint(), got.DPoPKey.Thumbprint())

		var buf bytes.Buffer
		require.NoError(t, gob.NewEncoder(&buf).Encode(tok))
		var gobbed Token
		require.NoError(t, gob.NewDecoder(&buf).Decode(&gobbed))
		require.NotNil(t, gobbed.DPoPKey)
		assert.Equal(t, k.Thumbprint(), gobbed.DPoPKey.Thumbprint())
		assert.True(t, gobbed.DPoPKey.priv.Equal(k.priv))
	})
	t.Run("bearer token", func(t *testing.T) {
		b, err := json.Marshal(&Token{AccessToken: "AT"})
		require.NoError(t, err)
		var got Token
		require.NoError(t, json.Unmarshal(b, &got))
		assert.Nil(t, got.DPoPKey)
	})
	t.Run("zero key", func(t *testing.T) {
		_, err := json.Marshal(&DPoPKey{})
		assert.ErrorIs(t, err, ErrInvalidDPoPKey)
	})
}

func TestDPoPKeyDecodeErrors(t *testing.T) {
	jwkJSON := func(key any, alg string) string {
		b, err := jose.JSONWebKey{Key: key, Algorithm: alg}.MarshalJSON()
		require.NoError(t, err)
		return string(b)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	// A private scalar with another key's public point.
	var mixed map[string]any
	require.NoError(t, json.Unmarshal([]byte(jwkJSON(p256, "")), &mixed))
	var otherPub map[string]any
	require.NoError(t, json.Unmarshal([]byte(jwkJSON(&other.PublicKey, "")), &otherPub))
	mixed["x"], mixed["y"] = otherPub["x"], otherPub["y"]
	mixedJSON, err := json.Marshal(mixed)
	require.NoError(t, err)

	for name, in := range map[string]string{
		"not JSON":        `{`,
		"not an object":   `"key"`,
		"empty object":    `{}`,
		"public key only": jwkJSON(&p256.PublicKey, ""),
		"P-384":           jwkJSON(p384, ""),
		"RSA":             jwkJSON(rk, ""),
		"symmetric":       `{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQ"}`,
		"other alg":       jwkJSON(p256, "ES384"),
		"mismatched":      string(mixedJSON),
	} {
		t.Run(name, func(t *testing.T) {
			var k DPoPKey
			err := k.UnmarshalJSON([]byte(in))
			assert.ErrorIs(t, err, ErrInvalidDPoPKey)
			assert.False(t, k.valid(), "nothing decoded")
			err = k.GobDecode([]byte(in))
			assert.ErrorIs(t, err, ErrInvalidDPoPKey)
			if d, ok := mixed["d"].(string); ok {
				assert.NotContains(t, fmt.Sprint(err), d, "no key material in the error")
			}
		})
	}
}

func TestDPoPKeyRedacted(t *testing.T) {
	k, err := NewDPoPKey()
	require.NoError(t, err)
	b, err := k.MarshalJSON()
	require.NoError(t, err)
	var jwk struct {
		D string `json:"d"`
	}
	require.NoError(t, json.Unmarshal(b, &jwk))
	require.NotEmpty(t, jwk.D)
	raw, err := k.priv.Bytes()
	require.NoError(t, err)
	d := hex.EncodeToString(raw)
	tok := &Token{AccessToken: "AT", TokenType: "DPoP", DPoPKey: k}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
		for _, v := range []any{k, *k, tok, *tok} {
			out := fmt.Sprintf(format, v)
			assert.NotContains(t, out, jwk.D, format)
			assert.NotContains(t, out, d, format)
		}
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		assert.Equal(t, "client.DPoPKey{jkt:"+k.Thumbprint()+"}", fmt.Sprintf(format, k), format)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("grant", "key", k)
	assert.NotContains(t, logged.String(), jwk.D, "log/slog's JSON handler must not reach MarshalJSON")
	assert.Contains(t, logged.String(), k.Thumbprint())
	assert.Contains(t, fmt.Sprintf("%+v", tok), k.Thumbprint())
	assert.Equal(t, k.String(), k.LogValue().String())
}
