package oauthkit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
)

// tenants is a ProviderResolver's backing table: tenant → the fake AS its
// IdP is, with a count of the resolver's calls per tenant. Tests change it
// while the site runs.
type tenants struct {
	mu    sync.Mutex
	as    map[string]*fakeAS
	cid   map[string]string // client id override per tenant
	calls map[string]int
	// fail, when set, is returned for every tenant; block makes the
	// resolver wait for its context to end, late also then answer as if
	// it had not noticed.
	fail  error
	block bool
	late  bool
	base  string // the site's URL
}

func (ts *tenants) provider(ctx context.Context, tenant string) (oauthkit.Provider, error) {
	ts.mu.Lock()
	ts.calls[tenant]++
	as, fail, block, late, cid := ts.as[tenant], ts.fail, ts.block, ts.late, ts.cid[tenant]
	ts.mu.Unlock()
	if block || late {
		<-ctx.Done()
		if block {
			return oauthkit.Provider{}, ctx.Err()
		}
	}
	if fail != nil {
		return oauthkit.Provider{}, fail
	}
	if as == nil {
		return oauthkit.Provider{}, fmt.Errorf("tenant %q: %w", tenant, oauthkit.ErrUnknownProvider)
	}
	p, err := as.Client("corp", nil)
	if err != nil {
		return oauthkit.Provider{}, err
	}
	var c client.Provider = p
	if cid != "" {
		cfg := p.Config()
		cfg.ClientID = cid
		oc, err := client.New(cfg, fakeas.Options("corp", nil)...)
		if err != nil {
			return oauthkit.Provider{}, err
		}
		c = p.WithOAuth2(oc)
	}
	return oauthkit.Provider{
		Client:      c,
		RedirectURL: ts.base + "/t/" + tenant + "/callback",
		LoginPath:   "/t/" + tenant + "/login",
	}, nil
}

func (ts *tenants) callCount(tenant string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.calls[tenant]
}

func (ts *tenants) set(f func(ts *tenants)) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	f(ts)
}

// tenantApp is the test app with a resolver "sso" mounted at
// /t/{tenant}/login and /t/{tenant}/callback, for tenants a and b, each
// with its own fake AS (so its own issuer), next to the static provider
// "test".
func tenantApp(t *testing.T, opts ...appOption) (*app, *tenants) {
	t.Helper()
	ts := &tenants{as: map[string]*fakeAS{"a": newFakeAS(t), "b": newFakeAS(t)}, cid: map[string]string{}, calls: map[string]int{}}
	ts.as["a"].SetUser(fakeUser{ID: "1", Email: "ann@a.example"})
	ts.as["b"].SetUser(fakeUser{ID: "1", Email: "bob@b.example"})
	opts = append([]appOption{func(cfg *oauthkit.Config) {
		ts.base = strings.TrimSuffix(cfg.Providers[0].RedirectURL, "/auth/test/callback")
		cfg.Resolvers = []oauthkit.ProviderResolver{{
			Name:        "sso",
			DisplayName: "Your company",
			Tenant:      func(r *http.Request) (string, error) { return r.PathValue("tenant"), nil },
			Provider:    ts.provider,
			TTL:         time.Minute,
		}}
	}}, opts...)
	a := newApp(t, opts...)
	a.mux.Handle("/t/{tenant}/login", a.kit.LoginHandler("sso"))
	a.mux.Handle("/t/{tenant}/callback", a.kit.CallbackHandler("sso"))
	return a, ts
}

