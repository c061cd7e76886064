package oauthkit_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
)

// withLazyCorp adds the provider "corp": an OpenID Connect issuer (a fake
// AS in OpenID mode) behind client.LazyOpenID, whose discovery backs off on
// clk, mounted at /auth/corp/{login,callback}.
func withLazyCorp(t *testing.T, as *fakeAS, clk *clock) appOption {
	return func(cfg *oauthkit.Config) {
		c, err := client.LazyOpenID(as.URL, fakeas.ClientID, fakeas.ClientSecret,
			append(fakeas.OpenIDOptions("corp", nil), client.WithLazy(client.WithLazyClock(clk.Now)))...)
		require.NoError(t, err)
		cfg.Providers = append(cfg.Providers, oauthkit.Provider{
			Client:      c,
			RedirectURL: strings.Replace(cfg.Providers[0].RedirectURL, "/test/", "/corp/", 1),
		})
	}
}

// The issuer is down when the kit is built, goes down mid-test and comes
// back: New never waits for it, its login answers 503 while the other
// provider keeps working, and it recovers without a restart.
func TestLazyProviderOutage(t *testing.T) {
	as := newFakeAS(t)
	as.EnableOpenID()
	as.Stop()
	lazyClock := newClock()
	a := newApp(t, withLazyCorp(t, as, lazyClock))
	assert.Zero(t, as.DiscoveryHits.Load(), "New fetches nothing")

	b := a.browser()
	res, body := a.do(b, http.MethodGet, "/auth/corp/login", nil)
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.Empty(t, res.Header.Get("Location"))
	assert.Contains(t, body, "Login unavailable")
	err := a.takeErr()
	assert.ErrorIs(t, err, oauthkit.ErrProviderUnavailable)
	assert.ErrorIs(t, err, client.ErrProviderUnavailable)
	assert.Zero(t, a.pending(b), "no pending login for a provider that is down")

	// The other provider is unaffected.
	a.login(b, "/auth/test/login")
	require.True(t, a.signedIn(b))

	// Back up: the next attempt after the backoff discovers it.
	require.NoError(t, as.Restart())
	lazyClock.Add(time.Hour)
	b2 := a.browser()
	res = a.login(b2, "/auth/corp/login")
	assert.Equal(t, http.StatusFound, res.StatusCode)
	assert.Equal(t, "corp", a.sessionUser(b2).Provider)
	assert.EqualValues(t, 1, as.DiscoveryHits.Load())
	assert.EqualValues(t, 1, as.JWKSHits.Load())

	// Down mid-flow: the login started, the code exchange cannot reach
	// the token endpoint (502); the metadata stays cached.
	b3 := a.browser()
	cb := a.approve(a.startLogin(b3, "/auth/corp/login"))
	as.Stop()
	res = a.get(b3, cb)
	assert.Equal(t, http.StatusBadGateway, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrExchange)
	// A new login start still works from the cached metadata: only the
	// redirect to the provider, which the browser would find down.
	assert.Equal(t, http.StatusFound, a.get(a.browser(), "/auth/corp/login").StatusCode)

	require.NoError(t, as.Restart())
	res = a.login(b3, "/auth/corp/login")
	assert.Equal(t, http.StatusFound, res.StatusCode)
	assert.True(t, a.signedIn(b3))
	assert.EqualValues(t, 1, as.DiscoveryHits.Load(), "one discovery for the whole test")
}

// Garbage metadata is an outage too: 503, then recovery.
func TestLazyProviderGarbageMetadata(t *testing.T) {
	as := newFakeAS(t) // not in OpenID mode: the discovery URL is a 404
	lazyClock := newClock()
	a := newApp(t, withLazyCorp(t, as, lazyClock))
	res := a.get(a.browser(), "/auth/corp/login")
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	err := a.takeErr()
	assert.ErrorIs(t, err, oauthkit.ErrProviderUnavailable)
	assert.ErrorIs(t, err, client.ErrOpenIDConfiguration)
	// Within the backoff no request reaches the issuer.
	hits := as.DiscoveryHits.Load()
	assert.Equal(t, http.StatusServiceUnavailable, a.get(a.browser(), "/auth/corp/login").StatusCode)
	a.drainErrs()
	assert.Equal(t, hits, as.DiscoveryHits.Load())

	as.EnableOpenID()
	lazyClock.Add(time.Hour)
	assert.Equal(t, http.StatusFound, a.login(a.browser(), "/auth/corp/login").StatusCode)
}

