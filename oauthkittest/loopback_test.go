package oauthkittest_test

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/oauthkit/oauthkit/oauthkittest"
)

// leaveProvider runs the front channel from u until it leaves the
// provider: the URL it redirects to outside p, or "" and the status of the
// answer that did not redirect (the op's error page).
func leaveProvider(t *testing.T, p *oauthkittest.Provider, u string) (string, int) {
	t.Helper()
	return redirectsUntil(t, u, func(next string) bool { return !strings.HasPrefix(next, p.Issuer()+"/") })
}

// An AnyLoopbackRedirect client is sent back to any loopback redirect URI
// it asks for (any port, any path; localhost, 127.0.0.1, [::1]) and
// exchanges the code for it; look-alikes of loopback, other hosts and
// fragments are refused, and a client without the option gets only its
// registered URI.
func TestAnyLoopbackRedirect(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	dev := newRP(t, p, oauthkittest.Client{ID: "dev", Secret: "s3cret", AnyLoopbackRedirect: true})
	strict := newRP(t, p, oauthkittest.Client{ID: "strict", Secret: "s3cret"})

	authorize := func(r *rp, redirect string) (string, int, string) {
		t.Helper()
		cfg := r.cfg
		cfg.RedirectURL = redirect
		verifier := oauth2.GenerateVerifier()
		if err := p.SetNextLogin("ada"); err != nil {
			t.Fatal(err)
		}
		loc, status := leaveProvider(t, p, cfg.AuthCodeURL("state-12345678", oauth2.S256ChallengeOption(verifier)))
		return loc, status, verifier
	}

	for _, redirect := range []string{
		"http://localhost:8080/auth/dev/callback",
		"http://localhost/callback",
		"http://127.0.0.1:3000/cb?tenant=a",
		"http://[::1]:9000/oauth/callback",
		"https://localhost:8443/callback",
	} {
		loc, status, verifier := authorize(dev, redirect)
		u, _ := url.Parse(loc)
		want, _ := url.Parse(redirect)
		if loc == "" || u.Scheme != want.Scheme || u.Host != want.Host || u.Path != want.Path || u.Query().Get("tenant") != want.Query().Get("tenant") {
			t.Errorf("%s: sent to %q (status %d), want the loopback URI", redirect, loc, status)
			continue
		}
		cfg := dev.cfg
		cfg.RedirectURL = redirect
		if _, err := cfg.Exchange(t.Context(), u.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Errorf("%s: exchange: %v", redirect, err)
		}
	}
	for _, redirect := range []string{
		"http://localhost:1@evil.example/callback",
		"http://evil.example/callback",
		"http://localhost.evil.example/callback",
		"http://127.0.0.1.nip.io/callback",
		"http://localhost:8080/callback#frag",
		"ftp://localhost/callback",
	} {
		if loc, _, _ := authorize(dev, redirect); loc != "" {
			t.Errorf("%s: accepted, sent to %q", redirect, loc)
		}
	}
	if loc, _, _ := authorize(strict, "http://localhost:8080/callback"); loc != "" {
		t.Errorf("a client without AnyLoopbackRedirect was sent to an unregistered loopback URI: %q", loc)
	}
	if loc, _, _ := authorize(strict, redirectURI); !strings.HasPrefix(loc, redirectURI) {
		t.Errorf("the registered URI still works: %q", loc)
	}
}

// End-session sends an AnyLoopbackRedirect client's browser to any
// loopback post_logout_redirect_uri; other clients' to registered ones only.
func TestAnyLoopbackPostLogoutRedirect(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	dev := newRP(t, p, oauthkittest.Client{ID: "dev", Secret: "s3cret", AnyLoopbackRedirect: true})
	strict := newRP(t, p, oauthkittest.Client{ID: "strict", Secret: "s3cret"})
	endSession := func(r *rp, postLogout string) string {
		t.Helper()
		tok, _ := r.login(t, "ada")
		idToken, _ := tok.Extra("id_token").(string)
		var ep struct {
			EndSession string `json:"end_session_endpoint"`
		}
		if err := r.oidc.Claims(&ep); err != nil {
			t.Fatal(err)
		}
		q := url.Values{"id_token_hint": {idToken}, "client_id": {r.cfg.ClientID}, "post_logout_redirect_uri": {postLogout}, "state": {"st"}}
		loc, _ := leaveProvider(t, p, ep.EndSession+"?"+q.Encode())
		return loc
	}
	const bye = "http://localhost:8080/logged-out"
	if loc := endSession(dev, bye); !strings.HasPrefix(loc, bye+"?") {
		t.Errorf("dev client: logged out to %q, want %s", loc, bye)
	}
	if loc := endSession(dev, "http://evil.example/logged-out"); strings.HasPrefix(loc, "http://evil.example") {
		t.Errorf("dev client: logged out to %q", loc)
	}
	if loc := endSession(strict, bye); strings.HasPrefix(loc, bye) {
		t.Errorf("strict client: logged out to the unregistered %q", loc)
	}
}
