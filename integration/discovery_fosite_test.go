package integration

import (
	"context"
	"errors"
	"testing"

	"github.com/oauthkit/oauthkit/client"
)

// Discovery against a server that, like Ory Hydra v2.3.0, lists
// client_secret_post first, registers clients for one method and checks it
// at the token and revocation endpoints, and omits
// revocation_endpoint_auth_methods_supported. The server is fosite
// (fositeAS), not our own code.

const fositeSecret = "s3cret-of-the-client"

// offline asks for a refresh token: fosite, like most OpenID Connect
// servers, issues one only for the offline_access scope.
var offline = client.WithScopes("openid", "email", "offline_access")

// fositeLogin runs one login through o: authorization request with state,
// nonce and PKCE S256, then the code exchange, then ID-token verification.
func fositeLogin(t *testing.T, as *fositeAS, o *client.OpenID) (*client.Token, error) {
	t.Helper()
	state, nonce, verifier := client.GenerateState(), client.GenerateState(), client.GenerateVerifier()
	authURL, err := o.AuthCodeURL(fositeRedirectURI, client.AuthURLOptions{
		State: state, Nonce: nonce,
		CodeChallenge: client.S256Challenge(verifier), CodeChallengeMethod: "S256",
	}, client.OpenIDParams{})
	if err != nil {
		t.Fatal(err)
	}
	code := as.authorizeCode(t, authURL, state)
	tok, err := o.AccessToken(context.Background(), code, fositeRedirectURI, verifier)
	if err != nil {
		return nil, err
	}
	claims, err := o.VerifyIDToken(context.Background(), tok, nonce)
	if err != nil {
		t.Fatalf("fosite's ID token: %v", err)
	}
	if claims.Subject != fositeSubject {
		t.Fatalf("ID token subject %q, want %q", claims.Subject, fositeSubject)
	}
	return tok, nil
}

// oauthErrorCode is the OAuth "error" member carried by err, or "".
func oauthErrorCode(err error) string {
	var oe *client.OAuthError
	if errors.As(err, &oe) {
		return oe.Code
	}
	return ""
}

// assertRevoked checks, by refreshing with it, that fosite no longer
// accepts refresh token rt.
func assertRevoked(t *testing.T, o *client.OpenID, rt string) {
	t.Helper()
	_, err := o.RefreshToken(context.Background(), rt)
	if !errors.Is(err, client.ErrRefreshToken) || oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("refresh with the revoked token: got %v, want invalid_grant", err)
	}
}

