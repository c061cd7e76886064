package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// DefaultJWKSRefetchInterval is how often, at most, an OpenID Connect
// client refetches its issuer's JWKS for a token signed by a key it does
// not know (see WithJWKSRefetchInterval). Key rotation needs the refetch,
// but without a limit every forged token with a made-up kid would cost the
// issuer a request.
const DefaultJWKSRefetchInterval = time.Minute

// WithJWKSRefetchInterval sets how often, at most, the client refetches the
// issuer's JWKS when a token names a key id the cached set does not have
// (default DefaultJWKSRefetchInterval, read on the client's clock, see
// WithClock). A longer interval protects the issuer from floods of tokens
// with unknown kids; a shorter one accepts tokens signed by a rotated key
// sooner after a rotation. Zero means the default; a negative interval is
// ErrInvalidConfig.
func WithJWKSRefetchInterval(d time.Duration) Option {
	return func(c *config) { c.jwksRefetch = d }
}

// jwksFetchTimeout bounds one JWKS request, which runs detached from the
// verifications that wait for it (the HTTP client may have no timeout).
const jwksFetchTimeout = 30 * time.Second

// jwksAlgs are the signature algorithms a token may be parsed with; the
// verifier has already refused the ones the issuer does not advertise.
var jwksAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512, jose.EdDSA,
}

// errJWKSRateLimited is the cause when a token names an unknown key and the
// set was refetched less than the refetch interval ago.
var errJWKSRateLimited = errors.New("no key in the JWKS has the token's kid, and the JWKS was refetched less than the refetch interval ago")

// jwksKeySet is the oidc.KeySet of the OpenID Connect clients: the issuer's
// JWKS, fetched on the first verification (concurrent first verifications
// share one request), cached, and refetched for a token whose key id it
// does not know, at most once per interval. Keys it cannot use (an unknown
// kty, bad base64, encryption keys, symmetric or private keys) are
// skipped, as RFC 7517 §5 asks; a set without any usable key is an error.
type jwksKeySet struct {
	url      string
	rt       http.RoundTripper
	now      func() time.Time
	interval time.Duration
	group    singleflight.Group

	mu   sync.Mutex
	keys []jose.JSONWebKey
	// gen counts the sets stored; a verification that read generation g
	// and finds a newer one retries with it instead of refetching.
	gen int
	// fetching is set while a request is in flight (under mu, cleared by
	// the request itself before it ends), so a caller seeing it joins that
	// request instead of counting against the rate limit.
	fetching    bool
	lastRefetch time.Time
}

// remoteKeySet returns the caching JWKS client for jwksURL, using the
// client's HTTP client, User-Agent, body cap and clock.
func remoteKeySet(cfg *config, jwksURL string) *jwksKeySet {
	now, interval := cfg.Now, cfg.jwksRefetch
	if now == nil {
		now = time.Now
	}
	if interval <= 0 {
		interval = DefaultJWKSRefetchInterval
	}
	return &jwksKeySet{
		url:      jwksURL,
		rt:       &jwksTransport{hc: withoutRedirects(cfg.HTTPClient), ua: cfg.UserAgent},
		now:      now,
		interval: interval,
	}
}

// VerifySignature implements oidc.KeySet: it returns jwt's payload when a
// key of the issuer's set verifies its signature. The verifier calls it
// after checking the algorithm, and checks the claims itself.
func (k *jwksKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, jwksAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("jwt must have exactly one signature")
	}
	h := jws.Signatures[0].Header
	keys, gen, fresh, err := k.current(ctx)
	if err != nil {
		return nil, err
	}
	if payload, found, err := verifyWith(jws, h, keys); found || fresh {
		return payload, err
	}
	// Key rotation: the issuer may have published a key since the set was
	// fetched (OIDC Core §10.1.1).
	keys, err = k.refetch(ctx, gen)
	if err != nil {
		return nil, err
	}
	payload, _, err := verifyWith(jws, h, keys)
	return payload, err
}

// verifyWith verifies jws with the keys of kid h.KeyID (every key when the
// token has no kid). found reports that the set has a key for the token,
// whose verdict is final; otherwise a refetch may bring one.
func verifyWith(jws *jose.JSONWebSignature, h jose.Header, keys []jose.JSONWebKey) (payload []byte, found bool, err error) {
	for i := range keys {
		key := &keys[i]
		if h.KeyID != "" && key.KeyID != h.KeyID {
			continue
		}
		if h.KeyID != "" {
			found = true
		}
		if key.Algorithm != "" && key.Algorithm != h.Algorithm {
			continue
		}
		if p, err := jws.Verify(key); err == nil {
			return p, true, nil
		}
	}
	if found {
		return nil, true, errors.New("the token's signature does not verify with the JWKS key of its kid")
	}
	return nil, false, errors.New("no key in the JWKS verifies the token's signature")
}

