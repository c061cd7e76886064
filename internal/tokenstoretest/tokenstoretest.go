// Package tokenstoretest is the conformance test every oauthkit.TokenStore
// and oauthkit.RefreshLocks passes: the in-memory defaults and the shared
// stores (Redis, PostgreSQL) run the same checks, so a background job finds
// the grant a login stored and exactly one instance refreshes it, whichever
// store a site plugs in. Only tests import it.
//
// No check waits for a deadline to pass. Expiry is checked on the store's
// own clock through an [Expiry] each store's test supplies: what is left of
// an entry's ttl or a lock's lease (it must lie in (0, ttl]), and a way to
// move a deadline into the past, after which the entry is gone and the lock
// free.
package tokenstoretest

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/indextest"
)

// Expiry reads and moves a store's own record of its deadlines, as the
// store's clock judges them (the Redis server's, the database's now()).
type Expiry struct {
	// Remaining is how long key has left (an entry's ttl, a lock's lease),
	// and false when it has no deadline. It fails t when key is not there.
	Remaining func(t *testing.T, key string) (time.Duration, bool)
	// Expire moves key's deadline into the past, as if its ttl or lease
	// had run out.
	Expire func(t *testing.T, key string)
}

// Option adjusts what the checks cover, for the behaviours only some stores
// have.
type Option func(*config)

type config struct {
	contextErrors bool
}

// WithContextErrors also checks that every method on a canceled context
// returns an error: a network store must not block a request that has gone
// away. The in-memory stores have nothing to wait for and ignore contexts.
func WithContextErrors() Option {
	return func(c *config) { c.contextErrors = true }
}

// Concurrency is how many goroutines the concurrent checks run.
const Concurrency = 64

// Key is a fresh key shaped like the kit's: 64 hex characters.
func Key() string { return indextest.Key() }

// Owner is a fresh lock owner, shaped like an instance's random id.
func Owner() string { return indextest.Token() }