func TestResolverTenantsLogInConcurrently(t *testing.T) {
	a, ts := tenantApp(t)
	const perTenant = 4
	var wg sync.WaitGroup
	users := make(chan string, 2*perTenant)
	for _, tenant := range []string{"a", "b"} {
		for range perTenant {
			wg.Go(func() {
				b := a.browser()
				res := a.get(b, a.approve(a.startLogin(b, "/t/"+tenant+"/login")))
				if res.StatusCode != http.StatusFound {
					users <- fmt.Sprintf("status %d", res.StatusCode)
					return
				}
				_, body := a.do(b, http.MethodGet, "/profile", nil)
				users <- body
			})
		}
	}
	wg.Wait()
	close(users)
	got := map[string]int{}
	for u := range users {
		got[u]++
	}
	// The same subject at two IdPs is two users: the provider names the
	// tenant.
	assert.Equal(t, map[string]int{"sso:a|1|ann@a.example": perTenant, "sso:b|1|bob@b.example": perTenant}, got)
	assert.EqualValues(t, perTenant, ts.as["a"].TokenOK.Load())
	assert.EqualValues(t, perTenant, ts.as["b"].TokenOK.Load())
	// Every login start and callback resolved its tenant; the resolver was
	// asked once per tenant.
	assert.Equal(t, 1, ts.callCount("a"))
	assert.Equal(t, 1, ts.callCount("b"))

	b := a.browser()
	a.login(b, "/t/a/login")
	u := a.sessionUser(b)
	require.NotNil(t, u)
	assert.Equal(t, "sso:a:1", u.UserID)
	assert.Equal(t, "sso:a", u.Provider)

	names := []string{}
	for _, p := range a.kit.Providers() {
		names = append(names, fmt.Sprintf("%s %s %v", p.Name, p.DisplayName, p.Resolver))
	}
	assert.Equal(t, []string{"test test false", "sso Your company true"}, names)
}

func TestResolverMixUpAcrossTenants(t *testing.T) {
	a, ts := tenantApp(t)
	b := a.browser()
	// A login started at tenant a, whose code comes back on tenant b's
	// callback (a state replayed across tenants, or a mixed-up IdP).
	cb := a.approve(a.startLogin(b, "/t/a/login"))
	require.True(t, strings.HasPrefix(cb, "/t/a/callback?"))
	res := a.get(b, strings.Replace(cb, "/t/a/", "/t/b/", 1))
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrProviderMismatch)
	assert.Zero(t, ts.as["a"].TokenHits.Load(), "no token request may follow a tenant mix-up")
	assert.Zero(t, ts.as["b"].TokenHits.Load())
	// The refused callback consumed the state: replaying it on its own
	// tenant fails too.
	res = a.get(b, cb)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStateNotFound)
	assert.Zero(t, ts.as["a"].TokenHits.Load())

	// A tenant login's state on the static provider's callback, and the
	// other way round.
	cb = a.approve(a.startLogin(b, "/t/a/login"))
	res = a.get(b, "/auth/test/callback?"+strings.SplitN(cb, "?", 2)[1])
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrProviderMismatch)
	cb = a.approve(a.startLogin(b, "/auth/test/login"))
	res = a.get(b, "/t/a/callback?"+strings.SplitN(cb, "?", 2)[1])
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrProviderMismatch)
	assert.Zero(t, ts.as["a"].TokenHits.Load())
	assert.Zero(t, a.as.TokenHits.Load())
}

func TestResolverProviderChangedDuringLogin(t *testing.T) {
	a, ts := tenantApp(t)
	b := a.browser()
	cb := a.approve(a.startLogin(b, "/t/a/login"))
	// The tenant's IdP registration changes (another client id) and the
	// cache expires before the callback: the login was started for the
	// old one and cannot complete against the new one.
	ts.set(func(ts *tenants) { ts.cid["a"] = "another-client" })
	a.clock.Add(2 * time.Minute)
	res := a.get(b, cb)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrProviderMismatch)
	assert.Zero(t, ts.as["a"].TokenHits.Load())
	assert.Equal(t, 2, ts.callCount("a"))
}