// fositeGrantCycle logs in through o with offline_access, refreshes,
// revokes the new refresh token with one revocation request and checks it
// is revoked: every step authenticates the client with its method.
func fositeGrantCycle(t *testing.T, as *fositeAS, o *client.OpenID) {
	t.Helper()
	ctx := context.Background()
	tok, err := fositeLogin(t, as, o)
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	refreshed, err := o.RefreshToken(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.AccessToken == "" || refreshed.RefreshToken == tok.RefreshToken {
		t.Fatal("fosite rotates refresh tokens: want a new access and refresh token")
	}
	before := as.revokeHits.Load()
	if err := o.RevokeToken(ctx, refreshed.RefreshToken, "refresh_token"); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if got := as.revokeHits.Load() - before; got != 1 {
		t.Fatalf("%d revocation requests, want 1", got)
	}
	assertRevoked(t, o, refreshed.RefreshToken)
}

func TestFositeDiscoveryBasicClient(t *testing.T) {
	as := newFositeAS(t, []fositeClient{{ID: "kit-basic", Secret: fositeSecret, Method: "client_secret_basic"}})
	ctx := context.Background()

	t.Run("registered method given", func(t *testing.T) {
		o, err := client.DiscoverOpenID(ctx, as.srv.URL, "kit-basic", fositeSecret,
			client.WithTokenEndpointAuthMethod(client.ClientSecretBasic), offline)
		if err != nil {
			t.Fatal(err)
		}
		if tm, rm := o.AuthMethods(); tm != client.ClientSecretBasic || rm != client.ClientSecretBasic {
			t.Fatalf("methods token %q, revocation %q; want client_secret_basic for both", tm, rm)
		}
		fositeGrantCycle(t, as, o)
	})

	// The original bug: without the option, discovery picks the first
	// listed method, client_secret_post, which fosite refuses from a
	// client registered for client_secret_basic.
	t.Run("registered method not given", func(t *testing.T) {
		o, err := client.DiscoverOpenID(ctx, as.srv.URL, "kit-basic", fositeSecret, offline)
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := o.AuthMethods(); m != client.ClientSecretPost {
			t.Fatalf("default method %q, want the first listed, client_secret_post", m)
		}
		before := as.tokenHits.Load()
		_, err = fositeLogin(t, as, o)
		if !errors.Is(err, client.ErrGetAccessToken) || oauthErrorCode(err) != "invalid_client" {
			t.Fatalf("code exchange: got %v, want invalid_client", err)
		}
		if got := as.tokenHits.Load() - before; got != 1 {
			t.Fatalf("%d token requests, want 1", got)
		}
	})

	t.Run("no offline_access, no refresh token, no error", func(t *testing.T) {
		o, err := client.DiscoverOpenID(ctx, as.srv.URL, "kit-basic", fositeSecret,
			client.WithTokenEndpointAuthMethod(client.ClientSecretBasic))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := fositeLogin(t, as, o)
		if err != nil {
			t.Fatalf("code exchange: %v", err)
		}
		if tok.RefreshToken != "" {
			t.Fatal("refresh token without offline_access")
		}
	})
}

// TestFositeDiscoveryPostClientRevokes: no revocation auth methods are
// advertised, so revocation uses the token endpoint's method. Basic, the
// RFC 8414 default, would be refused for this client.
func TestFositeDiscoveryPostClientRevokes(t *testing.T) {
	as := newFositeAS(t, []fositeClient{{ID: "kit-post", Secret: fositeSecret, Method: "client_secret_post"}})
	ctx := context.Background()
	o, err := client.DiscoverOpenID(ctx, as.srv.URL, "kit-post", fositeSecret, offline)
	if err != nil {
		t.Fatal(err)
	}
	if _, m := o.AuthMethods(); m != client.ClientSecretPost {
		t.Fatalf("revocation method %q, want client_secret_post", m)
	}
	tok, err := fositeLogin(t, as, o)
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	if err := o.RevokeToken(ctx, tok.RefreshToken, "refresh_token"); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	assertRevoked(t, o, tok.RefreshToken)
}

// TestFositeDiscoveryRefusesUnlistedMethod: a client registered for basic
// at a server that lists only post is refused at discovery, typed, before
// any token request.
func TestFositeDiscoveryRefusesUnlistedMethod(t *testing.T) {
	as := newFositeAS(t, []fositeClient{{ID: "kit-basic", Secret: fositeSecret, Method: "client_secret_basic"}},
		func(doc map[string]any) {
			doc["token_endpoint_auth_methods_supported"] = []string{"client_secret_post"}
		})
	o, err := client.DiscoverOpenID(context.Background(), as.srv.URL, "kit-basic", fositeSecret,
		client.WithTokenEndpointAuthMethod(client.ClientSecretBasic), offline)
	if o != nil {
		t.Fatal("got a client")
	}
	var re *client.RequestError
	var nse *client.NotSupportedAuthMethodError
	if !errors.As(err, &re) || !errors.Is(err, client.ErrOpenIDConfiguration) || !errors.As(err, &nse) || nse.Method != client.ClientSecretBasic {
		t.Fatalf("got %v, want a discovery *RequestError wrapping *NotSupportedAuthMethodError for client_secret_basic", err)
	}
	if n := as.tokenHits.Load(); n != 0 {
		t.Fatalf("%d token requests, want none", n)
	}
}
