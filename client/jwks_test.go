package client

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jwksServer publishes a JWKS document that tests replace, and counts the
// requests it answers. gate, when set, holds every answer until it is
// closed, so concurrent verifications all start against a cold set.
type jwksServer struct {
	mu   sync.Mutex
	body []byte
	n    atomic.Int32
	gate chan struct{}
}

func (s *jwksServer) set(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = b
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.n.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	b := s.body
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// testClock is a clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Unix(1_700_000_000, 0)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newJWKSTest serves s over loopback and returns the key set the OpenID
// clients build for https://id.example.com/jwks, with clock as its clock.
func newJWKSTest(t *testing.T, s *jwksServer, clock *testClock, opts ...Option) *jwksKeySet {
	t.Helper()
	cfg := config{HTTPClient: providerServer(t, s), UserAgent: DefaultUserAgent, Now: clock.Now}
	require.NoError(t, cfg.apply("", opts))
	return remoteKeySet(&cfg, "https://id.example.com/jwks")
}

func signed(t *testing.T, k *testKey) string {
	return k.sign(t, idTokenClaims(testIssuer, "CID", "N", time.Now()))
}

// TestJWKSColdSetOneFetch: 100 concurrent first verifications share one
// JWKS request.
func TestJWKSColdSetOneFetch(t *testing.T) {
	key := newRSAKey(t, "k1")
	s := &jwksServer{body: jwksBody(t, key), gate: make(chan struct{})}
	ks := newJWKSTest(t, s, newTestClock())
	idt := signed(t, key)

	var wg sync.WaitGroup
	errs := make([]error, 100)
	for i := range errs {
		wg.Go(func() { _, errs[i] = ks.VerifySignature(context.Background(), idt) })
	}
	// Let the one request through only once it is in flight: the
	// verifications that started meanwhile wait for it.
	for s.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(s.gate)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), s.n.Load())

	_, err := ks.VerifySignature(context.Background(), idt)
	require.NoError(t, err)
	assert.Equal(t, int32(1), s.n.Load(), "the set is cached")
}

// TestJWKSCancelledWaiterDoesNotFailOthers: the shared request runs
// detached from the verification that started it, so that one giving up
// does not fail the others.
func TestJWKSCancelledWaiterDoesNotFailOthers(t *testing.T) {
	key := newRSAKey(t, "k1")
	s := &jwksServer{body: jwksBody(t, key), gate: make(chan struct{})}
	ks := newJWKSTest(t, s, newTestClock())
	idt := signed(t, key)

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error)
	go func() {
		_, err := ks.VerifySignature(ctx, idt)
		first <- err
	}()
	for s.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan error)
	go func() {
		_, err := ks.VerifySignature(context.Background(), idt)
		second <- err
	}()
	cancel()
	assert.ErrorIs(t, <-first, context.Canceled)
	close(s.gate)
	require.NoError(t, <-second)
	assert.Equal(t, int32(1), s.n.Load())
}

// TestJWKSUnknownKidRateLimited: key rotation refetches the set once per
// interval, however many tokens carry unknown kids, and a rotated key is
// accepted after the refetch.
func TestJWKSUnknownKidRateLimited(t *testing.T) {
	old, rotated := newRSAKey(t, "old"), newRSAKey(t, "new")
	s := &jwksServer{body: jwksBody(t, old)}
	clock := newTestClock()
	ks := newJWKSTest(t, s, clock)
	_, err := ks.VerifySignature(context.Background(), signed(t, old))
	require.NoError(t, err)
	require.Equal(t, int32(1), s.n.Load())

	// 50 tokens with kids the set has never had: one refetch, then refused
	// without a request until the interval is over.
	for i := range 50 {
		stranger := &testKey{kid: "stranger-" + string(rune('a'+i%26)), alg: old.alg, priv: old.priv}
		_, err := ks.VerifySignature(context.Background(), signed(t, stranger))
		require.Error(t, err)
	}
	assert.Equal(t, int32(2), s.n.Load(), "one refetch for 50 unknown kids")

	// The provider rotates within the interval: the new kid waits for it.
	s.set(jwksBody(t, rotated))
	_, err = ks.VerifySignature(context.Background(), signed(t, rotated))
	require.Error(t, err)
	assert.Equal(t, int32(2), s.n.Load())

	clock.Advance(DefaultJWKSRefetchInterval)
	_, err = ks.VerifySignature(context.Background(), signed(t, rotated))
	require.NoError(t, err, "a rotated key is accepted after the refetch")
	assert.Equal(t, int32(3), s.n.Load())
	_, err = ks.VerifySignature(context.Background(), signed(t, rotated))
	require.NoError(t, err)
	assert.Equal(t, int32(3), s.n.Load(), "a known kid does not refetch")

	// A known kid with a bad signature is refused without a refetch.
	forged := &testKey{kid: "new", alg: old.alg, priv: old.priv}
	clock.Advance(DefaultJWKSRefetchInterval)
	_, err = ks.VerifySignature(context.Background(), signed(t, forged))
	require.Error(t, err)
	assert.Equal(t, int32(3), s.n.Load())
}