func TestResolverFailures(t *testing.T) {
	// The never-answering resolver below waits this long; the healthy
	// calls must fit in it on a loaded machine.
	a, ts := tenantApp(t, func(cfg *oauthkit.Config) { cfg.ProviderTimeout = hangTimeout(t) })
	b := a.browser()

	// Unknown tenant and keys the kit refuses before asking: 404.
	for _, path := range []string{"/t/nobody/login", "/t/a:b/login", "/t/" + strings.Repeat("x", 129) + "/login", "/auth/sso/login"} {
		res := a.get(b, path)
		assert.Equal(t, http.StatusNotFound, res.StatusCode, path)
		assert.ErrorIs(t, a.takeErr(), oauthkit.ErrUnknownProvider, path)
	}
	assert.Equal(t, 1, ts.callCount("nobody"))
	assert.Zero(t, ts.callCount("a:b"))
	assert.Zero(t, ts.callCount(""))

	// A failing resolver: 503 with the friendly page; the static provider
	// keeps working.
	ts.set(func(ts *tenants) { ts.fail = errors.New("tenant database down") })
	res, body := a.do(b, http.MethodGet, "/t/a/login", nil)
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.Empty(t, res.Header.Get("Location"))
	assert.Contains(t, body, "cannot be reached right now")
	assert.NotContains(t, body, "database")
	err := a.takeErr()
	assert.ErrorIs(t, err, oauthkit.ErrProviderUnavailable)
	a.login(b, "/auth/test/login")
	assert.True(t, a.signedIn(b))

	// A resolver that never answers: bounded by ProviderTimeout, 503.
	ts.set(func(ts *tenants) { ts.fail, ts.block = nil, true })
	res = a.get(a.browser(), "/t/b/login")
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	err = a.takeErr()
	assert.ErrorIs(t, err, oauthkit.ErrProviderUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// One that ignores its context and answers after the deadline: still
	// 503, and nothing cached.
	ts.set(func(ts *tenants) { ts.block, ts.late = false, true })
	res = a.get(a.browser(), "/t/b/login")
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	err = a.takeErr()
	assert.ErrorIs(t, err, oauthkit.ErrProviderUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// A caller that goes away while the resolver works gets its own
	// error at once; the shared call goes on for the others.
	ts.set(func(ts *tenants) { ts.late, ts.block = false, true })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = a.kit.TokenFor(ctx, "sso:a:1", "sso:a") // tenant a: b's recovery below must not join this call
	assert.ErrorIs(t, err, oauthkit.ErrProviderUnavailable)
	assert.ErrorIs(t, err, context.Canceled)

	// Recovered: no restart needed, errors were not cached.
	ts.set(func(ts *tenants) { ts.block = false })
	b2 := a.browser()
	a.login(b2, "/t/b/login")
	assert.Equal(t, "sso:b", a.sessionUser(b2).Provider)
	assert.Zero(t, ts.as["a"].TokenHits.Load())
}

func TestResolverSignedInTenantUser(t *testing.T) {
	a, ts := tenantApp(t)
	ts.as["a"].ExpiresIn = 60 // short-lived access tokens, so Token refreshes
	b := a.browser()
	a.login(b, "/t/a/login")
	require.True(t, a.signedIn(b))

	// A refresh goes to the tenant's IdP.
	a.clock.Add(30 * time.Second)
	_, at := a.do(b, http.MethodGet, "/api/token", nil)
	a.clock.Add(50 * time.Second)
	_, at2 := a.do(b, http.MethodGet, "/api/token", nil)
	assert.NotEqual(t, at, at2)
	assert.EqualValues(t, 1, ts.as["a"].RefreshHits.Load())
	assert.Zero(t, ts.as["b"].RefreshHits.Load())

	// The resolver fails once the cache expires: the user is told so
	// (503) and stays signed in for when it is back.
	ts.set(func(ts *tenants) { ts.fail = errors.New("down") })
	a.clock.Add(2 * time.Minute)
	res := a.get(b, "/profile")
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrProviderUnavailable)
	ts.set(func(ts *tenants) { ts.fail = nil })
	assert.True(t, a.signedIn(b))

	// A tenant the resolver no longer knows: its users are signed out.
	ts.set(func(ts *tenants) { delete(ts.as, "a") })
	a.clock.Add(2 * time.Minute)
	assert.False(t, a.signedIn(b))
}

func TestResolverConfig(t *testing.T) {
	base := func() oauthkit.Config {
		return oauthkit.Config{Sessions: scs.New(), Resolvers: []oauthkit.ProviderResolver{{
			Name:     "sso",
			Tenant:   func(*http.Request) (string, error) { return "", nil },
			Provider: func(context.Context, string) (oauthkit.Provider, error) { return oauthkit.Provider{}, nil },
		}}}
	}
	_, err := oauthkit.New(base())
	require.NoError(t, err, "a resolver alone is a valid configuration")
	for name, edit := range map[string]func(*oauthkit.Config){
		"colon":       func(c *oauthkit.Config) { c.Resolvers[0].Name = "s:o" },
		"empty":       func(c *oauthkit.Config) { c.Resolvers[0].Name = "" },
		"no tenant":   func(c *oauthkit.Config) { c.Resolvers[0].Tenant = nil },
		"no provider": func(c *oauthkit.Config) { c.Resolvers[0].Provider = nil },
		"duplicate":   func(c *oauthkit.Config) { c.Resolvers = append(c.Resolvers, c.Resolvers[0]) },
	} {
		cfg := base()
		edit(&cfg)
		_, err := oauthkit.New(cfg)
		assert.ErrorIs(t, err, oauthkit.ErrInvalidConfig, name)
	}
}

func TestResolverBadProvider(t *testing.T) {
	a, ts := tenantApp(t)
	// The resolver returns a provider New would refuse (plain-http,
	// non-loopback redirect URL): a configuration error, 500, and no
	// request to the IdP.
	ts.set(func(ts *tenants) { ts.base = "http://tenant.example" })
	res := a.get(a.browser(), "/t/a/login")
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrInvalidConfig)
	assert.Zero(t, ts.as["a"].AuthorizeHits.Load())
}

