package integration

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// Pushed authorization requests (RFC 9126) through the kit, against two
// independent servers that implement them: panva's oidc-provider (which
// requires PAR per client, so its metadata never says so and the client
// opts in) and ory/fosite (enforcing PAR server-wide, which its metadata
// then says).

// parRedirect is the redirect URI the PAR clients are registered with
// (kitSite carries the provider's answer to the site itself).
const parRedirect = "http://127.0.0.1:9/callback"

// pushedOnly checks that the kit sent the browser to the provider with
// client_id and request_uri only, and returns the URL.
func pushedOnly(t *testing.T, authURL, clientID string) string {
	t.Helper()
	loc, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if keys := slices.Sorted(maps.Keys(q)); !slices.Equal(keys, []string{"client_id", "request_uri"}) || q.Get("client_id") != clientID {
		t.Fatalf("the kit sent the browser to %s; want client_id %s and request_uri only", loc.Redacted(), clientID)
	}
	return authURL
}

// refusedUnpushed sends a plain (unpushed) authorization request built by
// o and asserts that the server issues no code for it.
func refusedUnpushed(t *testing.T, o *client.OpenID, redirectURI string) {
	t.Helper()
	authURL, err := o.AuthCodeURL(redirectURI, client.AuthURLOptions{
		State: client.GenerateState(), Nonce: client.GenerateState(),
		CodeChallenge: client.S256Challenge(client.GenerateVerifier()), CodeChallengeMethod: "S256",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&http.Client{CheckRedirect: noRedirect}).Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	// Both servers name the requirement in their refusal: a redirect
	// with error=invalid_request (oidc-provider) or a 400 (fosite).
	refusal := string(body)
	if loc, err := res.Location(); err == nil {
		q := loc.Query()
		if q.Get("code") != "" || q.Get("error") != "invalid_request" {
			t.Fatalf("an unpushed request was answered with %s, want invalid_request", loc.Redacted())
		}
		refusal = q.Get("error_description")
	} else if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("an unpushed request was answered %s, want 400", res.Status)
	}
	if !strings.Contains(refusal, "Pushed Authorization Request") {
		t.Fatalf("the unpushed request was refused for another reason: %q", refusal)
	}
}

func TestOIDCProviderPushedAuthorization(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := randomString()
	basic := opClient{ID: "kit-par", Secret: secret, RedirectURIs: []string{parRedirect}, RequirePAR: true}
	keyJWT := opClient{ID: "kit-par-jwt", RedirectURIs: []string{parRedirect}, RequirePAR: true,
		TokenEndpointAuthMethod: "private_key_jwt",
		JWKS:                    &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}}}
	op := startOIDCProvider(t, basic, keyJWT)
	ctx, cancel := context.WithTimeout(t.Context(), budget(t))
	defer cancel()

	// oidc-provider requires PAR per client: its metadata names the
	// endpoint but not the requirement, so discovery alone leaves PAR off.
	plain, err := client.DiscoverOpenID(ctx, op.Issuer, basic.ID, secret, client.WithName("op"))
	if err != nil {
		t.Fatal(err)
	}
	if plain.Capabilities().PushedAuthorization || plain.Config().PushedAuthorizationEndpoint != op.Issuer+"/request" {
		t.Fatalf("discovery: PushedAuthorization %t, endpoint %q; want off, %s/request",
			plain.Capabilities().PushedAuthorization, plain.Config().PushedAuthorizationEndpoint, op.Issuer)
	}
	t.Run("unpushed request refused", func(t *testing.T) { refusedUnpushed(t, plain, parRedirect) })

	t.Run("login through the kit", func(t *testing.T) {
		o, err := client.DiscoverOpenID(ctx, op.Issuer, basic.ID, secret, client.WithName("op"), client.WithPushedAuthorization())
		if err != nil {
			t.Fatal(err)
		}
		site := newKitSite(t, oauthkit.Provider{Client: o, RedirectURL: parRedirect}, nil)
		b := browserClient(t)
		if got := site.login(t, b, func(authURL string) *url.URL {
			return op.Login(t, b, pushedOnly(t, authURL, basic.ID), "alice")
		}); got != "alice" {
			t.Fatalf("signed in as %q, want alice", got)
		}
	})

	t.Run("private_key_jwt", func(t *testing.T) {
		o, err := client.DiscoverOpenID(ctx, op.Issuer, keyJWT.ID, "", client.WithName("op"), client.WithPushedAuthorization(),
			client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT), client.WithClientAssertionKey(priv, "k1"))
		if err != nil {
			t.Fatal(err)
		}
		site := newKitSite(t, oauthkit.Provider{Client: o, RedirectURL: parRedirect}, nil)
		b := browserClient(t)
		if got := site.login(t, b, func(authURL string) *url.URL {
			return op.Login(t, b, pushedOnly(t, authURL, keyJWT.ID), "bob")
		}); got != "bob" {
			t.Fatalf("signed in as %q, want bob", got)
		}
	})
}

