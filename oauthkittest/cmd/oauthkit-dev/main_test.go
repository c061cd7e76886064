package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// tryItLocally is the README's "Try it locally" site, word for word
// between the markers (TestREADMETryItLocally checks): the Quick start's
// code with a client of the oauthkit-dev provider at issuer, for a site at
// base (http://localhost:8080 in the README).
func tryItLocally(issuer, base string) http.Handler {
	// README: begin
	sm := scs.New()
	sm.Cookie.Secure = false // plain http on localhost; keep true in production

	// The issuer, client id and secret oauthkit-dev prints. LazyOpenID
	// discovers the provider on the first login, so the site starts first.
	dev, err := client.LazyOpenID(issuer, "oauthkit-dev", "oauthkit-dev-secret", client.WithName("dev"))
	if err != nil {
		log.Fatal(err)
	}
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:  sm,
		Providers: []oauthkit.Provider{{Client: dev, RedirectURL: base + "/auth/dev/callback"}},
		LoginPath: "/auth/dev/login",
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /auth/dev/login", kit.LoginHandler("dev"))
	mux.Handle("GET /auth/dev/callback", kit.CallbackHandler("dev"))
	mux.Handle("POST /logout", kit.LogoutHandler())
	mux.Handle("GET /settings", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := kit.User(r.Context())
		fmt.Fprintf(w, "Hello %s", u.Email)
	})))
	handler := sm.LoadAndSave(mux)
	// README: end
	return handler
}

// The README shows tryItLocally's code, so following the README runs the
// code these tests run.
func TestREADMETryItLocally(t *testing.T) {
	src, err := os.ReadFile("main_test.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)// README: begin\n(.*?)\t// README: end`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no README markers")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`(?m)^\t`).ReplaceAllString(string(m[1]), "")
	if !strings.Contains(string(readme), code) {
		t.Errorf("README.md lacks the try-it-locally code:\n%s", code)
	}
}

// devCommand is a run of the command in the test: what it printed.
type devCommand struct {
	issuer, clientID, secret string
	out                      []string
	done                     chan error
}

// startDev runs the command with args (and -addr 127.0.0.1:0) until the
// test ends, and reads the issuer, client id and secret it prints.
func startDev(t *testing.T, args ...string) *devCommand {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	d := &devCommand{done: make(chan error, 1)}
	go func() {
		err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw, io.Discard)
		_ = pw.CloseWithError(errors.New("run returned"))
		d.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-d.done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	field := regexp.MustCompile(`^  (issuer|client id|client secret) +(\S+)$`)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		d.out = append(d.out, line)
		if m := field.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "issuer":
				d.issuer = m[2]
			case "client id":
				d.clientID = m[2]
			case "client secret":
				d.secret = m[2]
			}
		}
		if strings.HasPrefix(line, "Stop with") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if d.issuer == "" {
		t.Fatalf("no issuer printed: %q", d.out)
	}
	return d
}

// startSite serves tryItLocally for d on a free port of localhost and
// returns its base URL.
func startSite(t *testing.T, d *devCommand) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	_, port, _ := strings.Cut(srv.Listener.Addr().String(), ":")
	base := "http://localhost:" + port
	srv.Config.Handler = tryItLocally(d.issuer, base)
	srv.Start()
	t.Cleanup(srv.Close)
	return base
}