func TestResolverTenantOriginMayLogOut(t *testing.T) {
	a, ts := tenantApp(t)
	// Tenant c is served on its own host.
	ts.set(func(ts *tenants) { ts.as["c"] = ts.as["a"] })
	logout := func() int {
		res, _ := a.do(a.browser(), http.MethodPost, "/logout", http.Header{"Origin": {"https://c.example"}})
		return res.StatusCode
	}
	// An older browser (no Sec-Fetch-Site) posting from an origin the site
	// does not have is refused ...
	assert.Equal(t, http.StatusForbidden, logout())
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrCrossOrigin)
	// ... and accepted once the tenant whose redirect URL is there resolved.
	ts.set(func(ts *tenants) { ts.base = "https://c.example" })
	a.startLogin(a.browser(), "/t/c/login")
	assert.Equal(t, http.StatusSeeOther, logout())
}

func TestResolverTokenFor(t *testing.T) {
	a, ts := tenantApp(t, func(cfg *oauthkit.Config) { cfg.TokenStore = oauthkit.NewMemoryTokenStore() })
	b := a.browser()
	a.login(b, "/t/b/login")
	u := a.sessionUser(b)
	require.NotNil(t, u)
	ctx := context.Background()
	tok, err := a.kit.TokenFor(ctx, u.UserID, "sso:b")
	require.NoError(t, err)
	assert.NotEmpty(t, tok.RefreshToken)
	// Expired: refreshed at tenant b's IdP, outside any request.
	a.clock.Add(2 * time.Hour)
	_, err = a.kit.TokenFor(ctx, u.UserID, "sso:b")
	require.NoError(t, err)
	assert.EqualValues(t, 1, ts.as["b"].RefreshHits.Load())
	assert.Zero(t, ts.as["a"].RefreshHits.Load())
	// Another tenant's grant of the same subject is not this one.
	_, err = a.kit.TokenFor(ctx, u.UserID, "sso:a")
	assert.ErrorIs(t, err, oauthkit.ErrReauthRequired)
	_, err = a.kit.TokenFor(ctx, u.UserID, "sso:nobody")
	assert.ErrorIs(t, err, oauthkit.ErrUnknownProvider)
}
