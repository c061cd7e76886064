package oauthkit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
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

func newBenchEnv(b *testing.B, opts ...func(*oauthkit.Config)) *benchEnv {
	as := newFakeAS(b)
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(time.Hour)
	sm.Cookie.Secure = true
	cfg := oauthkit.Config{
		Sessions: sm,
		Providers: []oauthkit.Provider{
			{Client: provider(b, as, "test"), RedirectURL: "http://127.0.0.1/auth/test/callback"},
		},
		LoginPath: "/auth/test/login",
	}
	for _, o := range opts {
		o(&cfg)
	}
	kit, err := oauthkit.New(cfg)
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

// benchCodecs are the session codecs the session benchmarks compare: scs's
// default and the kit's.
var benchCodecs = []struct {
	name  string
	codec scs.Codec
}{
	{"gob", scs.GobCodec{}},
	{"codec", oauthkit.SessionCodec{}},
}

// withCodec sets the session manager's codec.
func withCodec(c scs.Codec) func(*oauthkit.Config) {
	return func(cfg *oauthkit.Config) { cfg.Sessions.Codec = c }
}

// BenchmarkLoadAndSaveOnly is the floor: scs loading a signed-in session
// around a handler that does nothing, with each codec.
func BenchmarkLoadAndSaveOnly(b *testing.B) {
	for _, c := range benchCodecs {
		b.Run(c.name, func(b *testing.B) {
			e := newBenchEnv(b, withCodec(c.codec))
			req := httptest.NewRequest(http.MethodGet, "/profile", nil)
			req.AddCookie(e.signedIn())
			serveLoop(b, e.sm.LoadAndSave(okHandler), req, http.StatusOK)
		})
	}
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

// BenchmarkRequireAuth: a signed-in request through RequireAuth inside
// LoadAndSave, with each codec, and an anonymous one (no session to load).
func BenchmarkRequireAuth(b *testing.B) {
	for _, c := range benchCodecs {
		b.Run("signed-in/"+c.name, func(b *testing.B) {
			e := newBenchEnv(b, withCodec(c.codec))
			req := httptest.NewRequest(http.MethodGet, "/profile", nil)
			req.AddCookie(e.signedIn())
			serveLoop(b, e.sm.LoadAndSave(e.kit.RequireAuth(okHandler)), req, http.StatusOK)
		})
	}
	b.Run("anonymous", func(b *testing.B) {
		e := newBenchEnv(b)
		req := httptest.NewRequest(http.MethodGet, "/profile?tab=1", nil)
		serveLoop(b, e.sm.LoadAndSave(e.kit.RequireAuth(okHandler)), req, http.StatusFound)
	})
}

// BenchmarkPendingRetained: the live heap a memstore and the kit keep per
// pending login (a browser that started a login and has not come back),
// after 10,000 logins and a GC, with each codec, and the size of one
// pending login's record.
func BenchmarkPendingRetained(b *testing.B) {
	const n = 10_000
	for _, c := range benchCodecs {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/auth/test/login?next=%2Fdashboard", nil)
			var retained, record float64
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				base := liveHeap()
				b.StartTimer()
				e := newBenchEnv(b, withCodec(c.codec))
				h := e.sm.LoadAndSave(e.kit.LoginHandler("test"))
				var token string
				for range n {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusFound {
						b.Fatalf("login: %d", rec.Code)
					}
					token = sessionCookieOf(rec, e.sm.Cookie.Name).Value
				}
				b.StopTimer()
				raw, _, _ := e.sm.Store.Find(token)
				record = float64(len(raw))
				runtime.GC()
				retained = liveHeap() - base
				runtime.KeepAlive(e)
				b.StartTimer()
			}
			b.ReportMetric(retained/n, "retained-B/pending")
			b.ReportMetric(record, "record-B")
		})
	}
}

// BenchmarkClaimRetained: the live heap the in-memory state claimer keeps
// per claim (for the PendingTTL after each callback).
func BenchmarkClaimRetained(b *testing.B) {
	var per float64
	for b.Loop() {
		per = retainedPerClaim(b, 10_000)
	}
	b.ReportMetric(per, "retained-B/claim")
}

// BenchmarkLoginHandler: a new browser starting a login (new session,
// state, verifier, commit to the store, redirect).
func BenchmarkLoginHandler(b *testing.B) {
	e := newBenchEnv(b)
	req := httptest.NewRequest(http.MethodGet, "/auth/test/login?next=%2Fdashboard%3Ftab%3D1", nil)
	serveLoop(b, e.sm.LoadAndSave(e.kit.LoginHandler("test")), req, http.StatusFound)
}

// BenchmarkLoginHandlerFlat: the login start's cost does not grow with
// the number of providers the kit has, nor (beyond reading and rewriting
// them) with the logins already pending in the session. Each iteration
// starts a login in a session holding the given pending logins (restored
// before each iteration, untimed, so the count stays fixed), with the
// kit's session codec.
func BenchmarkLoginHandlerFlat(b *testing.B) {
	for _, providers := range []int{1, 20} {
		for _, pending := range []int{0, 1, 5} {
			b.Run(fmt.Sprintf("providers=%d/pending=%d", providers, pending), func(b *testing.B) {
				benchLoginFlat(b, providers, pending)
			})
		}
	}
}

