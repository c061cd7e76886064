package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/providertest"
)

const wellKnownPath = openIDWellKnown

// newLazyIssuer serves testIssuer's discovery document over loopback.
func newLazyIssuer(t *testing.T) (*fakeServer, *http.Client) {
	f, hc := newFakeServer(t)
	f.json(wellKnownPath, 200, discoveryDoc(testIssuer))
	return f, hc
}

// gatedIssuer serves f behind a gate: each request is counted, then held
// until the gate is closed or the client goes away.
func gatedIssuer(t *testing.T, f *fakeServer) (hc *http.Client, n *atomic.Int32, gate chan struct{}) {
	n, gate = new(atomic.Int32), make(chan struct{})
	hc = providerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		f.ServeHTTP(w, r)
	}))
	return hc, n, gate
}

func waitRequests(n *atomic.Int32, want int32) {
	for n.Load() < want {
		time.Sleep(time.Millisecond)
	}
}

// TestLazyIssuerDownThenUp: an issuer that refuses connections at the first
// Resolve gives ErrProviderUnavailable (no panic); once it listens, Resolve
// recovers after the backoff window, without a request inside the window.
func TestLazyIssuerDownThenUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	clock := newTestClock()
	hc := &http.Client{Transport: &providertest.Loopback{Target: addr}}
	l, err := LazyOpenID(testIssuer, "CID", "SEC", WithHTTPClient(hc), WithLazy(WithLazyClock(clock.Now)))
	require.NoError(t, err)

	_, down := l.Resolve(t.Context())
	require.Error(t, down)
	assert.ErrorIs(t, down, ErrProviderUnavailable)
	assert.ErrorIs(t, down, ErrOpenIDConfiguration)
	assert.ErrorIs(t, down, syscall.ECONNREFUSED)

	f := &fakeServer{t: t, routes: map[string]fakeRoute{}}
	f.json(wellKnownPath, 200, discoveryDoc(testIssuer))
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(f)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	_, again := l.Resolve(t.Context())
	assert.Same(t, down, again, "inside the window: the last error, at once")
	assert.Empty(t, f.requests(wellKnownPath))

	clock.Advance(time.Second)
	p, err := l.Resolve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, testIssuer, p.Capabilities().Issuer)
	assert.Len(t, f.requests(wellKnownPath), 1)
}

// TestLazyBackoff: the window doubles with each consecutive failure, up to
// its maximum, and a success ends it.
func TestLazyBackoff(t *testing.T) {
	f, hc := newFakeServer(t)
	f.json(wellKnownPath, 503, `{}`)
	clock := newTestClock()
	l, err := LazyOpenID(testIssuer, "CID", "SEC", WithHTTPClient(hc),
		WithLazy(WithLazyClock(clock.Now), WithLazyBackoff(time.Second, 3*time.Second)))
	require.NoError(t, err)
	requests := func() int { return len(f.requests(wellKnownPath)) }

	// step advances the clock by d, resolves, and reports the requests
	// made so far.
	step := func(d time.Duration) (int, error) {
		clock.Advance(d)
		_, err := l.Resolve(t.Context())
		return requests(), err
	}
	for i, s := range []struct {
		advance time.Duration
		want    int
	}{
		{0, 1},           // fails: window 1 s
		{time.Second, 2}, // fails: window 2 s
		{time.Second, 2}, // inside
		{time.Second, 3}, // fails: window 3 s (the max, not 4 s)
		{2 * time.Second, 3},
	} {
		n, err := step(s.advance)
		assert.Equal(t, s.want, n, "step %d", i)
		var he *HTTPError
		assert.ErrorAs(t, err, &he, "step %d", i)
		assert.ErrorIs(t, err, ErrProviderUnavailable, "step %d", i)
	}
	f.json(wellKnownPath, 200, discoveryDoc(testIssuer))
	n, err := step(time.Second)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
}

// TestLazyUnusableMetadata: metadata that cannot be used is
// ErrProviderUnavailable wrapping ErrOpenIDConfiguration and the cause.
func TestLazyUnusableMetadata(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  any
		cause error
	}{
		{"garbage", `<html>not json`, ErrInvalidResponse},
		{"no token endpoint", discoveryDoc(testIssuer, func(d map[string]any) { delete(d, "token_endpoint") }), ErrInvalidResponse},
		{"other issuer", discoveryDoc("https://evil.example"), ErrDiscoveryIssuerMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, hc := newFakeServer(t)
			f.json(wellKnownPath, 200, tc.body)
			l, err := LazyOpenID(testIssuer, "CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			_, err = l.Resolve(t.Context())
			assert.ErrorIs(t, err, ErrProviderUnavailable)
			assert.ErrorIs(t, err, ErrOpenIDConfiguration)
			assert.ErrorIs(t, err, tc.cause)
		})
	}
}

