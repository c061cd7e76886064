package oauthkittest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
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

// openLoginPage starts a login at s in a browser that follows redirects
// and returns the provider's login page it stops at: its URL, its answer
// and its body.
func openLoginPage(t *testing.T, s *kitSite) (*http.Client, *http.Response, string) {
	t.Helper()
	b := browser(t)
	b.CheckRedirect = nil
	res, err := b.Get(s.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/oauthkittest/login" {
		t.Fatalf("login page: %s at %s", res.Status, res.Request.URL)
	}
	return b, res, string(body)
}

// submit posts the login page's form with fields (and the page's
// authorization request id) and returns the answer, redirects followed.
func submit(t *testing.T, b *http.Client, page *http.Response, fields url.Values) (*http.Response, string) {
	t.Helper()
	fields.Set("authRequestID", page.Request.URL.Query().Get("authRequestID"))
	res, err := b.PostForm(page.Request.URL.String(), fields)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// The login page is self-contained and locked down: its one style sheet is
// inline and the CSP allows it by hash and nothing else (no script, no
// image, no frame ancestor), it loads nothing from elsewhere, and what
// users and the client register is escaped.
func TestLoginPageSelfContained(t *testing.T) {
	hostile := oauthkittest.User{Subject: `x"><script>alert(1)</script>`, Name: `<img src=x onerror=alert(2)>`, Email: "e@example.com"}
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada), oauthkittest.WithUser(hostile))
	s := newKitSite(t, p, oauthkittest.Client{ID: `app<i>`, Secret: "s3cret"})
	_, res, body := openLoginPage(t, s)

	csp := res.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("%d style elements", len(m))
	}
	sum := sha256.Sum256([]byte(m[0][1]))
	want := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; frame-ancestors 'none'"
	if csp != want {
		t.Errorf("CSP %q, want %q", csp, want)
	}
	if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", res.Header)
	}
	for _, bad := range []string{"<script", "<img", "<i>", "<link", "url(", "@import", "style="} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if tag := regexp.MustCompile(`<[a-z][^>]*\s(src|href)=`).FindString(body); tag != "" {
		t.Errorf("page loads or links something: %s", tag)
	}
	for _, shown := range []string{"Ada Lovelace", "ada@example.com", "&lt;img src=x onerror=alert(2)&gt;", "app&lt;i&gt;"} {
		if !strings.Contains(body, shown) {
			t.Errorf("page lacks %q", shown)
		}
	}
	if !strings.Contains(body, `returning to <b id="return-to">`+s.url+`</b>`) {
		t.Errorf("page does not name where it returns to (%s)", s.url)
	}
	if strings.Contains(body, `id="password-form"`) {
		t.Error("a password form although no user has a password")
	}
}

// One click on a user's button signs that user in to the site.
func TestLoginPageOneClick(t *testing.T) {
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada), oauthkittest.WithUser(bob))
	s := newKitSite(t, p, oauthkittest.Client{ID: "app", Secret: "s3cret"})
	b, page, body := openLoginPage(t, s)
	if !strings.Contains(body, `name="subject" value="bob"`) {
		t.Fatalf("no button for bob: %s", body)
	}
	if res, _ := submit(t, b, page, url.Values{"subject": {"bob"}}); res.Request.URL.Host != strings.TrimPrefix(s.url, "http://") {
		t.Fatalf("after the click: %s at %s", res.Status, res.Request.URL)
	}
	if code, got := get(t, b, s.url+"/me"); code != http.StatusOK || got != "bob bob@example.com false" {
		t.Fatalf("after the click: %d %q", code, got)
	}
}

// The password form signs in a user with a Password by subject or email;
// a wrong password, an unknown user or a user without a password gets the
// page again with an error (401) and no session.
func TestLoginPagePassword(t *testing.T) {
	carol := oauthkittest.User{Subject: "carol", Email: "carol@example.com", EmailVerified: true, Password: "open sesame"}
	p := oauthkittest.NewProvider(t, oauthkittest.WithUser(ada), oauthkittest.WithUser(carol))
	s := newKitSite(t, p, oauthkittest.Client{ID: "app", Secret: "s3cret"})

	for _, wrong := range []url.Values{
		{"username": {"carol"}, "password": {"open"}},
		{"username": {"mallory"}, "password": {"open sesame"}},
		{"username": {"ada"}, "password": {""}}, // no Password: never by form
		{"username": {""}, "password": {"open sesame"}},
	} {
		b, page, body := openLoginPage(t, s)
		if !strings.Contains(body, `id="password-form"`) {
			t.Fatal("no password form")
		}
		res, body := submit(t, b, page, wrong)
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `id="error"`) {
			t.Errorf("%v: %s, error shown: %v", wrong, res.Status, strings.Contains(body, `id="error"`))
		}
		if code, _ := get(t, b, s.url+"/me"); code != http.StatusUnauthorized {
			t.Errorf("%v: signed in", wrong)
		}
	}
	for _, name := range []string{"carol", "Carol@Example.com"} {
		b, page, _ := openLoginPage(t, s)
		submit(t, b, page, url.Values{"username": {name}, "password": {"open sesame"}})
		if code, got := get(t, b, s.url+"/me"); code != http.StatusOK || got != "carol carol@example.com true" {
			t.Errorf("password login as %s: %d %q", name, code, got)
		}
	}
}

// DemoUsers all sign in with DemoPassword through the password form.
func TestDemoUsers(t *testing.T) {
	var opts []oauthkittest.Option
	for _, u := range oauthkittest.DemoUsers() {
		opts = append(opts, oauthkittest.WithUser(u))
	}
	p := oauthkittest.NewProvider(t, opts...)
	s := newKitSite(t, p, oauthkittest.Client{ID: "app", Secret: "s3cret"})
	for _, u := range oauthkittest.DemoUsers() {
		b, page, _ := openLoginPage(t, s)
		submit(t, b, page, url.Values{"username": {u.Subject}, "password": {oauthkittest.DemoPassword}})
		if code, got := get(t, b, s.url+"/me"); code != http.StatusOK || !strings.HasPrefix(got, u.Subject+" "+u.Email) {
			t.Errorf("%s: %d %q", u.Subject, code, got)
		}
	}
}

// BenchmarkLoginAs is one LoginAs through a kit site on loopback: the
// login start, authorize, the ticketed login step, the callback with its
// code exchange and UserInfo; each iteration a new browser.
func BenchmarkLoginAs(b *testing.B) {
	p := oauthkittest.NewProvider(b, oauthkittest.WithUser(ada))
	s := newKitSite(b, p, oauthkittest.Client{ID: "app", Secret: "s3cret"})
	b.ReportAllocs()
	for b.Loop() {
		if err := p.LoginAs(b.Context(), browser(b), s.url+"/login", "ada"); err != nil {
			b.Fatal(err)
		}
	}
}
