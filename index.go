package oauthkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// SessionIndex maps what a provider or the application knows about a login
// (the provider's session id, the provider's subject, the kit's user id) to
// the scs session tokens signed in that way, so the kit can end sessions it
// received no request for: a back-channel or front-channel logout from the
// provider, or [Kit.LogoutEverywhere].
//
// Keys are opaque, fixed-length strings the kit derives (hashes, so no user
// id or provider session id appears in the store). Entries only need to live
// until their expiry, the session's deadline; an entry whose session has
// already ended is harmless, since ending an ended session does nothing.
//
// The default keeps the index in memory, which covers one process. Sites
// running several instances plug in a shared implementation (Redis,
// PostgreSQL) so that a logout received by one instance ends the sessions
// made on the others.
type SessionIndex interface {
	// Add records token under each of keys until expiry.
	Add(ctx context.Context, token string, keys []string, expiry time.Time) error
	// Tokens returns the tokens recorded under key whose expiry has not
	// passed, in any order; none is not an error.
	Tokens(ctx context.Context, key string) ([]string, error)
}

// Index key kinds: what a login is found by.
const (
	indexUser = "user" // the kit's User.UserID
	indexSub  = "sub"  // (issuer, provider subject)
	indexSID  = "sid"  // (issuer, provider session id)
)

// indexKey derives the key of (kind, parts...): a SHA-256, so keys have one
// length whatever the ids, and parts cannot run into each other (each is
// length-prefixed).
func indexKey(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		var n [8]byte
		l := uint64(len(p))
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// memoryIndex is the in-process SessionIndex. Expired entries are dropped
// when their key is next written or read, and a sweep every sweepEvery
// additions drops keys nobody reads again, so memory is bounded by the
// logins of one session lifetime.
//
// It uses the wall clock, as scs stamps session deadlines by it.
type memoryIndex struct {
	mu   sync.Mutex
	keys map[string]map[string]time.Time // key -> token -> expiry
	adds int
}

const sweepEvery = 1024

func newMemoryIndex() *memoryIndex {
	return &memoryIndex{keys: map[string]map[string]time.Time{}}
}

func (m *memoryIndex) Add(_ context.Context, token string, keys []string, expiry time.Time) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, key := range keys {
		set := m.keys[key]
		if set == nil {
			set = map[string]time.Time{}
			m.keys[key] = set
		}
		if expiry.After(set[token]) {
			set[token] = expiry
		}
		dropExpired(set, now)
	}
	if m.adds++; m.adds%sweepEvery == 0 {
		for key, set := range m.keys {
			if dropExpired(set, now); len(set) == 0 {
				delete(m.keys, key)
			}
		}
	}
	return nil
}

func (m *memoryIndex) Tokens(_ context.Context, key string) ([]string, error) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.keys[key]
	dropExpired(set, now)
	if len(set) == 0 {
		delete(m.keys, key)
		return nil, nil
	}
	tokens := make([]string, 0, len(set))
	for t := range set {
		tokens = append(tokens, t)
	}
	return tokens, nil
}

func dropExpired(set map[string]time.Time, now time.Time) {
	for t, exp := range set {
		if !now.Before(exp) {
			delete(set, t)
		}
	}
}