// A key rotation makes one JWKS refetch for the first ID token signed with
// the new key, not one per login.
func TestLazyProviderKeyRotation(t *testing.T) {
	as := newFakeAS(t)
	as.EnableOpenID()
	a := newApp(t, withLazyCorp(t, as, newClock()), withBudgetTimeout(t))
	require.Equal(t, http.StatusFound, a.login(a.browser(), "/auth/corp/login").StatusCode)
	require.EqualValues(t, 1, as.JWKSHits.Load())
	as.RotateKey()
	var wg sync.WaitGroup
	codes := make(chan int, 10)
	for range 10 {
		wg.Go(func() {
			codes <- a.login(a.browser(), "/auth/corp/login").StatusCode
		})
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		assert.Equal(t, http.StatusFound, c)
	}
	assert.EqualValues(t, 2, as.JWKSHits.Load(), "one refetch for the rotation")
	assert.EqualValues(t, 1, as.DiscoveryHits.Load())
}

// 100 concurrent first logins against a cold provider: one metadata fetch
// and one JWKS fetch in all.
func TestLazyProviderColdStampede(t *testing.T) {
	as := newFakeAS(t)
	as.EnableOpenID()
	a := newApp(t, withLazyCorp(t, as, newClock()), withBudgetTimeout(t))
	const n = 100
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for range n {
		wg.Go(func() {
			codes <- a.login(a.browser(), "/auth/corp/login").StatusCode
		})
	}
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		if c == http.StatusFound {
			ok++
		}
	}
	assert.Equal(t, n, ok)
	assert.EqualValues(t, 1, as.DiscoveryHits.Load())
	assert.EqualValues(t, 1, as.JWKSHits.Load())
	assert.EqualValues(t, n, as.TokenOK.Load())
}

// The logout notification handlers of a lazy provider resolve it per
// request: 503 while the issuer was never reached, then back- and
// front-channel logouts end the sessions of the login they name.
func TestLazyProviderLogoutNotifications(t *testing.T) {
	as := newFakeAS(t)
	as.EnableOpenID()
	as.Stop()
	lazyClock := newClock()
	a := newApp(t, withLazyCorp(t, as, lazyClock))
	a.mux.Handle("/backchannel", a.kit.BackChannelLogoutHandler("corp"))
	a.mux.Handle("/frontchannel", a.kit.FrontChannelLogoutHandler("corp"))

	res, _ := a.do(a.browser(), http.MethodGet, "/frontchannel?iss=x&sid=y", nil)
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrProviderUnavailable)

	require.NoError(t, as.Restart())
	lazyClock.Add(time.Hour)
	b1, b2 := a.browser(), a.browser()
	for _, b := range []*http.Client{b1, b2} {
		require.Equal(t, http.StatusFound, a.login(b, "/auth/corp/login").StatusCode)
	}
	// Both logins share the fake's provider session: a front-channel
	// logout for it ends both, framed by the discovered issuer only.
	fres, err := as.FrontChannelLogout(context.Background(), a.srv.Client(), a.srv.URL+"/frontchannel", as.SessionID(fakeas.DefaultUser.ID))
	require.NoError(t, err)
	fres.Body.Close()
	assert.Equal(t, http.StatusOK, fres.StatusCode)
	assert.Equal(t, "frame-ancestors "+as.URL, fres.Header.Get("Content-Security-Policy"))
	assert.False(t, a.signedIn(b1))
	assert.False(t, a.signedIn(b2))

	// Concurrent requests to it share nothing they write (-race).
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			res, _ := a.do(a.browser(), http.MethodGet, "/frontchannel", nil)
			assert.Equal(t, http.StatusOK, res.StatusCode)
		})
	}
	wg.Wait()

	b3 := a.browser()
	require.Equal(t, http.StatusFound, a.login(b3, "/auth/corp/login").StatusCode)
	token := as.LogoutToken(fakeas.LogoutTokenOptions{Subject: fakeas.DefaultUser.ID})
	bres, err := as.BackChannelLogout(context.Background(), a.srv.Client(), a.srv.URL+"/backchannel", token)
	require.NoError(t, err)
	bres.Body.Close()
	assert.Equal(t, http.StatusOK, bres.StatusCode)
	assert.False(t, a.signedIn(b3))
}
