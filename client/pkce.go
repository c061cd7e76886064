package client

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// GenerateVerifier returns a PKCE code verifier: 32 bytes from crypto/rand,
// base64url without padding (43 characters), per RFC 7636 §4.1, as
// oauth2.GenerateVerifier makes one, in one allocation instead of two.
func GenerateVerifier() string { return random43() }

// S256Challenge returns the S256 code challenge of a verifier (RFC 7636
// §4.2), as oauth2.S256ChallengeFromVerifier does, with the hash input and
// the encoding on the stack: one allocation, the result, on every login.
func S256Challenge(verifier string) string {
	var in [128]byte // RFC 7636 verifiers are 43 to 128 characters
	var sum [sha256.Size]byte
	if len(verifier) <= len(in) {
		sum = sha256.Sum256(append(in[:0], verifier...))
	} else {
		sum = sha256.Sum256([]byte(verifier))
	}
	var out [43]byte // base64url of 32 bytes, unpadded
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:])
}

// GenerateState returns an unguessable state value: 32 bytes (256 bits) from
// crypto/rand, base64url without padding (43 characters), as peers such as
// oauth2-proxy and gologin draw it.
func GenerateState() string { return random43() }

// random43 is 32 bytes from crypto/rand, base64url without padding, encoded
// on the stack: the string is the only allocation.
func random43() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	var out [43]byte
	base64.RawURLEncoding.Encode(out[:], b[:])
	return string(out[:])
}
