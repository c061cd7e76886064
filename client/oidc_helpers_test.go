package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/providertest"
)

// testKey is a signing key generated for one test, published in a fake JWKS.
type testKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func newRSAKey(t testing.TB, kid string) *testKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return &testKey{kid: kid, alg: jose.RS256, priv: k}
}

func newECKey(t *testing.T, kid string) *testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return &testKey{kid: kid, alg: jose.ES256, priv: k}
}

// sign returns a compact JWS of claims with the key's kid in the header.
func (k *testKey) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.kid))
	require.NoError(t, err)
	return signWith(t, s, claims)
}

// signWith returns the compact JWS of claims made by s.
func signWith(t testing.TB, s jose.Signer, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := s.Sign(payload)
	require.NoError(t, err)
	out, err := jws.CompactSerialize()
	require.NoError(t, err)
	return out
}

// jwksBody is the JWKS document publishing the public halves of keys.
func jwksBody(t testing.TB, keys ...*testKey) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	b, err := json.Marshal(set)
	require.NoError(t, err)
	return b
}

// idTokenClaims are valid claims for iss/aud/nonce at now; tests mutate them.
func idTokenClaims(iss, aud, nonce string, now time.Time) map[string]any {
	return map[string]any{
		"iss":            iss,
		"aud":            aud,
		"sub":            "user-42",
		"nonce":          nonce,
		"iat":            now.Add(-time.Minute).Unix(),
		"exp":            now.Add(time.Hour).Unix(),
		"email":          "arthur@camelot.bt",
		"email_verified": true,
	}
}

// discoveryDoc is a complete discovery document for issuer; mods adjust it.
func discoveryDoc(issuer string, mods ...func(map[string]any)) map[string]any {
	d := map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                issuer + "/authorize",
		"token_endpoint":                        issuer + "/token",
		"userinfo_endpoint":                     issuer + "/userinfo",
		"jwks_uri":                              issuer + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	}
	for _, m := range mods {
		m(d)
	}
	return d
}

// fakeServer serves fixed JSON answers by path over loopback and records
// every request it sees.
type fakeServer struct {
	t      testing.TB
	mu     sync.Mutex
	routes map[string]fakeRoute
	seen   []recorded
}

type fakeRoute struct {
	status int
	body   []byte
	ctype  string
}

func newFakeServer(t testing.TB) (*fakeServer, *http.Client) {
	f := &fakeServer{t: t, routes: map[string]fakeRoute{}}
	return f, providerServer(t, f)
}

// json sets the JSON answer of path (v is marshalled unless it is []byte or a string).
func (f *fakeServer) json(path string, status int, v any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case string:
		b = []byte(x)
	default:
		var err error
		b, err = json.Marshal(v)
		require.NoError(f.t, err)
	}
	f.routes[path] = fakeRoute{status: status, body: b, ctype: "application/json"}
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.seen = append(f.seen, recorded{Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(b)})
	rt, ok := f.routes[r.URL.Path]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", rt.ctype)
	w.WriteHeader(rt.status)
	_, _ = w.Write(rt.body)
}

// requests returns the recorded requests for path.
func (f *fakeServer) requests(path string) []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recorded
	for _, r := range f.seen {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// failingClient fails every request at the transport level.
func failingClient(err error) *http.Client {
	return &http.Client{Transport: providertest.Failing{Err: err}}
}
