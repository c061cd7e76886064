package oauthkittest

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// signingKey is one RSA key of the provider, usable as op.SigningKey and
// op.Key.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Algorithm() jose.SignatureAlgorithm          { return jose.RS256 }
func (k *signingKey) ID() string                                  { return k.id }
func (k *signingKey) Use() string                                 { return "sig" }

// Key is the private key as a signer, the public key in the key set: both
// interfaces name it Key, so the signer goes through signerKey.
func (k *signingKey) Key() any { return &k.key.PublicKey }

// signerKey presents a signingKey to the op as the private key to sign with.
type signerKey struct{ *signingKey }

func (k signerKey) Key() any { return k.key }

func newSigningKey() (*signingKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("oauthkittest: signing key: %w", err)
	}
	return &signingKey{id: rand.Text()[:12], key: key}, nil
}

// keyRing is the current signing key and the keys the JWKS publishes.
type keyRing struct {
	mu      sync.Mutex
	current *signingKey
	jwks    []*signingKey
}

func newKeyRing() (*keyRing, error) {
	k, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	return &keyRing{current: k, jwks: []*signingKey{k}}, nil
}

func (r *keyRing) signing() op.SigningKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return signerKey{r.current}
}

func (r *keyRing) signer() *signingKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

func (r *keyRing) published() []op.Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]op.Key, len(r.jwks))
	for i, k := range r.jwks {
		keys[i] = k
	}
	return keys
}

// rotate makes k the signing key; the old keys stay published when keepOld.
func (r *keyRing) rotate(k *signingKey, keepOld bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.current = k
	if keepOld {
		r.jwks = append([]*signingKey{k}, r.jwks...)
	} else {
		r.jwks = []*signingKey{k}
	}
}
