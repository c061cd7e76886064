package oauthkittest_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/oauthkit/oauthkit/oauthkittest"
)

// LoginAs signs a browser in to a kit site through the real flow: the
// site's session shows the user, the provider saw one authorize, one login
// and one code exchange.
func TestLoginAsKitSite(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada), oauthkittest.WithUser(bob))
	s := newKitSite(t, p, oauthkittest.Client{ID: "app", Secret: "s3cret"})
	b := browser(t)
	if code, _ := get(t, b, s.url+"/me"); code != http.StatusUnauthorized {
		t.Fatalf("before LoginAs: %d", code)
	}
	if err := p.LoginAs(t.Context(), b, s.url+"/login", "ada"); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, b, s.url+"/me"); code != http.StatusOK || body != "ada ada@example.com true" {
		t.Fatalf("after LoginAs: %d %q", code, body)
	}
	for e, want := range map[oauthkittest.Endpoint]int{oauthkittest.Authorize: 1, oauthkittest.Login: 1, oauthkittest.Token: 1, oauthkittest.Refresh: 0} {
		if got := p.Requests(e); got != want {
			t.Errorf("Requests(%s) = %d, want %d", e, got, want)
		}
	}
}

// Concurrent LoginAs calls of different users, each with its own browser,
// each end up as their own user: the login ticket is per call.
func TestLoginAsConcurrentUsers(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada), oauthkittest.WithUser(bob))
	s := newKitSite(t, p, oauthkittest.Client{ID: "app", Secret: "s3cret", AuthMethod: oauthkittest.AuthMethodPost})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		user := []string{"ada", "bob"}[i%2]
		wg.Go(func() {
			b := browser(t)
			if err := p.LoginAs(t.Context(), b, s.url+"/login", user); err != nil {
				errs <- err
				return
			}
			res, err := b.Get(s.url + "/me")
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			var id string
			fmt.Fscan(res.Body, &id)
			if id != user {
				errs <- fmt.Errorf("LoginAs(%s) signed in %q", user, id)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// LoginAs reports a flow that did not complete, typed.
func TestLoginAsErrors(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	s := newKitSite(t, p, oauthkittest.Client{ID: "app", Secret: "s3cret"})

	if err := p.LoginAs(t.Context(), browser(t), s.url+"/login", "mallory"); !errors.Is(err, oauthkittest.ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}

	var le *oauthkittest.LoginError
	err := p.LoginAs(t.Context(), browser(t), s.url+"/me", "ada") // not a login handler
	if !errors.As(err, &le) || !errors.Is(err, oauthkittest.ErrLogin) || le.Status != http.StatusUnauthorized {
		t.Fatalf("a page instead of the login handler: %v", err)
	}

	// The site's callback fails when the code exchange does.
	p.FailNext(oauthkittest.Token, oauthkittest.OAuthError("invalid_grant", "no"))
	b := browser(t)
	err = p.LoginAs(t.Context(), b, s.url+"/login", "ada")
	if !errors.As(err, &le) || le.Status < 400 || !strings.HasSuffix(strings.SplitN(le.URL, "?", 2)[0], "/callback") {
		t.Fatalf("failed code exchange: %v", err)
	}
	if code, _ := get(t, b, s.url+"/me"); code != http.StatusUnauthorized {
		t.Fatalf("signed in although the exchange failed: %d", code)
	}
}

// A flow the test drives itself (here a plain browser following
// redirects) logs in the user SetNextLogin names.
func TestSetNextLogin(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada), oauthkittest.WithUser(bob))
	s := newKitSite(t, p, oauthkittest.Client{ID: "app", Secret: "s3cret"})
	if err := p.SetNextLogin("bob"); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	b.CheckRedirect = nil // follow every redirect, as a browser does
	if _, err := b.Get(s.url + "/login"); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, b, s.url+"/me"); code != http.StatusOK || !strings.HasPrefix(body, "bob ") {
		t.Fatalf("after SetNextLogin(bob): %d %q", code, body)
	}
	// Without a next login, the provider shows its user list.
	res, err := b.Get(s.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/oauthkittest/login" {
		t.Fatalf("no login chosen: %s at %s", res.Status, res.Request.URL)
	}
}
