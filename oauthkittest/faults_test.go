package oauthkittest_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oauthkit/oauthkit/oauthkittest"
)

// The error-answer faults, as x/oauth2 sees them at the token endpoint,
// each for one request only.
func TestFailNextTokenAnswers(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	for _, c := range []struct {
		name   string
		fault  oauthkittest.Fault
		code   string
		status int
	}{
		{"oauth error", oauthkittest.OAuthError("invalid_grant", "expired"), "invalid_grant", http.StatusBadRequest},
		{"invalid_client is 401", oauthkittest.OAuthError("invalid_client", ""), "invalid_client", http.StatusUnauthorized},
		{"error in 200", oauthkittest.ErrorInOK("bad_verification_code", "the code is wrong"), "bad_verification_code", http.StatusOK},
		{"5xx", oauthkittest.ServerError(http.StatusBadGateway), "", http.StatusBadGateway},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := r.authorize(t, "ada")
			p.FailNext(oauthkittest.Token, c.fault)
			_, err := r.cfg.Exchange(t.Context(), g.resp.Get("code"), oauth2.VerifierOption(g.verifier))
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != c.code || re.Response.StatusCode != c.status {
				t.Fatalf("got %v, want error %q with status %d", err, c.code, c.status)
			}
			// The fault was used up: the same code exchanges now.
			if _, err := r.cfg.Exchange(t.Context(), g.resp.Get("code"), oauth2.VerifierOption(g.verifier)); err != nil {
				t.Fatalf("after the fault: %v", err)
			}
		})
	}
}

// Faults queue per endpoint: a refresh fault leaves the code exchange
// alone, and two faults answer two requests.
func TestFailNextQueuesPerEndpoint(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	p.FailNext(oauthkittest.Refresh, oauthkittest.OAuthError("invalid_grant", ""), oauthkittest.ServerError(http.StatusServiceUnavailable))
	tok, _ := r.login(t, "ada")
	if _, err := r.refresh(t.Context(), tok.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Fatalf("first refresh: %v", err)
	}
	var re *oauth2.RetrieveError
	if _, err := r.refresh(t.Context(), tok.RefreshToken); !errors.As(err, &re) || re.Response.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second refresh: %v", err)
	}
	// Faulted requests never reached the provider: the token is unused.
	if _, err := r.refresh(t.Context(), tok.RefreshToken); err != nil {
		t.Fatalf("third refresh: %v", err)
	}
	p.FailNext(oauthkittest.Refresh, oauthkittest.OAuthError("invalid_grant", ""))
	p.ClearFaults()
	if got := p.Requests(oauthkittest.Refresh); got != 3 {
		t.Fatalf("Requests(Refresh) = %d, want 3", got)
	}
}

// UserInfo and JWKS faults, as go-oidc sees them.
func TestFailNextUserInfoAndJWKS(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	tok, _ := r.login(t, "ada")

	p.FailNext(oauthkittest.UserInfo, oauthkittest.ServerError(http.StatusInternalServerError))
	if _, err := r.oidc.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("userinfo with a 500: %v", err)
	}
	if _, err := r.oidc.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatalf("userinfo after the fault: %v", err)
	}

	// r.verifier has not fetched the key set yet: its first fetch fails.
	p.FailNext(oauthkittest.JWKS, oauthkittest.ServerError(http.StatusServiceUnavailable))
	raw := tok.Extra("id_token").(string)
	if _, err := r.verifier.Verify(t.Context(), raw); err == nil {
		t.Fatal("ID token verified without a key set")
	}
	if _, err := r.verifier.Verify(t.Context(), raw); err != nil {
		t.Fatalf("after the JWKS fault: %v", err)
	}
	if got := p.Requests(oauthkittest.JWKS); got != 2 {
		t.Fatalf("Requests(JWKS) = %d, want 2", got)
	}
}

