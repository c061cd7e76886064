package oauthkit

import (
	"context"
	"sync"
	"time"
)

// TokenStore keeps each user's current provider grant, keyed by the
// application's user id and the provider, so that code holding only a user
// id (a background job) can call the provider for that user through
// [Kit.TokenFor], and so that every instance refreshes a grant from the
// same, current refresh token. The kit writes it at login and on every
// refresh; when it is configured, the refresh token lives only there (the
// session keeps the access token it may use until expiry), so the session
// and the store cannot disagree about which refresh token is current.
//
// Records are opaque bytes: encrypted when Config.TokenKeys is set. Keys are
// opaque fixed-length strings the kit derives.
//
// Without one (the default) tokens live in the session only. In one
// process, NewMemoryTokenStore serves; sites running several instances plug
// in a shared implementation (Redis, PostgreSQL), together with shared
// RefreshLocks.
type TokenStore interface {
	// Get returns the record stored under key, or nil and no error when
	// there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores record under key, replacing any, for ttl (0: until
	// deleted).
	Put(ctx context.Context, key string, record []byte, ttl time.Duration) error
	// Delete removes the record under key; a missing one is not an error.
	Delete(ctx context.Context, key string) error
}

// RefreshLocks serialise the refresh of one grant across instances: with
// refresh-token rotation, a second refresh with the same token fails, and
// providers that detect the reuse (fosite, Hydra, oidc-provider) then revoke
// the whole grant. A lock is held for a lease, renewed while the refresh
// runs, so a slow provider cannot let a second refresh in and a crashed
// instance blocks the grant for one lease at most.
//
// The default works within one process. Instances sharing a TokenStore must
// share RefreshLocks too.
type RefreshLocks interface {
	// Acquire takes the lock named key for owner for lease, reporting false
	// when another owner holds it.
	Acquire(ctx context.Context, key, owner string, lease time.Duration) (bool, error)
	// Extend renews owner's lock for another lease, reporting false when
	// owner no longer holds it (its lease ran out and someone else took it).
	Extend(ctx context.Context, key, owner string, lease time.Duration) (bool, error)
	// Release frees owner's lock; a lock owner no longer holds is left as it
	// is.
	Release(ctx context.Context, key, owner string) error
}

// NewMemoryTokenStore returns a TokenStore in this process's memory, for a
// site of one instance whose sessions live in memory too: the grants it
// holds are lost with the process, as the sessions are.
func NewMemoryTokenStore() TokenStore { return newMemoryTokens() }

// memoryTokens is the in-process TokenStore. Records with a ttl are
// dropped when read after it, and by a sweep every sweepEvery writes, so
// records nobody reads again do not accumulate.
type memoryTokens struct {
	mu   sync.Mutex
	m    map[string]memoryRecord
	puts int
}

type memoryRecord struct {
	b     []byte
	until time.Time // zero: no expiry
}

func newMemoryTokens() *memoryTokens { return &memoryTokens{m: map[string]memoryRecord{}} }

func (s *memoryTokens) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[key]
	if !ok {
		return nil, nil
	}
	if !r.until.IsZero() && !time.Now().Before(r.until) {
		delete(s.m, key)
		return nil, nil
	}
	return append([]byte(nil), r.b...), nil
}

func (s *memoryTokens) Put(_ context.Context, key string, record []byte, ttl time.Duration) error {
	r := memoryRecord{b: append([]byte(nil), record...)}
	if ttl > 0 {
		r.until = time.Now().Add(ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = r
	if s.puts++; s.puts%sweepEvery == 0 {
		now := time.Now()
		for k, r := range s.m {
			if !r.until.IsZero() && !now.Before(r.until) {
				delete(s.m, k)
			}
		}
	}
	return nil
}

func (s *memoryTokens) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
	return nil
}

// NewMemoryRefreshLocks returns RefreshLocks in this process's memory, the
// default: they serialise the refreshes of one process only.
func NewMemoryRefreshLocks() RefreshLocks { return newMemoryLocks() }

// memoryLocks is the in-process RefreshLocks.
type memoryLocks struct {
	mu sync.Mutex
	m  map[string]memoryLock
}

type memoryLock struct {
	owner string
	until time.Time
}

func newMemoryLocks() *memoryLocks { return &memoryLocks{m: map[string]memoryLock{}} }

func (l *memoryLocks) Acquire(_ context.Context, key, owner string, lease time.Duration) (bool, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.m[key]; ok && cur.owner != owner && now.Before(cur.until) {
		return false, nil
	}
	l.m[key] = memoryLock{owner: owner, until: now.Add(lease)}
	return true, nil
}

func (l *memoryLocks) Extend(_ context.Context, key, owner string, lease time.Duration) (bool, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.m[key]; !ok || cur.owner != owner || !now.Before(cur.until) {
		return false, nil
	}
	l.m[key] = memoryLock{owner: owner, until: now.Add(lease)}
	return true, nil
}

func (l *memoryLocks) Release(_ context.Context, key, owner string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.m[key]; ok && cur.owner == owner {
		delete(l.m, key)
	}
	return nil
}
