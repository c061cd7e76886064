package oauthkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
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
	keys map[string]*tokenSet
	adds int
}

// tokenSet is the tokens of one key with their expiries. earliest is at
// most the earliest expiry in the set (zero: empty), so a write or read
// before it skips the scan for expired tokens: without it every login of a
// user with many live sessions (one account shared by a team, a load test)
// cost time proportional to those sessions.
type tokenSet struct {
	tokens   map[string]time.Time
	earliest time.Time
}

const sweepEvery = 1024

func newMemoryIndex() *memoryIndex {
	return &memoryIndex{keys: map[string]*tokenSet{}}
}

func (m *memoryIndex) Add(_ context.Context, token string, keys []string, expiry time.Time) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, key := range keys {
		set := m.keys[key]
		if set == nil {
			set = &tokenSet{tokens: map[string]time.Time{}}
			m.keys[key] = set
		}
		if expiry.After(set.tokens[token]) {
			set.tokens[token] = expiry
			if set.earliest.IsZero() || expiry.Before(set.earliest) {
				set.earliest = expiry
			}
		}
		set.dropExpired(now)
	}
	if m.adds++; m.adds%sweepEvery == 0 {
		for key, set := range m.keys {
			if set.dropExpired(now); len(set.tokens) == 0 {
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
	if set == nil {
		return nil, nil
	}
	set.dropExpired(now)
	if len(set.tokens) == 0 {
		delete(m.keys, key)
		return nil, nil
	}
	tokens := make([]string, 0, len(set.tokens))
	for t := range set.tokens {
		tokens = append(tokens, t)
	}
	return tokens, nil
}

// dropExpired removes the tokens expired at now; it scans only once the
// earliest expiry has passed, and records the new earliest.
func (s *tokenSet) dropExpired(now time.Time) {
	if s.earliest.IsZero() || now.Before(s.earliest) {
		return
	}
	s.earliest = time.Time{}
	for t, exp := range s.tokens {
		if !now.Before(exp) {
			delete(s.tokens, t)
		} else if s.earliest.IsZero() || exp.Before(s.earliest) {
			s.earliest = exp
		}
	}
}

// loginRef is what the index needs to know about a login besides the user:
// the issuer the provider's logout notifications come from and the
// provider's session id.
type loginRef struct {
	Issuer string `json:"iss,omitempty"`
	SID    string `json:"sid,omitempty"`
}

// indexKeys are the keys a session of u, logged in as ref, is found by.
func indexKeys(u *User, ref loginRef) []string {
	keys := []string{indexKey(indexUser, u.UserID)}
	if ref.Issuer != "" {
		keys = append(keys, indexKey(indexSub, ref.Issuer, u.ID))
		if ref.SID != "" {
			keys = append(keys, indexKey(indexSID, ref.Issuer, ref.SID))
		}
	}
	return keys
}

// bindingSep separates the parts of the binding value; neither a provider
// name nor a parsed URL nor a session token can hold it.
const bindingSep = "\x00"

// bindingValue is what the session keeps under keyBinding: the provider
// binding, the session token the index entries were written for ("" when
// the write failed) and the loginRef as JSON. One string rather than three
// keys, because the signed-in request path decodes every key of the session
// (scs's codec), and it only needs to compare the first two parts.
func bindingValue(p *providerState, indexed string, ref []byte) string {
	return p.binding + bindingSep + indexed + bindingSep + string(ref)
}

// writeIndex writes the session's index entries, until the session's
// deadline, and the binding value that binds the session to p and notes
// which token the entries are for. A failing index does not fail the login
// (the user proved who they are; refusing them would not make the site
// safer): it is logged, counted in Stats, and retried by ensureIndexed on
// the session's next request through RequireAuth. Until then, a
// back-channel or front-channel logout or LogoutEverywhere does not find
// this session.
func (k *Kit) writeIndex(ctx context.Context, p *providerState, u *User, ref loginRef, refJSON []byte) {
	token := k.sm.Token(ctx)
	if token == "" {
		// Not committed yet (no token to index): the next request indexes it.
		k.sm.Put(ctx, keyBinding, bindingValue(p, "", refJSON))
		return
	}
	if err := k.index.Add(ctx, token, indexKeys(u, ref), k.sm.Deadline(ctx)); err != nil {
		k.stats.indexFailures.Add(1)
		k.sm.Put(ctx, keyBinding, bindingValue(p, "", refJSON))
		k.cfg.Logger.ErrorContext(ctx, "oauthkit: session index write failed; provider logout notifications and LogoutEverywhere miss this session until its next request",
			"provider", u.Provider, "error", err.Error())
		return
	}
	k.sm.Put(ctx, keyBinding, bindingValue(p, token, refJSON))
}

// ensureIndexed re-records a signed-in session whose index entries are not
// for its current token: the write failed at login, or the application
// renewed the token (scs RenewToken) since. The check compares the
// binding value signedIn read with the session's token: no store round
// trip.
func (k *Kit) ensureIndexed(ctx context.Context, p *providerState, u *User, binding string) {
	_, rest, _ := strings.Cut(binding, bindingSep)
	indexed, refJSON, _ := strings.Cut(rest, bindingSep)
	if indexed != "" && indexed == k.sm.Token(ctx) {
		return
	}
	var ref loginRef
	_ = json.Unmarshal([]byte(refJSON), &ref) // a session from before the index: user key only
	k.writeIndex(ctx, p, u, ref, []byte(refJSON))
}

// endSession ends the session token names, wherever it was loaded: the
// end is recorded first and the session deleted second, as at logout (see
// guardedStore), so an instance holding it in a request cannot write it
// back. It reports whether the session still existed.
func (k *Kit) endSession(ctx context.Context, token string) (bool, error) {
	_, found, err := k.store.FindCtx(ctx, token)
	if err != nil {
		return false, err
	}
	if err := k.store.end(ctx, token); err != nil {
		return false, err
	}
	return found, k.store.DeleteCtx(ctx, token)
}

// endIndexed ends every session recorded under key and returns how many
// were still live. On a store failure it stops and reports how many it had
// ended; the rest stay in the index, so a retry ends them.
func (k *Kit) endIndexed(ctx context.Context, key string) (int, error) {
	tokens, err := k.index.Tokens(ctx, key)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tokens {
		found, err := k.endSession(ctx, t)
		if err != nil {
			return n, err
		}
		if found {
			n++
		}
	}
	return n, nil
}

// LogoutEverywhere ends every session of the user whose User.UserID is
// userID, on every instance sharing the session store, SessionIndex and
// EndedSessions: after a password change, an account compromise, or an
// administrator's action. The next request of each of those sessions is
// anonymous. It returns how many live sessions it ended. Provider tokens
// are not revoked and provider sessions not ended: the user may still be
// signed in at the provider, and a new login there signs them in again.
//
// On a store failure it returns the sessions ended so far and an error
// matching ErrSession; calling it again ends the rest.
func (k *Kit) LogoutEverywhere(ctx context.Context, userID string) (int, error) {
	if userID == "" {
		return 0, nil
	}
	n, err := k.endIndexed(ctx, indexKey(indexUser, userID))
	if err != nil {
		return n, wrap(ErrSession, err)
	}
	return n, nil
}
