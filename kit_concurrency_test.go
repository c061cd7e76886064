package oauthkit_test

// Concurrency, clocks and multi-tab behaviour (security.md items 3-5, 8,
// 43, 45, 70; catalogue rows 39, 40, 44; goals G4, G12, G17). Run under
// -race: the counts are asserted, timings never are.

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// Row 40 / item 8 / G12: five tabs, completed in random order, all succeed;
// a sixth evicts the oldest, whose callback is a typed 400.
func TestFiveTabsCompleteInAnyOrder(t *testing.T) {
	a := newApp(t)
	b := a.browser()
	var callbacks []string
	for i := range 5 {
		callbacks = append(callbacks, a.approve(a.startLogin(b, fmt.Sprintf("/auth/test/login?next=%%2Ftab%d", i))))
	}
	require.Equal(t, 5, a.pending(b))
	order := rand.Perm(5)
	for _, i := range order {
		res := a.get(b, callbacks[i])
		require.Equal(t, http.StatusFound, res.StatusCode, "tab %d (order %v): %v", i, order, a.lastErr())
		assert.Equal(t, fmt.Sprintf("/tab%d", i), res.Header.Get("Location"), "each tab keeps its own return-to")
	}
	assert.EqualValues(t, 5, a.as.TokenHits.Load())
	assert.True(t, a.signedIn(b))
	assert.Equal(t, 0, a.pending(b))
}

func TestSixthTabEvictsOldest(t *testing.T) {
	a := newApp(t)
	b := a.browser()
	var callbacks []string
	for range 6 {
		callbacks = append(callbacks, a.approve(a.startLogin(b, "/auth/test/login")))
	}
	assert.Equal(t, oauthkit.DefaultMaxPending, a.pending(b), "capped")
	res, body := a.do(b, http.MethodGet, callbacks[0], nil)
	a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateNotFound)
	assert.EqualValues(t, 0, a.as.TokenHits.Load())
	for i, cb := range callbacks[1:] {
		res := a.get(b, cb)
		require.Equal(t, http.StatusFound, res.StatusCode, "tab %d: %v", i+1, a.lastErr())
	}
	assert.EqualValues(t, 5, a.as.TokenHits.Load())
	// Item 3: and none of them can be replayed.
	for _, cb := range callbacks {
		res, body := a.do(b, http.MethodGet, cb, nil)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateNotFound)
	}
	assert.EqualValues(t, 5, a.as.TokenHits.Load())
}

// Row 39 / item 4 / G4: 1,000 concurrent replays of one callback (same
// cookie jar, state and code) give one login and one token request,
// repeated 20 times (once with -short), each round on a fresh app.
func TestConcurrentCallbackReplays(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 1
	}
	for round := range rounds {
		t.Run(fmt.Sprintf("round%02d", round), concurrentCallbackReplayRound)
	}
}

func concurrentCallbackReplayRound(t *testing.T) {
	const n = 1000
	a := newApp(t, withBudgetTimeout(t))
	b := a.browser()
	tr := a.srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = 64, 64
	b.Transport = tr
	t.Cleanup(tr.CloseIdleConnections)
	cb := a.approve(a.startLogin(b, "/auth/test/login?next=%2Fwelcome"))
	before := a.sessionCookie(b)

	var ok, bad, other atomic.Int64
	var success atomic.Value
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			res, err := b.Get(a.srv.URL + cb)
			if err != nil {
				other.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			switch res.StatusCode {
			case http.StatusFound:
				ok.Add(1)
				success.Store(res)
			case http.StatusBadRequest:
				bad.Add(1)
			default:
				other.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, 1, ok.Load(), "exactly one success")
	assert.EqualValues(t, n-1, bad.Load())
	assert.Zero(t, other.Load())
	assert.EqualValues(t, 1, a.as.TokenHits.Load(), "exactly one token request")
	res := success.Load().(*http.Response)
	assert.Equal(t, "/welcome", res.Header.Get("Location"))
	assert.NotEqual(t, before, a.sessionCookie(b), "fresh session cookie")
	assert.True(t, a.signedIn(b))
	errs := 0
	for err := a.lastErr(); err != nil; err = a.lastErr() {
		errs++
		assert.ErrorIs(t, err, oauthkit.ErrStateNotFound)
	}
	assert.Equal(t, n-1, errs)
}

// Row 44 / item 43 / G17: 50 concurrent requests on a session whose access
// token expired share one refresh, and the rotated refresh token is the
// one used next time.
func TestConcurrentTokenRefreshSharesOneRequest(t *testing.T) {
	const n = 50
	a := newApp(t, withBudgetTimeout(t))
	a.as.ExpiresIn = 60
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	_, old := a.do(b, http.MethodGet, "/api/token", nil)
	a.clock.Add(51 * time.Second)

	bodies := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			res, err := b.Get(a.srv.URL + "/api/token")
			if err != nil {
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			bodies[i], codes[i] = string(body), res.StatusCode
		})
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, 1, a.as.RefreshHits.Load(), "exactly one refresh request")
	for i := range n {
		assert.Equal(t, http.StatusOK, codes[i], "request %d", i)
		assert.Equal(t, bodies[0], bodies[i], "request %d sees the same new token", i)
	}
	assert.NotEqual(t, old, bodies[0])

	// The old refresh token was rotated away at the fake AS: a second
	// refresh only succeeds if the session kept the new one.
	a.clock.Add(61 * time.Second)
	res, tok := a.do(b, http.MethodGet, "/api/token", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.NotEqual(t, bodies[0], tok)
	assert.EqualValues(t, 2, a.as.RefreshHits.Load())
}