// TestLazyFetchTimeout: an issuer that never answers is bounded by the
// fetch timeout, even for a caller whose context has no deadline.
func TestLazyFetchTimeout(t *testing.T) {
	f, _ := newLazyIssuer(t)
	hc, n, gate := gatedIssuer(t, f)
	t.Cleanup(func() { close(gate) })
	l, err := LazyOpenID(testIssuer, "CID", "SEC", WithHTTPClient(hc),
		WithLazy(WithLazyFetchTimeout(200*time.Millisecond)))
	require.NoError(t, err)
	_, err = l.Resolve(context.Background())
	assert.ErrorIs(t, err, ErrProviderUnavailable)
	assert.ErrorIs(t, err, ErrOpenIDConfiguration)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	// One fetch; on a loaded machine the deadline may even pass before
	// the request reaches the issuer.
	assert.LessOrEqual(t, n.Load(), int32(1))
}

// TestLazyConcurrentColdResolve: 100 concurrent Resolve calls on a cold
// Lazy share one metadata request and get the same provider.
func TestLazyConcurrentColdResolve(t *testing.T) {
	f, _ := newLazyIssuer(t)
	hc, n, gate := gatedIssuer(t, f)
	l, err := LazyOpenID(testIssuer, "CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)

	var wg sync.WaitGroup
	got := make([]Provider, 100)
	errs := make([]error, 100)
	for i := range got {
		wg.Go(func() { got[i], errs[i] = l.Resolve(t.Context()) })
	}
	waitRequests(n, 1)
	close(gate)
	wg.Wait()
	for i := range got {
		require.NoError(t, errs[i])
		assert.Same(t, got[0], got[i])
	}
	assert.Equal(t, int32(1), n.Load())
}

// TestLazyCancelledCallerDoesNotFailOthers: the shared fetch runs detached
// from the caller that started it; that caller returns when its context
// ends, and the others get the provider from the same request.
func TestLazyCancelledCallerDoesNotFailOthers(t *testing.T) {
	f, _ := newLazyIssuer(t)
	hc, n, gate := gatedIssuer(t, f)
	l, err := LazyOpenID(testIssuer, "CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error)
	go func() {
		_, err := l.Resolve(ctx)
		first <- err
	}()
	waitRequests(n, 1)
	second := make(chan error)
	go func() {
		_, err := l.Resolve(context.Background())
		second <- err
	}()
	cancel()
	err = <-first
	assert.ErrorIs(t, err, ErrProviderUnavailable)
	assert.ErrorIs(t, err, context.Canceled)
	close(gate)
	require.NoError(t, <-second)
	_, err = l.Resolve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int32(1), n.Load())
}

// TestLazyBackgroundRefresh: a provider older than the refresh interval is
// still returned at once while one background refresh runs; a failed
// refresh keeps it (and backs off), a successful one replaces it.
func TestLazyBackgroundRefresh(t *testing.T) {
	f, hc := newLazyIssuer(t)
	clock := newTestClock()
	l, err := LazyOpenID(testIssuer, "CID", "SEC", WithHTTPClient(hc), WithLazy(WithLazyClock(clock.Now)))
	require.NoError(t, err)
	refreshed := make(chan struct{})
	l.refreshed = func() { refreshed <- struct{}{} }
	requests := func() int { return len(f.requests(wellKnownPath)) }
	refreshing := func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.refreshing
	}

	old, err := l.Resolve(t.Context())
	require.NoError(t, err)
	clock.Advance(time.Hour - time.Second)
	p, err := l.Resolve(t.Context())
	require.NoError(t, err)
	assert.Same(t, old, p)
	assert.False(t, refreshing(), "younger than the interval")

	// The issuer goes down; the old provider keeps being served.
	f.json(wellKnownPath, 503, `{}`)
	clock.Advance(time.Second)
	p, err = l.Resolve(t.Context())
	require.NoError(t, err)
	assert.Same(t, old, p)
	<-refreshed
	assert.Equal(t, 2, requests())

	p, err = l.Resolve(t.Context())
	require.NoError(t, err)
	assert.Same(t, old, p)
	assert.False(t, refreshing(), "a failed refresh backs off")
	_, err = l.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "S"}, nil)
	require.NoError(t, err, "the cached provider still builds login URLs")

	clock.Advance(time.Second)
	_, err = l.Resolve(t.Context())
	require.NoError(t, err)
	<-refreshed
	assert.Equal(t, 3, requests())

	// The issuer is back with a new token endpoint.
	f.json(wellKnownPath, 200, discoveryDoc(testIssuer, func(d map[string]any) { d["token_endpoint"] = testIssuer + "/v2/token" }))
	clock.Advance(2 * time.Second)
	p, err = l.Resolve(t.Context())
	require.NoError(t, err)
	assert.Same(t, old, p, "returned at once, before the refresh")
	<-refreshed
	assert.Equal(t, 4, requests())
	p, err = l.Resolve(t.Context())
	require.NoError(t, err)
	assert.NotSame(t, old, p)
	assert.Equal(t, testIssuer+"/v2/token", p.(*OpenID).Config().AccessTokenEndpoint)
	assert.False(t, refreshing())
}

