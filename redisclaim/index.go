package redisclaim

import (
	"context"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/oauthkit/oauthkit"
)

// DefaultIndexPrefix is the key prefix when SessionIndex.Prefix is empty.
const DefaultIndexPrefix = "oauthkit:index:"

// SessionIndex is an oauthkit.SessionIndex on a Redis every instance shares,
// so a logout received by one instance finds the sessions made on the
// others.
//
// Each index key is one sorted set, Prefix plus the kit's key (already a
// hash), whose members are session tokens scored by their expiry in Unix
// milliseconds. The tokens are stored as they are, since ending a session
// needs its token back; scs's redisstore already holds them as key names.
//
// Expiry is judged by the Redis server's clock, as Redis expires keys by
// it: an entry lives exactly as long as a redisstore session key written
// with the same deadline, whatever the instances' clocks say. Each set
// expires (PEXPIREAT) with its last entry, so nothing outlives the sessions.
//
// An Add names several keys in one script, which Redis Cluster only accepts
// when they share a hash slot: give Prefix a hash tag ("{oauthkit}:index:")
// there.
type SessionIndex struct {
	// Pool reaches the Redis every instance shares.
	Pool *redis.Pool
	// Prefix starts every key (DefaultIndexPrefix when empty), to share a
	// Redis with other data.
	Prefix string
}

var _ oauthkit.SessionIndex = (*SessionIndex)(nil)

// redisNow is the server's clock in Unix milliseconds, as a string so no
// float rounding enters (TIME answers seconds and microseconds).
const redisNow = `local t = redis.call('TIME')
local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
`

// addScript adds ARGV[1] with score ARGV[2] to every set in KEYS, keeping
// the later score of a member already there (GT), drops members whose
// expiry has passed, and sets each set to expire with its latest member.
var addScript = redis.NewScript(-1, redisNow+`for _, key in ipairs(KEYS) do
	redis.call('ZADD', key, 'GT', ARGV[2], ARGV[1])
	redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
	local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
	if last[2] then
		redis.call('PEXPIREAT', key, last[2])
	end
end
return 0`)

// tokensScript lists the members of KEYS[1] whose expiry is after now.
var tokensScript = redis.NewScript(1, redisNow+`return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`)

// Add records token under each of keys until expiry, in one round trip (a
// script, so a concurrent Add of the same token cannot interleave between
// keeping the later expiry and setting the set's own).
func (s *SessionIndex) Add(ctx context.Context, token string, keys []string, expiry time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	args := make([]any, 0, len(keys)+3)
	args = append(args, len(keys))
	for _, k := range keys {
		args = append(args, s.key(k))
	}
	args = append(args, token, expiry.UnixMilli())
	_, err := eval(ctx, s.Pool, addScript, args...)
	return err
}

// Tokens returns the tokens recorded under key whose expiry is after the
// Redis server's clock.
func (s *SessionIndex) Tokens(ctx context.Context, key string) ([]string, error) {
	tokens, err := redis.Strings(eval(ctx, s.Pool, tokensScript, s.key(key)))
	if err != nil {
		return nil, err
	}
	return tokens, nil
}

func (s *SessionIndex) key(k string) string {
	if s.Prefix == "" {
		return DefaultIndexPrefix + k
	}
	return s.Prefix + k
}

// eval runs script on a connection from pool. A context already done is an
// error before any connection is taken: redigo would otherwise race the
// reply against it.
func eval(ctx context.Context, pool *redis.Pool, script *redis.Script, keysAndArgs ...any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := pool.GetContext(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return script.DoContext(ctx, conn, keysAndArgs...)
}
