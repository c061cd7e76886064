package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// The harness of the tests against panva's oidc-provider (npm, OpenID
// Certified), run by node from oidcprovider/server.js: the independent
// server for RP-Initiated Logout 1.0 and Back-Channel Logout 1.0, which the
// Go servers of the other tests lack.

// opClient is a client registered at the oidc-provider, as oidc-provider
// client metadata. Empty fields take oidc-provider's defaults, except
// GrantTypes, which defaults to authorization_code and refresh_token.
type opClient struct {
	ID                     string   `json:"client_id"`
	Secret                 string   `json:"client_secret,omitempty"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	BackchannelLogoutURI   string   `json:"backchannel_logout_uri,omitempty"`
	// BackchannelLogoutSessionRequired makes the logout tokens carry "sid"
	// (oidc-provider omits it otherwise).
	BackchannelLogoutSessionRequired bool `json:"backchannel_logout_session_required,omitempty"`
	// TokenEndpointAuthMethod is client_secret_basic when empty; "none"
	// (with no Secret) registers a public client.
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	// JWKS holds the public keys of a private_key_jwt client.
	JWKS *jose.JSONWebKeySet `json:"jwks,omitempty"`
	// RequirePAR makes the server refuse this client's authorization
	// requests unless they were pushed (RFC 9126 §6).
	RequirePAR bool `json:"require_pushed_authorization_requests,omitempty"`
	// DPoPBound makes the server refuse this client's token requests
	// without a DPoP proof (RFC 9449 §5.2).
	DPoPBound bool `json:"dpop_bound_access_tokens,omitempty"`
}

// nodeOP is a running oidc-provider. Its accounts are any login: the login
// is the subject, with email <login>@example.test (verified) and name
// "User <login>". Every client must use PKCE S256; scopes are openid,
// email, profile and offline_access (granted only with prompt=consent).
// Devinteractions, revocation, RP-initiated logout (GET and POST),
// back-channel logout, PAR and DPoP are on; every DPoP proof must carry a
// server-issued nonce.
type nodeOP struct {
	// Issuer is http://127.0.0.1:<port>, where discovery is served.
	Issuer string
	origin *url.URL
	logs   *lockedBuffer
	// loginForms counts the login forms Login has submitted: how often the
	// provider authenticated a user rather than reusing its session.
	loginForms atomic.Int64
	stop       func()
	stopped    sync.Once
}

// Stop ends the provider process now (an outage); the test's cleanup
// would otherwise.
func (op *nodeOP) Stop() { op.stopped.Do(op.stop) }

// lockedBuffer collects the provider's output for the log of a failed test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// opInstall is the once-per-binary check of node, npm and
// oidcprovider/node_modules (npm ci when missing or stale).
var opInstall struct {
	once   sync.Once
	dir    string
	node   string
	reason string // why the tests cannot run, or ""
}

// oidcProviderDir is the directory of server.js, with its dependencies
// installed, and the node binary. Without node or npm the test is skipped,
// or fails when OAUTHKIT_REQUIRE_NODE=1 (CI, which installs both).
func oidcProviderDir(t *testing.T) (dir, node string) {
	t.Helper()
	opInstall.once.Do(func() {
		opInstall.reason = installOIDCProvider()
	})
	if r := opInstall.reason; r != "" {
		if os.Getenv("OAUTHKIT_REQUIRE_NODE") == "1" {
			t.Fatalf("OAUTHKIT_REQUIRE_NODE=1 but %s", r)
		}
		skip(t, r)
	}
	return opInstall.dir, opInstall.node
}

func installOIDCProvider() string {
	dir, err := filepath.Abs("oidcprovider")
	if err != nil {
		return "oidc-provider: " + err.Error()
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "no node on PATH for the oidc-provider tests"
	}
	opInstall.dir, opInstall.node = dir, node
	if oidcProviderInstalled(dir) {
		return ""
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "no npm on PATH to install oidc-provider (oidcprovider/node_modules missing)"
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Sprintf("npm ci in integration/oidcprovider failed: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if !oidcProviderInstalled(dir) {
		return "npm ci in integration/oidcprovider did not install the locked oidc-provider"
	}
	return ""
}

// oidcProviderInstalled reports whether node_modules holds the
// oidc-provider version package-lock.json locks.
func oidcProviderInstalled(dir string) bool {
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	var installed struct {
		Version string `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil || json.Unmarshal(b, &lock) != nil {
		return false
	}
	b, err = os.ReadFile(filepath.Join(dir, "node_modules", "oidc-provider", "package.json"))
	if err != nil || json.Unmarshal(b, &installed) != nil {
		return false
	}
	want := lock.Packages["node_modules/oidc-provider"].Version
	return want != "" && installed.Version == want
}

