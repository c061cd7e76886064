package oauthkittest_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oauthkit/oauthkit/oauthkittest"
)

// The whole flow as an independent client sees it: discovery, PKCE S256,
// the code exchange, the ID token (signature, issuer, audience, nonce,
// claims) and UserInfo.
func TestProviderCodeFlowWithIndependentClient(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})

	tok, g := r.login(t, "ada")
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("go-oidc refuses the ID token: %v", err)
	}
	if idt.Nonce != g.nonce {
		t.Fatalf("nonce %q, want %q", idt.Nonce, g.nonce)
	}
	var claims struct {
		Email         string   `json:"email"`
		EmailVerified bool     `json:"email_verified"`
		Name          string   `json:"name"`
		Groups        []string `json:"groups"`
		Tenant        string   `json:"tenant"`
		ACR           string   `json:"acr"`
		AuthTime      int64    `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "ada" || claims.Email != "ada@example.com" || !claims.EmailVerified || claims.Name != "Ada Lovelace" ||
		!slices.Equal(claims.Groups, []string{"admins"}) || claims.Tenant != "t1" || claims.ACR != "urn:example:mfa" || claims.AuthTime == 0 {
		t.Fatalf("ID token claims: sub %q %+v", idt.Subject, claims)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	info, err := r.oidc.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if info.Subject != "ada" || info.Email != "ada@example.com" || !info.EmailVerified {
		t.Fatalf("userinfo: %+v", info)
	}
}

// A user's fixed AuthTime is the ID token's auth_time; an unverified email
// says email_verified false.
func TestProviderUserAuthTimeAndUnverifiedEmail(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := bob
	u.AuthTime = at
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(u))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	tok, _ := r.login(t, "bob@example.com") // by email
	idt, err := r.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims["auth_time"] != float64(at.Unix()) || claims["email_verified"] != false {
		t.Fatalf("claims %v", claims)
	}
}

// PKCE is required, with S256 only; a wrong verifier fails the exchange.
func TestProviderRequiresPKCES256(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})

	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"no challenge": nil,
		"plain": {oauth2.SetAuthURLParam("code_challenge", "abcdefghijabcdefghijabcdefghijabcdefghij123"),
			oauth2.SetAuthURLParam("code_challenge_method", "plain")},
	} {
		t.Run(name, func(t *testing.T) {
			resp := follow(t, r.cfg.AuthCodeURL("state-12345678", opts...), redirectURI)
			if resp.Get("error") != "invalid_request" || resp.Get("code") != "" {
				t.Fatalf("authorization response %v, want error=invalid_request", resp)
			}
		})
	}

	g := r.authorize(t, "ada")
	_, err := r.cfg.Exchange(t.Context(), g.resp.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	if oauthCode(err) != "invalid_grant" {
		t.Fatalf("exchange with a wrong verifier: %v, want invalid_grant", err)
	}
}

// Each client authenticates only with the method it is registered for.
func TestProviderEnforcesRegisteredAuthMethod(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	basic := newRP(t, p, oauthkittest.Client{ID: "basic", Secret: "s1", AuthMethod: oauthkittest.AuthMethodBasic})
	post := newRP(t, p, oauthkittest.Client{ID: "post", Secret: "s2", AuthMethod: oauthkittest.AuthMethodPost})

	for _, c := range []struct {
		r          *rp
		right, bad oauth2.AuthStyle
	}{{basic, oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams}, {post, oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader}} {
		t.Run(c.r.cfg.ClientID, func(t *testing.T) {
			c.r.cfg.Endpoint.AuthStyle = c.bad
			g := c.r.authorize(t, "ada")
			_, err := c.r.cfg.Exchange(t.Context(), g.resp.Get("code"), oauth2.VerifierOption(g.verifier))
			if oauthCode(err) != "invalid_client" {
				t.Fatalf("exchange with the other method: %v, want invalid_client", err)
			}
			c.r.cfg.Endpoint.AuthStyle = c.right
			tok, err := c.r.cfg.Exchange(t.Context(), g.resp.Get("code"), oauth2.VerifierOption(g.verifier))
			if err != nil {
				t.Fatalf("exchange with the registered method: %v", err)
			}
			c.r.cfg.ClientSecret = "wrong"
			if _, err := c.r.refresh(t.Context(), tok.RefreshToken); oauthCode(err) != "invalid_client" {
				t.Fatalf("refresh with a wrong secret: %v, want invalid_client", err)
			}
		})
	}
}

// Refresh tokens rotate; presenting a rotated one is reuse and revokes the
// whole grant, the newest refresh token included.
func TestProviderRefreshRotationAndReuseDetection(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	tok, _ := r.login(t, "ada")

	next, err := r.refresh(t.Context(), tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Fatal("the refresh did not rotate the refresh token")
	}
	if _, err := r.verifier.Verify(t.Context(), next.Extra("id_token").(string)); err != nil {
		t.Fatalf("refreshed ID token: %v", err)
	}
	if _, err := r.refresh(t.Context(), tok.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Fatalf("reuse of the rotated token: %v, want invalid_grant", err)
	}
	if _, err := r.refresh(t.Context(), next.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Fatalf("newest token after reuse: %v, want invalid_grant (grant revoked)", err)
	}
	if _, err := r.oidc.UserInfo(t.Context(), oauth2.StaticTokenSource(next)); err == nil {
		t.Fatal("access token of the revoked grant still answers UserInfo")
	}
	if got := p.Requests(oauthkittest.Refresh); got != 3 {
		t.Fatalf("Requests(Refresh) = %d, want 3", got)
	}
	if got := p.Requests(oauthkittest.Token); got != 1 {
		t.Fatalf("Requests(Token) = %d, want 1", got)
	}
}

// A code is exchanged once; its replay fails and revokes what the first
// exchange issued.
func TestProviderCodeReplayRevokesGrant(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	g := r.authorize(t, "ada")
	tok, err := r.cfg.Exchange(t.Context(), g.resp.Get("code"), oauth2.VerifierOption(g.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.cfg.Exchange(t.Context(), g.resp.Get("code"), oauth2.VerifierOption(g.verifier)); oauthCode(err) != "invalid_grant" {
		t.Fatalf("replayed code: %v, want invalid_grant", err)
	}
	if _, err := r.refresh(t.Context(), tok.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Fatalf("refresh after the replay: %v, want invalid_grant", err)
	}
}

// RFC 7009 revocation of the refresh token ends the grant.
func TestProviderRevocation(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	tok, _ := r.login(t, "ada")

	var meta struct {
		Revocation string `json:"revocation_endpoint"`
	}
	if err := r.oidc.Claims(&meta); err != nil || meta.Revocation == "" {
		t.Fatalf("no revocation_endpoint in discovery: %v", err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, meta.Revocation,
		strings.NewReader(url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("web", "s3cret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revocation: %s", res.Status)
	}
	if _, err := r.refresh(t.Context(), tok.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Fatalf("refresh after revocation: %v, want invalid_grant", err)
	}
	if _, err := r.oidc.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Fatal("access token of the revoked grant still answers UserInfo")
	}
	if p.Requests(oauthkittest.Revocation) != 1 {
		t.Fatalf("Requests(Revocation) = %d", p.Requests(oauthkittest.Revocation))
	}
}

// RP-initiated logout: end_session with the ID token as hint redirects to
// the registered post-logout URI and ends the user's grants at the client.
func TestProviderEndSession(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret", RedirectURIs: []string{redirectURI},
		PostLogoutRedirectURIs: []string{"http://127.0.0.1:9/bye"}})
	tok, _ := r.login(t, "ada")
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := r.oidc.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("no end_session_endpoint: %v", err)
	}
	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}, "state": {"s1"}}
	resp := follow(t, meta.EndSession+"?"+q.Encode(), "http://127.0.0.1:9/bye")
	if resp.Get("state") != "s1" {
		t.Fatalf("post-logout redirect query %v", resp)
	}
	if _, err := r.refresh(t.Context(), tok.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Fatalf("refresh after end-session: %v, want invalid_grant", err)
	}

	q.Set("post_logout_redirect_uri", "http://evil.example/")
	res, err := http.Get(meta.EndSession + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("unregistered post_logout_redirect_uri: %s, want 400", res.Status)
	}
}

// A public client (AuthMethodNone) uses PKCE only; its loopback redirect
// URI matches on any port.
func TestProviderPublicClientLoopbackAnyPort(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "cli", AuthMethod: oauthkittest.AuthMethodNone, RedirectURIs: []string{"http://127.0.0.1/cb"}})
	r.cfg.RedirectURL = "http://127.0.0.1:54321/cb"
	tok, _ := r.login(t, "ada")
	if _, err := r.verifier.Verify(t.Context(), tok.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}
}

// Registration refuses what no provider would accept.
func TestProviderAddClientRefusesBadRegistrations(t *testing.T) {
	p := oauthkittest.NewProvider(t)
	for _, c := range []oauthkittest.Client{
		{},
		{ID: "x"}, // basic without secret
		{ID: "x", Secret: "s", AuthMethod: "client_secret_jwt"},
		{ID: "x", AuthMethod: oauthkittest.AuthMethodPrivateKeyJWT},
	} {
		if err := p.AddClient(c); !errors.Is(err, oauthkittest.ErrRegistration) {
			t.Errorf("AddClient(%+v) = %v, want ErrRegistration", c, err)
		}
	}
	if err := p.AddClient(oauthkittest.Client{ID: "x", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if err := p.AddClient(oauthkittest.Client{ID: "x", Secret: "s"}); !errors.Is(err, oauthkittest.ErrRegistration) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := p.AddUser(oauthkittest.User{}); !errors.Is(err, oauthkittest.ErrRegistration) {
		t.Fatalf("user without subject: %v", err)
	}
	if err := p.SetNextLogin("nobody"); !errors.Is(err, oauthkittest.ErrUnknownUser) {
		t.Fatalf("SetNextLogin(nobody) = %v", err)
	}
}

// Close ends the provider: discovery fails afterwards.
func TestProviderClose(t *testing.T) {
	p, err := oauthkittest.Start()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oidc.NewProvider(t.Context(), p.Issuer()); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close()
	if _, err := oidc.NewProvider(t.Context(), p.Issuer()); err == nil {
		t.Fatal("discovery works after Close")
	}
}
