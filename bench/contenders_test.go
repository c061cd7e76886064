package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/dghubble/gologin/v2"
	gologinoauth2 "github.com/dghubble/gologin/v2/oauth2"
	"github.com/gorilla/sessions"
	"github.com/markbates/goth"
	"github.com/markbates/goth/gothic"
	"github.com/markbates/goth/providers/github"
	"golang.org/x/oauth2"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
)

// fp is the one fake provider of the process: goth keeps its providers in a
// global registry, so every contender points at the same server.
var fp *fakeProvider

func TestMain(m *testing.M) {
	fp = newFakeProvider()
	setupGothic()
	code := m.Run()
	fp.Srv.Close()
	os.Exit(code)
}

// The app's callback URL as registered at the provider (loopback http is
// allowed by oauthkit and ignored by the peers).
const redirectURL = "http://127.0.0.1/auth/bench/callback"

// hashKey signs the gorilla/sessions cookies (sign only, no encryption: what
// sessions.NewCookieStore([]byte(os.Getenv("SESSION_SECRET"))) gives, and
// what gothic's default store does).
var hashKey = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")

// newAppStore is the session a gologin or hand-written x/oauth2 user keeps
// the signed-in user in (gothic apps too: gothic's own store only holds the
// flow).
func newAppStore() *sessions.CookieStore {
	s := sessions.NewCookieStore(hashKey)
	s.Options.HttpOnly = true
	s.Options.SameSite = http.SameSiteLaxMode
	return s
}

const appSession = "app"

// signIn is what every peer's success handler does with the identity: put
// it in the app's gorilla session and save it (Set-Cookie).
func signIn(store sessions.Store, w http.ResponseWriter, r *http.Request, provider, id, email string) error {
	s, _ := store.Get(r, appSession)
	s.Values["provider"] = provider
	s.Values["user_id"] = id
	s.Values["email"] = email
	return s.Save(r, w)
}

// ---------------------------------------------------------------- oauthkit