// startOIDCProvider runs an oidc-provider on a free loopback port with
// clients registered, until the end of t. It waits for the server's
// "listening" line, not for a time. The node process also exits when the
// test binary dies (its stdin closes). A failed test logs the provider's
// output (warnings, errors, back-channel logout outcomes).
func startOIDCProvider(t *testing.T, clients ...opClient) *nodeOP {
	t.Helper()
	return startOIDCProviderOn(t, 0, clients...)
}

// startOIDCProviderOn is startOIDCProvider on a given loopback port (0: any
// free one), so that a test can name the issuer before the provider runs,
// or start it again where it was. Each start has new signing keys and no
// grants.
func startOIDCProviderOn(t *testing.T, port int, clients ...opClient) *nodeOP {
	t.Helper()
	dir, node := oidcProviderDir(t)
	for i := range clients {
		if len(clients[i].GrantTypes) == 0 {
			clients[i].GrantTypes = []string{"authorization_code", "refresh_token"}
		}
	}
	cfg, err := json.Marshal(map[string]any{"port": port, "clients": clients})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OIDC_PROVIDER_CONFIG="+string(cfg))
	cmd.Stderr = logs
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("node server.js: %v", err)
	}
	copied := make(chan struct{})
	stop := func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		<-copied
		_ = cmd.Wait()
	}
	out := bufio.NewReader(stdout)
	line, readErr := out.ReadString('\n')
	go func() {
		defer close(copied)
		_, _ = io.Copy(logs, out)
	}()
	var ready struct {
		Issuer string `json:"issuer"`
	}
	if readErr != nil || json.Unmarshal([]byte(line), &ready) != nil || ready.Issuer == "" {
		stop()
		t.Fatalf("oidc-provider did not start (first line %q, %v):\n%s", line, readErr, logs)
	}
	origin, err := url.Parse(ready.Issuer)
	if err != nil {
		stop()
		t.Fatalf("oidc-provider issuer %q: %v", ready.Issuer, err)
	}
	op := &nodeOP{Issuer: ready.Issuer, origin: origin, logs: logs, stop: stop}
	t.Cleanup(func() {
		op.Stop()
		if t.Failed() {
			t.Logf("oidc-provider at %s:\n%s", ready.Issuer, logs)
		}
	})
	return op
}