// RunTokenStore checks the TokenStore contract on a fresh store from
// newStore for each subtest; exp reads and moves the deadlines of the store
// newStore returned.
func RunTokenStore(t *testing.T, newStore func(t *testing.T) (oauthkit.TokenStore, Expiry), opts ...Option) {
	t.Helper()
	cfg := options(opts)

	t.Run("round trip", func(t *testing.T) {
		s, _ := newStore(t)
		k := Key()
		put(t, s, k, []byte("grant one"), 0)
		get(t, s, k, []byte("grant one"))
	})

	t.Run("missing is nil without error", func(t *testing.T) {
		s, _ := newStore(t)
		put(t, s, Key(), []byte("other"), 0)
		get(t, s, Key(), nil)
	})

	t.Run("overwrite replaces", func(t *testing.T) {
		s, _ := newStore(t)
		k := Key()
		put(t, s, k, []byte("old, and longer than the new one"), 0)
		put(t, s, k, []byte("new"), 0)
		get(t, s, k, []byte("new"))
	})

	t.Run("keys are independent", func(t *testing.T) {
		s, _ := newStore(t)
		a, b := Key(), Key()
		put(t, s, a, []byte("a"), 0)
		put(t, s, b, []byte("b"), time.Hour)
		get(t, s, a, []byte("a"))
		get(t, s, b, []byte("b"))
	})

	t.Run("delete", func(t *testing.T) {
		s, _ := newStore(t)
		k, kept := Key(), Key()
		put(t, s, k, []byte("gone"), time.Hour)
		put(t, s, kept, []byte("kept"), time.Hour)
		if err := s.Delete(t.Context(), k); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		get(t, s, k, nil)
		get(t, s, kept, []byte("kept"))
		if err := s.Delete(t.Context(), k); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
		put(t, s, k, []byte("back"), 0)
		get(t, s, k, []byte("back"))
	})

	t.Run("ttl is kept by the store", func(t *testing.T) {
		s, exp := newStore(t)
		k := Key()
		put(t, s, k, []byte("r"), time.Hour)
		within(t, exp, k, time.Hour)
	})

	t.Run("ttl 0 never expires", func(t *testing.T) {
		s, exp := newStore(t)
		k := Key()
		put(t, s, k, []byte("r"), 0)
		if left, ok := exp.Remaining(t, k); ok {
			t.Fatalf("Put with ttl 0: expires in %v, want no expiry", left)
		}
	})

	t.Run("overwrite replaces the ttl", func(t *testing.T) {
		s, exp := newStore(t)
		k := Key()
		put(t, s, k, []byte("r1"), time.Hour)
		put(t, s, k, []byte("r2"), 0)
		if left, ok := exp.Remaining(t, k); ok {
			t.Fatalf("ttl 0 over ttl 1h: expires in %v, want no expiry", left)
		}
		put(t, s, k, []byte("r3"), time.Minute)
		within(t, exp, k, time.Minute)
	})

	t.Run("expired entry is not returned", func(t *testing.T) {
		s, exp := newStore(t)
		gone, kept := Key(), Key()
		put(t, s, gone, []byte("gone"), time.Hour)
		put(t, s, kept, []byte("kept"), time.Hour)
		exp.Expire(t, gone)
		get(t, s, gone, nil)
		get(t, s, kept, []byte("kept"))
		put(t, s, gone, []byte("again"), time.Hour)
		get(t, s, gone, []byte("again"))
	})

	t.Run("records are copied", func(t *testing.T) {
		s, _ := newStore(t)
		k := Key()
		rec := []byte("original")
		put(t, s, k, rec, 0)
		copy(rec, "XXXXXXXX")
		got := get(t, s, k, []byte("original"))
		copy(got, "YYYYYYYY")
		get(t, s, k, []byte("original"))
	})

	t.Run("records are binary-safe", func(t *testing.T) {
		s, _ := newStore(t)
		k := Key()
		rec := make([]byte, 0, 512)
		for i := range 256 {
			rec = append(rec, byte(i))
		}
		for i := range 256 {
			rec = append(rec, byte(255-i))
		}
		put(t, s, k, rec, time.Hour)
		get(t, s, k, rec)
	})

	t.Run("concurrent puts all land", func(t *testing.T) {
		s, _ := newStore(t)
		keys := make([]string, Concurrency)
		for i := range keys {
			keys[i] = Key()
		}
		var wg sync.WaitGroup
		for i := range Concurrency {
			wg.Go(func() {
				if err := s.Put(t.Context(), keys[i], []byte(keys[i]), time.Hour); err != nil {
					t.Errorf("Put %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		for _, k := range keys {
			get(t, s, k, []byte(k))
		}
	})

	if cfg.contextErrors {
		t.Run("canceled context is an error", func(t *testing.T) {
			s, _ := newStore(t)
			k := Key()
			put(t, s, k, []byte("r"), 0)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if got, err := s.Get(ctx, k); err == nil || got != nil {
				t.Errorf("Get on a canceled context: %q, %v; want nil and an error", got, err)
			}
			if err := s.Put(ctx, k, []byte("r2"), 0); err == nil {
				t.Error("Put on a canceled context: nil error")
			}
			if err := s.Delete(ctx, k); err == nil {
				t.Error("Delete on a canceled context: nil error")
			}
		})
	}
}

// RunRefreshLocks checks the RefreshLocks contract on fresh locks from
// newLocks for each subtest; exp reads and moves the leases of the locks
// newLocks returned.
func RunRefreshLocks(t *testing.T, newLocks func(t *testing.T) (oauthkit.RefreshLocks, Expiry), opts ...Option) {
	t.Helper()
	cfg := options(opts)
	const lease = time.Minute

	t.Run("a held lock refuses another owner", func(t *testing.T) {
		l, exp := newLocks(t)
		k, a, b := Key(), Owner(), Owner()
		acquire(t, l, k, a, lease, true)
		within(t, exp, k, lease)
		acquire(t, l, k, b, lease, false)
		acquire(t, l, k, b, time.Nanosecond, false)
	})

	t.Run("the owner may acquire again, renewing", func(t *testing.T) {
		l, exp := newLocks(t)
		k, a, b := Key(), Owner(), Owner()
		acquire(t, l, k, a, lease, true)
		acquire(t, l, k, a, time.Hour, true)
		if left := within(t, exp, k, time.Hour); left <= lease {
			t.Fatalf("re-acquired for 1h, %v left: the lease was not renewed", left)
		}
		acquire(t, l, k, b, lease, false)
	})

	t.Run("locks are per key", func(t *testing.T) {
		l, _ := newLocks(t)
		k1, k2, a, b := Key(), Key(), Owner(), Owner()
		acquire(t, l, k1, a, lease, true)
		acquire(t, l, k2, b, lease, true)
		acquire(t, l, k1, b, lease, false)
		acquire(t, l, k2, a, lease, false)
	})

	t.Run("extend by the owner renews", func(t *testing.T) {
		l, exp := newLocks(t)
		k, a, b := Key(), Owner(), Owner()
		acquire(t, l, k, a, lease, true)
		extend(t, l, k, a, time.Hour, true)
		if left := within(t, exp, k, time.Hour); left <= lease {
			t.Fatalf("extended to 1h, %v left: the lease was not renewed", left)
		}
		acquire(t, l, k, b, lease, false)
	})

	t.Run("extend by another owner fails and changes nothing", func(t *testing.T) {
		l, exp := newLocks(t)
		k, a, b := Key(), Owner(), Owner()
		acquire(t, l, k, a, lease, true)
		extend(t, l, k, b, time.Hour, false)
		within(t, exp, k, lease)
		acquire(t, l, k, b, lease, false)
		extend(t, l, k, a, lease, true)
	})

	t.Run("extend of a free lock fails", func(t *testing.T) {
		l, _ := newLocks(t)
		k, a := Key(), Owner()
		extend(t, l, k, a, lease, false)
		acquire(t, l, k, a, lease, true)
		release(t, l, k, a)
		extend(t, l, k, a, lease, false)
	})

	t.Run("release by another owner leaves the lock", func(t *testing.T) {
		l, _ := newLocks(t)
		k, a, b := Key(), Owner(), Owner()
		acquire(t, l, k, a, lease, true)
		release(t, l, k, b)
		acquire(t, l, k, b, lease, false)
		extend(t, l, k, a, lease, true)
	})

	t.Run("release by the owner frees the lock", func(t *testing.T) {
		l, _ := newLocks(t)
		k, a, b := Key(), Owner(), Owner()
		acquire(t, l, k, a, lease, true)
		release(t, l, k, a)
		acquire(t, l, k, b, lease, true)
		release(t, l, k, b)
		release(t, l, k, b) // a free lock: not an error
	})

	t.Run("an expired lease can be taken", func(t *testing.T) {
		l, exp := newLocks(t)
		k, a, b, c := Key(), Owner(), Owner(), Owner()
		acquire(t, l, k, a, lease, true)
		exp.Expire(t, k)
		acquire(t, l, k, b, lease, true)
		// a crashed or stalled a comes back: it holds nothing any more.
		extend(t, l, k, a, lease, false)
		release(t, l, k, a)
		acquire(t, l, k, c, lease, false)
		acquire(t, l, k, a, lease, false)
		within(t, exp, k, lease)
	})

	t.Run("an expired lease cannot be extended", func(t *testing.T) {
		l, exp := newLocks(t)
		k, a, b := Key(), Owner(), Owner()
		acquire(t, l, k, a, lease, true)
		exp.Expire(t, k)
		extend(t, l, k, a, lease, false)
		acquire(t, l, k, b, lease, true)
	})

	t.Run("racing acquires have one winner", func(t *testing.T) {
		l, _ := newLocks(t)
		k := Key()
		owners := make([]string, Concurrency)
		for i := range owners {
			owners[i] = Owner()
		}
		var wins atomic.Int32
		var winner atomic.Value
		var wg sync.WaitGroup
		for i := range Concurrency {
			wg.Go(func() {
				ok, err := l.Acquire(t.Context(), k, owners[i], lease)
				if err != nil {
					t.Errorf("Acquire %d: %v", i, err)
				}
				if ok {
					wins.Add(1)
					winner.Store(owners[i])
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d of %d racing Acquires won, want exactly 1", n, Concurrency)
		}
		w := winner.Load().(string)
		for _, o := range owners {
			if o != w {
				extend(t, l, k, o, lease, false)
			}
		}
		extend(t, l, k, w, lease, true)
	})

	if cfg.contextErrors {
		t.Run("canceled context is an error", func(t *testing.T) {
			l, _ := newLocks(t)
			k, a := Key(), Owner()
			acquire(t, l, k, a, lease, true)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if ok, err := l.Acquire(ctx, Key(), a, lease); err == nil || ok {
				t.Errorf("Acquire on a canceled context: %v, %v; want false and an error", ok, err)
			}
			if ok, err := l.Extend(ctx, k, a, lease); err == nil || ok {
				t.Errorf("Extend on a canceled context: %v, %v; want false and an error", ok, err)
			}
			if err := l.Release(ctx, k, a); err == nil {
				t.Error("Release on a canceled context: nil error")
			}
		})
	}
}

// TokenStoreFails checks that a store that cannot be reached reports an
// error from every method (and does not panic), so the kit can tell "no
// grant" from "the store is down".
func TokenStoreFails(t *testing.T, s oauthkit.TokenStore) {
	t.Helper()
	k := Key()
	if err := s.Put(t.Context(), k, []byte("r"), time.Hour); err == nil {
		t.Error("Put on a failing store: nil error")
	}
	if got, err := s.Get(t.Context(), k); err == nil || got != nil {
		t.Errorf("Get on a failing store: %q, %v; want nil and an error", got, err)
	}
	if err := s.Delete(t.Context(), k); err == nil {
		t.Error("Delete on a failing store: nil error")
	}
}

// RefreshLocksFail checks that locks that cannot be reached report an error
// from every method, and never a won lock, so no instance refreshes
// believing it holds a lock nobody recorded.
func RefreshLocksFail(t *testing.T, l oauthkit.RefreshLocks) {
	t.Helper()
	k, a := Key(), Owner()
	if ok, err := l.Acquire(t.Context(), k, a, time.Minute); err == nil || ok {
		t.Errorf("Acquire on failing locks: %v, %v; want false and an error", ok, err)
	}
	if ok, err := l.Extend(t.Context(), k, a, time.Minute); err == nil || ok {
		t.Errorf("Extend on failing locks: %v, %v; want false and an error", ok, err)
	}
	if err := l.Release(t.Context(), k, a); err == nil {
		t.Error("Release on failing locks: nil error")
	}
}

func options(opts []Option) config {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

func put(t *testing.T, s oauthkit.TokenStore, key string, rec []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Put(t.Context(), key, rec, ttl); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

// get checks that key holds want (nil: nothing) and returns what it got.
func get(t *testing.T, s oauthkit.TokenStore, key string, want []byte) []byte {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if want == nil {
		if got != nil {
			t.Fatalf("Get = %q, want nil (no record)", got)
		}
		return nil
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get = %q, want %q", got, want)
	}
	return got
}

// within checks that key's deadline is in (0, max] from now and returns
// what is left.
func within(t *testing.T, exp Expiry, key string, max time.Duration) time.Duration {
	t.Helper()
	left, ok := exp.Remaining(t, key)
	if !ok {
		t.Fatalf("no deadline, want one within %v", max)
	}
	if left <= 0 || left > max {
		t.Fatalf("%v left, want within (0, %v]", left, max)
	}
	return left
}

func acquire(t *testing.T, l oauthkit.RefreshLocks, key, owner string, lease time.Duration, want bool) {
	t.Helper()
	got, err := l.Acquire(t.Context(), key, owner, lease)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if got != want {
		t.Fatalf("Acquire = %v, want %v", got, want)
	}
}

func extend(t *testing.T, l oauthkit.RefreshLocks, key, owner string, lease time.Duration, want bool) {
	t.Helper()
	got, err := l.Extend(t.Context(), key, owner, lease)
	if err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if got != want {
		t.Fatalf("Extend = %v, want %v", got, want)
	}
}

func release(t *testing.T, l oauthkit.RefreshLocks, key, owner string) {
	t.Helper()
	if err := l.Release(t.Context(), key, owner); err != nil {
		t.Fatalf("Release: %v", err)
	}
}
