package oauthkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// countingLocks wraps RefreshLocks and counts acquisition attempts and
// renewals.
type countingLocks struct {
	oauthkit.RefreshLocks
	acquires, extends atomic.Int64
}

func (c *countingLocks) Acquire(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	c.acquires.Add(1)
	return c.RefreshLocks.Acquire(ctx, key, owner, lease)
}

func (c *countingLocks) Extend(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	c.extends.Add(1)
	return c.RefreshLocks.Extend(ctx, key, owner, lease)
}

// grantApp is an app whose tokens go to a TokenStore, with a second
// instance (its own kit and server on the same session store, TokenStore
// and RefreshLocks) at other.
type grantApp struct {
	*app
	store oauthkit.TokenStore
	locks *countingLocks
	other string
	kit2  *oauthkit.Kit
}

func newGrantApp(t *testing.T, opts ...func(*oauthkit.Config)) *grantApp {
	t.Helper()
	g := &grantApp{store: oauthkit.NewMemoryTokenStore(), locks: &countingLocks{RefreshLocks: oauthkit.NewMemoryRefreshLocks()}}
	shared := func(c *oauthkit.Config) {
		c.TokenStore, c.RefreshLocks = g.store, g.locks
		for _, o := range opts {
			o(c)
		}
	}
	g.app = newApp(t, shared)
	g.kit2, g.other = g.site(shared)
	return g
}

func (g *grantApp) userID(b *http.Client) string { return g.sessionUser(b).UserID }

// With a TokenStore the session keeps no refresh token; the grant is
// readable by user id outside any request.
func TestTokenStoreHoldsTheGrant(t *testing.T) {
	t.Parallel()
	g := newGrantApp(t)
	b := g.browser()
	require.Equal(t, http.StatusFound, g.login(b, "/auth/test/login").StatusCode)
	var inSession struct{ AccessToken, RefreshToken string }
	require.NoError(t, json.Unmarshal([]byte(g.session(b)["oauthkit.token"].(string)), &inSession))
	assert.NotEmpty(t, inSession.AccessToken)
	assert.Empty(t, inSession.RefreshToken, "the refresh token lives in the TokenStore only")

	tok, err := g.kit.TokenFor(context.Background(), g.userID(b), "test")
	require.NoError(t, err)
	assert.Equal(t, inSession.AccessToken, tok.AccessToken)
	assert.NotEmpty(t, tok.RefreshToken)
	assert.Equal(t, int64(0), g.as.RefreshHits.Load())
	assert.Equal(t, inSession.AccessToken, g.accessToken(b), "a valid token: no refresh")

	_, err = g.kit.TokenFor(context.Background(), "nobody", "test")
	assert.ErrorIs(t, err, oauthkit.ErrReauthRequired)
	_, err = g.kit.TokenFor(context.Background(), g.userID(b), "nope")
	assert.ErrorIs(t, err, oauthkit.ErrUnknownProvider)
	_, err = newApp(t).kit.TokenFor(context.Background(), g.userID(b), "test")
	assert.ErrorIs(t, err, oauthkit.ErrInvalidConfig, "no TokenStore")
}

// After expiry, 50 concurrent Token calls on each of two instances and 10
// background TokenFor calls make exactly one refresh request, and all get
// the one new token; the session and the store agree on it.
func TestOneRefreshAcrossInstances(t *testing.T) {
	t.Parallel()
	g := newGrantApp(t)
	b := g.browser()
	require.Equal(t, http.StatusFound, g.login(b, "/auth/test/login").StatusCode)
	old := g.accessToken(b)
	userID := g.userID(b)
	g.clock.Add(2 * time.Hour)
	// The provider answers the refresh once the second instance has tried
	// the lock too (or, were there no lock, once it refreshes as well), so
	// the instances truly overlap.
	var started atomic.Int64
	g.as.BeforeToken = func(r *http.Request) {
		if r.PostForm.Get("grant_type") != "refresh_token" {
			return
		}
		started.Add(1)
		for g.locks.acquires.Load() < 2 && started.Load() < 2 {
			time.Sleep(time.Millisecond)
		}
	}

	var wg sync.WaitGroup
	got := make(chan string, 110)
	for i := range 100 {
		base := g.srv.URL
		if i%2 == 1 {
			base = g.other
		}
		wg.Go(func() {
			res, err := b.Get(base + "/api/token")
			if err != nil {
				got <- err.Error()
				return
			}
			defer res.Body.Close()
			var sb [256]byte
			n, _ := res.Body.Read(sb[:])
			got <- string(sb[:n])
		})
	}
	for range 10 {
		wg.Go(func() {
			tok, err := g.kit2.TokenFor(context.Background(), userID, "test")
			if err != nil {
				got <- err.Error()
				return
			}
			got <- tok.AccessToken
		})
	}
	wg.Wait()
	close(got)
	seen := map[string]int{}
	for s := range got {
		seen[s]++
	}
	assert.Equal(t, int64(1), g.as.RefreshHits.Load(), "exactly one refresh request")
	require.Len(t, seen, 1, "every caller got the same token: %v", seen)
	for at := range seen {
		assert.NotEqual(t, old, at)
		tok, err := g.kit.TokenFor(context.Background(), userID, "test")
		require.NoError(t, err)
		assert.Equal(t, at, tok.AccessToken, "the store holds the refreshed grant")
	}
}

