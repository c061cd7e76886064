package oauthkit_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// lateWriters mounts GET /late: each request loads its session, reports it
// has, waits for release, and then writes to it, as a slow page of the same
// browser does when it answers after a logout.
type lateWriters struct {
	loaded  chan struct{}
	release chan struct{}
}

func (a *app) lateWriters() *lateWriters {
	lw := &lateWriters{loaded: make(chan struct{}, 64), release: make(chan struct{})}
	a.mux.HandleFunc("GET /late", func(w http.ResponseWriter, r *http.Request) {
		_ = a.sm.GetString(r.Context(), "app.data")
		lw.loaded <- struct{}{}
		<-lw.release
		a.sm.Put(r.Context(), "app.data", "written late")
	})
	return lw
}

// start sends n requests with the session token and waits until each has
// loaded the session; the returned function releases them and waits for
// their answers.
func (lw *lateWriters) start(t *testing.T, a *app, token string, n int) func() {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			res := a.withCookie(http.MethodGet, "/late", token, nil)
			assert.Equal(t, http.StatusOK, res.StatusCode)
		})
	}
	for range n {
		<-lw.loaded
	}
	return func() {
		close(lw.release)
		wg.Wait()
		lw.release = make(chan struct{})
	}
}

// Observed: a request that loaded the session before POST /logout answered
// wrote it back afterwards, and the old cookie was signed in again. Now,
// after logout has answered, every request with the old token is anonymous
// and the store holds nothing for it, however the late writes interleave.
func TestLogoutSticksAgainstLateWrites(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	lw := a.lateWriters()
	for trial := range 20 {
		b := a.browser()
		require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
		token := a.sessionCookie(b)
		finish := lw.start(t, a, token, 4)

		res, _ := a.do(b, http.MethodPost, "/logout", nil)
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		finish()

		assert.Equal(t, http.StatusFound, a.withCookie(http.MethodGet, "/profile", token, nil).StatusCode,
			"trial %d: the old cookie is signed in again", trial)
		found, _, _ := a.stored(token)
		assert.False(t, found, "trial %d: the late write recreated the session", trial)
	}
}

// The token a login replaces with RenewToken is ended too: a late write of
// the pre-login session does not bring it back.
func TestRenewedTokenSticksAgainstLateWrites(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	lw := a.lateWriters()
	b := a.browser()
	cb := a.approve(a.startLogin(b, "/auth/test/login"))
	before := a.sessionCookie(b)
	finish := lw.start(t, a, before, 4)
	require.Equal(t, http.StatusFound, a.get(b, cb).StatusCode)
	finish()

	require.NotEqual(t, before, a.sessionCookie(b))
	found, _, _ := a.stored(before)
	assert.False(t, found, "the pre-login token was written back")
	assert.True(t, a.signedIn(b))
}

// countingEnded is a shared EndedSessions that counts its round trips.
type countingEnded struct {
	mu     sync.Mutex
	set    map[string]bool
	checks atomic.Int64
	ends   atomic.Int64
	// down makes both methods fail, as an unreachable Redis would.
	down atomic.Bool
}

var errRecordDown = errors.New("ended-session record unreachable")

