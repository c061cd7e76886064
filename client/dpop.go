package client

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// DPoP (RFC 9449) binds a grant's access token to a key pair the client
// holds: every token and resource request carries a proof signed with the
// key, so a leaked access token is useless without it.

// Causes wrapped inside a *RequestError (or returned by DPoPKey's decoders
// and Transport) for DPoP failures.
var (
	// ErrDPoPKeyRequired: a WithDPoP client was asked to refresh (or
	// Transport to send a DPoP token) without the grant's DPoPKey, which
	// ContextWithDPoPKey (or Token.DPoPKey) must give. A new key cannot
	// stand in: the server bound the grant to the old one. No request was
	// sent.
	ErrDPoPKeyRequired = errors.New("oauthkit/client: the grant's DPoP key is required")
	// ErrInvalidDPoPKey: a stored DPoPKey could not be decoded (not a JSON
	// Web Key, not a P-256 private key, or a public part that does not
	// match the private one), or a zero DPoPKey was used. The message
	// never holds key material.
	ErrInvalidDPoPKey = errors.New("oauthkit/client: invalid DPoP key")
	// ErrTokenTypeMismatch: the token response's token_type is not the one
	// the client's setting requires: DPoP for a WithDPoP client, Bearer
	// otherwise (a DPoP-bound token used as a Bearer token is refused by
	// the resource servers). It also matches ErrUnsupportedTokenType.
	ErrTokenTypeMismatch = errors.New("token_type does not match the client's DPoP setting")
	// ErrDPoPNonce: the server asked for a DPoP nonce (use_dpop_nonce)
	// again after the one retry with the nonce it gave, or asked without
	// giving one. The server's *OAuthError stays reachable with errors.As.
	ErrDPoPNonce = errors.New("server keeps asking for a DPoP nonce")
)

// dpopAlg is the one proof algorithm: ES256 is the algorithm every DPoP
// server supports.
const dpopAlg = jose.ES256

// maxDPoPNonce bounds a server nonce kept and echoed in proofs.
const maxDPoPNonce = 512

// DPoPKey is the proof-of-possession key of one grant (ES256, an ECDSA
// P-256 key pair). The server binds the grant's tokens to it, so it must be
// stored with the token (its JSON and gob encodings hold the private key,
// as a JSON Web Key) and given back for every refresh. Printing it (fmt,
// log/slog) shows only its thumbprint.
type DPoPKey struct {
	priv *ecdsa.PrivateKey
	jkt  string
}

// NewDPoPKey generates a key for a new grant. AccessToken makes one by
// itself when the context has none; call this to know the key's thumbprint
// before the login (the dpop_jkt authorization parameter).
func NewDPoPKey() (*DPoPKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("%w: generate: %v", ErrInvalidDPoPKey, err)
	}
	return newDPoPKey(priv)
}

func newDPoPKey(priv *ecdsa.PrivateKey) (*DPoPKey, error) {
	tp, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: thumbprint", ErrInvalidDPoPKey)
	}
	return &DPoPKey{priv: priv, jkt: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key,
// base64url-encoded: the "jkt" the server records for the grant (RFC 9449
// §6), and the value of the dpop_jkt authorization parameter.
func (k *DPoPKey) Thumbprint() string {
	if k == nil {
		return ""
	}
	return k.jkt
}

// valid reports whether k can sign (not nil, not the zero DPoPKey).
func (k *DPoPKey) valid() bool { return k != nil && k.priv != nil }

// MarshalJSON encodes the private key as a JSON Web Key, for storing the
// key with its token. The result is a secret: store it as the token is
// stored.
func (k *DPoPKey) MarshalJSON() ([]byte, error) {
	if k == nil {
		return []byte("null"), nil
	}
	if !k.valid() {
		return nil, fmt.Errorf("%w: zero key", ErrInvalidDPoPKey)
	}
	return jose.JSONWebKey{Key: k.priv, Algorithm: string(dpopAlg), Use: "sig"}.MarshalJSON()
}

// UnmarshalJSON decodes what MarshalJSON encoded. Anything but a P-256
// private key whose public part matches is ErrInvalidDPoPKey.
func (k *DPoPKey) UnmarshalJSON(b []byte) error {
	var jwk jose.JSONWebKey
	// go-jose's messages are left out: they could quote the input.
	if err := jwk.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("%w: not a JSON Web Key", ErrInvalidDPoPKey)
	}
	priv, ok := jwk.Key.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("%w: not an EC private key", ErrInvalidDPoPKey)
	}
	if priv.Curve != elliptic.P256() {
		return fmt.Errorf("%w: not a P-256 key", ErrInvalidDPoPKey)
	}
	if jwk.Algorithm != "" && jwk.Algorithm != string(dpopAlg) {
		return fmt.Errorf("%w: alg is not ES256", ErrInvalidDPoPKey)
	}
	// The public point must be the private scalar's: a key whose x and y
	// were altered would sign proofs no server can verify.
	e, err := priv.ECDH()
	if err != nil {
		return fmt.Errorf("%w: bad private scalar", ErrInvalidDPoPKey)
	}
	pe, err := priv.PublicKey.ECDH()
	if err != nil || !e.PublicKey().Equal(pe) {
		return fmt.Errorf("%w: public key does not match the private key", ErrInvalidDPoPKey)
	}
	nk, err := newDPoPKey(priv)
	if err != nil {
		return err
	}
	*k = *nk
	return nil
}

