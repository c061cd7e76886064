package oauthkit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// fakeAS is an authorization server on loopback: it auto-approves every
// authorization request for its current user, and checks PKCE, redirect_uri
// and single use of codes like a real one. Counters let tests assert which
// requests were (not) made.
type fakeAS struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	codes     map[string]grant // code -> grant
	refreshes map[string]string
	user      fakeUser

	authorizeHits, tokenHits, refreshHits, userHits, revokeHits atomic.Int64
	lastRevoked                                                 atomic.Value

	// tokenHandler, when set, replaces the token endpoint (fault injection).
	tokenHandler http.HandlerFunc
	expiresIn    int
}

type fakeUser struct {
	ID    string
	Email string
}

type grant struct {
	challenge, redirectURI string
	user                   fakeUser
}

func newFakeAS(t *testing.T) *fakeAS {
	as := &fakeAS{
		t:         t,
		codes:     map[string]grant{},
		refreshes: map[string]string{},
		user:      fakeUser{ID: "1234567890123456789", Email: "ada@example.com"},
		expiresIn: 3600,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", as.authorize)
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if h := as.tokenHandler; h != nil {
			as.tokenHits.Add(1)
			h(w, r)
			return
		}
		as.token(w, r)
	})
	mux.HandleFunc("GET /user", as.userinfo)
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		as.revokeHits.Add(1)
		_ = r.ParseForm()
		as.lastRevoked.Store(r.PostForm.Get("token"))
	})
	as.srv = httptest.NewServer(mux)
	t.Cleanup(as.srv.Close)
	return as
}

func (as *fakeAS) setUser(u fakeUser) { as.mu.Lock(); as.user = u; as.mu.Unlock() }

func (as *fakeAS) authorize(w http.ResponseWriter, r *http.Request) {
	as.authorizeHits.Add(1)
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := client.GenerateState()
	as.mu.Lock()
	as.codes[code] = grant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), user: as.user}
	as.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := url.Values{"code": {code}, "state": {q.Get("state")}}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (as *fakeAS) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f := r.PostForm
	w.Header().Set("Content-Type", "application/json")
	fail := func(code string) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"error":%q}`, code)
	}
	if f.Get("client_id") != "cid" || f.Get("client_secret") != "csecret" {
		fail("invalid_client")
		return
	}
	var u fakeUser
	switch f.Get("grant_type") {
	case "authorization_code":
		as.tokenHits.Add(1)
		as.mu.Lock()
		g, ok := as.codes[f.Get("code")]
		delete(as.codes, f.Get("code"))
		as.mu.Unlock()
		if !ok || g.redirectURI != f.Get("redirect_uri") || client.S256Challenge(f.Get("code_verifier")) != g.challenge {
			fail("invalid_grant")
			return
		}
		u = g.user
	case "refresh_token":
		as.refreshHits.Add(1)
		as.mu.Lock()
		id, ok := as.refreshes[f.Get("refresh_token")]
		delete(as.refreshes, f.Get("refresh_token")) // rotation
		as.mu.Unlock()
		if !ok {
			fail("invalid_grant")
			return
		}
		u = fakeUser{ID: id, Email: ""}
	default:
		fail("unsupported_grant_type")
		return
	}
	rt := "rt-" + client.GenerateState()
	as.mu.Lock()
	as.refreshes[rt] = u.ID
	as.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token":  "at-" + u.ID + "-" + u.Email + "-" + client.GenerateState(),
		"token_type":    "Bearer",
		"refresh_token": rt,
		"expires_in":    as.expiresIn,
	})
}

func (as *fakeAS) userinfo(w http.ResponseWriter, r *http.Request) {
	as.userHits.Add(1)
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer at-")
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	parts := strings.SplitN(at, "-", 3)
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"id":%s,"email":%q}`, parts[0], parts[1])
}

// testProvider is a generic client plus the fake AS's user API: a real client
// doing real HTTP, like the provider clients of package client.
type testProvider struct {
	*client.OAuth2
	userURL string
	hc      *http.Client
}

func (p *testProvider) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.userURL, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	res, err := p.hc.Do(req)
	if err != nil {
		return "", "", &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", "", &client.RequestError{Op: client.ErrGetIDEmail, Err: &client.HTTPError{StatusCode: res.StatusCode}}
	}
	dec := json.NewDecoder(io.LimitReader(res.Body, 1<<20))
	dec.UseNumber()
	var v struct {
		ID    json.Number `json:"id"`
		Email string      `json:"email"`
	}
	if err := dec.Decode(&v); err != nil {
		return "", "", &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	return v.ID.String(), v.Email, nil
}