func (c *countingEnded) End(_ context.Context, token string, _ time.Duration) error {
	c.ends.Add(1)
	if c.down.Load() {
		return errRecordDown
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set == nil {
		c.set = map[string]bool{}
	}
	c.set[token] = true
	return nil
}

func (c *countingEnded) Ended(_ context.Context, token string) (bool, error) {
	c.checks.Add(1)
	if c.down.Load() {
		return false, errRecordDown
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set[token], nil
}

// With a shared record, a read-only request pays no round trip to it; a
// write pays one; logout and login each record one ended token. Another
// instance's late write after the logout is undone through the record.
func TestSharedEndedSessions(t *testing.T) {
	t.Parallel()
	shared := &countingEnded{}
	a := newApp(t, func(c *oauthkit.Config) { c.EndedSessions = shared })
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	assert.EqualValues(t, 1, shared.ends.Load(), "login ends the pre-login token")

	checks := shared.checks.Load()
	for range 10 {
		require.True(t, a.signedIn(b))
	}
	assert.Equal(t, checks, shared.checks.Load(), "read-only requests do not consult the shared record")
	a.putData(b, "x")
	assert.Equal(t, checks+1, shared.checks.Load(), "a write checks once, after it lands")

	// A second instance on the same store, which has not seen the logout.
	token := a.sessionCookie(b)
	res, _ := a.do(b, http.MethodPost, "/logout", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.EqualValues(t, 2, shared.ends.Load())
	other := a.secondInstance(shared)
	raw, err := other.Codec.Encode(time.Now().Add(time.Hour), map[string]any{"app.data": "late write"})
	require.NoError(t, err)
	// Commit under the old token, as that instance's in-flight request would.
	require.NoError(t, other.Store.Commit(token, raw, time.Now().Add(time.Hour)))
	found, _, _ := a.stored(token)
	assert.False(t, found, "the other instance's late write was undone")
}

// secondInstance is another process of the same site: its own session
// manager and kit on the same backing store, sharing the ended record.
func (a *app) secondInstance(shared oauthkit.EndedSessions) *scs.SessionManager {
	a.t.Helper()
	sm := scs.New()
	sm.Store = a.backing
	sm.Cookie.Secure = true
	_, err := oauthkit.New(oauthkit.Config{
		Sessions:      sm,
		Providers:     []oauthkit.Provider{{Client: provider(a.t, a.as, "test"), RedirectURL: a.srv.URL + "/auth/test/callback"}},
		EndedSessions: shared,
	})
	require.NoError(a.t, err)
	return sm
}

// When the shared record fails: a login start fails before any redirect to
// the provider (its commit cannot be checked), a callback fails before the
// user is signed in, and a logout still destroys the session but answers
// 500 so the failure is visible. Nothing is signed in that should not be.
func TestSharedEndedSessionsFailing(t *testing.T) {
	t.Parallel()
	shared := &countingEnded{}
	a := newApp(t, func(c *oauthkit.Config) { c.EndedSessions = shared })

	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	token := a.sessionCookie(b)
	shared.down.Store(true)
	res, _ := a.do(b, http.MethodPost, "/logout", nil)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	err := a.takeErr()
	assert.ErrorIs(t, err, oauthkit.ErrSession)
	assert.ErrorIs(t, err, errRecordDown)
	found, _, _ := a.stored(token)
	assert.False(t, found, "the session is destroyed all the same")
	assert.Equal(t, http.StatusFound, a.withCookie(http.MethodGet, "/profile", token, nil).StatusCode)

	fresh := a.browser()
	res, _ = a.do(fresh, http.MethodGet, "/auth/test/login", nil)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.Empty(t, res.Header.Get("Location"), "no trip to the provider")
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrSession)

	shared.down.Store(false)
	c := a.browser()
	cb := a.approve(a.startLogin(c, "/auth/test/login"))
	shared.down.Store(true)
	res, _ = a.do(c, http.MethodGet, cb, nil)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrSession)
	shared.down.Store(false)
	assert.False(t, a.signedIn(c))
}

// The in-process record holds every token a login or logout ended for a
// whole session lifetime (24 h by default), so its entries are kept small:
// at 2,000 logins a second that is 173 million entries a day.
func TestMemoryEndedRetained(t *testing.T) {
	per := retainedPerEnded(t, 20_000)
	t.Logf("retained %.0f B per ended token", per)
	assert.Less(t, per, 100.0, "169 B before the entries were made compact")
}

// BenchmarkEndedRetained: the live heap the in-process ended-session record
// keeps per ended token.
func BenchmarkEndedRetained(b *testing.B) {
	var per float64
	for b.Loop() {
		per = retainedPerEnded(b, 10_000)
	}
	b.ReportMetric(per, "retained-B/ended")
}

// retainedPerEnded is the live heap a fresh in-process record holds per
// token after n ends of distinct scs-sized tokens.
func retainedPerEnded(tb testing.TB, n int) float64 {
	ctx := context.Background()
	return retainedPer(n, func() any {
		e := oauthkit.NewMemoryEnded()
		for i := range n {
			if err := e.End(ctx, fmt.Sprintf("%043d", i), time.Hour); err != nil {
				tb.Fatal(err)
			}
		}
		return e
	})
}

// The in-process record answers for the tokens it was given, for their ttl
// (a ttl past the int64 nanosecond range is for ever, not already over).
func TestMemoryEnded(t *testing.T) {
	ctx := context.Background()
	e := oauthkit.NewMemoryEnded()
	ended, err := e.Ended(ctx, "never-seen")
	require.NoError(t, err)
	assert.False(t, ended, "an empty record")
	require.NoError(t, e.End(ctx, "token-a", time.Hour))
	require.NoError(t, e.End(ctx, "token-b", 0))
	require.NoError(t, e.End(ctx, "token-c", time.Duration(math.MaxInt64)))
	for token, want := range map[string]bool{"token-a": true, "token-b": false, "token-c": true, "token-d": false, "token-": false} {
		ended, err := e.Ended(ctx, token)
		require.NoError(t, err)
		assert.Equal(t, want, ended, token)
	}
}
