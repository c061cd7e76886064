package integration

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthkit/oauthkit/client"
)

// client_secret_jwt (which fosite does not implement) and EdDSA
// private_key_jwt against panva's oidc-provider, which checks the
// registered method, the signature, "aud" and "jti" at the token and
// revocation endpoints.

// opSecretJWT is long enough for HS256 (32 bytes or more).
const opSecretJWT = "secret-of-the-client-secret-jwt-client-0123456789"

// opAuthFlow logs accountID in through c (offline_access with consent, so
// a refresh token is issued), then refreshes, revokes the refresh token
// and checks that it no longer refreshes: each step authenticates the
// client with its method.
func opAuthFlow(t *testing.T, op *nodeOP, o *client.OpenID, redirectURI string) {
	t.Helper()
	ctx := context.Background()
	tok, _ := opLogin(t, op, o, redirectURI)
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	refreshed, err := o.RefreshToken(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if err := o.RevokeToken(ctx, refreshed.RefreshToken, "refresh_token"); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	_, err = o.RefreshToken(ctx, refreshed.RefreshToken)
	if !errors.Is(err, client.ErrRefreshToken) || oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("refresh with the revoked token: got %v, want invalid_grant", err)
	}
}

// opCode runs the browser part of a login through o as accountID (PKCE
// S256, a nonce, prompt=consent so offline_access is granted) and returns
// the code, the verifier and the nonce.
func opCode(t *testing.T, op *nodeOP, o *client.OpenID, redirectURI, accountID string) (code, verifier, nonce string) {
	t.Helper()
	state := client.GenerateState()
	nonce, verifier = client.GenerateState(), client.GenerateVerifier()
	authURL, err := o.AuthCodeURL(redirectURI, client.AuthURLOptions{
		State: state, Nonce: nonce, CodeChallenge: client.S256Challenge(verifier), CodeChallengeMethod: "S256",
	}, client.OpenIDParams{Prompt: "consent"})
	if err != nil {
		t.Fatal(err)
	}
	q := op.Login(t, browserClient(t), authURL, accountID).Query()
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("login ended without a code and state %s (error %q)", state, q.Get("error"))
	}
	return q.Get("code"), verifier, nonce
}

// opLogin logs alice in through o: opCode, the code exchange and the ID
// token's verification. It returns the token and the nonce (for Identify).
func opLogin(t *testing.T, op *nodeOP, o *client.OpenID, redirectURI string) (*client.Token, string) {
	t.Helper()
	code, verifier, nonce := opCode(t, op, o, redirectURI, "alice")
	tok, err := o.AccessToken(context.Background(), code, redirectURI, verifier)
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if _, err := o.VerifyIDToken(context.Background(), tok, nonce); err != nil {
		t.Fatalf("ID token: %v", err)
	}
	return tok, nonce
}

var opOffline = client.WithScopes("openid", "email", "offline_access")

func TestOIDCProviderClientAuthJWT(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wrongPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := func(k crypto.PublicKey) *jose.JSONWebKeySet {
		return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}}
	}
	const redirect = "http://127.0.0.1:9/cb"
	secretJWT := opClient{ID: "kit-secret-jwt", Secret: opSecretJWT, RedirectURIs: []string{redirect}, TokenEndpointAuthMethod: "client_secret_jwt"}
	keyJWT := opClient{ID: "kit-key-jwt", RedirectURIs: []string{redirect}, TokenEndpointAuthMethod: "private_key_jwt", JWKS: set(pub)}
	wrongKey := opClient{ID: "kit-wrong-key", RedirectURIs: []string{redirect}, TokenEndpointAuthMethod: "private_key_jwt", JWKS: set(wrongPub)}
	op := startOIDCProvider(t, secretJWT, keyJWT, wrongKey)
	ctx := context.Background()

	t.Run("client_secret_jwt", func(t *testing.T) {
		o, err := client.DiscoverOpenID(ctx, op.Issuer, secretJWT.ID, secretJWT.Secret, opOffline,
			client.WithTokenEndpointAuthMethod(client.ClientSecretJWT))
		if err != nil {
			t.Fatal(err)
		}
		if tm, rm := o.AuthMethods(); tm != client.ClientSecretJWT || rm != client.ClientSecretJWT {
			t.Fatalf("methods token %q, revocation %q; want client_secret_jwt for both", tm, rm)
		}
		opAuthFlow(t, op, o, redirect)
	})
	t.Run("private_key_jwt EdDSA", func(t *testing.T) {
		o, err := client.DiscoverOpenID(ctx, op.Issuer, keyJWT.ID, "", opOffline,
			client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT), client.WithClientAssertionKey(priv, "k1"))
		if err != nil {
			t.Fatal(err)
		}
		opAuthFlow(t, op, o, redirect)
	})
	t.Run("external assertion", func(t *testing.T) {
		// An assertion made outside the client, as a workload identity
		// issuer would make it.
		var audiences []string
		o, err := client.DiscoverOpenID(ctx, op.Issuer, keyJWT.ID, "", opOffline,
			client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT),
			client.WithClientAssertion(func(_ context.Context, aud string) (string, error) {
				audiences = append(audiences, aud)
				return signEdDSAAssertion(t, priv, keyJWT.ID, aud), nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		opAuthFlow(t, op, o, redirect)
		if len(audiences) != 4 {
			t.Fatalf("source asked %d times, want 4 (code, refresh, revoke, refresh)", len(audiences))
		}
		for _, aud := range audiences {
			if aud != op.Issuer+"/token" {
				t.Fatalf("source asked for audience %q, want the token endpoint", aud)
			}
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		o, err := client.DiscoverOpenID(ctx, op.Issuer, wrongKey.ID, "",
			client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT), client.WithClientAssertionKey(priv, "k1"))
		if err != nil {
			t.Fatal(err)
		}
		code, verifier, _ := opCode(t, op, o, redirect, "alice")
		_, err = o.AccessToken(ctx, code, redirect, verifier)
		if !errors.Is(err, client.ErrGetAccessToken) || oauthErrorCode(err) != "invalid_client" {
			t.Fatalf("code exchange with the wrong key: got %v, want invalid_client", err)
		}
	})
}

// signEdDSAAssertion is a client assertion made without this package, as
// an external issuer would make it.
func signEdDSAAssertion(t *testing.T, key ed25519.PrivateKey, clientID, aud string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload, err := json.Marshal(map[string]any{
		"iss": clientID, "sub": clientID, "aud": aud, "jti": client.GenerateState(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