func (as *fakeAS) provider(t *testing.T, name string) *testProvider {
	c, err := client.NewOAuth2(client.Config{
		ClientID: "cid", ClientSecret: "csecret",
		AuthorizeEndpoint:            as.srv.URL + "/authorize",
		AccessTokenEndpoint:          as.srv.URL + "/token",
		RefreshTokenEndpoint:         as.srv.URL + "/token",
		RevokeTokenEndpoint:          as.srv.URL + "/revoke",
		RevocationEndpointAuthMethod: client.ClientSecretPost,
		Name:                         name,
		BaseScopes:                   []string{"user"},
	})
	require.NoError(t, err)
	return &testProvider{OAuth2: c, userURL: as.srv.URL + "/user", hc: as.srv.Client()}
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// app is a site using the kit, served over TLS on loopback (Secure cookies
// need https in Go's cookie jar), with the routes a user would mount.
type app struct {
	t     *testing.T
	as    *fakeAS
	kit   *oauthkit.Kit
	sm    *scs.SessionManager
	srv   *httptest.Server
	clock *clock
	errs  chan error
}

type appOption func(*oauthkit.Config)

func newApp(t *testing.T, opts ...appOption) *app {
	t.Helper()
	as := newFakeAS(t)
	a := &app{t: t, as: as, clock: newClock(), errs: make(chan error, 2048)}
	a.sm = scs.New()
	a.sm.Store = memstore.NewWithCleanupInterval(time.Hour)
	a.sm.Cookie.Secure = true
	a.srv = httptest.NewUnstartedServer(nil)
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)

	cfg := oauthkit.Config{
		Sessions: a.sm,
		Providers: []oauthkit.Provider{
			{Client: as.provider(t, "test"), RedirectURL: a.srv.URL + "/auth/test/callback"},
		},
		LoginPath: "/auth/test/login",
		Now:       a.clock.Now,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			select {
			case a.errs <- err:
			default:
			}
			oauthkit.DefaultErrorHandler(w, r, err)
		},
		RevokeOnLogout: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	kit, err := oauthkit.New(cfg)
	require.NoError(t, err)
	a.kit = kit

	mux := http.NewServeMux()
	for _, p := range kit.Providers() {
		mux.Handle("/auth/"+p.Name+"/login", kit.LoginHandler(p.Name))
		mux.Handle("/auth/"+p.Name+"/callback", kit.CallbackHandler(p.Name))
	}
	mux.Handle("/logout", kit.LogoutHandler())
	mux.Handle("/profile", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := oauthkit.UserFromRequest(r)
		if !ok {
			http.Error(w, "no user in context", http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprintf(w, "%s|%s|%s", u.Provider, u.ID, u.Email)
	})))
	mux.Handle("/api/token", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := kit.Token(r.Context())
		if err != nil {
			http.Error(w, err.Error(), oauthkit.HTTPStatus(err))
			return
		}
		_, _ = io.WriteString(w, tok.AccessToken)
	})))
	a.srv.Config.Handler = a.sm.LoadAndSave(mux)
	return a
}

// browser is one user agent: its own cookie jar, redirects not followed.
func (a *app) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(a.t, err)
	c := a.srv.Client()
	return &http.Client{
		Transport: c.Transport,
		Jar:       jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func (a *app) get(b *http.Client, path string) *http.Response {
	a.t.Helper()
	res, err := b.Get(a.srv.URL + path)
	require.NoError(a.t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// startLogin runs GET /auth/test/login and returns the provider
// authorization URL it redirected to.
func (a *app) startLogin(b *http.Client, path string) *url.URL {
	a.t.Helper()
	res := a.get(b, path)
	require.Equal(a.t, http.StatusFound, res.StatusCode)
	u, err := url.Parse(res.Header.Get("Location"))
	require.NoError(a.t, err)
	return u
}

// approve lets the fake AS approve the authorization request and returns
// the callback path+query it redirects the browser to.
func (a *app) approve(authURL *url.URL) string {
	a.t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	res, err := noFollow.Do(mustReq(a.t, http.MethodGet, authURL.String()))
	require.NoError(a.t, err)
	res.Body.Close()
	require.Equal(a.t, http.StatusFound, res.StatusCode)
	cb, err := url.Parse(res.Header.Get("Location"))
	require.NoError(a.t, err)
	return cb.RequestURI()
}

// login runs a whole login in b and returns the final redirect.
func (a *app) login(b *http.Client, loginPath string) *http.Response {
	a.t.Helper()
	return a.get(b, a.approve(a.startLogin(b, loginPath)))
}

func mustReq(t *testing.T, method, u string) *http.Request {
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	// The fake AS does not follow redirects for us.
	return req
}

func (a *app) lastErr() error {
	select {
	case err := <-a.errs:
		return err
	default:
		return nil
	}
}

// sessionCookie returns the browser's session cookie value.
func (a *app) sessionCookie(b *http.Client) string {
	u, _ := url.Parse(a.srv.URL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == a.sm.Cookie.Name {
			return c.Value
		}
	}
	return ""
}