// A refresh slower than the lease keeps its lock (renewed), so the other
// instance waits for its result instead of refreshing the same token; a
// lock left by a crashed holder blocks the grant for one lease only.
func TestRefreshLease(t *testing.T) {
	t.Parallel()
	const lease = 2 * time.Second // renewed every 2/3 s: a loaded machine has 1.3 s to spare
	g := newGrantApp(t, func(c *oauthkit.Config) { c.RefreshLease = lease })
	b := g.browser()
	require.Equal(t, http.StatusFound, g.login(b, "/auth/test/login").StatusCode)
	userID := g.userID(b)
	g.clock.Add(2 * time.Hour)

	inFlight, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var started atomic.Int64
	g.as.BeforeToken = func(r *http.Request) {
		if r.PostForm.Get("grant_type") == "refresh_token" {
			started.Add(1)
			once.Do(func() { close(inFlight) })
			<-release
		}
	}
	first := make(chan error, 1)
	go func() { _, err := g.kit.TokenFor(context.Background(), userID, "test"); first <- err }()
	<-inFlight
	second := make(chan error, 1)
	go func() { _, err := g.kit2.TokenFor(context.Background(), userID, "test"); second <- err }()
	// Hold the provider's answer for three renewals, longer than the lease
	// (or until a second refresh starts, which the lease is to prevent).
	for g.locks.extends.Load() < 3 && started.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	require.NoError(t, <-first)
	require.NoError(t, <-second)
	assert.Equal(t, int64(1), g.as.RefreshHits.Load(), "the renewed lease kept the second instance waiting")

	// A holder that crashed: its lock stays until its lease ends, then the
	// grant refreshes.
	g.clock.Add(2 * time.Hour)
	won, err := g.locks.Acquire(context.Background(), oauthkit.GrantKey(userID, "test"), "crashed", lease)
	require.NoError(t, err)
	require.True(t, won)
	_, err = g.kit2.TokenFor(context.Background(), userID, "test")
	require.NoError(t, err)
	assert.Equal(t, int64(2), g.as.RefreshHits.Load())
}

// A grant the provider ended is removed from the store: every later call
// answers ErrReauthRequired without asking the provider again.
func TestEndedGrant(t *testing.T) {
	t.Parallel()
	g := newGrantApp(t)
	b := g.browser()
	require.Equal(t, http.StatusFound, g.login(b, "/auth/test/login").StatusCode)
	g.as.ForgetRefreshTokens()
	g.clock.Add(2 * time.Hour)
	res, _ := g.do(b, http.MethodGet, "/api/token", nil)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	_, err := g.kit2.TokenFor(context.Background(), g.userID(b), "test")
	assert.ErrorIs(t, err, oauthkit.ErrReauthRequired)
	assert.Equal(t, int64(1), g.as.RefreshHits.Load())
	assert.True(t, g.signedIn(b), "Token only reads: the user stays signed in")
}

// Logout with RevokeOnLogout revokes the refresh token (from the store,
// not the session's access token) and removes the grant.
func TestLogoutRevokesStoredGrant(t *testing.T) {
	t.Parallel()
	g := newGrantApp(t)
	b := g.browser()
	require.Equal(t, http.StatusFound, g.login(b, "/auth/test/login").StatusCode)
	userID := g.userID(b)
	tok, err := g.kit.TokenFor(context.Background(), userID, "test")
	require.NoError(t, err)
	res, _ := g.do(b, http.MethodPost, "/logout", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, tok.RefreshToken, g.as.LastRevoked.Load())
	_, err = g.kit.TokenFor(context.Background(), userID, "test")
	assert.ErrorIs(t, err, oauthkit.ErrReauthRequired)
}

// failingTokens is a TokenStore that fails while down.
type failingTokens struct {
	oauthkit.TokenStore
	down    atomic.Bool // Get and Put fail
	putDown atomic.Bool // Put fails
}

var errTokensDown = errors.New("token store down")

func (f *failingTokens) Get(ctx context.Context, key string) ([]byte, error) {
	if f.down.Load() {
		return nil, errTokensDown
	}
	return f.TokenStore.Get(ctx, key)
}

func (f *failingTokens) Put(ctx context.Context, key string, rec []byte, ttl time.Duration) error {
	if f.down.Load() || f.putDown.Load() {
		return errTokensDown
	}
	return f.TokenStore.Put(ctx, key, rec, ttl)
}

