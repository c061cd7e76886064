// Package indextest is the conformance test every oauthkit.SessionIndex
// passes: the in-memory default and the shared stores (Redis, PostgreSQL)
// run the same checks, so a logout finds the same sessions whichever one a
// site plugs in. Only tests import it.
package indextest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit"
)

// Option adjusts what Run checks, for the behaviours only some stores have.
type Option func(*config)

type config struct {
	contextErrors bool
}

// WithContextErrors also checks that Add and Tokens on a canceled context
// return an error: a network store must not block a request that has gone
// away. The in-memory index has nothing to wait for and ignores contexts.
func WithContextErrors() Option {
	return func(c *config) { c.contextErrors = true }
}

// Concurrency is how many goroutines the concurrent check runs, each adding
// its own token under one shared key.
const Concurrency = 64

// Run checks the SessionIndex contract on a fresh index from newIndex for
// each subtest. Expiries are either an hour ahead or a second behind, so no
// check depends on timing or sleeps.
func Run(t *testing.T, newIndex func(t *testing.T) oauthkit.SessionIndex, opts ...Option) {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	live := func() time.Time { return time.Now().Add(time.Hour) }
	past := func() time.Time { return time.Now().Add(-time.Second) }

	t.Run("several tokens under several keys", func(t *testing.T) {
		idx := newIndex(t)
		a, b, c := Key(), Key(), Key()
		t1, t2, t3 := Token(), Token(), Token()
		mustAdd(t, idx, t1, []string{a, b}, live())
		mustAdd(t, idx, t2, []string{a}, live())
		mustAdd(t, idx, t3, []string{b, c}, live())
		want(t, idx, a, t1, t2)
		want(t, idx, b, t1, t3)
		want(t, idx, c, t3)
	})

	t.Run("a key only returns its own tokens", func(t *testing.T) {
		idx := newIndex(t)
		a, b := Key(), Key()
		ta, tb := Token(), Token()
		mustAdd(t, idx, ta, []string{a}, live())
		mustAdd(t, idx, tb, []string{b}, live())
		want(t, idx, a, ta)
		want(t, idx, b, tb)
	})

	t.Run("unknown key is empty without error", func(t *testing.T) {
		idx := newIndex(t)
		mustAdd(t, idx, Token(), []string{Key()}, live())
		want(t, idx, Key())
	})

	t.Run("no keys adds nothing", func(t *testing.T) {
		idx := newIndex(t)
		mustAdd(t, idx, Token(), nil, live())
	})

	t.Run("a key twice in one add", func(t *testing.T) {
		idx := newIndex(t)
		a := Key()
		tok := Token()
		mustAdd(t, idx, tok, []string{a, a}, live())
		want(t, idx, a, tok)
	})

	t.Run("expired entries are not returned", func(t *testing.T) {
		idx := newIndex(t)
		a, b := Key(), Key()
		gone, kept := Token(), Token()
		mustAdd(t, idx, gone, []string{a, b}, past())
		mustAdd(t, idx, kept, []string{a}, live())
		want(t, idx, a, kept)
		want(t, idx, b)
	})

	t.Run("a later expiry wins", func(t *testing.T) {
		idx := newIndex(t)
		a := Key()
		tok := Token()
		mustAdd(t, idx, tok, []string{a}, past())
		want(t, idx, a)
		mustAdd(t, idx, tok, []string{a}, live())
		want(t, idx, a, tok)
	})

	t.Run("an earlier expiry does not shorten", func(t *testing.T) {
		idx := newIndex(t)
		a, b := Key(), Key()
		tok, other := Token(), Token()
		mustAdd(t, idx, tok, []string{a}, live())
		mustAdd(t, idx, other, []string{a}, live())
		// The re-add names a second key too: the first keeps its expiry,
		// the second gets the (past) one it was given.
		mustAdd(t, idx, tok, []string{a, b}, past())
		want(t, idx, a, tok, other)
		want(t, idx, b)
	})

	t.Run("concurrent adds all land", func(t *testing.T) {
		idx := newIndex(t)
		shared := Key()
		tokens := make([]string, Concurrency)
		own := make([]string, Concurrency)
		for i := range tokens {
			tokens[i], own[i] = Token(), Key()
		}
		var wg sync.WaitGroup
		for i := range Concurrency {
			wg.Go(func() {
				if err := idx.Add(t.Context(), tokens[i], []string{shared, own[i]}, live()); err != nil {
					t.Errorf("Add %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		want(t, idx, shared, tokens...)
		for i := range own {
			want(t, idx, own[i], tokens[i])
		}
	})

	if cfg.contextErrors {
		t.Run("canceled context is an error", func(t *testing.T) {
			idx := newIndex(t)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			a := Key()
			if err := idx.Add(ctx, Token(), []string{a}, live()); err == nil {
				t.Error("Add on a canceled context: nil error")
			}
			if _, err := idx.Tokens(ctx, a); err == nil {
				t.Error("Tokens on a canceled context: nil error")
			}
		})
	}
}

// Fails checks that an index whose store cannot be reached reports an error
// from both methods (and does not panic), so the kit can fail the logout
// instead of silently ending fewer sessions than it should.
func Fails(t *testing.T, idx oauthkit.SessionIndex) {
	t.Helper()
	a := Key()
	if err := idx.Add(t.Context(), Token(), []string{a}, time.Now().Add(time.Hour)); err == nil {
		t.Error("Add on a failing store: nil error")
	}
	tokens, err := idx.Tokens(t.Context(), a)
	if err == nil {
		t.Error("Tokens on a failing store: nil error")
	}
	if len(tokens) != 0 {
		t.Errorf("Tokens on a failing store: %q alongside the error", tokens)
	}
}

// Key is a fresh key shaped like the kit's: 64 hex characters.
func Key() string { return random(32) }

// Token is a fresh token shaped like an scs session token.
func Token() string { return random(24) }

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mustAdd(t *testing.T, idx oauthkit.SessionIndex, token string, keys []string, expiry time.Time) {
	t.Helper()
	if err := idx.Add(t.Context(), token, keys, expiry); err != nil {
		t.Fatalf("Add(%q): %v", keys, err)
	}
}

// want checks that key holds exactly tokens, in any order.
func want(t *testing.T, idx oauthkit.SessionIndex, key string, tokens ...string) {
	t.Helper()
	got, err := idx.Tokens(t.Context(), key)
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	got = slices.Clone(got)
	slices.Sort(got)
	exp := slices.Clone(tokens)
	slices.Sort(exp)
	if !slices.Equal(got, exp) {
		t.Fatalf("Tokens = %d %q, want %d %q", len(got), got, len(exp), exp)
	}
}
