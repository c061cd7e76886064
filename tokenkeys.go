package oauthkit

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// TokenKeys encrypt the provider tokens the kit stores, in the session and
// in the TokenStore, with AES-256-GCM, so a dump of the session store, Redis
// or PostgreSQL holds no usable access, refresh or ID token. Each value
// names the key that encrypted it: the current key encrypts, every key
// decrypts, so keys rotate without logging anyone out (add the new key as
// current, keep the old one until the sessions and grants it encrypted have
// been rewritten or have expired).
//
// Generate a key with
//
//	openssl rand -base64 32
//
// and keep it with the application's other secrets.
type TokenKeys struct {
	current string
	aeads   map[string]cipher.AEAD
}

// tokenPrefix starts every encrypted value: "oauthkit1.<key id>.<data>".
const tokenPrefix = "oauthkit1."

// Errors reading an encrypted token. They are 500s: the token is kept as
// it is (nothing is lost), and an operator who restores the missing key
// makes it readable again.
var (
	// ErrTokenKeyUnknown: a stored token names a key id TokenKeys lacks (a
	// key removed while values it encrypted were still stored).
	ErrTokenKeyUnknown = errors.New("oauthkit: stored token encrypted with an unknown key")
	// ErrTokenDecrypt: a stored token does not decrypt (tampered with, or
	// moved from another user's record).
	ErrTokenDecrypt = errors.New("oauthkit: stored token cannot be decrypted")
)

// NewTokenKeys returns the keys that encrypt under current and decrypt
// under any id of keys. Every key is 32 bytes (AES-256); ids are short
// printable names without "." ("2026-12", "k2").
func NewTokenKeys(current string, keys map[string][]byte) (*TokenKeys, error) {
	if _, ok := keys[current]; !ok {
		return nil, configError("TokenKeys: the current key %q is not among the keys", current)
	}
	tk := &TokenKeys{current: current, aeads: make(map[string]cipher.AEAD, len(keys))}
	for id, key := range keys {
		if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r == '.' || r <= ' ' || r > '~' }) {
			return nil, configError("TokenKeys: key id %q must be 1-64 printable ASCII characters without '.'", id)
		}
		if len(key) != 32 {
			return nil, configError("TokenKeys: key %q has %d bytes, want 32", id, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, configError("TokenKeys: key %q: %v", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, configError("TokenKeys: key %q: %v", id, err)
		}
		tk.aeads[id] = aead
	}
	return tk, nil
}

// seal encrypts plaintext for the place named by aad (which must be given
// again to open it: a value copied to another place does not decrypt).
func (tk *TokenKeys) seal(plaintext []byte, aad string) string {
	aead := tk.aeads[tk.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	out := aead.Seal(nonce, nonce, plaintext, []byte(tk.current+"\x00"+aad))
	return tokenPrefix + tk.current + "." + base64.RawURLEncoding.EncodeToString(out)
}

// open decrypts a value seal made for aad. A value without the prefix is
// returned as it is: a token stored before TokenKeys were configured, which
// the next write encrypts.
func (tk *TokenKeys) open(value, aad string) ([]byte, error) {
	rest, ok := strings.CutPrefix(value, tokenPrefix)
	if !ok {
		return []byte(value), nil
	}
	id, data, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, ErrTokenDecrypt
	}
	aead, ok := tk.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrTokenKeyUnknown, id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrTokenDecrypt
	}
	n := aead.NonceSize()
	pt, err := aead.Open(nil, raw[:n], raw[n:], []byte(id+"\x00"+aad))
	if err != nil {
		return nil, ErrTokenDecrypt
	}
	return pt, nil
}