// A TokenStore that fails: a login fails before anyone is signed in, and
// Token answers ErrSession (500) and leaves the session as it is.
func TestTokenStoreFailing(t *testing.T) {
	t.Parallel()
	store := &failingTokens{TokenStore: oauthkit.NewMemoryTokenStore()}
	a := newApp(t, func(c *oauthkit.Config) { c.TokenStore = store })
	b := a.browser()
	store.down.Store(true)
	res := a.login(b, "/auth/test/login")
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), errTokensDown)
	assert.False(t, a.signedIn(b))

	store.down.Store(false)
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	a.clock.Add(2 * time.Hour)
	store.down.Store(true)
	res, _ = a.do(b, http.MethodGet, "/api/token", nil)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	store.down.Store(false)
	assert.NotEmpty(t, a.accessToken(b), "nothing was lost")
}

// With TokenKeys the TokenStore's records hold no token bytes either.
func TestTokenStoreEncrypted(t *testing.T) {
	t.Parallel()
	g := newGrantApp(t, func(c *oauthkit.Config) { c.TokenKeys = tokenKeys(t, "k1", "k1") })
	b := g.browser()
	require.Equal(t, http.StatusFound, g.login(b, "/auth/test/login").StatusCode)
	tok, err := g.kit.TokenFor(context.Background(), g.userID(b), "test")
	require.NoError(t, err)
	rec, err := g.store.Get(context.Background(), oauthkit.GrantKey(g.userID(b), "test"))
	require.NoError(t, err)
	assert.Contains(t, string(rec), "oauthkit1.k1.")
	assert.NotContains(t, string(rec), tok.AccessToken)
	assert.NotContains(t, string(rec), tok.RefreshToken)
}

// The store keeps one grant per user and provider, the latest login's. A
// logout in an older session revokes only that session's access token: the
// other device's grant lives on.
func TestLogoutLeavesAnotherDevicesGrant(t *testing.T) {
	t.Parallel()
	g := newGrantApp(t)
	laptop, phone := g.browser(), g.browser()
	require.Equal(t, http.StatusFound, g.login(laptop, "/auth/test/login").StatusCode)
	laptopAT := g.accessToken(laptop)
	require.Equal(t, http.StatusFound, g.login(phone, "/auth/test/login").StatusCode)
	userID := g.userID(phone)
	current, err := g.kit.TokenFor(context.Background(), userID, "test")
	require.NoError(t, err)
	require.NotEqual(t, laptopAT, current.AccessToken)

	res, _ := g.do(laptop, http.MethodPost, "/logout", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, laptopAT, g.as.LastRevoked.Load(), "the laptop's access token, not the phone's grant")
	after, err := g.kit.TokenFor(context.Background(), userID, "test")
	require.NoError(t, err)
	assert.Equal(t, current.RefreshToken, after.RefreshToken)
	assert.True(t, g.signedIn(phone))
}

// failingLocks are RefreshLocks that cannot be reached.
type failingLocks struct{ oauthkit.RefreshLocks }

var errLocksDown = errors.New("lock store down")

func (failingLocks) Acquire(context.Context, string, string, time.Duration) (bool, error) {
	return false, errLocksDown
}

// A lock store that fails gives ErrSession and no refresh (a refresh
// without the lock could be the second one); a provider that does not
// rotate keeps the stored refresh token usable.
func TestGrantFaults(t *testing.T) {
	t.Parallel()
	store := oauthkit.NewMemoryTokenStore()
	a := newApp(t, func(c *oauthkit.Config) {
		c.TokenStore, c.RefreshLocks = store, failingLocks{oauthkit.NewMemoryRefreshLocks()}
	})
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	a.clock.Add(2 * time.Hour)
	res, body := a.do(b, http.MethodGet, "/api/token", nil)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode, body)
	assert.Contains(t, body, errLocksDown.Error())
	assert.Equal(t, int64(0), a.as.RefreshHits.Load())

	g := newGrantApp(t)
	gb := g.browser()
	require.Equal(t, http.StatusFound, g.login(gb, "/auth/test/login").StatusCode)
	userID := g.userID(gb)
	before, err := g.kit.TokenFor(context.Background(), userID, "test")
	require.NoError(t, err)
	var n atomic.Int64
	g.as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"access_token":"AT-%d","token_type":"Bearer","expires_in":3600}`, n.Add(1))
	}
	for i := range 2 {
		g.clock.Add(2 * time.Hour)
		tok, err := g.kit.TokenFor(context.Background(), userID, "test")
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("AT-%d", i+1), tok.AccessToken)
		assert.Equal(t, before.RefreshToken, tok.RefreshToken, "a provider that does not rotate: the refresh token stays")
	}
}

// A refreshed grant the store cannot take is an ErrSession error, logged
// as a lost rotation, and the token is not handed out as if it were saved.
func TestRefreshedGrantNotStored(t *testing.T) {
	t.Parallel()
	store := &failingTokens{TokenStore: oauthkit.NewMemoryTokenStore()}
	var logs syncBuffer
	a := newApp(t, withLogs(&logs), func(c *oauthkit.Config) { c.TokenStore = store })
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	a.clock.Add(2 * time.Hour)
	store.putDown.Store(true)
	res, body := a.do(b, http.MethodGet, "/api/token", nil)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode, body)
	assert.Contains(t, body, errTokensDown.Error())
	assert.Equal(t, int64(1), a.as.RefreshHits.Load())
	assert.Contains(t, logs.String(), "could not be stored")
}
