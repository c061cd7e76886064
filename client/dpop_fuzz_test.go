package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzDPoPKeyJSON decodes any bytes as a stored DPoPKey: the result is a
// key that signs verifiable proofs and encodes back to itself, or an error
// matching ErrInvalidDPoPKey, never a panic.
func FuzzDPoPKeyJSON(f *testing.F) {
	k, err := NewDPoPKey()
	if err != nil {
		f.Fatal(err)
	}
	good, err := k.MarshalJSON()
	if err != nil {
		f.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	bad, err := jose.JSONWebKey{Key: p384}.MarshalJSON()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][]byte{good, bad, []byte(`{}`), []byte(`null`), []byte(`{"kty":"EC","crv":"P-256","x":"","y":"","d":""}`), []byte(`[`)} {
		f.Add(s)
	}
	u := &url.URL{Scheme: "https", Host: "as.example", Path: "/token"}
	f.Fuzz(func(t *testing.T, b []byte) {
		var k DPoPKey
		if err := k.UnmarshalJSON(b); err != nil {
			if !errors.Is(err, ErrInvalidDPoPKey) {
				t.Fatalf("error %v does not match ErrInvalidDPoPKey", err)
			}
			return
		}
		p, err := k.proof("POST", u, time.Unix(0, 0), "", "")
		if err != nil {
			t.Fatalf("a decoded key cannot sign: %v", err)
		}
		seen, err := readProof(p)
		if err != nil || seen.jkt != k.Thumbprint() {
			t.Fatalf("proof of a decoded key does not verify (%v)", err)
		}
		again, err := k.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back DPoPKey
		if err := back.UnmarshalJSON(again); err != nil || back.Thumbprint() != k.Thumbprint() {
			t.Fatalf("re-encoded key does not decode to itself (%v)", err)
		}
	})
}
