package client

import (
	"crypto/rand"
	"encoding/base64"

	"golang.org/x/oauth2"
)

// GenerateVerifier returns a PKCE code verifier: 32 bytes from crypto/rand,
// base64url without padding (43 characters), per RFC 7636 §4.1. It
// delegates to golang.org/x/oauth2 rather than re-implementing it.
func GenerateVerifier() string { return oauth2.GenerateVerifier() }

// S256Challenge returns the S256 code challenge of a verifier (RFC 7636 §4.2).
func S256Challenge(verifier string) string { return oauth2.S256ChallengeFromVerifier(verifier) }

// GenerateState returns an unguessable state value: 32 bytes (256 bits) from
// crypto/rand, base64url without padding (43 characters), as peers such as
// oauth2-proxy and gologin draw it.
func GenerateState() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
