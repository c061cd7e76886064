package redisclaim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	Pool   *redis.Pool
	Prefix string
}

var _ oauthkit.EndedSessions = (*EndedSessions)(nil)

func (e *EndedSessions) key(token string) string {
	prefix := e.Prefix
	if prefix == "" {
		prefix = DefaultEndedPrefix
	}
	sum := sha256.Sum256([]byte(token))
	return prefix + hex.EncodeToString(sum[:])
}

// End records token as ended for ttl (SET key 1 PX ttl).
func (e *EndedSessions) End(ctx context.Context, token string, ttl time.Duration) error {
	conn, err := e.Pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = redis.DoContext(conn, ctx, "SET", e.key(token), "1", "PX", max(ttl.Milliseconds(), 1))
	return err
}

// Ended reports whether token was ended (EXISTS key).
func (e *EndedSessions) Ended(ctx context.Context, token string) (bool, error) {
	conn, err := e.Pool.GetContext(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	return redis.Bool(redis.DoContext(conn, ctx, "EXISTS", e.key(token)))
}