// newBrowser follows redirects and keeps cookies, as a browser does.
func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// page is a GET or a form POST, redirects followed: where it ended, its
// status and body.
func page(t *testing.T, b *http.Client, u string, form url.Values) (*url.URL, int, string) {
	t.Helper()
	var res *http.Response
	var err error
	if form == nil {
		res, err = b.Get(u)
	} else {
		res, err = b.PostForm(u, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.Request.URL, res.StatusCode, string(body)
}

// signIn opens /settings of the site at base, which sends the browser to
// the provider's login page, and posts form there (plus the page's
// authorization request id): the final page.
func signIn(t *testing.T, base string, form url.Values) (*url.URL, int, string) {
	t.Helper()
	b := newBrowser(t)
	at, status, body := page(t, b, base+"/settings", nil)
	if status != http.StatusOK || at.Path != "/oauthkittest/login" {
		t.Fatalf("GET /settings ended at %s (%d): %s", at, status, body)
	}
	form.Set("authRequestID", at.Query().Get("authRequestID"))
	return page(t, b, at.String(), form)
}

// The command prints the issuer, the stable client id and secret and the
// demo users; the README's site, configured with them, signs a user in
// with the password form and with one click, and a wrong password signs
// nobody in.
func TestRunSignsInTheREADMESite(t *testing.T) {
	d := startDev(t)
	if d.clientID != defaultClientID || d.secret != defaultSecret {
		t.Fatalf("printed client %q / %q, want the defaults", d.clientID, d.secret)
	}
	out := strings.Join(d.out, "\n")
	for _, u := range []string{"test-user ", "test-user2", "admin", "unverified", "password verysecure"} {
		if !strings.Contains(out, u) {
			t.Errorf("the output does not list %q:\n%s", u, out)
		}
	}
	base := startSite(t, d)

	at, status, body := signIn(t, base, url.Values{"username": {"test-user2"}, "password": {"verysecure"}})
	if at.String() != base+"/settings" || status != http.StatusOK || body != "Hello test-user2@example.com" {
		t.Errorf("password form: %s %d %q", at, status, body)
	}
	at, status, body = signIn(t, base, url.Values{"subject": {"admin"}})
	if at.String() != base+"/settings" || status != http.StatusOK || body != "Hello admin@example.com" {
		t.Errorf("one click: %s %d %q", at, status, body)
	}
	at, status, _ = signIn(t, base, url.Values{"username": {"test-user2"}, "password": {"wrong"}})
	if at.Path != "/oauthkittest/login" || status != http.StatusUnauthorized {
		t.Errorf("wrong password: %s %d", at, status)
	}
}

// -users replaces the demo users: the file's users (one with a password,
// one click-only) are the ones listed and the ones who sign in.
func TestRunUsersFile(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(users, []byte(`[
		{"sub": "ada", "email": "ada@example.com", "email_verified": true, "name": "Ada", "groups": ["admins"], "password": "pw1", "claims": {"tenant": "t1"}},
		{"sub": "bob", "email": "bob@example.com"}
	]`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, "-users", users)
	out := strings.Join(d.out, "\n")
	if strings.Contains(out, "test-user") || !strings.Contains(out, "ada") || !strings.Contains(out, "no password") {
		t.Errorf("the output does not list the file's users:\n%s", out)
	}
	base := startSite(t, d)
	if _, _, body := signIn(t, base, url.Values{"username": {"ada"}, "password": {"pw1"}}); body != "Hello ada@example.com" {
		t.Errorf("ada with her password: %q", body)
	}
	if _, _, body := signIn(t, base, url.Values{"subject": {"bob"}}); body != "Hello bob@example.com" {
		t.Errorf("bob with a click: %q", body)
	}
	if _, status, _ := signIn(t, base, url.Values{"username": {"bob"}, "password": {""}}); status != http.StatusUnauthorized {
		t.Errorf("bob has no password, yet: %d", status)
	}
	if _, _, body := signIn(t, base, url.Values{"username": {"test-user"}, "password": {"verysecure"}}); strings.HasPrefix(body, "Hello") {
		t.Errorf("a demo user signed in although -users replaced them: %q", body)
	}
}

// -client-id and -client-secret replace the defaults: the printed
// credentials are the ones the revocation endpoint authenticates (200 for
// a token it does not know, RFC 7009), the default ones are refused.
func TestRunClientFlags(t *testing.T) {
	d := startDev(t, "-client-id", "my-app", "-client-secret", "my-secret")
	if d.clientID != "my-app" || d.secret != "my-secret" {
		t.Fatalf("printed client %q / %q", d.clientID, d.secret)
	}
	revoke := func(id, secret string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, d.issuer+"/revoke", strings.NewReader(url.Values{"token": {"unknown"}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := revoke("my-app", "my-secret"); got != http.StatusOK {
		t.Errorf("the printed credentials: %d, want 200", got)
	}
	if got := revoke(defaultClientID, defaultSecret); got == http.StatusOK {
		t.Errorf("the default credentials were accepted")
	}
	if got := revoke("my-app", defaultSecret); got == http.StatusOK {
		t.Errorf("a wrong secret was accepted")
	}
}

// run refuses what would make it unsafe or wrong, before it listens: an
// address off loopback, a -users file that is malformed, misspelt, empty,
// or has a user without "sub" or one twice, and stray arguments.
func TestRunRefuses(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-addr", "0.0.0.0:9999"}, "loopback"},
		{[]string{"-addr", ":9999"}, "loopback"},
		{[]string{"-addr", "192.0.2.1:9999"}, "loopback"},
		{[]string{"-addr", "nonsense"}, "nonsense"},
		{[]string{"-users", file("bad.json", `{`)}, "bad.json"},
		{[]string{"-users", file("misspelt.json", `[{"sub": "a", "emial": "a@example.com"}]`)}, "emial"},
		{[]string{"-users", file("empty.json", `[]`)}, "no users"},
		{[]string{"-users", file("nosub.json", `[{"email": "a@example.com"}]`)}, `no "sub"`},
		{[]string{"-users", file("twice.json", `[{"sub": "a"}, {"sub": "a"}]`)}, "twice"},
		{[]string{"-users", filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"extra"}, "unexpected"},
	} {
		err := run(t.Context(), tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error about %s", tc.args, err, tc.want)
		}
	}
	if err := run(t.Context(), []string{"-addr", "0.0.0.0:9999"}, io.Discard, io.Discard); !errors.Is(err, errNotLoopback) {
		t.Errorf("off loopback: %v, want errNotLoopback", err)
	}
}