// current returns the cached set, fetching it first when there is none
// (fresh then reports that it was just fetched).
func (k *jwksKeySet) current(ctx context.Context) (keys []jose.JSONWebKey, gen int, fresh bool, err error) {
	k.mu.Lock()
	if k.gen > 0 {
		keys, gen = k.keys, k.gen
		k.mu.Unlock()
		return keys, gen, false, nil
	}
	ch := k.startLocked(ctx)
	k.mu.Unlock()
	keys, gen, err = k.wait(ctx, ch)
	return keys, gen, true, err
}

// refetch fetches the set again after a verification with generation gen
// found no key for its token: it joins a request in flight, uses a set
// stored since, or starts a request when the last one started at least an
// interval ago.
func (k *jwksKeySet) refetch(ctx context.Context, gen int) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	switch {
	case k.gen != gen:
		keys := k.keys
		k.mu.Unlock()
		return keys, nil
	case k.fetching:
	default:
		now := k.now()
		if !k.lastRefetch.IsZero() && now.Sub(k.lastRefetch) < k.interval {
			k.mu.Unlock()
			return nil, errJWKSRateLimited
		}
		k.lastRefetch = now
	}
	ch := k.startLocked(ctx)
	k.mu.Unlock()
	keys, _, err := k.wait(ctx, ch)
	return keys, err
}

// startLocked starts the shared request, or joins the one in flight. It
// runs detached from ctx (keeping its values), so a verification that gives
// up does not fail the others waiting for the same request.
func (k *jwksKeySet) startLocked(ctx context.Context) <-chan singleflight.Result {
	k.fetching = true
	return k.group.DoChan("jwks", func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
		defer cancel()
		keys, err := k.fetch(fctx)
		k.mu.Lock()
		defer k.mu.Unlock()
		k.fetching = false
		if err != nil {
			return nil, err
		}
		k.keys = keys
		k.gen++
		return jwksResult{keys: keys, gen: k.gen}, nil
	})
}

type jwksResult struct {
	keys []jose.JSONWebKey
	gen  int
}

// wait returns the shared request's result, or ctx's error when ctx ends
// first.
func (k *jwksKeySet) wait(ctx context.Context, ch <-chan singleflight.Result) ([]jose.JSONWebKey, int, error) {
	select {
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, 0, r.Err
		}
		res := r.Val.(jwksResult)
		return res.keys, res.gen, nil
	}
}

// fetch requests and parses the set.
func (k *jwksKeySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: JWKS URL: %v", ErrInvalidConfig, err)
	}
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := k.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, redactURLError(err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, httpError(req, &response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"),
			header: resp.Header, body: body})
	}
	return parseJWKS(body)
}

// parseJWKS returns the keys of a JWKS document that can verify
// signatures, skipping the others; none at all is an error.
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: JWKS: %v", ErrInvalidResponse, err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range doc.Keys {
		var key jose.JSONWebKey
		if err := json.Unmarshal(raw, &key); err != nil {
			continue
		}
		// go-jose does not parse key_ops (RFC 7517 §4.3).
		var ops struct {
			KeyOps []string `json:"key_ops"`
		}
		if json.Unmarshal(raw, &ops) != nil || (len(ops.KeyOps) > 0 && !slices.Contains(ops.KeyOps, "verify")) {
			continue
		}
		if usableSigningKey(&key) {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: JWKS has no usable signing key (of %d)", ErrInvalidResponse, len(doc.Keys))
	}
	return keys, nil
}

// usableSigningKey accepts the asymmetric public keys meant for
// signatures: no "use" or "sig", no "alg" or one of jwksAlgs. A symmetric key is never accepted: it would let
// anyone who read the JWKS sign tokens.
func usableSigningKey(key *jose.JSONWebKey) bool {
	if key.Use != "" && key.Use != "sig" {
		return false
	}
	if key.Algorithm != "" && !slices.Contains(jwksAlgs, jose.SignatureAlgorithm(key.Algorithm)) {
		return false
	}
	if !key.Valid() {
		return false
	}
	switch key.Key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	default:
		return false
	}
}

// jwksTransport sends the JWKS requests through the client's own HTTP
// client (never following redirects: a redirect fails with ErrRedirect),
// with our User-Agent, and caps the body at MaxResponseBytes.
type jwksTransport struct {
	hc *http.Client
	ua string
}

func (t *jwksTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("User-Agent", t.ua)
	r.Header.Set("Accept", "application/json")
	resp, err := t.hc.Do(r)
	if err != nil {
		return nil, redactURLError(err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%w: JWKS answered HTTP %d", ErrRedirect, resp.StatusCode)
	}
	resp.Body = &cappedBody{rc: resp.Body, left: MaxResponseBytes}
	return resp, nil
}

// cappedBody fails with ErrResponseTooLarge past its limit.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
