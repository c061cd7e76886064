package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/oauthkit/oauthkit"
)

// RedisStateClaimer is an oauthkit.StateClaimer on a Redis shared by every
// instance: a claim is SET key NX PX ttl, which exactly one caller wins
// until the key expires. Keys are Prefix plus the SHA-256 of the state, so
// Redis never holds a state in clear.
type RedisStateClaimer struct {
	Pool   *redis.Pool
	Prefix string // default "oauthkit:state:"
}

var _ oauthkit.StateClaimer = (*RedisStateClaimer)(nil)

// Claim reports whether this call is the first to claim state within ttl.
func (c *RedisStateClaimer) Claim(ctx context.Context, state string, ttl time.Duration) (bool, error) {
	conn, err := c.Pool.GetContext(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	prefix := c.Prefix
	if prefix == "" {
		prefix = "oauthkit:state:"
	}
	sum := sha256.Sum256([]byte(state))
	ms := max(ttl.Milliseconds(), 1)
	reply, err := redis.String(redis.DoContext(conn, ctx, "SET", prefix+hex.EncodeToString(sum[:]), "1", "NX", "PX", ms))
	if errors.Is(err, redis.ErrNil) {
		return false, nil // someone else holds the claim
	}
	if err != nil {
		return false, err
	}
	return reply == "OK", nil
}
