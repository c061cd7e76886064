// Package redisclaim holds the records oauthkit's instances must share when
// several serve one site, on a Redis they all reach:
//
//   - [Claimer], an oauthkit.StateClaimer: concurrent replays of one
//     callback spread over several instances end in at most one code
//     exchange.
//   - [EndedSessions], an oauthkit.EndedSessions: a logout on one instance
//     sticks on all of them.
//   - [SessionIndex], an oauthkit.SessionIndex: a logout received by one
//     instance (a provider's back-channel logout, say) ends the sessions
//     made on the others.
//   - [TokenStore], an oauthkit.TokenStore: every instance, and a
//     background job holding only a user id, finds the user's current
//     grant.
//   - [RefreshLocks], oauthkit.RefreshLocks: exactly one instance at a time
//     refreshes a grant, so a rotated refresh token is never spent twice.
//
// It is its own module so that redigo enters only the go.mod of sites that
// use it:
//
//	kit, err := oauthkit.New(oauthkit.Config{
//		Sessions:      sm, // redisstore on the same pool
//		StateClaimer:  &redisclaim.Claimer{Pool: pool},
//		EndedSessions: &redisclaim.EndedSessions{Pool: pool},
//		SessionIndex:  &redisclaim.SessionIndex{Pool: pool},
//		TokenStore:    &redisclaim.TokenStore{Pool: pool},
//		RefreshLocks:  &redisclaim.RefreshLocks{Pool: pool},
//		...
//	})
//
// Every deadline (claims, ended sessions, index entries, tokens, lock
// leases) is judged by the Redis server's clock. SessionIndex needs Redis
// 6.2 or later (ZADD GT).
package redisclaim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/oauthkit/oauthkit"
)

// DefaultPrefix is the key prefix when Claimer.Prefix is empty.
const DefaultPrefix = "oauthkit:state:"

// Claimer claims a state with SET key NX PX ttl, which exactly one caller
// wins until the key expires. Keys are Prefix plus the SHA-256 of the state,
// so Redis never holds a state in clear.
type Claimer struct {
	// Pool reaches the Redis every instance shares.
	Pool *redis.Pool
	// Prefix starts every key (DefaultPrefix when empty), to share a Redis
	// with other data.
	Prefix string
}

var _ oauthkit.StateClaimer = (*Claimer)(nil)

// Claim reports whether this call is the first to claim state within ttl. A
// Redis failure is an error, which the kit reports as a session failure
// (500) rather than letting the callback through.
func (c *Claimer) Claim(ctx context.Context, state string, ttl time.Duration) (bool, error) {
	reply, err := redis.String(do(ctx, c.Pool, "SET", hashedKey(c.Prefix, DefaultPrefix, state), "1", "NX", "PX", max(ttl.Milliseconds(), 1)))
	if errors.Is(err, redis.ErrNil) {
		return false, nil // someone else holds the claim
	}
	if err != nil {
		return false, err
	}
	return reply == "OK", nil
}

// hashedKey is prefix (or def) plus the hex SHA-256 of value, so Redis never
// holds a state or session token in clear.
func hashedKey(prefix, def, value string) string {
	if prefix == "" {
		prefix = def
	}
	sum := sha256.Sum256([]byte(value))
	return prefix + hex.EncodeToString(sum[:])
}

// do runs one command on a connection from pool.
func do(ctx context.Context, pool *redis.Pool, cmd string, args ...any) (any, error) {
	conn, err := pool.GetContext(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return redis.DoContext(conn, ctx, cmd, args...)
}