// TestLazyProvider: before resolution Lazy answers what it knows without
// I/O; the context methods resolve first; after resolution it delegates.
func TestLazyProvider(t *testing.T) {
	f, hc := newLazyIssuer(t)
	f.json("/token", 200, `{"access_token":"AT","token_type":"Bearer"}`)
	l, err := LazyOpenID(testIssuer, "CID", "SEC", WithHTTPClient(hc), WithName("corp"))
	require.NoError(t, err)
	assert.Equal(t, "corp", l.Name())
	assert.Equal(t, "OpenID", l.DisplayName())
	assert.Equal(t, Capabilities{}, l.Capabilities())
	_, err = l.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "S"}, nil)
	assert.ErrorIs(t, err, ErrProviderUnavailable)
	assert.Empty(t, f.requests(wellKnownPath), "no I/O before a context method")

	tok, err := l.AccessToken(t.Context(), "CODE", "https://app.example/cb", "VERIFIER")
	require.NoError(t, err)
	assert.Equal(t, "AT", tok.AccessToken)
	assert.Len(t, f.requests(wellKnownPath), 1)
	assert.Len(t, f.requests("/token"), 1)
	assert.Equal(t, "corp", l.Name())
	resolved, err := l.Resolve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, resolved.DisplayName(), l.DisplayName())
	c := l.Capabilities()
	assert.Equal(t, testIssuer, c.Issuer)
	assert.True(t, c.Nonce)
	u, err := l.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "S"}, nil)
	require.NoError(t, err)
	assert.Contains(t, u, testIssuer+"/authorize?")

	t.Run("display name", func(t *testing.T) {
		l, err := LazyOpenID(testIssuer, "CID", "SEC", WithHTTPClient(hc), WithDisplayName("Corp SSO"))
		require.NoError(t, err)
		assert.Equal(t, "Corp SSO", l.DisplayName())
		assert.Equal(t, "openid", l.Name())
	})

	t.Run("unavailable", func(t *testing.T) {
		l, err := LazyOpenID(testIssuer, "CID", "SEC", WithHTTPClient(failingClient(errors.New("network down"))))
		require.NoError(t, err)
		ctx := t.Context()
		calls := map[string]func() error{
			"AccessToken":  func() error { _, err := l.AccessToken(ctx, "C", "https://app.example/cb", "V"); return err },
			"RefreshToken": func() error { _, err := l.RefreshToken(ctx, "RT"); return err },
			"Revoke":       func() error { return l.Revoke(ctx, &Token{AccessToken: "AT"}) },
			"Identify":     func() error { _, err := l.Identify(ctx, &Token{AccessToken: "AT"}, "N"); return err },
			"AuthCodeURL": func() error {
				_, err := l.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "S"}, nil)
				return err
			},
		}
		for name, call := range calls {
			err := call()
			assert.ErrorIs(t, err, ErrProviderUnavailable, name)
		}
		// After a failed fetch, AuthCodeURL reports its cause.
		_, err = l.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "S"}, nil)
		assert.ErrorIs(t, err, ErrOpenIDConfiguration)
	})
}

