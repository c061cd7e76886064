package oauthkit_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/fakeas"
	"github.com/oauthkit/oauthkit/internal/indextest"
)

// LogoutEverywhere ends every session of one user, in every browser, and
// no session of anyone else; a second call finds nothing left.
func TestLogoutEverywhere(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ada1, ada2, other := a.browser(), a.browser(), a.browser()
	require.Equal(t, http.StatusFound, a.login(ada1, "/auth/test/login").StatusCode)
	require.Equal(t, http.StatusFound, a.login(ada2, "/auth/test/login").StatusCode)
	_, err := a.tryLogin(other, "/auth/test/login", fakeUser{ID: "42", Email: "bob@example.com"})
	require.NoError(t, err)
	require.True(t, a.signedIn(other))
	userID := a.sessionUser(ada1).UserID
	require.Equal(t, "test:"+fakeas.DefaultUser.ID, userID)

	n, err := a.kit.LogoutEverywhere(context.Background(), userID)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.False(t, a.signedIn(ada1))
	assert.False(t, a.signedIn(ada2))
	assert.True(t, a.signedIn(other), "another user's session is untouched")

	n, err = a.kit.LogoutEverywhere(context.Background(), userID)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	n, err = a.kit.LogoutEverywhere(context.Background(), "")
	require.NoError(t, err)
	assert.Equal(t, 0, n)
}

// A request that loaded the session before LogoutEverywhere and writes it
// back afterwards does not bring it back (the end is recorded first).
func TestLogoutEverywhereBeatsALateWrite(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	token := a.sessionCookie(b)
	loaded, release := make(chan struct{}), make(chan struct{})
	a.mux.HandleFunc("PUT /slow", func(w http.ResponseWriter, r *http.Request) {
		a.sm.Put(r.Context(), "app.data", "late")
		close(loaded)
		<-release
	})
	done := make(chan int)
	go func() {
		res := a.withCookie(http.MethodPut, "/slow", token, nil)
		done <- res.StatusCode
	}()
	<-loaded
	n, err := a.kit.LogoutEverywhere(context.Background(), a.sessionUser(b).UserID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	close(release)
	<-done
	assert.False(t, a.inStore(token), "the late write was undone")
	assert.False(t, a.signedIn(b))
}

// flakyIndex is a SessionIndex whose writes or reads fail while down.
type flakyIndex struct {
	down     atomic.Bool
	mu       sync.Mutex
	m        map[string][]string
	addCalls atomic.Int32
}

var errIndexDown = errors.New("index down")

func (f *flakyIndex) Add(_ context.Context, token string, keys []string, _ time.Time) error {
	f.addCalls.Add(1)
	if f.down.Load() {
		return errIndexDown
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string][]string{}
	}
	for _, k := range keys {
		f.m[k] = append(f.m[k], token)
	}
	return nil
}

func (f *flakyIndex) Tokens(_ context.Context, key string) ([]string, error) {
	if f.down.Load() {
		return nil, errIndexDown
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.m[key]...), nil
}

// A failing index write does not fail the login: it is logged, counted,
// and repaired on the session's next RequireAuth request, after which
// LogoutEverywhere finds the session. A failing index read is an
// ErrSession error that ends nothing.
func TestSessionIndexFailing(t *testing.T) {
	t.Parallel()
	idx := &flakyIndex{}
	var logs syncBuffer
	a := newApp(t, withLogs(&logs), func(c *oauthkit.Config) { c.SessionIndex = idx })
	idx.down.Store(true)
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	assert.Equal(t, uint64(1), a.kit.Stats().IndexFailures)
	assert.Contains(t, logs.String(), "session index write failed")
	userID := a.sessionUser(b).UserID

	_, err := a.kit.LogoutEverywhere(context.Background(), userID)
	assert.ErrorIs(t, err, oauthkit.ErrSession)
	assert.ErrorIs(t, err, errIndexDown)
	assert.True(t, a.signedIn(b), "a failed lookup ends nothing")
	assert.Equal(t, uint64(2), a.kit.Stats().IndexFailures, "that request retried, and failed again")

	idx.down.Store(false)
	n, err := a.kit.LogoutEverywhere(context.Background(), userID)
	require.NoError(t, err)
	assert.Equal(t, 0, n, "not indexed yet")
	require.True(t, a.signedIn(b), "this request records the session")
	calls := idx.addCalls.Load()
	require.True(t, a.signedIn(b))
	assert.Equal(t, calls, idx.addCalls.Load(), "once recorded, a request writes nothing")
	n, err = a.kit.LogoutEverywhere(context.Background(), userID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, a.signedIn(b))
}