// Login completes at the provider the authorization request authURL (which
// the test, or the app under test, built) as accountID: it follows the
// provider's redirects, submits the login form (any password) and the
// consent form when asked, and returns the URL the provider finally
// redirects to (the client's redirect_uri with code, state and iss, or an
// error), without requesting it. hc must have a cookie jar: the provider's
// session cookie stays in it, so a second Login with the same jar reuses
// that session (same sid, no login form). hc's own redirect policy is not
// used; its Jar and Transport are.
func (op *nodeOP) Login(t *testing.T, hc *http.Client, authURL, accountID string) *url.URL {
	t.Helper()
	if hc.Jar == nil {
		t.Fatal("nodeOP.Login: the http.Client needs a cookie jar")
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, authURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return op.drive(t, hc, req, func(f htmlForm) (url.Values, bool) {
		switch f.Values.Get("prompt") {
		case "login":
			op.loginForms.Add(1)
			f.Values.Set("login", accountID)
			f.Values.Set("password", "any")
			return f.Values, true
		case "consent":
			return f.Values, true
		}
		return nil, false
	})
}

// EndSession sends form (id_token_hint, client_id, post_logout_redirect_uri,
// state: what a relying party POSTs) to the provider's end-session endpoint
// with hc's jar, confirms the sign-out ("Yes, sign me out": the form's xsrf
// plus logout=yes) and returns where the provider redirects to
// (post_logout_redirect_uri with state, or its own success page), without
// requesting it. Before that redirect, the provider has POSTed a logout
// token to the back-channel logout URI of every client of the session and
// received the answers.
func (op *nodeOP) EndSession(t *testing.T, hc *http.Client, endpoint string, form url.Values) *url.URL {
	t.Helper()
	req := op.formRequest(t, endpoint, form)
	return op.endSession(t, hc, req)
}

// EndSessionResponse is EndSession from a relying party's answer to its own
// logout request: a redirect to the end-session endpoint (a GET with the
// parameters in the query) or a page with a form POSTing to it (the
// auto-submitted form). The endpoint must be on the provider.
func (op *nodeOP) EndSessionResponse(t *testing.T, hc *http.Client, resp *http.Response) *url.URL {
	t.Helper()
	defer resp.Body.Close()
	var req *http.Request
	if loc, err := resp.Location(); err == nil {
		if !op.onProvider(loc) {
			t.Fatalf("the relying party redirects to %s, not to the provider %s", loc, op.Issuer)
		}
		req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, loc.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
	} else {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		forms := parseForms(string(body))
		if len(forms) != 1 || !strings.EqualFold(forms[0].Method, http.MethodPost) {
			t.Fatalf("the relying party's logout answer (%s) is neither a redirect nor one POST form:\n%s", resp.Status, body)
		}
		action, err := resp.Request.URL.Parse(forms[0].Action)
		if err != nil || !op.onProvider(action) {
			t.Fatalf("the relying party's logout form posts to %q, not to the provider %s", forms[0].Action, op.Issuer)
		}
		req = op.formRequest(t, action.String(), forms[0].Values)
	}
	return op.endSession(t, hc, req)
}

func (op *nodeOP) endSession(t *testing.T, hc *http.Client, req *http.Request) *url.URL {
	t.Helper()
	if hc.Jar == nil {
		t.Fatal("nodeOP.EndSession: the http.Client needs a cookie jar")
	}
	return op.drive(t, hc, req, func(f htmlForm) (url.Values, bool) {
		if f.Values.Has("xsrf") {
			// The confirmation page's form (id op.logoutForm) holds only
			// xsrf: its "Yes, sign me out" button, outside the form, adds
			// logout=yes. Without a session the provider auto-submits a
			// form that already carries both.
			f.Values.Set("logout", "yes")
			return f.Values, true
		}
		return nil, false
	})
}

func (op *nodeOP) formRequest(t *testing.T, target string, form url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func (op *nodeOP) onProvider(u *url.URL) bool {
	return u.Scheme == op.origin.Scheme && u.Host == op.origin.Host
}

// drive sends req and what follows on the provider: a redirect within the
// provider is followed, a page with a POST form is submitted with the
// values fill returns, and the first redirect away from the provider (or
// the first redirect after a sign-out confirmation) is the result.
func (op *nodeOP) drive(t *testing.T, hc *http.Client, req *http.Request, fill func(htmlForm) (url.Values, bool)) *url.URL {
	t.Helper()
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for range 20 {
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		if loc, err := resp.Location(); err == nil {
			if !op.onProvider(loc) || strings.HasSuffix(req.URL.Path, "/session/end/confirm") {
				return loc
			}
			req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, loc.String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		var next *http.Request
		if resp.StatusCode == http.StatusOK {
			for _, f := range parseForms(string(body)) {
				values, ok := fill(f)
				if !ok || !strings.EqualFold(f.Method, http.MethodPost) {
					continue
				}
				action, err := resp.Request.URL.Parse(f.Action)
				if err != nil {
					t.Fatalf("form action %q: %v", f.Action, err)
				}
				next = op.formRequest(t, action.String(), values)
				break
			}
		}
		if next == nil {
			t.Fatalf("%s %s: %s, no redirect and no form to submit:\n%s", req.Method, req.URL, resp.Status, body)
		}
		req = next
	}
	t.Fatalf("the provider sent more than 20 redirects and forms, the last to %s", req.URL)
	return nil
}

// htmlForm is a form of one of oidc-provider's pages: its attributes and
// the values of its named inputs (empty when an input has none).
type htmlForm struct {
	ID, Action, Method string
	Values             url.Values
}

var (
	formRE  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrRE  = regexp.MustCompile(`(?s)([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*"([^"]*)"`)
)

// parseForms reads the forms of oidc-provider's own templates (login,
// consent, logout confirmation, form_post), whose attributes are all
// double-quoted: enough for those, not a general HTML parser.
func parseForms(page string) []htmlForm {
	var forms []htmlForm
	for _, m := range formRE.FindAllStringSubmatch(page, -1) {
		attrs := parseAttrs(m[1])
		f := htmlForm{ID: attrs["id"], Action: attrs["action"], Method: attrs["method"], Values: url.Values{}}
		for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
			a := parseAttrs(in[1])
			if name := a["name"]; name != "" {
				f.Values.Add(name, a["value"])
			}
		}
		forms = append(forms, f)
	}
	return forms
}

func parseAttrs(s string) map[string]string {
	attrs := map[string]string{}
	for _, m := range attrRE.FindAllStringSubmatch(s, -1) {
		attrs[strings.ToLower(m[1])] = html.UnescapeString(m[2])
	}
	return attrs
}

// opRP is a relying party of the harness tests, built only on x/oauth2 and
// go-oidc so that it proves the harness, not the kit.
type opRP struct {
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
	op       *nodeOP
}

func newOPRP(t *testing.T, op *nodeOP, c opClient) *opRP {
	t.Helper()
	provider, err := oidc.NewProvider(t.Context(), op.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	return &opRP{
		op: op,
		cfg: oauth2.Config{
			ClientID: c.ID, ClientSecret: c.Secret, Endpoint: provider.Endpoint(),
			RedirectURL: c.RedirectURIs[0], Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: c.ID}),
	}
}

// login signs accountID in through browser and returns the verified ID
// token and its raw form.
func (rp *opRP) login(t *testing.T, browser *http.Client, accountID string) (*oidc.IDToken, string) {
	t.Helper()
	state, nonce, pkce := randomString(), randomString(), oauth2.GenerateVerifier()
	authURL := rp.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce))
	cb := rp.op.Login(t, browser, authURL, accountID)
	q := cb.Query()
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != rp.cfg.RedirectURL || q.Get("state") != state || q.Get("code") == "" || q.Get("iss") != rp.op.Issuer {
		t.Fatalf("login ended at %s, want %s with state %s, a code and iss", cb, rp.cfg.RedirectURL, state)
	}
	ctx, cancel := context.WithTimeout(t.Context(), budget(t))
	defer cancel()
	tok, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != nonce || idt.Subject != accountID {
		t.Fatalf("id token nonce %q sub %q, want %q and %q", idt.Nonce, idt.Subject, nonce, accountID)
	}
	return idt, raw
}