// newClient is the generic client plus the user API, the way an app adds a
// provider package client does not ship: the shared fake's client.
func newClient(tb testing.TB, hc *http.Client) *fakeas.Provider {
	c, err := fp.Client("bench", hc)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// kitApp is a site using oauthkit, every handler inside LoadAndSave.
type kitApp struct {
	sm        *scs.SessionManager
	kit       *oauthkit.Kit
	login     http.Handler
	callback  http.Handler
	protected http.Handler
	floor     http.Handler // LoadAndSave alone
}

// newKitApp is the site as the README's quick start sets it up, with the
// kit's session codec.
func newKitApp(tb testing.TB, store scs.Store, redirect string) *kitApp {
	tb.Helper()
	return newKitAppCodec(tb, store, redirect, oauthkit.SessionCodec{})
}

// newKitAppCodec is newKitApp with the given scs codec: the scs-floor
// contender keeps scs's default gob.
func newKitAppCodec(tb testing.TB, store scs.Store, redirect string, codec scs.Codec) *kitApp {
	tb.Helper()
	return newKitAppWith(tb, store, redirect, codec, func(c *fakeas.Provider) client.Provider { return c })
}

// newKitAppWith is newKitAppCodec with the bench client wrapped by wrap.
func newKitAppWith(tb testing.TB, store scs.Store, redirect string, codec scs.Codec, wrap func(*fakeas.Provider) client.Provider) *kitApp {
	tb.Helper()
	sm := scs.New()
	sm.Store = store
	sm.Codec = codec
	sm.Lifetime = 30 * time.Minute
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:  sm,
		Providers: []oauthkit.Provider{{Client: wrap(newClient(tb, fp.httpClient())), RedirectURL: redirect}},
		LoginPath: "/auth/bench/login",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &kitApp{
		sm:        sm,
		kit:       kit,
		login:     sm.LoadAndSave(kit.LoginHandler("bench")),
		callback:  sm.LoadAndSave(kit.CallbackHandler("bench")),
		protected: sm.LoadAndSave(kit.RequireAuth(profile(kit))),
		floor:     sm.LoadAndSave(http.HandlerFunc(ok)),
	}
}

// profile is the protected page of the oauthkit app.
func profile(kit *oauthkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := kit.User(r.Context()); !ok {
			http.Error(w, "no user", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(pageBody)
	}
}

// pageBody is what every protected page writes, so the contenders differ
// only in how they find the user.
var pageBody = []byte("hello " + userID)

func ok(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(pageBody) }

// startLogin runs the login handler for a new browser and returns the
// session cookie and the state sent to the provider.
func (a *kitApp) startLogin(tb testing.TB) (*http.Cookie, string) {
	rec := httptest.NewRecorder()
	a.login.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth/bench/login?next=/profile", nil))
	if rec.Code != http.StatusFound {
		tb.Fatalf("oauthkit login: %d %s", rec.Code, rec.Body)
	}
	return cookieNamed(tb, rec, a.sm.Cookie.Name), queryParam(tb, rec.Header().Get("Location"), "state")
}

// callbackRequests prepares n callbacks, each for its own pending login.
func (a *kitApp) callbackRequests(tb testing.TB, n int) []*http.Request {
	reqs := make([]*http.Request, n)
	for i := range reqs {
		c, state := a.startLogin(tb)
		reqs[i] = newRequest("/auth/bench/callback?code="+benchCode+"&state="+state, c)
	}
	return reqs
}

// signedIn completes one login and returns the signed-in session cookie.
func (a *kitApp) signedIn(tb testing.TB) *http.Cookie {
	req := a.callbackRequests(tb, 1)[0]
	rec := httptest.NewRecorder()
	a.callback.ServeHTTP(rec, req)
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/profile" {
		tb.Fatalf("oauthkit callback: %d %s %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	return cookieNamed(tb, rec, a.sm.Cookie.Name)
}

// storedBytes is the size of a session as the store keeps it: the scs
// codec's encoding of its deadline and values.
func (a *kitApp) storedBytes(tb testing.TB, c *http.Cookie) int {
	b, found, err := a.sm.Store.Find(c.Value)
	if err != nil || !found {
		tb.Fatalf("session %q not in store: %v", c.Value, err)
	}
	return len(b)
}

func newMemstore() *memstore.MemStore { return memstore.NewWithCleanupInterval(0) }

// ------------------------------------------------------------------ gologin

type gologinApp struct {
	store           *sessions.CookieStore
	login, callback http.Handler
}

func newGologinApp() *gologinApp {
	a := &gologinApp{store: newAppStore()}
	conf := fp.oauth2Config(redirectURL)
	hc := fp.httpClient()
	stateCfg := gologin.DebugOnlyCookieConfig // Secure=false: the bench is plain http
	success := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := gologinoauth2.TokenFromContext(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		u, err := fetchUser(hc, r, fp.at("/user"), tok.AccessToken)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if err := signIn(a.store, w, r, "bench", u.ID.String(), u.Email); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/profile", http.StatusFound)
	})
	failure := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprint(gologin.ErrorFromContext(r.Context())), http.StatusBadRequest)
	})
	a.login = gologinoauth2.StateHandler(stateCfg, gologinoauth2.LoginHandler(conf, failure))
	a.callback = gologinoauth2.StateHandler(stateCfg, gologinoauth2.CallbackHandler(conf, success, failure))
	return a
}

// withClient gives x/oauth2 its HTTP client the documented way (a context
// value); done once when the request is built, so it costs no contender.
func withClient(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), oauth2.HTTPClient, fp.httpClient()))
}

func (a *gologinApp) startLogin(tb testing.TB) (*http.Cookie, string) {
	rec := httptest.NewRecorder()
	a.login.ServeHTTP(rec, newRequest("/auth/bench/login"))
	if rec.Code != http.StatusFound {
		tb.Fatalf("gologin login: %d %s", rec.Code, rec.Body)
	}
	return cookieNamed(tb, rec, gologin.DebugOnlyCookieConfig.Name), queryParam(tb, rec.Header().Get("Location"), "state")
}

// ------------------------------------------------------------------- gothic

const gothicProvider = "github" // goth's GitHub provider, aimed at the fake

var gothicAppStore = newAppStore()

func setupGothic() {
	p := github.NewCustomisedURL(clientID, clientSecret, redirectURL,
		fp.at("/authorize"), fp.at("/token"), fp.at("/user"), fp.at("/user/emails"), "user")
	p.HTTPClient = fp.httpClient()
	goth.UseProviders(p)
	s := sessions.NewCookieStore(hashKey)
	s.Options.HttpOnly = true
	s.Options.SameSite = http.SameSiteLaxMode
	gothic.Store = s
}

var gothicLogin = http.HandlerFunc(gothic.BeginAuthHandler)

var gothicCallback = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	u, err := gothic.CompleteUserAuth(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := signIn(gothicAppStore, w, r, u.Provider, u.UserID, u.Email); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/profile", http.StatusFound)
})