// TestLazyOpenIDConfigErrors: LazyOpenID refuses what it can check without
// I/O with ErrInvalidConfig, and makes no request doing so.
func TestLazyOpenIDConfigErrors(t *testing.T) {
	f, hc := newLazyIssuer(t)
	with := WithHTTPClient(hc)
	for _, tc := range []struct {
		name, issuer, id, secret string
		opts                     []Option
	}{
		{"plain http issuer", "http://id.example.com", "CID", "SEC", nil},
		{"not a URL", "::", "CID", "SEC", nil},
		{"issuer with query", "https://id.example.com?x=1", "CID", "SEC", nil},
		{"empty client id", testIssuer, " ", "SEC", nil},
		{"empty secret", testIssuer, "CID", "", nil},
		{"empty secret for the chosen method", testIssuer, "CID", "", []Option{WithTokenEndpointAuthMethod(ClientSecretBasic)}},
		{"unsupported method", testIssuer, "CID", "SEC", []Option{WithTokenEndpointAuthMethod(None)}},
		{"private_key_jwt without a key", testIssuer, "CID", "", []Option{WithTokenEndpointAuthMethod(PrivateKeyJWT)}},
		{"another provider's option", testIssuer, "CID", "SEC", []Option{WithGitHubAPIVersion("2022-11-28")}},
		{"negative JWKS interval", testIssuer, "CID", "SEC", []Option{WithJWKSRefetchInterval(-1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := LazyOpenID(tc.issuer, tc.id, tc.secret, append([]Option{with}, tc.opts...)...)
			assert.Nil(t, l)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"private_key_jwt", []Option{WithTokenEndpointAuthMethod(PrivateKeyJWT), WithClientAssertionKey(testKeys[jose.ES256], "k1")}},
		{"pushed authorization", []Option{WithPushedAuthorization()}},
		{"revocation method chosen by discovery", []Option{WithRevocationEndpointAuthMethod("bogus")}},
	} {
		t.Run("accepted/"+tc.name, func(t *testing.T) {
			_, err := LazyOpenID(testIssuer+"/.well-known/openid-configuration", "CID", "", append([]Option{with}, tc.opts...)...)
			if tc.name != "private_key_jwt" {
				assert.ErrorIs(t, err, ErrInvalidConfig, "no secret")
				_, err = LazyOpenID(testIssuer, "CID", "SEC", append([]Option{with}, tc.opts...)...)
			}
			assert.NoError(t, err)
		})
	}
	assert.Empty(t, f.seen)

	_, err := DiscoverOpenID(t.Context(), testIssuer, "CID", "SEC", with, WithLazy(WithLazyRefresh(time.Minute)))
	assert.ErrorIs(t, err, ErrInvalidConfig, "WithLazy belongs to LazyOpenID")
}

// TestLazyOpenIDOptionsReachDiscovery: the client options LazyOpenID got
// are the ones discovery runs with (WithLazy dropped), and WithClock is
// the Lazy's clock unless WithLazyClock says otherwise.
func TestLazyOpenIDOptionsReachDiscovery(t *testing.T) {
	f, hc := newLazyIssuer(t)
	clock := newTestClock()
	l, err := LazyOpenID(testIssuer, "CID", "SEC", WithHTTPClient(hc), WithUserAgent("lazy-test"),
		WithClock(clock.Now), WithLazy(WithLazyRefresh(time.Minute)))
	require.NoError(t, err)
	p, err := l.Resolve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "lazy-test", f.requests(wellKnownPath)[0].Header.Get("User-Agent"))
	clock.Advance(time.Minute)
	refreshed := make(chan struct{})
	l.refreshed = func() { close(refreshed) }
	again, err := l.Resolve(t.Context())
	require.NoError(t, err)
	assert.Same(t, p, again)
	<-refreshed
	assert.Len(t, f.requests(wellKnownPath), 2, "refreshed after WithLazyRefresh's minute on WithClock's clock")
}

// TestNewLazyDiscoverFailures: what a discover function can do wrong is an
// ErrProviderUnavailable error, never a crash.
func TestNewLazyDiscoverFailures(t *testing.T) {
	other, err := New(Config{ClientID: "CID", ClientSecret: "SEC", AuthorizeEndpoint: "https://as.example/a",
		AccessTokenEndpoint: "https://as.example/t"}, WithName("other"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		discover func(context.Context) (Provider, error)
		cause    error
	}{
		{"another name", func(context.Context) (Provider, error) { return other, nil }, ErrInvalidConfig},
		{"no provider", func(context.Context) (Provider, error) { return nil, nil }, nil},
		{"panic", func(context.Context) (Provider, error) { panic("boom") }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLazy("corp", tc.discover)
			_, err := l.Resolve(t.Context())
			assert.ErrorIs(t, err, ErrProviderUnavailable)
			if tc.cause != nil {
				assert.ErrorIs(t, err, tc.cause)
			}
			assert.Equal(t, "corp", l.DisplayName())
		})
	}
}

// TestLazyStringRedacts: printing a Lazy never shows the client secret,
// before or after resolution.
func TestLazyStringRedacts(t *testing.T) {
	_, hc := newLazyIssuer(t)
	l, err := LazyOpenID(testIssuer, "CID", "TOP-SECRET-VALUE", WithHTTPClient(hc))
	require.NoError(t, err)
	check := func() {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			s := fmt.Sprintf(verb, l)
			assert.NotContains(t, s, "TOP-SECRET-VALUE", verb)
			assert.Contains(t, s, "openid", verb)
		}
	}
	check()
	_, err = l.Resolve(t.Context())
	require.NoError(t, err)
	check()
	assert.Contains(t, l.String(), "resolved")
}