// GobEncode is MarshalJSON, for stores that gob-encode tokens.
func (k *DPoPKey) GobEncode() ([]byte, error) { return k.MarshalJSON() }

// GobDecode is UnmarshalJSON.
func (k *DPoPKey) GobDecode(b []byte) error { return k.UnmarshalJSON(b) }

// String shows the thumbprint only, never key material.
func (k *DPoPKey) String() string {
	if k == nil {
		return "<nil>"
	}
	return "client.DPoPKey{jkt:" + k.jkt + "}"
}

// GoString redacts %#v output too.
func (k *DPoPKey) GoString() string { return k.String() }

// Format makes every fmt verb print String, so no verb (%+v, %x, ...)
// reaches the private key.
func (k *DPoPKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue redacts the key in log/slog output.
func (k *DPoPKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// dpopKeyCtx is the context key of ContextWithDPoPKey.
type dpopKeyCtx struct{}

// ContextWithDPoPKey returns ctx carrying the grant's key, for the next
// AccessToken, RefreshToken or Profile call made with it: a context value,
// so provider clients that wrap this package and pass ctx through need no
// change. RefreshToken of a WithDPoP client requires it; AccessToken
// generates a key when ctx has none.
func ContextWithDPoPKey(ctx context.Context, k *DPoPKey) context.Context {
	return context.WithValue(ctx, dpopKeyCtx{}, k)
}

// dpopKeyFrom returns the key ContextWithDPoPKey put in ctx, or nil.
func dpopKeyFrom(ctx context.Context) *DPoPKey {
	k, _ := ctx.Value(dpopKeyCtx{}).(*DPoPKey)
	return k
}

// WithDPoP makes the client bind its tokens to a key per grant (RFC 9449):
// code exchanges and refreshes carry a DPoP proof, the token response must
// have token_type DPoP (ErrTokenTypeMismatch otherwise), and the Token
// keeps its key in Token.DPoPKey. Refreshes need that key back through
// ContextWithDPoPKey. A server nonce (use_dpop_nonce) is remembered per
// server and the request retried once with it. Discovery refuses the
// option with ErrInvalidConfig when the metadata lists
// dpop_signing_alg_values_supported without ES256.
//
// Without WithDPoP a token response of token_type DPoP is refused with
// ErrTokenTypeMismatch.
func WithDPoP() Option { return func(c *config) { c.dpop.enabled = true } }

// dpopConfig is the DPoP part of a client's config.
type dpopConfig struct {
	enabled bool
	// nonces are the servers' latest DPoP-Nonce values, shared by the
	// copies of the config (set by init).
	nonces *nonceCache
}

// init makes the nonce cache of an enabled config.
func (d *dpopConfig) init() {
	if d.enabled && d.nonces == nil {
		d.nonces = &nonceCache{}
	}
}

// checkDPoPMetadata refuses WithDPoP with a server whose metadata lists
// the proof algorithms it accepts without ES256, the only one this package
// signs with. An absent list says nothing and is accepted.
func checkDPoPMetadata(raw json.RawMessage, cfg *config) error {
	if !cfg.dpop.enabled {
		return nil
	}
	var md struct {
		Algs []string `json:"dpop_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(raw, &md); err != nil {
		return fmt.Errorf("%w: dpop_signing_alg_values_supported: %v", ErrInvalidResponse, err)
	}
	if md.Algs != nil && !slices.Contains(md.Algs, string(dpopAlg)) {
		return fmt.Errorf("%w: WithDPoP needs ES256, which the server's dpop_signing_alg_values_supported lacks", ErrInvalidConfig)
	}
	return nil
}

// grantKey returns the key of the token request op, nil when the client
// does not use DPoP: the context's, or a new one for a code exchange (a
// key pair per grant). Any other grant (refresh) needs the context's.
func (c *config) grantKey(ctx context.Context, op error) (*DPoPKey, error) {
	if !c.dpop.enabled {
		return nil, nil
	}
	k := dpopKeyFrom(ctx)
	switch {
	case k == nil && op == ErrGetAccessToken:
		nk, err := NewDPoPKey()
		if err != nil {
			return nil, &RequestError{Op: op, Err: err}
		}
		return nk, nil
	case k == nil:
		return nil, &RequestError{Op: op, Err: ErrDPoPKeyRequired}
	case !k.valid():
		return nil, &RequestError{Op: op, Err: fmt.Errorf("%w: zero key", ErrInvalidDPoPKey)}
	}
	return k, nil
}

// checkTokenType enforces the token_type the client's DPoP setting
// requires; "" (absent) counts as Bearer, as RFC 6749 servers omit it.
func checkTokenType(tokenType string, dpop bool) error {
	isDPoP := strings.EqualFold(tokenType, "DPoP")
	switch {
	case dpop && !isDPoP:
		return fmt.Errorf("%w: %w: %q, want DPoP", ErrTokenTypeMismatch, ErrUnsupportedTokenType, sanitize(tokenType, 32))
	case !dpop && isDPoP:
		return fmt.Errorf("%w: %w: DPoP for a client without WithDPoP", ErrTokenTypeMismatch, ErrUnsupportedTokenType)
	case !dpop && tokenType != "" && !strings.EqualFold(tokenType, "bearer"):
		return fmt.Errorf("%w: %q", ErrUnsupportedTokenType, sanitize(tokenType, 32))
	}
	return nil
}

// proof signs a DPoP proof (RFC 9449 §4.2) for a method request to u:
// "htu" is u without query and fragment, "iat" the client's clock, and
// "ath" the hash of accessToken when it is not empty (resource requests,
// §4.3).
func (k *DPoPKey) proof(method string, u *url.URL, now time.Time, nonce, accessToken string) (string, error) {
	if !k.valid() {
		return "", fmt.Errorf("%w: zero key", ErrInvalidDPoPKey)
	}
	claims := map[string]any{
		"jti": uuid.NewString(),
		"htm": method,
		"htu": htu(u),
		"iat": now.Unix(),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	s, err := signJWT(dpopAlg, k.priv, jwtHeader{typ: "dpop+jwt", embedJWK: true}, claims)
	if err != nil {
		return "", fmt.Errorf("%w: signing the proof failed", ErrInvalidDPoPKey)
	}
	return s, nil
}

// htu is the "htu" of a request to u: scheme, host and path, without query
// and fragment (RFC 9449 §4.2).
func htu(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
}

// origin is the key of the nonce caches: nonces are per server.
func origin(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

// nonceCache holds the latest DPoP-Nonce of each server. A nil cache
// holds nothing; the zero cache is ready for use.
type nonceCache struct {
	mu sync.Mutex
	m  map[string]string
}

// maxNonceOrigins bounds the cache of a Transport sent to many servers.
const maxNonceOrigins = 256

func (c *nonceCache) get(origin string) string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[origin]
}

func (c *nonceCache) set(origin, nonce string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || (len(c.m) >= maxNonceOrigins && c.m[origin] == "") {
		c.m = make(map[string]string)
	}
	c.m[origin] = nonce
}

// responseNonce returns the valid DPoP-Nonce of h (RFC 9449 §8.1: 1*NQCHAR,
// bounded here), "" when there is none, and records it in cache under u's
// origin.
func responseNonce(cache *nonceCache, u *url.URL, h http.Header) string {
	n := h.Get("DPoP-Nonce")
	if n == "" || len(n) > maxDPoPNonce || strings.ContainsFunc(n, func(r rune) bool {
		return r < 0x21 || r > 0x7e || r == '"' || r == '\\'
	}) {
		return ""
	}
	cache.set(origin(u), n)
	return n
}

// dpopChallenge reports whether a resource server's WWW-Authenticate asks
// for a nonce: a DPoP challenge with error="use_dpop_nonce" (RFC 9449 §9).
func dpopChallenge(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		l := strings.ToLower(strings.TrimSpace(v))
		if strings.HasPrefix(l, "dpop") && strings.Contains(l, `error="use_dpop_nonce"`) {
			return true
		}
	}
	return false
}

// dpopProbe collects what doRequest saw in the response to a DPoP request
// (whose headers its errors do not keep): the server's nonce, recorded in
// the client's cache too, and whether it challenged for one.
type dpopProbe struct {
	nonces     *nonceCache
	nonce      string
	challenged bool
}

type dpopProbeCtx struct{}

// probeContext returns ctx carrying a new probe for one request.
func probeContext(ctx context.Context, nonces *nonceCache) (context.Context, *dpopProbe) {
	p := &dpopProbe{nonces: nonces}
	return context.WithValue(ctx, dpopProbeCtx{}, p), p
}

// noteDPoPResponse is doRequest's hook: it fills the probe of a DPoP
// request with the response's nonce and challenge.
func noteDPoPResponse(req *http.Request, resp *http.Response) {
	p, _ := req.Context().Value(dpopProbeCtx{}).(*dpopProbe)
	if p == nil {
		return
	}
	p.nonce = responseNonce(p.nonces, req.URL, resp.Header)
	p.challenged = dpopChallenge(resp.Header)
}

// nonceError returns the *OAuthError of err when it is a use_dpop_nonce
// answer (RFC 9449 §8), nil otherwise.
func nonceError(err error) *OAuthError {
	var oe *OAuthError
	if errors.As(err, &oe) && oe.Code == "use_dpop_nonce" {
		return oe
	}
	return nil
}

// nonceRetryError is the error of a request whose nonce challenge cannot
// be met: ErrDPoPNonce with the server's answer kept.
func nonceRetryError(op, err error) error {
	var re *RequestError
	if errors.As(err, &re) {
		err = re.Err
	}
	return &RequestError{Op: op, Err: fmt.Errorf("%w: %w", ErrDPoPNonce, err)}
}

// sendToken sends a token request (code exchange, refresh) and returns the
// request sent last with its answer. With a key, the request carries a
// proof, and a use_dpop_nonce answer that gives a new nonce is retried
// once with it: the request is built again, so the retry has a new proof
// and a new client assertion (new jti each; servers refuse a replayed
// one). The code was not consumed by the refused request, so the code
// exchange is retried too; nothing else is. form is the caller's to give
// away: client authentication is added to it.
func (c *OAuth2) sendToken(ctx context.Context, op error, endpoint string, form url.Values, key *DPoPKey) (*http.Request, *response, error) {
	nonce := ""
	for retried := false; ; retried = true {
		rctx, probe := ctx, (*dpopProbe)(nil)
		if key != nil {
			rctx, probe = probeContext(ctx, c.cfg.dpop.nonces)
		}
		f := form
		if key != nil {
			f = maps.Clone(form) // formRequest adds to it, and a nonce retry sends it again
		}
		req, err := c.formRequest(rctx, endpoint, f, c.cfg.TokenEndpointAuthMethod)
		if err != nil {
			return nil, nil, &RequestError{Op: op, Err: err}
		}
		if key != nil {
			if !retried {
				nonce = c.cfg.dpop.nonces.get(origin(req.URL))
			}
			p, err := key.proof(req.Method, req.URL, c.cfg.Now(), nonce, "")
			if err != nil {
				return nil, nil, &RequestError{Op: op, Err: err}
			}
			req.Header.Set("DPoP", p)
		}
		res, err := c.send(req, op)
		if err == nil || key == nil || nonceError(err) == nil {
			return req, res, err
		}
		if retried || probe.nonce == "" || probe.nonce == nonce {
			return nil, nil, nonceRetryError(op, err)
		}
		nonce = probe.nonce
	}
}

// dpopAPI turns a Bearer user-API request into a DPoP one when ctx
// carries a key (ContextWithDPoPKey; Identify puts the token's there).
func dpopAPI(ctx context.Context, r apiRequest, accessToken string) apiRequest {
	if k := dpopKeyFrom(ctx); k != nil {
		r.header = r.header.Clone()
		r.header.Del("Authorization")
		r.dpop, r.accessToken = k, accessToken
	}
	return r
}

// sendDPoPAPI sends a user-API request with "Authorization: DPoP" and a
// proof bound to the access token, retried once when the resource server
// answers 401 with a use_dpop_nonce challenge and a new nonce.
func sendDPoPAPI(ctx context.Context, cfg *config, op error, r apiRequest) (*response, error) {
	nonce := ""
	for retried := false; ; retried = true {
		rctx, probe := probeContext(ctx, cfg.dpop.nonces)
		req, err := newAPIRequest(rctx, r)
		if err != nil {
			return nil, &RequestError{Op: op, Err: redactURLError(err)}
		}
		if !retried {
			nonce = cfg.dpop.nonces.get(origin(req.URL))
		}
		p, err := r.dpop.proof(req.Method, req.URL, cfg.Now(), nonce, r.accessToken)
		if err != nil {
			return nil, &RequestError{Op: op, Err: err}
		}
		req.Header.Set("Authorization", "DPoP "+r.accessToken)
		req.Header.Set("DPoP", p)
		res, err := doRequest(cfg.HTTPClient, cfg.UserAgent, req, op)
		if err == nil || StatusCode(err) != http.StatusUnauthorized || !(probe.challenged || nonceError(err) != nil) {
			return res, err
		}
		if retried || probe.nonce == "" || probe.nonce == nonce {
			return nil, nonceRetryError(op, err)
		}
		nonce = probe.nonce
	}
}