func gothicStartLogin(tb testing.TB) (*http.Cookie, string) {
	rec := httptest.NewRecorder()
	gothicLogin.ServeHTTP(rec, newRequest("/auth/login?provider="+gothicProvider))
	if rec.Code != http.StatusTemporaryRedirect {
		tb.Fatalf("gothic login: %d %s", rec.Code, rec.Body)
	}
	return cookieNamed(tb, rec, gothic.SessionName), queryParam(tb, rec.Header().Get("Location"), "state")
}

// ------------------------------------------------------- x/oauth2 by hand

// handApp is what a developer writes with x/oauth2 alone: state and PKCE
// verifier in one short-lived HttpOnly cookie, the user in a gorilla session.
type handApp struct {
	conf            *oauth2.Config
	hc              *http.Client
	store           *sessions.CookieStore
	login, callback http.Handler
}

const handCookie = "oauth_flow"

func newHandApp() *handApp {
	a := &handApp{conf: fp.oauth2Config(redirectURL), hc: fp.httpClient(), store: newAppStore()}
	a.login = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		state := oauth2.GenerateVerifier() // 32 random bytes, base64url
		verifier := oauth2.GenerateVerifier()
		http.SetCookie(w, &http.Cookie{
			Name: handCookie, Value: state + "." + verifier, Path: "/auth/",
			MaxAge: 600, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		})
		http.Redirect(w, r, a.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	})
	a.callback = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(handCookie)
		if err != nil {
			http.Error(w, "no login in progress", http.StatusBadRequest)
			return
		}
		state, verifier, _ := strings.Cut(c.Value, ".")
		q := r.URL.Query()
		if state == "" || q.Get("state") != state {
			http.Error(w, "state mismatch", http.StatusBadRequest)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: handCookie, Path: "/auth/", MaxAge: -1})
		tok, err := a.conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		u, err := fetchUser(a.hc, r, fp.at("/user"), tok.AccessToken)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if err := signIn(a.store, w, r, "bench", u.ID.String(), u.Email); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/profile", http.StatusFound)
	})
	return a
}

func (a *handApp) startLogin(tb testing.TB) (*http.Cookie, string) {
	rec := httptest.NewRecorder()
	a.login.ServeHTTP(rec, newRequest("/auth/bench/login"))
	if rec.Code != http.StatusFound {
		tb.Fatalf("x/oauth2 login: %d %s", rec.Code, rec.Body)
	}
	return cookieNamed(tb, rec, handCookie), queryParam(tb, rec.Header().Get("Location"), "state")
}

// requireGorillaUser is the hand check a gothic or gologin user puts in
// front of protected pages: read the user from the gorilla session.
func requireGorillaUser(store sessions.Store, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, appSession)
		id, _ := s.Values["user_id"].(string)
		if err != nil || id == "" {
			http.Redirect(w, r, "/auth/bench/login", http.StatusFound)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), gorillaUserKey{}, id)))
	})
}

type gorillaUserKey struct{}

func gorillaProfile(w http.ResponseWriter, r *http.Request) {
	if _, ok := r.Context().Value(gorillaUserKey{}).(string); !ok {
		http.Error(w, "no user", http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(pageBody)
}

// ------------------------------------------------------------------ helpers

// newRequest is an incoming GET from a browser holding cookies.
func newRequest(target string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for _, c := range cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func cookieNamed(tb testing.TB, rec *httptest.ResponseRecorder, name string) *http.Cookie {
	tb.Helper()
	var found *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == name && c.MaxAge >= 0 {
			found = c // the last one wins, as in a browser
		}
	}
	if found == nil {
		tb.Fatalf("no %s cookie in %v", name, rec.Header())
	}
	return found
}

// sink is a reusable ResponseWriter, so the benchmarks measure the handlers
// and not a recorder.
type sink struct {
	h    http.Header
	code int
}

func newSink() *sink { return &sink{h: http.Header{}} }

func (s *sink) Header() http.Header { return s.h }
func (s *sink) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return len(b), nil
}
func (s *sink) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
}
func (s *sink) reset() { clear(s.h); s.code = 0 }

var errStatus = errors.New("unexpected status")

// serve runs h on a shallow copy of base (handlers may replace the copy's
// context, as gorilla/sessions does) and checks the status.
func serve(h http.Handler, w *sink, base *http.Request, want int) error {
	w.reset()
	r := *base
	h.ServeHTTP(w, &r)
	if w.code != want {
		return fmt.Errorf("%w: %d, want %d (%v)", errStatus, w.code, want, w.h)
	}
	return nil
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
