package client

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/google/uuid"
)

// ClientAssertionType is the client_assertion_type sent with
// private_key_jwt and client_secret_jwt (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime is the validity of the assertions the client signs: long
// enough for clock skew between client and server, short enough that a
// captured assertion is of little use.
const assertionLifetime = 2 * time.Minute

// minRSABits is the smallest RSA key accepted for RS256 (RFC 7518 §3.3).
const minRSABits = 2048

// minHS256Secret is the shortest client secret usable for client_secret_jwt:
// RFC 7518 §3.2 requires an HS256 key of at least 256 bits.
const minHS256Secret = 32

// ErrClientAssertion is the cause, inside the operation's *RequestError,
// when the client assertion could not be made: the key failed to sign or
// the WithClientAssertion source returned an error or nothing (or Apple's
// client secret could not be signed). No request was sent. The message
// never holds key material; the signer's or the source's own error is
// wrapped, for errors.As.
var ErrClientAssertion = errors.New("oauthkit/client: client assertion could not be made")

// AssertionSource returns a client assertion (a signed JWT) obtained outside
// this package, for the server whose expected audience is audience (the
// token endpoint URL, see WithClientAssertionKey). It is called for each
// token, refresh and revocation request, so it may read a file that is
// rotated (a Kubernetes projected service-account token) or ask a metadata
// server (cloud workload identity); caching is up to it.
type AssertionSource func(ctx context.Context, audience string) (string, error)

// WithClientAssertionKey gives the key that signs private_key_jwt
// assertions (RFC 7523): RS256 for an RSA key of 2048 bits or more, ES256
// for a P-256 key, EdDSA for an Ed25519 key; any other key is
// ErrInvalidConfig from the constructor. signer may be an in-memory key
// (*rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey) or any
// crypto.Signer (an HSM or cloud KMS key). keyID is sent as the "kid"
// header, so a server holding several of the client's keys picks the right
// one; it is omitted when empty.
//
// Each request gets a fresh assertion: "iss" and "sub" the client id,
// "aud" the token endpoint URL (RFC 7523 §3; also at the revocation
// endpoint, where ory/fosite requires it and panva's oidc-provider accepts
// it), a random "jti", "iat" now and "exp" two minutes later by the
// client's clock (WithClock).
//
// The key is used only with WithTokenEndpointAuthMethod(PrivateKeyJWT)
// (or that revocation method), which must be given explicitly: a key with
// any other method is ErrInvalidConfig, and discovery never chooses
// private_key_jwt by itself.
func WithClientAssertionKey(signer crypto.Signer, keyID string) Option {
	return func(c *config) {
		c.assertionKeySet = true
		c.assertionKey, c.assertionKeyID = signer, keyID
	}
}

// WithClientAssertion authenticates with private_key_jwt using assertions
// made elsewhere (see AssertionSource) instead of a key given to this
// package: the Kubernetes service-account token of a workload federated
// with Entra ID, a cloud identity token. Like WithClientAssertionKey it
// needs WithTokenEndpointAuthMethod(PrivateKeyJWT); giving both is
// ErrInvalidConfig.
func WithClientAssertion(source AssertionSource) Option {
	return func(c *config) {
		c.assertionSourceSet = true
		c.assertionSource = source
	}
}

// signingAlg returns the JWS algorithm for key, or an ErrInvalidConfig
// error for key types and sizes this package does not sign with.
func signingAlg(key crypto.Signer) (jose.SignatureAlgorithm, error) {
	if key == nil {
		return "", fmt.Errorf("%w: client assertion key is nil", ErrInvalidConfig)
	}
	alg, err := publicAlg(key.Public())
	if err != nil {
		return "", fmt.Errorf("client assertion key: %w", err)
	}
	return alg, nil
}

// checkAssertion validates the assertion options against the auth methods.
func (c *config) checkAssertion() error {
	jwtMethod := c.TokenEndpointAuthMethod == PrivateKeyJWT ||
		(c.RevokeTokenEndpoint != "" && c.RevocationEndpointAuthMethod == PrivateKeyJWT)
	switch {
	case c.assertionKeySet && c.assertionSourceSet:
		return fmt.Errorf("%w: WithClientAssertionKey and WithClientAssertion are exclusive", ErrInvalidConfig)
	case c.assertionSourceSet && c.assertionSource == nil:
		return fmt.Errorf("%w: client assertion source is nil", ErrInvalidConfig)
	case (c.assertionKeySet || c.assertionSourceSet) && !jwtMethod:
		return fmt.Errorf("%w: a client assertion key or source needs WithTokenEndpointAuthMethod(PrivateKeyJWT), not %q",
			ErrInvalidConfig, sanitize(string(c.TokenEndpointAuthMethod), 64))
	case jwtMethod && !c.assertionKeySet && !c.assertionSourceSet:
		return fmt.Errorf("%w: private_key_jwt needs WithClientAssertionKey or WithClientAssertion", ErrInvalidConfig)
	}
	if c.assertionKeySet {
		alg, err := signingAlg(c.assertionKey)
		if err != nil {
			return err
		}
		c.assertionAlg = alg
	}
	if (c.TokenEndpointAuthMethod == ClientSecretJWT ||
		(c.RevokeTokenEndpoint != "" && c.RevocationEndpointAuthMethod == ClientSecretJWT)) &&
		c.ClientSecret != "" && len(c.ClientSecret) < minHS256Secret {
		return fmt.Errorf("%w: client_secret_jwt needs a client secret of at least %d bytes (HS256)", ErrInvalidConfig, minHS256Secret)
	}
	return nil
}

