package redisclaim

import (
	"context"
	"errors"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/oauthkit/oauthkit"
)

// DefaultTokenPrefix is the key prefix when TokenStore.Prefix is empty.
const DefaultTokenPrefix = "oauthkit:token:"

// DefaultLockPrefix is the key prefix when RefreshLocks.Prefix is empty.
const DefaultLockPrefix = "oauthkit:lock:"

// TokenStore is an oauthkit.TokenStore on a Redis every instance shares, so
// that any instance (or a background job) finds the grant a login or a
// refresh stored on another, and every refresh starts from the current
// refresh token.
//
// Each record is one string key, Prefix plus the kit's key (already a
// hash), written with SET ... PX ttl, so Redis itself drops it when the ttl
// runs out, by the server's clock. The records are what the kit hands over:
// set Config.TokenKeys so that they are encrypted before they reach Redis.
type TokenStore struct {
	// Pool reaches the Redis every instance shares.
	Pool *redis.Pool
	// Prefix starts every key (DefaultTokenPrefix when empty), to share a
	// Redis with other data.
	Prefix string
}

var _ oauthkit.TokenStore = (*TokenStore)(nil)

// Get returns the record under key (GET), or nil and no error when there
// is none or it has expired.
func (s *TokenStore) Get(ctx context.Context, key string) ([]byte, error) {
	rec, err := redis.Bytes(do(ctx, s.Pool, "GET", prefixed(s.Prefix, DefaultTokenPrefix, key)))
	if errors.Is(err, redis.ErrNil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// Put stores record under key (SET), replacing it and its ttl; a ttl of 0
// or less keeps it until deleted, as the in-memory store does, and a
// positive one under a millisecond counts as one (PX's unit).
func (s *TokenStore) Put(ctx context.Context, key string, record []byte, ttl time.Duration) error {
	k := prefixed(s.Prefix, DefaultTokenPrefix, key)
	var err error
	if ttl > 0 {
		_, err = do(ctx, s.Pool, "SET", k, record, "PX", max(ttl.Milliseconds(), 1))
	} else {
		_, err = do(ctx, s.Pool, "SET", k, record)
	}
	return err
}

// Delete removes the record under key (DEL); a missing one is not an
// error.
func (s *TokenStore) Delete(ctx context.Context, key string) error {
	_, err := do(ctx, s.Pool, "DEL", prefixed(s.Prefix, DefaultTokenPrefix, key))
	return err
}

// RefreshLocks are oauthkit.RefreshLocks on a Redis every instance shares,
// so that exactly one instance refreshes a grant at a time.
//
// Each lock is one string key, Prefix plus the kit's key, holding its
// owner and expiring with its lease (PX): the usual single-instance Redis
// lock. Acquire, Extend and Release are each one script that compares the
// owner before it writes, so an owner whose lease ran out cannot extend or
// free the lock someone else has taken since.
//
// Leases are judged by the Redis server's clock, which expires the keys: the
// instances' clocks do not enter, only how long a lease is. A lease is
// counted in whole milliseconds, at least one. The locks are as safe as that
// one Redis: a failover to a replica that had not yet received a lock can
// let a second owner in (Redlock's concern), which for a refresh means at
// most one more refresh attempt with the same token.
type RefreshLocks struct {
	// Pool reaches the Redis every instance shares.
	Pool *redis.Pool
	// Prefix starts every key (DefaultLockPrefix when empty), to share a
	// Redis with other data.
	Prefix string
}

var _ oauthkit.RefreshLocks = (*RefreshLocks)(nil)

// acquireScript sets KEYS[1] to owner ARGV[1] for ARGV[2] milliseconds
// unless another owner holds it; the same owner acquiring again renews.
var acquireScript = redis.NewScript(1, `local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then
	return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// extendScript renews KEYS[1] for ARGV[2] milliseconds if owner ARGV[1]
// still holds it.
var extendScript = redis.NewScript(1, `if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

// releaseScript deletes KEYS[1] if owner ARGV[1] still holds it.
var releaseScript = redis.NewScript(1, `if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0`)

// Acquire takes the lock on key for owner for lease, reporting false when
// another owner holds it; owner acquiring again renews its lease.
func (l *RefreshLocks) Acquire(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	return redis.Bool(eval(ctx, l.Pool, acquireScript, prefixed(l.Prefix, DefaultLockPrefix, key), owner, leaseMillis(lease)))
}

// Extend renews owner's lock on key for another lease, reporting false
// when owner no longer holds it.
func (l *RefreshLocks) Extend(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	return redis.Bool(eval(ctx, l.Pool, extendScript, prefixed(l.Prefix, DefaultLockPrefix, key), owner, leaseMillis(lease)))
}

// Release frees owner's lock on key, leaving a lock another owner holds.
func (l *RefreshLocks) Release(ctx context.Context, key, owner string) error {
	_, err := eval(ctx, l.Pool, releaseScript, prefixed(l.Prefix, DefaultLockPrefix, key), owner)
	return err
}

// leaseMillis is lease in PX's unit, at least one: Redis refuses a zero or
// negative expiry, and a lease that short is over as soon as it is taken.
func leaseMillis(lease time.Duration) int64 { return max(lease.Milliseconds(), 1) }

// prefixed is prefix (or def) plus key, for keys the kit has already hashed.
func prefixed(prefix, def, key string) string {
	if prefix == "" {
		return def + key
	}
	return prefix + key
}