func idTokenSID(t *testing.T, idt *oidc.IDToken) string {
	t.Helper()
	var claims struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.SID == "" {
		t.Fatal("id token without sid")
	}
	return claims.SID
}

// backchannelApp is an app's back-channel logout endpoint: it records the
// logout tokens POSTed to it.
type backchannelApp struct {
	mu     sync.Mutex
	tokens []string
	URL    string
}

func newBackchannelApp(t *testing.T) *backchannelApp {
	t.Helper()
	app := &backchannelApp{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.PostFormValue("logout_token") == "" {
			http.Error(w, "want a POSTed logout_token", http.StatusBadRequest)
			return
		}
		app.mu.Lock()
		app.tokens = append(app.tokens, r.PostFormValue("logout_token"))
		app.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
	}))
	t.Cleanup(srv.Close)
	app.URL = srv.URL + "/backchannel"
	return app
}

func (app *backchannelApp) received() []string {
	app.mu.Lock()
	defer app.mu.Unlock()
	return append([]string(nil), app.tokens...)
}

// browserClient is a user agent: a cookie jar, no timeout of its own (the
// binary's -timeout bounds it).
func browserClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// TestOIDCProviderHarness proves the harness: a login with PKCE through
// Login gives an ID token with sid, a second login in the same browser
// reuses the provider's session, and an end-session POST signs out every
// client of the session through back-channel logout tokens (verified with
// go-oidc, same sid) before redirecting to post_logout_redirect_uri with
// the state.
func TestOIDCProviderHarness(t *testing.T) {
	appA, appB := newBackchannelApp(t), newBackchannelApp(t)
	client := func(id string, app *backchannelApp) opClient {
		return opClient{
			ID: id, Secret: "secret-" + id,
			RedirectURIs:                     []string{"http://127.0.0.1:9/" + id + "/callback"},
			PostLogoutRedirectURIs:           []string{"http://127.0.0.1:9/" + id + "/signed-out"},
			BackchannelLogoutURI:             app.URL,
			BackchannelLogoutSessionRequired: true,
		}
	}
	ca, cb := client("app-a", appA), client("app-b", appB)
	op := startOIDCProvider(t, ca, cb)
	rpA, rpB := newOPRP(t, op, ca), newOPRP(t, op, cb)
	browser := browserClient(t)

	idA, rawA := rpA.login(t, browser, "alice")
	sidA := idTokenSID(t, idA)
	again, _ := rpA.login(t, browser, "alice")
	if sid := idTokenSID(t, again); sid != sidA {
		t.Fatalf("second login in the same browser: sid %q, want the session's %q", sid, sidA)
	}
	idB, _ := rpB.login(t, browser, "alice")
	sidB := idTokenSID(t, idB)

	state := randomString()
	end := op.EndSession(t, browser, op.Issuer+"/session/end", url.Values{
		"id_token_hint":            {rawA},
		"client_id":                {ca.ID},
		"post_logout_redirect_uri": {ca.PostLogoutRedirectURIs[0]},
		"state":                    {state},
	})
	if got := end.Scheme + "://" + end.Host + end.Path; got != ca.PostLogoutRedirectURIs[0] || end.Query().Get("state") != state {
		t.Fatalf("end-session redirects to %s, want %s with state %s", end, ca.PostLogoutRedirectURIs[0], state)
	}
	for _, c := range []struct {
		app *backchannelApp
		rp  *opRP
		sid string
	}{{appA, rpA, sidA}, {appB, rpB, sidB}} {
		tokens := c.app.received()
		if len(tokens) != 1 {
			t.Fatalf("%s received %d logout tokens, want 1", c.rp.cfg.ClientID, len(tokens))
		}
		lt, err := c.rp.verifier.VerifyLogout(t.Context(), tokens[0])
		if err != nil {
			t.Fatalf("%s: %v", c.rp.cfg.ClientID, err)
		}
		if lt.SessionID != c.sid || lt.Subject != "alice" {
			t.Fatalf("%s: logout token sid %q sub %q, want %q and alice", c.rp.cfg.ClientID, lt.SessionID, lt.Subject, c.sid)
		}
	}

	// The provider's session is gone: the next login asks for the login again.
	var asked bool
	relogin := op.drive(t, browser, mustGet(t, rpA.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))), func(f htmlForm) (url.Values, bool) {
		asked = asked || f.Values.Get("prompt") == "login"
		if asked {
			f.Values.Set("login", "alice")
		}
		return f.Values, true
	})
	if !asked || relogin.Query().Get("code") == "" {
		t.Fatalf("login after end-session: login form %v, ended at %s", asked, relogin)
	}
}

