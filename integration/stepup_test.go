package integration

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// TestKitStepUpOIDCProvider: a step-up against panva/oidc-provider, which
// honours max_age. RequireRecentAuth(0) sends max_age=0, which makes the
// provider show its login form again although its session is fresh (it
// turns max_age=0 into prompt=login), and the new ID token's auth_time
// passes the callback's check. The site's clock is moved rather than
// waited on. A step-up completed while the site's
// clock is still two hours ahead fails closed (ErrStepUpFailed, the user
// stays signed in with the earlier login): the provider authenticates
// again, but the auth_time it reports is two hours old by the site's
// clock, as an ignored max_age would leave it.
func TestKitStepUpOIDCProvider(t *testing.T) {
	const redirect = "http://127.0.0.1:9/callback"
	reg := opClient{ID: "kit-stepup", Secret: randomString(), RedirectURIs: []string{redirect}}
	op := startOIDCProvider(t, reg)
	ctx, cancel := context.WithTimeout(t.Context(), budget(t))
	defer cancel()
	o, err := client.DiscoverOpenID(ctx, op.Issuer, reg.ID, reg.Secret, client.WithName("op"))
	if err != nil {
		t.Fatal(err)
	}
	s := newKitSite(t, oauthkit.Provider{Client: o, RedirectURL: redirect, LocalLogout: true}, nil)
	b := browserClient(t)
	authorize := func(authURL string) *url.URL { return op.Login(t, b, authURL, "alice") }
	if id := s.login(t, b, authorize); id != "alice" || op.loginForms.Load() != 1 {
		t.Fatalf("first login: user %q, %d login forms", id, op.loginForms.Load())
	}
	// oidc-provider puts auth_time in an ID token only when asked (max_age,
	// prompt=login): without it no login is recent, however fresh.
	if res := s.do(t, b, http.MethodGet, "/recent", nil); res.StatusCode != http.StatusFound {
		t.Fatalf("a login without auth_time at /recent: %s", res.Status)
	}

	stepUp := func() (authURL string) {
		t.Helper()
		res := s.do(t, b, http.MethodGet, "/recent", nil)
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusFound || loc != "/login?step_up_max_age=0&next=%2Frecent" {
			t.Fatalf("stale login at /recent: %s to %q", res.Status, loc)
		}
		res = s.do(t, b, http.MethodGet, loc, nil)
		authURL = res.Header.Get("Location")
		if res.StatusCode != http.StatusFound || !strings.Contains(authURL, "max_age=0") {
			t.Fatalf("step-up login start: %s to %q", res.Status, authURL)
		}
		return authURL
	}

	// The site's clock moves two hours on; the provider's does not.
	s.expire()
	resp := authorize(stepUp())
	if res := s.do(t, b, http.MethodGet, "/callback?"+resp.RawQuery, nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("step-up with the site's clock two hours ahead: %s", res.Status)
	}
	if errs := s.errors(); len(errs) != 1 || !errors.Is(errs[0], oauthkit.ErrStepUpFailed) {
		t.Fatalf("kit errors %v, want one ErrStepUpFailed", errs)
	}
	if op.loginForms.Load() != 2 {
		t.Fatalf("%d login forms: max_age=0 must make the provider authenticate again", op.loginForms.Load())
	}
	if s.me(t, b) != "alice" {
		t.Fatal("a failed step-up signed the user out")
	}

	// Back on time: the login still has no auth_time and is stepped up;
	// the provider authenticates again and its auth_time passes.
	start := time.Now().Unix()
	authURL := stepUp()
	s.clock.offset.Store(0)
	resp = authorize(authURL)
	res := s.do(t, b, http.MethodGet, "/callback?"+resp.RawQuery, nil)
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/recent" {
		t.Fatalf("step-up callback: %s to %q; kit errors %v", res.Status, res.Header.Get("Location"), s.errors())
	}
	if op.loginForms.Load() != 3 {
		t.Fatalf("%d login forms, want 3", op.loginForms.Load())
	}
	res = s.do(t, b, http.MethodGet, "/recent", nil)
	body, _ := io.ReadAll(res.Body)
	at, _ := strconv.ParseInt(string(body), 10, 64)
	if res.StatusCode != http.StatusOK || at < start {
		t.Fatalf("after the step-up /recent: %s, auth_time %s, want at least %d", res.Status, body, start)
	}
}
