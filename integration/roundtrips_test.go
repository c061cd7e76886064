package integration

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/redisclaim"
)

// countingStore counts the round trips to the session store it wraps:
// redisstore sends one Redis command per Find, Commit and Delete.
type countingStore struct {
	scs.Store
	finds, commits, deletes atomic.Int64
}

func (s *countingStore) Find(token string) ([]byte, bool, error) {
	s.finds.Add(1)
	return s.Store.Find(token)
}

func (s *countingStore) Commit(token string, b []byte, expiry time.Time) error {
	s.commits.Add(1)
	return s.Store.Commit(token, b, expiry)
}

func (s *countingStore) Delete(token string) error {
	s.deletes.Add(1)
	return s.Store.Delete(token)
}

// trips returns the round trips so far and resets the counts.
func (s *countingStore) trips() (finds, commits, deletes int64) {
	return s.finds.Swap(0), s.commits.Swap(0), s.deletes.Swap(0)
}

// TestRedisSessionRoundTripsPerLogin: a complete login on a Redis session
// store, with the shared Redis claimer of a multi-instance deployment,
// costs 5 session-store round trips: the login start's one write (before
// the redirect), the callback's load, the delete of the pre-login token
// (session fixation) and the write of the signed-in session, and the
// page's load. Each buys a guarantee; none is repeated.
func TestRedisSessionRoundTripsPerLogin(t *testing.T) {
	pool := redisPool(t)
	prefix := redisPrefix(t, pool)
	store := &countingStore{Store: redisstore.NewWithPrefix(pool, prefix+"session:")}
	as := newFakeAS(t)
	p := fakeProvider(t, as, nil)
	s := newKitSite(t, oauthkit.Provider{Client: p, RedirectURL: "http://127.0.0.1:9/callback"}, func(cfg *oauthkit.Config) {
		cfg.Sessions.Store = store
		cfg.Sessions.Codec = oauthkit.SessionCodec{}
		cfg.StateClaimer = &redisclaim.Claimer{Pool: pool, Prefix: prefix + "claim:"}
	})
	b := browserClient(t)
	user := fakeUser{ID: "4242", Email: "ada@example.com"}

	authURL := s.start(t, b)
	if f, c, d := store.trips(); f+c+d != 1 || c != 1 {
		t.Fatalf("login start: %d finds, %d commits, %d deletes; want exactly one commit", f, c, d)
	}
	cb, err := as.Approve(authURL, user)
	if err != nil {
		t.Fatal(err)
	}
	res := s.do(t, b, http.MethodGet, "/callback?"+cb.RawQuery, nil)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("callback: %s; kit errors %v", res.Status, s.errors())
	}
	if f, c, d := store.trips(); f != 1 || c != 1 || d != 1 {
		t.Fatalf("callback: %d finds, %d commits, %d deletes; want 1 each", f, c, d)
	}
	if got := s.me(t, b); got != user.ID {
		t.Fatalf("signed in as %q, want %s", got, user.ID)
	}
	if f, c, d := store.trips(); f != 1 || c+d != 0 {
		t.Fatalf("page: %d finds, %d commits, %d deletes; want one find", f, c, d)
	}
}