func mustGet(t *testing.T, target string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestOIDCProviderEndSessionResponse proves EndSessionResponse with both
// ways a relying party sends the user to the end-session endpoint: a
// redirect (GET, parameters in the query) and an auto-submitted form
// (POST).
func TestOIDCProviderEndSessionResponse(t *testing.T) {
	bc := newBackchannelApp(t)
	var c opClient
	var endpoint string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{
			"id_token_hint":            {r.FormValue("id_token_hint")},
			"post_logout_redirect_uri": {c.PostLogoutRedirectURIs[0]},
			"state":                    {r.FormValue("state")},
		}
		switch r.URL.Path {
		case "/logout/redirect":
			http.Redirect(w, r, endpoint+"?"+q.Encode(), http.StatusFound)
		case "/logout/form":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!DOCTYPE html><html><body onload="document.forms[0].submit()"><form method="post" action="%s">`, html.EscapeString(endpoint))
			for k, v := range q {
				fmt.Fprintf(w, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v[0]))
			}
			fmt.Fprint(w, `</form></body></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(app.Close)
	c = opClient{
		ID: "app", Secret: "secret-app",
		RedirectURIs:                     []string{app.URL + "/callback"},
		PostLogoutRedirectURIs:           []string{app.URL + "/signed-out"},
		BackchannelLogoutURI:             bc.URL,
		BackchannelLogoutSessionRequired: true,
	}
	op := startOIDCProvider(t, c)
	rp := newOPRP(t, op, c)
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	provider, err := oidc.NewProvider(t.Context(), op.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	if err := provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("no end_session_endpoint in the metadata (%v)", err)
	}
	endpoint = meta.EndSession

	for i, path := range []string{"/logout/redirect", "/logout/form"} {
		t.Run(strings.TrimPrefix(path, "/logout/"), func(t *testing.T) {
			browser := browserClient(t)
			idt, raw := rp.login(t, browser, "bob")
			state := randomString()
			noFollow := *browser
			noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := noFollow.Get(app.URL + path + "?" + url.Values{"id_token_hint": {raw}, "state": {state}}.Encode())
			if err != nil {
				t.Fatal(err)
			}
			end := op.EndSessionResponse(t, browser, resp)
			if end.Query().Get("state") != state || !strings.HasPrefix(end.String(), c.PostLogoutRedirectURIs[0]+"?") {
				t.Fatalf("end-session redirects to %s, want %s with state %s", end, c.PostLogoutRedirectURIs[0], state)
			}
			tokens := bc.received()
			if len(tokens) != i+1 {
				t.Fatalf("%d logout tokens received, want %d", len(tokens), i+1)
			}
			lt, err := rp.verifier.VerifyLogout(t.Context(), tokens[i])
			if err != nil {
				t.Fatal(err)
			}
			if sid := idTokenSID(t, idt); lt.SessionID != sid {
				t.Fatalf("logout token sid %q, want the id token's %q", lt.SessionID, sid)
			}
		})
	}
}