func benchLoginFlat(b *testing.B, providers, pending int) {
	e := newBenchEnv(b, withCodec(oauthkit.SessionCodec{}), func(cfg *oauthkit.Config) {
		other := newFakeAS(b) // the login start never calls it
		for i := 1; i < providers; i++ {
			name := fmt.Sprintf("p%02d", i)
			cfg.Providers = append(cfg.Providers, oauthkit.Provider{
				Client: provider(b, other, name), RedirectURL: "http://127.0.0.1/auth/" + name + "/callback",
			})
		}
		cfg.MaxPending = 6 // room for 5 pending and the new one: no eviction
	})
	h := e.sm.LoadAndSave(e.kit.LoginHandler("test"))
	req := httptest.NewRequest(http.MethodGet, "/auth/test/login?next=%2Fdashboard", nil)
	var cookie *http.Cookie
	var record []byte
	var expiry time.Time
	if pending > 0 {
		for range pending {
			rec := httptest.NewRecorder()
			r := req.Clone(context.Background())
			if cookie != nil {
				r.AddCookie(cookie)
			}
			h.ServeHTTP(rec, r)
			require.Equal(b, http.StatusFound, rec.Code)
			cookie = sessionCookieOf(rec, e.sm.Cookie.Name)
		}
		req.AddCookie(cookie)
		var found bool
		var err error
		record, found, err = e.sm.Store.Find(cookie.Value)
		require.True(b, found)
		require.NoError(b, err)
		expiry = time.Now().Add(time.Hour)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if record != nil {
			b.StopTimer()
			require.NoError(b, e.sm.Store.Commit(cookie.Value, record, expiry))
			b.StartTimer()
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound {
			b.Fatalf("status %d", rec.Code)
		}
	}
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

// countingStore counts TokenStore round trips.
type countingStore struct {
	oauthkit.TokenStore
	ops atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	c.ops.Add(1)
	return c.TokenStore.Get(ctx, key)
}

func (c *countingStore) Put(ctx context.Context, key string, rec []byte, ttl time.Duration) error {
	c.ops.Add(1)
	return c.TokenStore.Put(ctx, key, rec, ttl)
}

// BenchmarkToken is Kit.Token behind RequireAuth, with tokens in the
// session only and with a TokenStore (plus its in-process RefreshLocks):
// on a valid token (no store round trip either way) and on an expired one
// (each iteration's clock is two hours later, so every call refreshes at
// the fake provider over loopback, taking the lease with a TokenStore).
func BenchmarkToken(b *testing.B) {
	for _, mode := range []string{"session", "tokenstore"} {
		for _, state := range []string{"valid", "refresh"} {
			b.Run(mode+"/"+state, func(b *testing.B) {
				var later atomic.Int64
				store := &countingStore{TokenStore: oauthkit.NewMemoryTokenStore()}
				e := newBenchEnv(b, func(c *oauthkit.Config) {
					c.Now = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
					if mode == "tokenstore" {
						c.TokenStore = store
					}
				})
				h := e.sm.LoadAndSave(e.kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if _, err := e.kit.Token(r.Context()); err != nil {
						http.Error(w, err.Error(), oauthkit.HTTPStatus(err))
					}
				})))
				cookie := e.signedIn()
				store.ops.Store(0)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if state == "refresh" {
						later.Add(int64(2 * time.Hour))
					}
					req := httptest.NewRequest(http.MethodGet, "/api", nil)
					req.AddCookie(cookie)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
					if c := sessionCookieOf(rec, e.sm.Cookie.Name); c != nil {
						cookie = c
					}
				}
				b.ReportMetric(float64(store.ops.Load())/float64(b.N), "store-ops/op")
			})
		}
	}
}

// BenchmarkColdProviderLogins: each iteration is 100 concurrent first
// logins (start, approval, callback) on a new kit whose provider is a
// client.LazyOpenID nobody has asked yet. It reports the issuer's metadata
// and JWKS fetches per iteration, which must be one each: the logins
// share the discovery and the key set.
func BenchmarkColdProviderLogins(b *testing.B) {
	const logins = 100
	var discoveries, jwks int64
	for b.Loop() {
		b.StopTimer()
		as := newFakeAS(b)
		as.EnableOpenID()
		c, err := client.LazyOpenID(as.URL, fakeas.ClientID, fakeas.ClientSecret, fakeas.OpenIDOptions("test", nil)...)
		require.NoError(b, err)
		e := newBenchEnv(b, func(cfg *oauthkit.Config) { cfg.Providers[0].Client = c })
		e.as = as
		b.StartTimer()
		var wg sync.WaitGroup
		for range logins {
			wg.Go(func() {
				cookie, authURL := e.startLogin()
				e.callback(e.approve(authURL, cookie))
			})
		}
		wg.Wait()
		b.StopTimer()
		if as.TokenOK.Load() != logins {
			b.Fatalf("%d logins completed, want %d", as.TokenOK.Load(), logins)
		}
		discoveries += as.DiscoveryHits.Load()
		jwks += as.JWKSHits.Load()
		as.Srv.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(discoveries)/float64(b.N), "metadata-fetches/op")
	b.ReportMetric(float64(jwks)/float64(b.N), "jwks-fetches/op")
	if discoveries != int64(b.N) || jwks != int64(b.N) {
		b.Fatalf("%d metadata and %d JWKS fetches in %d iterations, want one each per iteration", discoveries, jwks, b.N)
	}
}
