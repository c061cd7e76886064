package oauthkittest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/endpoints"

	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/oauthkittest"
)

var octocat = oauthkittest.GitHubUser{
	Login: "octocat", ID: 583231, Name: "The Octocat",
	Emails: []oauthkittest.GitHubEmail{
		{Email: "old@example.com", Verified: true},
		{Email: "octocat@example.com", Primary: true, Verified: true, Visibility: "private"},
	},
}

// githubSite is a kit site with the kit's own GitHub client, whose HTTP
// client reaches the fake.
func githubSite(t *testing.T, gh *oauthkittest.GitHub, opts ...client.Option) string {
	t.Helper()
	return newSite(t, func(callback string) client.Provider {
		if err := gh.AddClient(oauthkittest.Client{ID: "gh-app", Secret: "gh-secret", RedirectURIs: []string{callback}}); err != nil {
			t.Fatal(err)
		}
		c, err := client.NewGitHub("gh-app", "gh-secret", append([]client.Option{client.WithHTTPClient(gh.HTTPClient())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}).url
}

// The kit's GitHub client against the fake: the numeric id and the
// primary verified address of /user/emails.
func TestGitHubLoginAsKitSite(t *testing.T) {
	gh := oauthkittest.NewGitHub(t, oauthkittest.WithGitHubUser(octocat))
	site := githubSite(t, gh)
	b := browser(t)
	if err := gh.LoginAs(t.Context(), b, site+"/login", "octocat"); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, b, site+"/me"); body != "583231 octocat@example.com true" {
		t.Fatalf("/me = %q", body)
	}
	if gh.Requests(oauthkittest.Token) != 1 || gh.Requests(oauthkittest.UserInfo) != 1 || gh.Requests(oauthkittest.Emails) != 1 {
		t.Fatalf("requests: token %d, user %d, emails %d", gh.Requests(oauthkittest.Token), gh.Requests(oauthkittest.UserInfo), gh.Requests(oauthkittest.Emails))
	}
}

// Without the user:email scope /user/emails answers 404, and the kit
// signs the user in without an email.
func TestGitHubEmailsNeedScope(t *testing.T) {
	gh := oauthkittest.NewGitHub(t, oauthkittest.WithGitHubUser(octocat))
	site := githubSite(t, gh, client.WithScopes("read:user"))
	b := browser(t)
	if err := gh.LoginAs(t.Context(), b, site+"/login", "octocat"); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, b, site+"/me"); body != "583231  false" {
		t.Fatalf("/me = %q", body)
	}
}

// An independent client (x/oauth2 with its GitHub endpoint) sees GitHub's
// shapes: a form-encoded token answer, errors inside 200 OK, comma scopes.
func TestGitHubWithIndependentClient(t *testing.T) {
	gh := oauthkittest.NewGitHub(t, oauthkittest.WithGitHubUser(octocat),
		oauthkittest.WithGitHubClient(oauthkittest.Client{ID: "x", Secret: "y", RedirectURIs: []string{redirectURI}}))
	cfg := oauth2.Config{ClientID: "x", ClientSecret: "y", Endpoint: endpoints.GitHub, RedirectURL: redirectURI, Scopes: []string{"read:user", "user:email"}}
	ctx := t.Context()
	ctx = contextWithClient(ctx, gh.HTTPClient())

	if err := gh.SetNextLogin("octocat"); err != nil {
		t.Fatal(err)
	}
	verifier := oauth2.GenerateVerifier()
	hc := gh.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := hc.Get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil || loc.Query().Get("state") != "st" {
		t.Fatalf("authorize: %s %v", res.Status, loc)
	}

	_, err = cfg.Exchange(ctx, "not-a-code", oauth2.VerifierOption(verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "bad_verification_code" || re.Response.StatusCode != http.StatusOK {
		t.Fatalf("bad code: %v, want bad_verification_code in a 200", err)
	}
	if _, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption("wrong")); !errors.As(err, &re) || re.ErrorCode != "bad_verification_code" {
		t.Fatalf("wrong verifier: %v", err)
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("scope") != "read:user,user:email" {
		t.Fatalf("scope %v", tok.Extra("scope"))
	}
	res, err = cfg.Client(ctx, tok).Get("https://api.github.com/user")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var u struct {
		Login string
		ID    int64
		Email *string
	}
	body, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(body, &u); err != nil || u.Login != "octocat" || u.ID != 583231 || u.Email != nil {
		t.Fatalf("/user: %s", body)
	}
}

// GitHubExpiringTokens issue refresh tokens that rotate.
func TestGitHubExpiringTokensRefresh(t *testing.T) {
	gh := oauthkittest.NewGitHub(t, oauthkittest.GitHubExpiringTokens(), oauthkittest.WithGitHubUser(octocat),
		oauthkittest.WithGitHubClient(oauthkittest.Client{ID: "x", Secret: "y", RedirectURIs: []string{redirectURI}}))
	cfg := oauth2.Config{ClientID: "x", ClientSecret: "y", Endpoint: endpoints.GitHub, RedirectURL: redirectURI}
	ctx := contextWithClient(t.Context(), gh.HTTPClient())
	if err := gh.SetNextLogin("octocat"); err != nil {
		t.Fatal(err)
	}
	hc := gh.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := hc.Get(cfg.AuthCodeURL("st"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := res.Location()
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"))
	if err != nil || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("exchange: %v %+v", err, tok)
	}
	next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %v", err)
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Fatal("a used refresh token refreshed again")
	}
}

// GitHub's 200-with-error at the token endpoint fails the kit's callback.
func TestGitHubFaultFailsLogin(t *testing.T) {
	gh := oauthkittest.NewGitHub(t, oauthkittest.WithGitHubUser(octocat))
	site := githubSite(t, gh)
	gh.FailNext(oauthkittest.Token, oauthkittest.ErrorInOK("bad_verification_code", "The code passed is incorrect or expired."))
	b := browser(t)
	var le *oauthkittest.LoginError
	if err := gh.LoginAs(t.Context(), b, site+"/login", "octocat"); !errors.As(err, &le) || le.Status < 400 {
		t.Fatalf("LoginAs: %v, want the callback's error answer", err)
	}
	if code, _ := get(t, b, site+"/me"); code != http.StatusUnauthorized {
		t.Fatalf("signed in: %d", code)
	}
	if err := gh.LoginAs(t.Context(), b, site+"/login", "nobody"); !errors.Is(err, oauthkittest.ErrUnknownUser) {
		t.Fatalf("unknown login: %v", err)
	}
}
