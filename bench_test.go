package oauthkit_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// Benchmarks of the kit's handlers, driven in-process with
// httptest.NewRecorder so they measure the kit and scs, not TCP. Only the
// callback talks to the fake provider (token and user endpoints) over
// loopback, as it does in production.

type benchEnv struct {
	b   *testing.B
	as  *fakeAS
	sm  *scs.SessionManager
	kit *oauthkit.Kit
}

func newBenchEnv(b *testing.B) *benchEnv {
	as := newFakeAS(b)
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(time.Hour)
	sm.Cookie.Secure = true
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions: sm,
		Providers: []oauthkit.Provider{
			{Client: provider(b, as, "test"), RedirectURL: "http://127.0.0.1/auth/test/callback"},
		},
		LoginPath: "/auth/test/login",
	})
	require.NoError(b, err)
	return &benchEnv{b: b, as: as, sm: sm, kit: kit}
}

func sessionCookieOf(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// startLogin runs LoginHandler in-process and returns the session cookie
// and the authorization URL.
func (e *benchEnv) startLogin() (*http.Cookie, *url.URL) {
	rec := httptest.NewRecorder()
	e.sm.LoadAndSave(e.kit.LoginHandler("test")).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth/test/login", nil))
	if rec.Code != http.StatusFound {
		e.b.Fatalf("login: %d", rec.Code)
	}
	u, _ := url.Parse(rec.Header().Get("Location"))
	return sessionCookieOf(rec, e.sm.Cookie.Name), u
}

// approve runs the fake AS's authorize handler in-process and returns the
// callback request.
func (e *benchEnv) approve(authURL *url.URL, cookie *http.Cookie) *http.Request {
	rec := httptest.NewRecorder()
	e.as.Srv.Config.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, authURL.String(), nil))
	cb, _ := url.Parse(rec.Header().Get("Location"))
	req := httptest.NewRequest(http.MethodGet, cb.RequestURI(), nil)
	req.AddCookie(cookie)
	return req
}

func (e *benchEnv) callback(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.sm.LoadAndSave(e.kit.CallbackHandler("test")).ServeHTTP(rec, req)
	if rec.Code != http.StatusFound {
		e.b.Fatalf("callback: %d", rec.Code)
	}
	return rec
}

// signedIn returns the cookie of a signed-in session.
func (e *benchEnv) signedIn() *http.Cookie {
	cookie, authURL := e.startLogin()
	return sessionCookieOf(e.callback(e.approve(authURL, cookie)), e.sm.Cookie.Name)
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
})

func serveLoop(b *testing.B, h http.Handler, req *http.Request, want int) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkLoadAndSaveOnly is the floor: scs loading a signed-in session
// around a handler that does nothing.
func BenchmarkLoadAndSaveOnly(b *testing.B) {
	e := newBenchEnv(b)
	req := httptest.NewRequest(http.MethodGet, "/profile", nil)
	req.AddCookie(e.signedIn())
	serveLoop(b, e.sm.LoadAndSave(okHandler), req, http.StatusOK)
}

// BenchmarkLoadAndSaveGet is the floor plus one SessionManager.Get, which
// RequireAuth needs to read the user: scs boxes its context key on every
// session read (one allocation the kit cannot avoid).
func BenchmarkLoadAndSaveGet(b *testing.B) {
	e := newBenchEnv(b)
	req := httptest.NewRequest(http.MethodGet, "/profile", nil)
	req.AddCookie(e.signedIn())
	serveLoop(b, e.sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = e.sm.Get(r.Context(), "oauthkit.user")
		w.WriteHeader(http.StatusOK)
	})), req, http.StatusOK)
}

func BenchmarkRequireAuth(b *testing.B) {
	b.Run("signed-in", func(b *testing.B) {
		e := newBenchEnv(b)
		req := httptest.NewRequest(http.MethodGet, "/profile", nil)
		req.AddCookie(e.signedIn())
		serveLoop(b, e.sm.LoadAndSave(e.kit.RequireAuth(okHandler)), req, http.StatusOK)
	})
	b.Run("anonymous", func(b *testing.B) {
		e := newBenchEnv(b)
		req := httptest.NewRequest(http.MethodGet, "/profile?tab=1", nil)
		serveLoop(b, e.sm.LoadAndSave(e.kit.RequireAuth(okHandler)), req, http.StatusFound)
	})
}

// BenchmarkLoginHandler: a new browser starting a login (new session,
// state, verifier, commit to the store, redirect).
func BenchmarkLoginHandler(b *testing.B) {
	e := newBenchEnv(b)
	req := httptest.NewRequest(http.MethodGet, "/auth/test/login?next=%2Fdashboard%3Ftab%3D1", nil)
	serveLoop(b, e.sm.LoadAndSave(e.kit.LoginHandler("test")), req, http.StatusFound)
}

// BenchmarkCallbackHandler: each iteration completes a fresh pending login
// (code exchange and user API on the loopback fake provider, session
// renewal). Starting the login and the provider's approval are not timed.
func BenchmarkCallbackHandler(b *testing.B) {
	e := newBenchEnv(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cookie, authURL := e.startLogin()
		req := e.approve(authURL, cookie)
		b.StartTimer()
		e.callback(req)
	}
}
