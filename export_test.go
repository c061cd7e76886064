package oauthkit

import (
	"context"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// Hooks for the external tests (package oauthkit_test), which can import
// internal/indextest where this package's own tests cannot (indextest
// imports oauthkit).

// NewMemoryIndex is the kit's default SessionIndex.
func NewMemoryIndex() SessionIndex { return newMemoryIndex() }

// SweepEvery is how many additions the memory index makes between sweeps.
const SweepEvery = sweepEvery

// MemoryIndexKeys is how many keys a memory index holds, expired or not.
func MemoryIndexKeys(idx SessionIndex) int {
	m := idx.(*memoryIndex)
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// IndexKey derives the index key of (kind, parts...).
var IndexKey = indexKey

// The index key kinds.
const (
	IndexUser = indexUser
	IndexSub  = indexSub
	IndexSID  = indexSID
)

// GrantKey is the TokenStore key of a user's grant at a provider.
var GrantKey = grantKey

// MemoryTokenUntil is the deadline of key in a memory TokenStore (zero: no
// expiry), and false when key is not there.
func MemoryTokenUntil(s TokenStore, key string) (time.Time, bool) {
	m := s.(*memoryTokens)
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.m[key]
	return r.until, ok
}

// SetMemoryTokenUntil moves the deadline of key in a memory TokenStore.
func SetMemoryTokenUntil(s TokenStore, key string, until time.Time) {
	m := s.(*memoryTokens)
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.m[key]
	r.until = until
	m.m[key] = r
}

// MemoryLockUntil is the end of the lease on key in memory RefreshLocks,
// and false when no lock on key is recorded.
func MemoryLockUntil(l RefreshLocks, key string) (time.Time, bool) {
	m := l.(*memoryLocks)
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.m[key]
	return cur.until, ok
}

// SetMemoryLockUntil moves the end of the lease on key in memory
// RefreshLocks.
func SetMemoryLockUntil(l RefreshLocks, key string, until time.Time) {
	m := l.(*memoryLocks)
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.m[key]
	cur.until = until
	m.m[key] = cur
}

// OpenToken reads a stored token value as the kit does (for fuzzing).
func OpenToken(tk *TokenKeys, v, aad string) error {
	k := &Kit{cfg: Config{TokenKeys: tk}}
	_, err := k.openToken(v, aad)
	return err
}

// MemoryTokenCount is how many records a memory TokenStore holds, expired
// or not.
func MemoryTokenCount(s TokenStore) int {
	m := s.(*memoryTokens)
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

// NewMemoryClaims is the kit's default StateClaimer, on the clock now.
func NewMemoryClaims(now func() time.Time) StateClaimer { return &memoryClaims{now: now} }

// QueryValue is the login route's map-free read of one query parameter.
var QueryValue = queryValue

// PendingStates are the states of an encoded pending-login list, nil when
// it is unreadable.
func PendingStates(v string) []string {
	var states []string
	for _, p := range decodePending(v) {
		states = append(states, p.State)
	}
	return states
}

// ObserveCost is what starting and ending an op costs k: the allocations,
// and whether the op runs with the caller's own context.
func ObserveCost(k *Kit) (allocs float64, sameContext bool) {
	ctx := context.WithValue(context.Background(), observeCostKey{}, 1)
	sameContext = true
	allocs = testing.AllocsPerRun(100, func() {
		octx, end := k.observe(ctx, OpRefresh, "test")
		end(nil)
		sameContext = sameContext && octx == ctx
	})
	return allocs, sameContext
}

type observeCostKey struct{}

// HandlerObserved reports whether k's login handler for provider is
// wrapped for an Observer.
func HandlerObserved(k *Kit, provider string) bool {
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	wrapped := k.observed(OpLogin, provider, h)
	return reflect.ValueOf(wrapped).Pointer() != reflect.ValueOf(h).Pointer()
}

// NewMemoryEnded is the kit's default EndedSessions.
func NewMemoryEnded() EndedSessions { return &memoryEnded{} }