// Hang holds the answer until the client gives up, or until Close.
func TestFailNextHang(t *testing.T) {
	p, err := oauthkittest.Start(oauthkittest.WithUser(ada))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	tok, _ := r.login(t, "ada")

	waitRequests := func(e oauthkittest.Endpoint, n int) {
		for p.Requests(e) < n {
			time.Sleep(time.Millisecond)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	p.FailNext(oauthkittest.UserInfo, oauthkittest.Hang())
	done := make(chan error)
	go func() {
		_, err := r.oidc.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		done <- err
	}()
	waitRequests(oauthkittest.UserInfo, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("hanging userinfo after cancel: %v", err)
	}

	p.FailNext(oauthkittest.Refresh, oauthkittest.Hang())
	go func() {
		_, err := r.refresh(context.Background(), tok.RefreshToken)
		done <- err
	}()
	waitRequests(oauthkittest.Refresh, 1)
	p.Close() // returns although a handler hangs
	if err := <-done; err == nil {
		t.Fatal("a hanging refresh succeeded")
	}
}

// Delay answers normally, later.
func TestFailNextDelay(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	p.FailNext(oauthkittest.Token, oauthkittest.Delay(10*time.Millisecond))
	if tok, _ := r.login(t, "ada"); tok.AccessToken == "" {
		t.Fatal("no token after a delay")
	}
}

// The ID-token faults keep a valid signature and break one claim: go-oidc
// refuses the audience and the expiry; the nonce is the client's to check.
func TestFailNextIDTokenClaims(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	exchange := func(f oauthkittest.Fault) (*oidc.IDToken, grant, error) {
		g := r.authorize(t, "ada")
		p.FailNext(oauthkittest.Token, f)
		tok, err := r.cfg.Exchange(t.Context(), g.resp.Get("code"), oauth2.VerifierOption(g.verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := r.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
		return idt, g, err
	}
	if _, _, err := exchange(oauthkittest.WrongAudience()); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Fatalf("wrong audience: %v", err)
	}
	var expired *oidc.TokenExpiredError
	if _, _, err := exchange(oauthkittest.ExpiredIDToken()); !errors.As(err, &expired) {
		t.Fatalf("expired: %v", err)
	}
	idt, g, err := exchange(oauthkittest.WrongNonce())
	if err != nil {
		t.Fatalf("wrong nonce, signature: %v", err)
	}
	if idt.Nonce == g.nonce {
		t.Fatal("the nonce was not changed")
	}
	idt, _, err = exchange(oauthkittest.IDTokenClaims(func(c map[string]any) { c["email"] = "eve@example.com" }))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Email string }
	if err := idt.Claims(&claims); err != nil || claims.Email != "eve@example.com" {
		t.Fatalf("custom claim change: %v %q", err, claims.Email)
	}
}

// After a rotation, new tokens carry the new key id: a verifier that
// cached the old key set fetches it again; without keepOld, tokens signed
// before no longer verify.
func TestRotateSigningKey(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	r := newRP(t, p, oauthkittest.Client{ID: "web", Secret: "s3cret"})
	before, _ := r.login(t, "ada")
	if _, err := r.verifier.Verify(t.Context(), before.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}
	if err := p.RotateSigningKey(false); err != nil {
		t.Fatal(err)
	}
	after, _ := r.login(t, "ada")
	if _, err := r.verifier.Verify(t.Context(), after.Extra("id_token").(string)); err != nil {
		t.Fatalf("token signed with the new key: %v", err)
	}
	if got := p.Requests(oauthkittest.JWKS); got != 2 {
		t.Fatalf("Requests(JWKS) = %d, want 2 (refetched for the new kid)", got)
	}
	// A key set of its own: the provider's shared one may still hold the
	// old keys for a moment after a refetch (go-oidc wakes the waiting
	// verifier before it stores the new set).
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := r.oidc.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	fresh := oidc.NewVerifier(p.Issuer(), oidc.NewRemoteKeySet(t.Context(), meta.JWKS), &oidc.Config{ClientID: "web"})
	if _, err := fresh.Verify(t.Context(), before.Extra("id_token").(string)); err == nil {
		t.Fatal("a token of the retired key still verifies")
	}

	if err := p.RotateSigningKey(true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.oidc.Verifier(&oidc.Config{ClientID: "web"}).Verify(t.Context(), after.Extra("id_token").(string)); err != nil {
		t.Fatalf("graceful rotation: the previous key is still published, yet %v", err)
	}
}

// The kit under faults, as an application's tests would check it: a broken
// ID token fails the login at the callback; a refused refresh asks for a
// new login; a rotated key is fetched; a signed-in page makes no provider
// request; logout revokes.
func TestFaultsThroughKitSite(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	s := newKitSite(t, p, oauthkittest.Client{ID: "app", Secret: "s3cret"})

	for name, f := range map[string]oauthkittest.Fault{
		"wrong aud":   oauthkittest.WrongAudience(),
		"wrong nonce": oauthkittest.WrongNonce(),
		"expired":     oauthkittest.ExpiredIDToken(),
		"5xx":         oauthkittest.ServerError(http.StatusBadGateway),
		"error in ok": oauthkittest.ErrorInOK("invalid_grant", ""),
	} {
		t.Run(name, func(t *testing.T) {
			p.FailNext(oauthkittest.Token, f)
			b := browser(t)
			var le *oauthkittest.LoginError
			if err := p.LoginAs(t.Context(), b, s.url+"/login", "ada"); !errors.As(err, &le) || le.Status < 400 {
				t.Fatalf("LoginAs: %v, want the callback's error answer", err)
			}
			if code, _ := get(t, b, s.url+"/me"); code != http.StatusUnauthorized {
				t.Fatalf("signed in after %s: %d", name, code)
			}
		})
	}

	if err := p.RotateSigningKey(false); err != nil {
		t.Fatal(err)
	}
	jwks := p.Requests(oauthkittest.JWKS)
	b := browser(t)
	if err := p.LoginAs(t.Context(), b, s.url+"/login", "ada"); err != nil {
		t.Fatalf("login after a key rotation: %v", err)
	}
	if p.Requests(oauthkittest.JWKS) == jwks {
		t.Fatal("the kit verified a new key id without fetching the key set")
	}

	tokens, infos := p.Requests(oauthkittest.Token), p.Requests(oauthkittest.UserInfo)
	if code, _ := get(t, b, s.url+"/me"); code != http.StatusOK {
		t.Fatalf("/me: %d", code)
	}
	if p.Requests(oauthkittest.Token) != tokens || p.Requests(oauthkittest.UserInfo) != infos {
		t.Fatal("a signed-in page called the provider")
	}

	s.advance(2 * time.Hour) // past the access token's hour
	p.FailNext(oauthkittest.Refresh, oauthkittest.OAuthError("invalid_grant", "revoked"))
	if code, _ := get(t, b, s.url+"/token"); code != http.StatusUnauthorized {
		t.Fatalf("Kit.Token after a refused refresh: %d, want 401 (ErrReauthRequired)", code)
	}
	if got := p.Requests(oauthkittest.Refresh); got != 1 {
		t.Fatalf("Requests(Refresh) = %d, want 1", got)
	}
}

// The kit's logout (RevokeOnLogout) reaches the revocation endpoint with
// the client's registered method, then sends the browser to end-session
// with a form the kit's page posts: the provider ends the grant and lands
// on its signed-out page.
func TestKitLogoutRevokesAndEndsSession(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada))
	s := newKitSite(t, p, oauthkittest.Client{ID: "app", Secret: "s3cret", AuthMethod: oauthkittest.AuthMethodPost})
	b := browser(t)
	if err := p.LoginAs(t.Context(), b, s.url+"/login", "ada"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/logout", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if got := p.Requests(oauthkittest.Revocation); got != 1 {
		t.Fatalf("Requests(Revocation) = %d, want 1", got)
	}
	if code, _ := get(t, b, s.url+"/me"); code != http.StatusUnauthorized {
		t.Fatalf("signed in after logout: %d", code)
	}

	// The page's form, posted as the browser would.
	action := regexp.MustCompile(`action="([^"]+)"`).FindSubmatch(page)
	if res.StatusCode != http.StatusOK || action == nil {
		t.Fatalf("logout: %s %q, want the end-session form", res.Status, page)
	}
	form := url.Values{}
	for _, m := range regexp.MustCompile(`name="([^"]+)" value="([^"]*)"`).FindAllSubmatch(page, -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	res, err = b.PostForm(html.UnescapeString(string(action[1])), form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); res.StatusCode != http.StatusFound || loc == nil || loc.Path != "/oauthkittest/logged-out" {
		t.Fatalf("end-session: %s to %v", res.Status, loc)
	}
	if p.Requests(oauthkittest.EndSession) != 1 {
		t.Fatalf("Requests(EndSession) = %d", p.Requests(oauthkittest.EndSession))
	}
}