// TestJWKSRefetchIntervalOption: WithJWKSRefetchInterval sets the window.
func TestJWKSRefetchIntervalOption(t *testing.T) {
	old, rotated := newRSAKey(t, "old"), newRSAKey(t, "new")
	s := &jwksServer{body: jwksBody(t, old)}
	clock := newTestClock()
	ks := newJWKSTest(t, s, clock, WithJWKSRefetchInterval(time.Hour))
	_, err := ks.VerifySignature(context.Background(), signed(t, old))
	require.NoError(t, err)
	_, err = ks.VerifySignature(context.Background(), signed(t, rotated))
	require.Error(t, err)
	s.set(jwksBody(t, rotated))
	clock.Advance(DefaultJWKSRefetchInterval)
	_, err = ks.VerifySignature(context.Background(), signed(t, rotated))
	require.Error(t, err, "within the hour")
	clock.Advance(time.Hour)
	_, err = ks.VerifySignature(context.Background(), signed(t, rotated))
	require.NoError(t, err)
	assert.Equal(t, int32(3), s.n.Load())

	_, err = New(Config{ClientID: "CID", ClientSecret: "SEC", AuthorizeEndpoint: "https://as.example/a",
		AccessTokenEndpoint: "https://as.example/t"}, WithJWKSRefetchInterval(-time.Second))
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// TestJWKSUnusableKeysSkipped: keys that cannot be parsed or are not for
// signatures are skipped (RFC 7517 §5: implementations SHOULD ignore JWKs
// they do not understand); the good keys of the set still verify. Only a
// set without any usable signing key fails.
func TestJWKSUnusableKeysSkipped(t *testing.T) {
	good := newRSAKey(t, "good")
	enc := newRSAKey(t, "enc")
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(jwksBody(t, good), &set))
	encJWK, err := json.Marshal(jose.JSONWebKey{Key: enc.priv.Public(), KeyID: "enc", Use: "enc"})
	require.NoError(t, err)
	var opsJWK map[string]any
	require.NoError(t, json.Unmarshal(encJWK, &opsJWK))
	opsJWK["use"], opsJWK["kid"], opsJWK["key_ops"] = "sig", "ops", []string{"encrypt"}
	ops, err := json.Marshal(opsJWK)
	require.NoError(t, err)
	bad := []json.RawMessage{
		ops,
		json.RawMessage(`{"kty":"XYZ","kid":"unknown-kty"}`),
		json.RawMessage(`{"kty":"RSA","kid":"bad-b64","n":"***not base64***","e":"AQAB"}`),
		json.RawMessage(`{"kty":"EC","kid":"bad-curve","crv":"P-999","x":"AA","y":"AA"}`),
		json.RawMessage(`{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}`),
		json.RawMessage(`"not an object"`),
		encJWK,
	}
	body, err := json.Marshal(map[string]any{"keys": append(bad, set.Keys...)})
	require.NoError(t, err)
	s := &jwksServer{body: body}
	ks := newJWKSTest(t, s, newTestClock())

	_, err = ks.VerifySignature(context.Background(), signed(t, good))
	require.NoError(t, err, "the good key of a set with bad ones verifies")
	_, err = ks.VerifySignature(context.Background(), signed(t, enc))
	require.Error(t, err, "an encryption key never verifies a signature")
	_, err = ks.VerifySignature(context.Background(), signed(t, &testKey{kid: "ops", alg: enc.alg, priv: enc.priv}))
	require.Error(t, err, "nor does a key whose key_ops lack verify")
	assert.Equal(t, int32(2), s.n.Load(), "the first, and one refetch for the unknown kid")

	t.Run("no usable key", func(t *testing.T) {
		body, err := json.Marshal(map[string]any{"keys": bad})
		require.NoError(t, err)
		ks := newJWKSTest(t, &jwksServer{body: body}, newTestClock())
		_, err = ks.VerifySignature(context.Background(), signed(t, good))
		assert.ErrorIs(t, err, ErrInvalidResponse)
	})
	t.Run("not a set", func(t *testing.T) {
		ks := newJWKSTest(t, &jwksServer{body: []byte(`{"keys":{}}`)}, newTestClock())
		_, err := ks.VerifySignature(context.Background(), signed(t, good))
		assert.ErrorIs(t, err, ErrInvalidResponse)
	})
}

// TestJWKSThroughVerifyIDToken: a discovered client verifies ID tokens
// signed by the good key of a JWKS that also holds unparsable keys.
func TestJWKSThroughVerifyIDToken(t *testing.T) {
	good := newRSAKey(t, "good")
	f, hc := newFakeServer(t)
	f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer))
	var set map[string][]json.RawMessage
	require.NoError(t, json.Unmarshal(jwksBody(t, good), &set))
	set["keys"] = append([]json.RawMessage{json.RawMessage(`{"kty":"RSA","kid":"x","n":"%%%","e":"AQAB"}`)}, set["keys"]...)
	f.json("/jwks", 200, set)
	o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	_, err = o.VerifyIDToken(context.Background(), &Token{IDToken: signed(t, good)}, "N")
	require.NoError(t, err)
}

// TestJWKSHTTPError: a JWKS answered with an error status is an *HTTPError
// cause, and the next verification tries again.
func TestJWKSHTTPError(t *testing.T) {
	key := newRSAKey(t, "k1")
	f, hc := newFakeServer(t)
	f.json("/jwks", 503, `{}`)
	cfg := config{HTTPClient: hc, UserAgent: "ua-test", Now: newTestClock().Now}
	ks := remoteKeySet(&cfg, "https://id.example.com/jwks")
	_, err := ks.VerifySignature(context.Background(), signed(t, key))
	var he *HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 503, he.StatusCode)

	f.json("/jwks", 200, jwksBody(t, key))
	_, err = ks.VerifySignature(context.Background(), signed(t, key))
	require.NoError(t, err)
	reqs := f.requests("/jwks")
	require.Len(t, reqs, 2)
	assert.Equal(t, "ua-test", reqs[1].Header.Get("User-Agent"))
	assert.Equal(t, "id.example.com", reqs[1].Host)
}