// assertionAudience is the "aud" of an assertion sent to endpoint: the
// endpoint itself for the token and refresh requests (RFC 7523 §3: the
// token endpoint URL), and the token endpoint URL for revocation too:
// ory/fosite accepts only its token endpoint URL, at its revocation
// endpoint as well, and panva's oidc-provider accepts the issuer, the token
// endpoint or the endpoint called.
func (c *config) assertionAudience(endpoint string) string {
	if endpoint == c.AccessTokenEndpoint || endpoint == c.RefreshTokenEndpoint {
		return endpoint
	}
	return c.AccessTokenEndpoint
}

// clientAssertion returns the assertion for method (PrivateKeyJWT or
// ClientSecretJWT), wrapping any failure with ErrClientAssertion.
func (c *config) clientAssertion(ctx context.Context, method AuthMethod, endpoint string) (string, error) {
	aud := c.assertionAudience(endpoint)
	if method == PrivateKeyJWT && c.assertionSource != nil {
		a, err := c.assertionSource(ctx, aud)
		if err != nil {
			return "", fmt.Errorf("%w: assertion source: %w", ErrClientAssertion, err)
		}
		if strings.TrimSpace(a) == "" {
			return "", fmt.Errorf("%w: assertion source returned nothing", ErrClientAssertion)
		}
		return a, nil
	}
	now := c.Now()
	claims := map[string]any{
		"iss": c.ClientID,
		"sub": c.ClientID,
		"aud": aud,
		"jti": uuid.NewString(),
		"iat": now.Unix(),
		"exp": now.Add(assertionLifetime).Unix(),
	}
	var (
		s   string
		err error
	)
	if method == ClientSecretJWT {
		s, err = signJWT(jose.HS256, []byte(c.ClientSecret), jwtHeader{}, claims)
	} else {
		s, err = signJWT(c.assertionAlg, cryptosigner.Opaque(c.assertionKey), jwtHeader{keyID: c.assertionKeyID}, claims)
	}
	if err != nil {
		return "", fmt.Errorf("%w: signing failed: %w", ErrClientAssertion, err)
	}
	return s, nil
}

// jwtHeader is what signJWT puts in the JWS header besides "alg".
type jwtHeader struct {
	// typ is the "typ" header; "JWT" when empty.
	typ jose.ContentType
	// keyID is sent as "kid" when not empty.
	keyID string
	// embedJWK puts the public half of the key in the "jwk" header (DPoP
	// proofs, RFC 9449 §4.2), so the server needs no copy of it.
	embedJWK bool
}

// signJWT is the package's one JWT signing path (client assertions,
// Apple's client secret and DPoP proofs): claims signed with key under
// alg, with the header hdr describes.
func signJWT(alg jose.SignatureAlgorithm, key any, hdr jwtHeader, claims any) (string, error) {
	typ := hdr.typ
	if typ == "" {
		typ = "JWT"
	}
	opts := (&jose.SignerOptions{EmbedJWK: hdr.embedJWK}).WithType(typ)
	if hdr.keyID != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), hdr.keyID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// setClientAssertion adds the RFC 7523 §2.2 parameters to form.
func (c *config) setClientAssertion(ctx context.Context, form url.Values, method AuthMethod, endpoint string) error {
	a, err := c.clientAssertion(ctx, method, endpoint)
	if err != nil {
		return err
	}
	form.Set("client_id", c.ClientID)
	form.Set("client_assertion_type", ClientAssertionType)
	form.Set("client_assertion", a)
	return nil
}

// JWKSHandler serves the public halves of a client's keys as a JSON Web
// Key Set (RFC 7517 §5), for servers that fetch the client's keys from a
// jwks_uri instead of holding a copy. keys maps each key id (the keyID of
// WithClientAssertionKey) to the key: a crypto.Signer or its public key;
// list the old and the new key while rotating. Only public parameters are
// ever served. An unsupported key type is ErrInvalidConfig. The handler
// answers GET and HEAD; other methods get 405.
func JWKSHandler(keys map[string]crypto.PublicKey) (http.Handler, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		pub := keys[id]
		if s, ok := pub.(crypto.Signer); ok {
			pub = s.Public()
		}
		alg, err := publicAlg(pub)
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: pub, KeyID: id, Algorithm: string(alg), Use: "sig"})
	}
	body, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	}), nil
}

// publicAlg is signingAlg for a public key.
func publicAlg(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return "", fmt.Errorf("%w: RSA key must have at least %d bits", ErrInvalidConfig, minRSABits)
		}
		return jose.RS256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("%w: ECDSA key must be P-256 (ES256)", ErrInvalidConfig)
		}
		return jose.ES256, nil
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("%w: key must be RSA, P-256 or Ed25519", ErrInvalidConfig)
}