// Item 45: invalid_grant on refresh asks for a new login after one attempt;
// Token is a getter and leaves signing out to the application.
func TestFailedRefreshNeedsReauth(t *testing.T) {
	a := newApp(t)
	a.as.ExpiresIn = 60
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	a.as.ForgetRefreshTokens() // the grant was revoked at the provider
	a.clock.Add(51 * time.Second)

	for range 3 {
		res, body := a.do(b, http.MethodGet, "/api/token", nil)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
		assert.Contains(t, body, oauthkit.ErrReauthRequired.Error())
		assert.NotContains(t, body, "rt-")
	}
	assert.EqualValues(t, 1, a.as.RefreshHits.Load(), "exactly one refresh attempt for a dead refresh token")
	assert.True(t, a.signedIn(b), "Token does not sign the user out")
	_, hasToken := a.session(b)["oauthkit.token"]
	assert.True(t, hasToken, "Token does not touch the session")
}

// Item 5: a pending login is accepted at +9m59s and expired at +10m01s.
func TestPendingLoginTTL(t *testing.T) {
	a := newApp(t)
	v := a.newVictim()
	a.clock.Add(9*time.Minute + 59*time.Second)
	a.completes(v)
	assert.EqualValues(t, 1, a.as.TokenHits.Load())

	v = a.newVictim()
	a.clock.Add(10*time.Minute + time.Second)
	res, body := a.do(v.b, http.MethodGet, v.cb, nil)
	a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateExpired)
	assert.EqualValues(t, 1, a.as.TokenHits.Load(), "0 token calls for the expired login")
	assert.False(t, a.signedIn(v.b))
}

// Item 70: 200 concurrent complete flows over 2 providers, each with its
// own fake user, end with each session holding its own identity.
func TestConcurrentFlowsKeepTheirIdentity(t *testing.T) {
	const n = 200
	opt, other := withProvider(t, "other")
	a := newApp(t, opt, withBudgetTimeout(t))
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			provider := []string{"test", "other"}[i%2]
			u := fakeUser{ID: fmt.Sprint(1_000_000 + i), Email: fmt.Sprintf("user%d@example.com", i)}
			b := a.browser()
			next := "/u/" + u.ID
			res, err := a.tryLogin(b, "/auth/"+provider+"/login?next="+url.QueryEscape(next), u)
			if err != nil {
				errs[i] = err
				return
			}
			if res.StatusCode != http.StatusFound || res.Header.Get("Location") != next {
				errs[i] = fmt.Errorf("callback: %d %q", res.StatusCode, res.Header.Get("Location"))
				return
			}
			res, err = b.Get(a.srv.URL + "/profile")
			if err != nil {
				errs[i] = err
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if want := provider + "|" + u.ID + "|" + u.Email; string(body) != want {
				errs[i] = fmt.Errorf("session shows %q, want %q", body, want)
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "flow %d", i)
	}
	assert.EqualValues(t, n/2, a.as.TokenHits.Load())
	assert.EqualValues(t, n/2, other.TokenHits.Load())
	assert.Zero(t, a.drainErrs())
}
