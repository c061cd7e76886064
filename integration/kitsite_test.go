package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// kitSite is one kit instance on loopback in front of one provider, with
// the routes a site mounts: /login, /callback, /logout, /me (the user's
// id), /recent (behind RequireRecentAuth(0): the user's auth_time in Unix
// seconds), /token (Kit.Token as JSON) and /api?url=U (a GET of U through
// Kit.HTTPClient, answering with U's status and body). The provider's redirect URL is
// whatever it was registered with: the browser is never sent there, the
// test carries the authorization response to /callback itself, so one
// registered URL serves every site on any port.
type kitSite struct {
	srv   *httptest.Server
	kit   *oauthkit.Kit
	clock *skewClock
	// mux is the site's router, for tests that mount more routes.
	mux *http.ServeMux

	mu   sync.Mutex
	errs []error // what the kit's ErrorHandler saw
}

// newKitSite starts a site for p (none when p has no Client: a site of
// Config.Resolvers only). mod, when not nil, adjusts the configuration
// before New.
func newKitSite(t *testing.T, p oauthkit.Provider, mod func(*oauthkit.Config)) *kitSite {
	t.Helper()
	s := &kitSite{clock: &skewClock{}}
	sm := scs.New()
	cfg := oauthkit.Config{
		Sessions:        sm,
		Providers:       []oauthkit.Provider{p},
		ProviderTimeout: budget(t),
		Now:             s.clock.Now,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.mu.Lock()
			s.errs = append(s.errs, err)
			s.mu.Unlock()
			t.Logf("kit site %s: %v", r.URL.Path, err)
			oauthkit.DefaultErrorHandler(w, r, err)
		},
	}
	if p.Client == nil {
		cfg.Providers = nil
	}
	if mod != nil {
		mod(&cfg)
	}
	kit, err := oauthkit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if p.Client != nil {
		name := p.Client.Name()
		mux.Handle("/login", kit.LoginHandler(name))
		mux.Handle("/callback", kit.CallbackHandler(name))
	}
	mux.Handle("/logout", kit.LogoutHandler())
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		if u, ok := kit.User(r.Context()); ok {
			_, _ = io.WriteString(w, u.ID)
		}
	})
	mux.Handle("/recent", kit.RequireRecentAuth(0)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := kit.User(r.Context())
		_, _ = io.WriteString(w, strconv.FormatInt(u.AuthTime.Unix(), 10))
	})))
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		tok, err := kit.Token(r.Context())
		if err != nil {
			cfg.ErrorHandler(w, r, err)
			return
		}
		_ = json.NewEncoder(w).Encode(tok)
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		hc, err := kit.HTTPClient(r.Context())
		if err != nil {
			cfg.ErrorHandler(w, r, err)
			return
		}
		res, err := hc.Get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	})
	s.kit, s.mux = kit, mux
	s.srv = httptest.NewServer(sm.LoadAndSave(mux))
	t.Cleanup(s.srv.Close)
	return s
}

// errors returns what the kit's ErrorHandler has seen so far.
func (s *kitSite) errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// start begins a login in browser b and returns the 302's target, the
// provider's authorization URL.
func (s *kitSite) start(t *testing.T, b *http.Client) string {
	t.Helper()
	res := s.do(t, b, http.MethodGet, "/login", nil)
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") == "" {
		t.Fatalf("login start: %s; kit errors %v", res.Status, s.errors())
	}
	return res.Header.Get("Location")
}

// login signs b in: the login start, authorize (which plays the user at
// the provider and returns the authorization response, the URL the
// provider redirects to), then the callback. It returns the user id the
// session shows.
func (s *kitSite) login(t *testing.T, b *http.Client, authorize func(authURL string) *url.URL) string {
	t.Helper()
	resp := authorize(s.start(t, b))
	res := s.do(t, b, http.MethodGet, "/callback?"+resp.RawQuery, nil)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("callback: %s; kit errors %v", res.Status, s.errors())
	}
	id := s.me(t, b)
	if id == "" {
		t.Fatal("not signed in after the callback")
	}
	return id
}

// me is the user id b's session shows, "" when anonymous.
func (s *kitSite) me(t *testing.T, b *http.Client) string {
	t.Helper()
	res := s.do(t, b, http.MethodGet, "/me", nil)
	body, _ := io.ReadAll(res.Body)
	return string(body)
}

// token is what Kit.Token gives b's session, refreshed when the site's
// clock says it has expired.
func (s *kitSite) token(t *testing.T, b *http.Client) *client.Token {
	t.Helper()
	res := s.do(t, b, http.MethodGet, "/token", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("token: %s; kit errors %v", res.Status, s.errors())
	}
	var tok client.Token
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	return &tok
}

// api GETs target through the kit's HTTPClient for b's session and
// returns the status and body target answered.
func (s *kitSite) api(t *testing.T, b *http.Client, target string) (int, string) {
	t.Helper()
	res := s.do(t, b, http.MethodGet, "/api?"+url.Values{"url": {target}}.Encode(), nil)
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// logout posts the logout form as a same-origin page of the site does.
func (s *kitSite) logout(t *testing.T, b *http.Client) *http.Response {
	t.Helper()
	return s.do(t, b, http.MethodPost, "/logout", url.Values{})
}

// do sends one request from browser b without following redirects; the
// body is read by the caller and closed at the end of the test.
func (s *kitSite) do(t *testing.T, b *http.Client, method, path string, form url.Values) *http.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	hc := *b
	hc.CheckRedirect = noRedirect
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

// expire moves the site's clock past every access token's expiry (the
// servers here issue them for an hour).
func (s *kitSite) expire() { s.clock.offset.Add(int64(2 * time.Hour)) }
