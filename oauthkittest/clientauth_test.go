package oauthkittest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/oauthkittest"
)

// assertion is a private_key_jwt client assertion signed by key.
func assertion(t *testing.T, key *ecdsa.PrivateKey, iss, aud, jti string, exp time.Time) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"iss": iss, "sub": iss, "aud": aud, "jti": jti, "exp": exp.Unix(), "iat": time.Now().Unix()})
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func assertionOpts(a string) []oauth2.AuthCodeOption {
	return []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
		oauth2.SetAuthURLParam("client_assertion", a),
	}
}

// A private_key_jwt client authenticates with an assertion signed by its
// registered key, with the issuer or the token endpoint as audience, each
// assertion once; a secret, another key, a stale or replayed assertion is
// invalid_client.
func TestProviderPrivateKeyJWT(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "jwt", AuthMethod: oauthkittest.AuthMethodPrivateKeyJWT, PublicKey: &key.PublicKey})
	r.cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	in := time.Now().Add(time.Minute)

	exchange := func(a string) (*oauth2.Token, error) {
		g := r.authorize(t, "ada")
		return r.cfg.Exchange(t.Context(), g.resp.Get("code"), append(assertionOpts(a), oauth2.VerifierOption(g.verifier))...)
	}
	for name, a := range map[string]string{
		"issuer audience":         assertion(t, key, "jwt", p.Issuer(), rand.Text(), in),
		"token endpoint audience": assertion(t, key, "jwt", p.TokenURL(), rand.Text(), in),
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := exchange(a)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.verifier.Verify(t.Context(), tok.Extra("id_token").(string)); err != nil {
				t.Fatal(err)
			}
			// The refresh grant, with a fresh assertion.
			res, err := http.PostForm(p.TokenURL(), url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {assertion(t, key, "jwt", p.Issuer(), rand.Text(), in)},
			})
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("refresh: %s", res.Status)
			}
		})
	}

	replayed := assertion(t, key, "jwt", p.Issuer(), "once", in)
	if _, err := exchange(replayed); err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]string{
		"replayed jti":  replayed,
		"other key":     assertion(t, other, "jwt", p.Issuer(), rand.Text(), in),
		"expired":       assertion(t, key, "jwt", p.Issuer(), rand.Text(), time.Now().Add(-time.Minute)),
		"wrong aud":     assertion(t, key, "jwt", "http://elsewhere.example", rand.Text(), in),
		"not an assert": "not-a-jwt",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := exchange(a); oauthCode(err) != "invalid_client" {
				t.Fatalf("got %v, want invalid_client", err)
			}
		})
	}
	r.cfg.ClientSecret = "guess"
	g := r.authorize(t, "ada")
	if _, err := r.cfg.Exchange(t.Context(), g.resp.Get("code"), oauth2.VerifierOption(g.verifier)); oauthCode(err) != "invalid_client" {
		t.Fatalf("secret instead of an assertion: %v, want invalid_client", err)
	}
}

// The kit's private_key_jwt client (assertions with the token endpoint as
// audience) logs in, refreshes and revokes at the provider.
func TestKitPrivateKeyJWT(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	s := newKitSite(t, p, oauthkittest.Client{ID: "pk", AuthMethod: oauthkittest.AuthMethodPrivateKeyJWT, PublicKey: &key.PublicKey},
		client.WithClientAssertionKey(key, "k1"))
	b := browser(t)
	if err := p.LoginAs(t.Context(), b, s.url+"/login", "ada"); err != nil {
		t.Fatal(err)
	}
	s.advance(2 * time.Hour)
	code, at := get(t, b, s.url+"/token")
	if code != http.StatusOK || p.Requests(oauthkittest.Refresh) != 1 {
		t.Fatalf("refresh through the kit: %d %q, %d refresh requests", code, at, p.Requests(oauthkittest.Refresh))
	}
	op, err := oidc.NewProvider(t.Context(), p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.UserInfo(t.Context(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: at})); err != nil {
		t.Fatalf("the refreshed token: %v", err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/logout", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if p.Requests(oauthkittest.Revocation) != 1 {
		t.Fatalf("Requests(Revocation) = %d", p.Requests(oauthkittest.Revocation))
	}
	if _, err := op.UserInfo(t.Context(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: at})); err == nil {
		t.Fatal("the token still answers UserInfo after the kit revoked with an assertion")
	}
}
