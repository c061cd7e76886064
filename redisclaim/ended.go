package redisclaim

import (
	"context"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/oauthkit/oauthkit"
)

// DefaultEndedPrefix is the key prefix when EndedSessions.Prefix is empty.
const DefaultEndedPrefix = "oauthkit:ended:"

// EndedSessions is an oauthkit.EndedSessions on a Redis every instance
// shares: a session ended by a logout on one instance cannot be written
// back by a late request on another. Keys are Prefix plus the SHA-256 of
// the session token and expire with the session's lifetime.
type EndedSessions struct {
	// Pool reaches the Redis every instance shares.
	Pool *redis.Pool
	// Prefix starts every key (DefaultEndedPrefix when empty).
	Prefix string
}

var _ oauthkit.EndedSessions = (*EndedSessions)(nil)

// End records token as ended for ttl (SET key 1 PX ttl).
func (e *EndedSessions) End(ctx context.Context, token string, ttl time.Duration) error {
	_, err := do(ctx, e.Pool, "SET", hashedKey(e.Prefix, DefaultEndedPrefix, token), "1", "PX", max(ttl.Milliseconds(), 1))
	return err
}

// Ended reports whether token was ended (EXISTS key).
func (e *EndedSessions) Ended(ctx context.Context, token string) (bool, error) {
	return redis.Bool(do(ctx, e.Pool, "EXISTS", hashedKey(e.Prefix, DefaultEndedPrefix, token)))
}
