package integration

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// Every client authentication method through the kit, end to end: a login
// (code exchange), a refresh the kit makes when its clock says the token
// has expired, and the revocation LogoutHandler makes, against panva's
// oidc-provider and ory/fosite, each enforcing the method the client is
// registered with. A step that authenticated the client any other way
// would be refused by the server.

// kitGrantCycle signs a browser in through s, makes the kit refresh, logs
// out, and checks with o (the site's client) that the server revoked the
// grant: the refresh token the kit held no longer refreshes.
func kitGrantCycle(t *testing.T, s *kitSite, o *client.OpenID, authorize func(b *http.Client, authURL string) *url.URL) {
	t.Helper()
	b := browserClient(t)
	s.login(t, b, func(authURL string) *url.URL { return authorize(b, authURL) })
	first := s.token(t, b)
	if first.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	s.expire()
	refreshed := s.token(t, b)
	if refreshed.AccessToken == first.AccessToken {
		t.Fatal("the kit did not refresh an expired token")
	}
	if res := s.logout(t, b); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s; kit errors %v", res.Status, s.errors())
	}
	if s.me(t, b) != "" {
		t.Fatal("still signed in after logout")
	}
	_, err := o.RefreshToken(context.Background(), refreshed.RefreshToken)
	if !errors.Is(err, client.ErrRefreshToken) || oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("refresh after logout: got %v, want invalid_grant (the kit revokes the grant)", err)
	}
}

func revokeOnLogout(cfg *oauthkit.Config) { cfg.RevokeOnLogout = true }

// jwksOf is the key set a server holds for a private_key_jwt client.
func jwksOf(t *testing.T, kid, alg string, key crypto.Signer) *jose.JSONWebKeySet {
	t.Helper()
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}}}
}

func TestKitClientAuthOIDCProvider(t *testing.T) {
	rk := rsaKey(t)
	ek := p256Key(t)
	edk := ed25519Key(t)
	const redirect = "http://127.0.0.1:9/callback"
	type method struct {
		reg  opClient
		opts []client.Option
	}
	secret := randomString()
	keyed := func(id, alg string, key crypto.Signer) method {
		return method{
			reg:  opClient{ID: id, RedirectURIs: []string{redirect}, TokenEndpointAuthMethod: "private_key_jwt", JWKS: jwksOf(t, "k-"+alg, alg, key)},
			opts: []client.Option{client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT), client.WithClientAssertionKey(key, "k-"+alg)},
		}
	}
	methods := map[string]method{
		"client_secret_basic": {reg: opClient{ID: "kit-basic", Secret: secret, RedirectURIs: []string{redirect}},
			opts: []client.Option{client.WithTokenEndpointAuthMethod(client.ClientSecretBasic)}},
		"client_secret_post": {reg: opClient{ID: "kit-post", Secret: secret, RedirectURIs: []string{redirect}, TokenEndpointAuthMethod: "client_secret_post"},
			opts: []client.Option{client.WithTokenEndpointAuthMethod(client.ClientSecretPost)}},
		"client_secret_jwt": {reg: opClient{ID: "kit-secret-jwt", Secret: opSecretJWT, RedirectURIs: []string{redirect}, TokenEndpointAuthMethod: "client_secret_jwt"},
			opts: []client.Option{client.WithTokenEndpointAuthMethod(client.ClientSecretJWT)}},
		"private_key_jwt RS256": keyed("kit-rs256", "RS256", rk),
		"private_key_jwt ES256": keyed("kit-es256", "ES256", ek),
		"private_key_jwt EdDSA": keyed("kit-eddsa", "EdDSA", edk),
	}
	var regs []opClient
	for _, m := range methods {
		regs = append(regs, m.reg)
	}
	op := startOIDCProvider(t, regs...)
	for name, m := range methods {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), budget(t))
			defer cancel()
			opts := append([]client.Option{opOffline, client.WithName("op")}, m.opts...)
			o, err := client.DiscoverOpenID(ctx, op.Issuer, m.reg.ID, m.reg.Secret, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if tm, rm := o.AuthMethods(); !strings.HasPrefix(name, string(tm)) || rm != tm {
				t.Fatalf("methods token %q, revocation %q; want %s for both", tm, rm, name)
			}
			s := newKitSite(t, oauthkit.Provider{Client: o, RedirectURL: redirect, LocalLogout: true,
				AuthParams: client.OpenIDParams{Prompt: "consent"}}, revokeOnLogout)
			kitGrantCycle(t, s, o, func(b *http.Client, authURL string) *url.URL {
				return op.Login(t, b, authURL, "alice")
			})
		})
	}
}

func TestKitClientAuthFosite(t *testing.T) {
	rk := rsaKey(t)
	ek := p256Key(t)
	jwks := fositeJWKS(t, map[string]crypto.PublicKey{"k-RS256": rk.Public(), "k-ES256": ek.Public()})
	type method struct {
		reg  fositeClient
		opts []client.Option
	}
	methods := map[string]method{
		"client_secret_basic": {reg: fositeClient{ID: "kit-basic", Secret: fositeSecret, Method: "client_secret_basic"},
			opts: []client.Option{client.WithTokenEndpointAuthMethod(client.ClientSecretBasic)}},
		"client_secret_post": {reg: fositeClient{ID: "kit-post", Secret: fositeSecret, Method: "client_secret_post"},
			opts: []client.Option{client.WithTokenEndpointAuthMethod(client.ClientSecretPost)}},
		"private_key_jwt RS256": {reg: fositeClient{ID: "kit-rs256", Method: "private_key_jwt", JWKSURI: jwks, SigningAlg: "RS256"},
			opts: []client.Option{client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT), client.WithClientAssertionKey(rk, "k-RS256")}},
		"private_key_jwt ES256": {reg: fositeClient{ID: "kit-es256", Method: "private_key_jwt", JWKSURI: jwks, SigningAlg: "ES256"},
			opts: []client.Option{client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT), client.WithClientAssertionKey(ek, "k-ES256")}},
	}
	var regs []fositeClient
	for _, m := range methods {
		regs = append(regs, m.reg)
	}
	as := newFositeAS(t, regs, withPrivateKeyJWT)
	for name, m := range methods {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), budget(t))
			defer cancel()
			opts := append([]client.Option{offline, client.WithName("fosite")}, m.opts...)
			o, err := client.DiscoverOpenID(ctx, as.srv.URL, m.reg.ID, m.reg.Secret, opts...)
			if err != nil {
				t.Fatal(err)
			}
			s := newKitSite(t, oauthkit.Provider{Client: o, RedirectURL: fositeRedirectURI}, revokeOnLogout)
			before := as.revokeHits.Load()
			kitGrantCycle(t, s, o, func(_ *http.Client, authURL string) *url.URL {
				u, err := url.Parse(authURL)
				if err != nil {
					t.Fatal(err)
				}
				state := u.Query().Get("state")
				return &url.URL{RawQuery: url.Values{"code": {as.authorizeCode(t, authURL, state)}, "state": {state}}.Encode()}
			})
			if got := as.revokeHits.Load() - before; got != 1 {
				t.Fatalf("%d revocation requests at logout, want 1", got)
			}
		})
	}
}