// withRequiredPAR makes the fosite server require pushed authorization
// requests and its metadata say so.
func withRequiredPAR(doc map[string]any) { doc["require_pushed_authorization_requests"] = true }

func TestFositePushedAuthorization(t *testing.T) {
	const secret = "secret-of-the-par-client"
	as := newFositeAS(t, []fositeClient{{ID: "kit-par", Secret: secret, Method: "client_secret_basic"}}, withRequiredPAR)
	ctx, cancel := context.WithTimeout(t.Context(), budget(t))
	defer cancel()
	// No WithPushedAuthorization: the metadata's requirement turns PAR on.
	o, err := client.DiscoverOpenID(ctx, as.srv.URL, "kit-par", secret, client.WithName("fosite"),
		client.WithTokenEndpointAuthMethod(client.ClientSecretBasic))
	if err != nil {
		t.Fatal(err)
	}
	if !o.Capabilities().PushedAuthorization {
		t.Fatal("metadata requiring PAR did not turn it on")
	}
	t.Run("unpushed request refused", func(t *testing.T) { refusedUnpushed(t, o, fositeRedirectURI) })

	t.Run("login through the kit", func(t *testing.T) {
		site := newKitSite(t, oauthkit.Provider{Client: o, RedirectURL: fositeRedirectURI}, nil)
		b := browserClient(t)
		before := as.parHits.Load()
		var authURL string
		// The kit checks the state, the PKCE verifier and the ID token's
		// nonce, all of which fosite knew only from the push.
		if got := site.login(t, b, func(u string) *url.URL {
			if got := as.parHits.Load() - before; got != 1 {
				t.Fatalf("%d pushes for one login, want 1", got)
			}
			authURL = pushedOnly(t, u, "kit-par")
			return fositeAuthorize(t, authURL)
		}); got != fositeSubject {
			t.Fatalf("signed in as %q, want %s", got, fositeSubject)
		}
		// The request_uri was used up.
		res, err := (&http.Client{CheckRedirect: noRedirect}).Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc, err := res.Location(); res.StatusCode != http.StatusBadRequest || err == nil {
			t.Fatalf("the used request_uri was answered %s (Location %v), want 400", res.Status, loc)
		}
	})

	t.Run("private_key_jwt", func(t *testing.T) {
		key := p256Key(t)
		jwks := fositeJWKS(t, map[string]crypto.PublicKey{"kit-par": key.Public()})
		jas := newFositeAS(t, []fositeClient{{ID: "kit-par-jwt", Method: "private_key_jwt", JWKSURI: jwks, SigningAlg: "ES256"}},
			withRequiredPAR, withPrivateKeyJWT)
		o, err := client.DiscoverOpenID(ctx, jas.srv.URL, "kit-par-jwt", "", client.WithName("fosite"),
			client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT), client.WithClientAssertionKey(key, "kit-par"))
		if err != nil {
			t.Fatal(err)
		}
		site := newKitSite(t, oauthkit.Provider{Client: o, RedirectURL: fositeRedirectURI}, nil)
		b := browserClient(t)
		if got := site.login(t, b, func(u string) *url.URL {
			return fositeAuthorize(t, pushedOnly(t, u, "kit-par-jwt"))
		}); got != fositeSubject {
			t.Fatalf("signed in as %q, want %s", got, fositeSubject)
		}
	})
}

// fositeAuthorize sends the browser to fosite's authorization endpoint
// (which approves at once) and returns where fosite redirects it.
func fositeAuthorize(t *testing.T, authURL string) *url.URL {
	t.Helper()
	res, err := (&http.Client{CheckRedirect: noRedirect}).Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil {
		t.Fatalf("authorize: %s without a redirect", res.Status)
	}
	return loc
}
