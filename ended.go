package oauthkit

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// EndedSessions records the session tokens the kit has ended: at logout, and
// the token a login replaces with RenewToken. Destroying a session only
// deletes its record; a request that loaded the session earlier and writes
// it back afterwards would recreate it, and the old cookie would be signed
// in again. The kit therefore guards the session manager's store (see
// [New]): a write of an ended token is undone, and a read of one finds
// nothing.
//
// The default keeps the record in memory, which covers one process. Sites
// running several instances plug in a shared implementation (Redis,
// PostgreSQL) so that an instance whose late write follows another
// instance's logout undoes it too.
//
// Every login and logout ends a token, and the record keeps it for the
// session manager's Lifetime (24 h by default): in memory about 70 bytes a
// token, so a site with a million logins a day holds about 70 MB. A busier
// site sizes Lifetime with that in mind, or keeps the record out of the
// process (redisclaim.EndedSessions, pgclaim.EndedSessions).
type EndedSessions interface {
	// End records token as ended for at least ttl, the longest a session
	// token can live.
	End(ctx context.Context, token string, ttl time.Duration) error
	// Ended reports whether token was ended.
	Ended(ctx context.Context, token string) (bool, error)
}

// memoryEnded is the in-process EndedSessions. Tokens are kept as the
// first 128 bits of their SHA-256 sums, with a deadline in nanoseconds of
// the monotonic clock since the record began, oldest first, and forgotten
// once their ttl has passed, so the set is bounded by the logins and
// logouts of one session lifetime. That lifetime is long (24 h by default)
// and every login ends a token, so an entry is kept to about 70 bytes;
// 128 bits leave a live token's chance of matching an ended one
// negligible.
type memoryEnded struct {
	mu    sync.Mutex
	start time.Time // set with set
	set   map[endedKey]int64
	order []endedEntry
}

type endedKey [16]byte

type endedEntry struct {
	key   endedKey
	until int64
}

// endedKeyOf is token's key. Every load and write of a session asks; a
// stack buffer keeps the conversion of an scs token (43 bytes) from
// allocating.
func endedKeyOf(token string) endedKey {
	var buf [64]byte
	sum := sha256.Sum256(append(buf[:0], token...))
	return endedKey(sum[:16])
}

func (m *memoryEnded) End(_ context.Context, token string, ttl time.Duration) error {
	key := endedKeyOf(token)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.set == nil {
		m.start, m.set = time.Now(), make(map[endedKey]int64)
	}
	now := int64(time.Since(m.start))
	for len(m.order) > 0 && now > m.order[0].until {
		if m.set[m.order[0].key] == m.order[0].until {
			delete(m.set, m.order[0].key)
		}
		m.order = m.order[1:]
	}
	until := now + int64(ttl)
	if until < now {
		until = math.MaxInt64 // a ttl beyond int64 nanoseconds: for ever
	}
	m.set[key] = until
	m.order = append(m.order, endedEntry{key: key, until: until})
	return nil
}

func (m *memoryEnded) Ended(_ context.Context, token string) (bool, error) {
	return m.has(token), nil
}

func (m *memoryEnded) has(token string) bool {
	key := endedKeyOf(token)
	m.mu.Lock()
	until, ok := m.set[key]
	start := m.start
	m.mu.Unlock()
	// Every request's session load asks: the clock is read after the lock.
	return ok && int64(time.Since(start)) < until
}

// guardedStore is the session store the kit installs in front of the
// application's. Reads consult only the tokens this process ended (no round
// trip); writes are checked against the shared record after they land, and
// undone for an ended token. Writing first and checking second, while the
// kit records the end before deleting, means every interleaving of a late
// write with a logout ends with the record deleted.
type guardedStore struct {
	next   scs.Store
	local  *memoryEnded
	shared EndedSessions // == local when no shared record is configured
	ttl    time.Duration
}

// errNotIterable mirrors scs's answer for stores that cannot list sessions.
var errNotIterable = errors.New("oauthkit: the session store does not support iteration")

// end records token as ended, here and in the shared record.
func (s *guardedStore) end(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	_ = s.local.End(ctx, token, s.ttl)
	if s.shared == EndedSessions(s.local) {
		return nil
	}
	return s.shared.End(ctx, token, s.ttl)
}

func (s *guardedStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if s.local.has(token) {
		return nil, false, nil
	}
	if cs, ok := s.next.(scs.CtxStore); ok {
		return cs.FindCtx(ctx, token)
	}
	return s.next.Find(token)
}

func (s *guardedStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if s.local.has(token) {
		return nil
	}
	var err error
	if cs, ok := s.next.(scs.CtxStore); ok {
		err = cs.CommitCtx(ctx, token, b, expiry)
	} else {
		err = s.next.Commit(token, b, expiry)
	}
	if err != nil {
		return err
	}
	ended, err := s.shared.Ended(ctx, token)
	if err != nil {
		return err
	}
	if ended {
		return s.DeleteCtx(ctx, token)
	}
	return nil
}

func (s *guardedStore) DeleteCtx(ctx context.Context, token string) error {
	if cs, ok := s.next.(scs.CtxStore); ok {
		return cs.DeleteCtx(ctx, token)
	}
	return s.next.Delete(token)
}

func (s *guardedStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	var (
		all map[string][]byte
		err error
	)
	switch st := s.next.(type) {
	case scs.IterableCtxStore:
		all, err = st.AllCtx(ctx)
	case scs.IterableStore:
		all, err = st.All()
	default:
		return nil, errNotIterable
	}
	if err != nil {
		return nil, err
	}
	for token := range all {
		if s.local.has(token) {
			delete(all, token)
		}
	}
	return all, nil
}

// The context-free methods complete scs.Store and scs.IterableStore; scs
// itself calls the Ctx variants.
func (s *guardedStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s *guardedStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

func (s *guardedStore) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }

func (s *guardedStore) All() (map[string][]byte, error) { return s.AllCtx(context.Background()) }

var (
	_ scs.CtxStore         = (*guardedStore)(nil)
	_ scs.IterableCtxStore = (*guardedStore)(nil)
	_ scs.IterableStore    = (*guardedStore)(nil)
)

// guardStore installs the guard in front of sm's store, once per session
// manager: kits sharing a manager share its guard and record.
func guardStore(sm *scs.SessionManager, shared EndedSessions) (*guardedStore, error) {
	if g, ok := sm.Store.(*guardedStore); ok {
		if shared != nil && shared != g.shared {
			return nil, errors.New("the session manager is already guarded by another Config.EndedSessions; kits sharing a session manager must share it")
		}
		return g, nil
	}
	if sm.Store == nil {
		return nil, errors.New("Config.Sessions has no Store")
	}
	g := &guardedStore{next: sm.Store, local: &memoryEnded{}, ttl: sm.Lifetime}
	g.shared = shared
	if shared == nil {
		g.shared = g.local
	}
	sm.Store = g
	return g, nil
}
