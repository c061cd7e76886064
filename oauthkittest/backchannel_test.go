package oauthkittest_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthkit/oauthkit/oauthkittest"
)

// LogoutUser ends the user's grants and sends each client with a
// back-channel logout URI a logout token per provider session, which the
// kit accepts: every site session of the user ends. A client whose URI
// does not accept the token is reported.
func TestLogoutUserBackChannel(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada), oauthkittest.WithUser(bob))
	s := newKitSite(t, p, oauthkittest.Client{ID: "app", Secret: "s3cret"})
	laptop, phone, other := browser(t), browser(t), browser(t)
	for _, b := range []*http.Client{laptop, phone} {
		if err := p.LoginAs(t.Context(), b, s.url+"/login", "ada"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.LoginAs(t.Context(), other, s.url+"/login", "bob"); err != nil {
		t.Fatal(err)
	}
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret", BackChannelLogoutURI: s.url + "/not-the-handler"})
	tok, _ := r.login(t, "ada")

	err := p.LogoutUser(t.Context(), "ada")
	if !errors.Is(err, oauthkittest.ErrBackChannelLogout) || !strings.Contains(err.Error(), "/not-the-handler") || strings.Contains(err.Error(), "/backchannel") {
		t.Fatalf("LogoutUser: %v, want only the failed delivery to /not-the-handler", err)
	}
	for name, b := range map[string]*http.Client{"laptop": laptop, "phone": phone} {
		if code, _ := get(t, b, s.url+"/me"); code != http.StatusUnauthorized {
			t.Errorf("%s still signed in: %d", name, code)
		}
	}
	if code, _ := get(t, other, s.url+"/me"); code != http.StatusOK {
		t.Errorf("another user's session ended: %d", code)
	}
	if _, err := r.refresh(t.Context(), tok.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Fatalf("refresh after LogoutUser: %v, want invalid_grant", err)
	}
}

// LogoutToken makes a token a test sends itself: the kit accepts it once
// and refuses its replay.
func TestLogoutTokenReplay(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	s := newKitSite(t, p, oauthkittest.Client{ID: "app", Secret: "s3cret"})
	tok, err := p.LogoutToken("app", "ada", "")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{http.StatusOK, http.StatusBadRequest} {
		res, err := http.PostForm(s.url+"/backchannel", url.Values{"logout_token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("delivery %d: %s, want %d", i+1, res.Status, want)
		}
	}
	if err := p.LogoutUser(t.Context(), "nobody"); !errors.Is(err, oauthkittest.ErrUnknownUser) {
		t.Fatalf("LogoutUser(nobody) = %v", err)
	}
}

// The ID token's sid is what logout tokens name.
func TestIDTokenCarriesSID(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	tok, _ := r.login(t, "ada")
	idt, err := r.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ SID string }
	if err := idt.Claims(&c); err != nil || c.SID == "" {
		t.Fatalf("sid %q (%v)", c.SID, err)
	}
}