// When the application renews the session token itself, the next request
// through RequireAuth records the new token, so LogoutEverywhere still
// finds the session.
func TestSessionIndexFollowsRenewedToken(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, a.sm.RenewToken(r.Context()))
	})
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	before := a.sessionCookie(b)
	res, _ := a.do(b, http.MethodPost, "/renew", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotEqual(t, before, a.sessionCookie(b))
	require.True(t, a.signedIn(b))

	n, err := a.kit.LogoutEverywhere(context.Background(), a.sessionUser(b).UserID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, a.signedIn(b))
}

func TestMemoryIndex(t *testing.T) {
	indextest.Run(t, func(*testing.T) oauthkit.SessionIndex { return oauthkit.NewMemoryIndex() })
}

// Keys that are written once and never read again (a user who never logs
// out) are dropped by the sweep every SweepEvery additions, so the map stays
// the size of the live logins.
func TestMemoryIndexSweepDropsExpiredKeys(t *testing.T) {
	idx := oauthkit.NewMemoryIndex()
	ctx := t.Context()
	past := time.Now().Add(-time.Second)
	live := time.Now().Add(time.Hour)
	kept := indextest.Key()
	if err := idx.Add(ctx, indextest.Token(), []string{kept}, live); err != nil {
		t.Fatal(err)
	}
	// Up to the addition before the sweep, every expired key stays.
	for range oauthkit.SweepEvery - 2 {
		if err := idx.Add(ctx, indextest.Token(), []string{indextest.Key()}, past); err != nil {
			t.Fatal(err)
		}
	}
	if n := oauthkit.MemoryIndexKeys(idx); n != oauthkit.SweepEvery-1 {
		t.Fatalf("%d keys before the sweep, want %d", n, oauthkit.SweepEvery-1)
	}
	// The SweepEvery-th addition sweeps: only the live key and its own
	// (expired) one were there to survive, and the expired one goes too.
	if err := idx.Add(ctx, indextest.Token(), []string{indextest.Key()}, past); err != nil {
		t.Fatal(err)
	}
	if n := oauthkit.MemoryIndexKeys(idx); n != 1 {
		t.Fatalf("%d keys after the sweep, want 1 (the live one)", n)
	}
	if got, err := idx.Tokens(ctx, kept); err != nil || len(got) != 1 {
		t.Fatalf("live key after the sweep: %q %v", got, err)
	}
}

// Index keys are what the stores are tested with (64 hex characters,
// whatever the ids), and distinct for distinct (kind, parts): the parts are
// length-prefixed, so ids cannot run into each other or into the kind.
func TestIndexKey(t *testing.T) {
	long := string(make([]byte, 10000))
	cases := [][]string{
		{oauthkit.IndexUser, "ab"},
		{oauthkit.IndexSub, "ab"},
		{oauthkit.IndexSID, "ab"},
		{oauthkit.IndexSub, "https://issuer", "ab"},
		{oauthkit.IndexSub, "https://issuera", "b"},
		{oauthkit.IndexSub, "https://issuer", "a", "b"},
		{oauthkit.IndexSub, "https://issuerab"},
		{oauthkit.IndexSub + "https://issuer", "ab"},
		{oauthkit.IndexUser, ""},
		{oauthkit.IndexUser},
		{oauthkit.IndexUser, long},
	}
	seen := map[string][]string{}
	for _, c := range cases {
		k := oauthkit.IndexKey(c[0], c[1:]...)
		if b, err := hex.DecodeString(k); err != nil || len(k) != 64 || len(b) != 32 {
			t.Errorf("IndexKey%q = %q, want 64 hex characters", c, k)
		}
		if prev, ok := seen[k]; ok {
			t.Errorf("IndexKey%q = IndexKey%q", c, prev)
		}
		seen[k] = c
	}
}
