package integration

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/tokenstoretest"
	"github.com/oauthkit/oauthkit/redisclaim"
)

// The shared TokenStore and RefreshLocks implementations pass the same
// conformance test as the kit's in-memory ones, on real servers, with
// deadlines read and moved on the server (PTTL, PEXPIREAT; expires_at and
// until against now()), and report a store they cannot reach as an error.

// --- Redis -------------------------------------------------------------

func TestRedisTokenStore(t *testing.T) {
	pool := redisPool(t)
	tokenstoretest.RunTokenStore(t, func(t *testing.T) (oauthkit.TokenStore, tokenstoretest.Expiry) {
		prefix := redisPrefix(t, pool)
		return &redisclaim.TokenStore{Pool: pool, Prefix: prefix}, redisExpiry(pool, prefix)
	}, tokenstoretest.WithContextErrors())
}

func TestRedisRefreshLocks(t *testing.T) {
	pool := redisPool(t)
	tokenstoretest.RunRefreshLocks(t, func(t *testing.T) (oauthkit.RefreshLocks, tokenstoretest.Expiry) {
		prefix := redisPrefix(t, pool)
		return &redisclaim.RefreshLocks{Pool: pool, Prefix: prefix}, redisExpiry(pool, prefix)
	}, tokenstoretest.WithContextErrors())
}

// redisExpiry reads a key's deadline with PTTL and moves it into the past
// with PEXPIREAT, which Redis honours at once (the key is gone).
func redisExpiry(pool *redis.Pool, prefix string) tokenstoretest.Expiry {
	return tokenstoretest.Expiry{
		Remaining: func(t *testing.T, key string) (time.Duration, bool) {
			t.Helper()
			conn := pool.Get()
			defer conn.Close()
			ms, err := redis.Int64(conn.Do("PTTL", prefix+key))
			if err != nil {
				t.Fatal(err)
			}
			switch ms {
			case -2:
				t.Fatalf("PTTL %s: no such key", key)
			case -1:
				return 0, false
			}
			return time.Duration(ms) * time.Millisecond, true
		},
		Expire: func(t *testing.T, key string) {
			t.Helper()
			conn := pool.Get()
			defer conn.Close()
			if n, err := redis.Int(conn.Do("PEXPIREAT", prefix+key, 1)); err != nil || n != 1 {
				t.Fatalf("PEXPIREAT %s: %d %v", key, n, err)
			}
		},
	}
}

// An empty Prefix means DefaultTokenPrefix and DefaultLockPrefix; the lock
// key holds its owner, so an operator can see who holds it.
func TestRedisTokenStoreDefaultPrefix(t *testing.T) {
	pool := redisPool(t)
	key := tokenstoretest.Key()
	conn := pool.Get()
	defer conn.Close()
	t.Cleanup(func() { _, _ = conn.Do("DEL", redisclaim.DefaultTokenPrefix+key, redisclaim.DefaultLockPrefix+key) })
	if err := (&redisclaim.TokenStore{Pool: pool}).Put(t.Context(), key, []byte("rec"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, err := redis.String(conn.Do("GET", redisclaim.DefaultTokenPrefix+key)); err != nil || got != "rec" {
		t.Fatalf("GET %s<key>: %q %v, want rec", redisclaim.DefaultTokenPrefix, got, err)
	}
	owner := tokenstoretest.Owner()
	if ok, err := (&redisclaim.RefreshLocks{Pool: pool}).Acquire(t.Context(), key, owner, time.Minute); err != nil || !ok {
		t.Fatalf("Acquire: %v %v", ok, err)
	}
	if got, err := redis.String(conn.Do("GET", redisclaim.DefaultLockPrefix+key)); err != nil || got != owner {
		t.Fatalf("GET %s<key>: %q %v, want the owner %q", redisclaim.DefaultLockPrefix, got, err, owner)
	}
}

// A Redis nobody answers on is an error from every method.
func TestRedisTokenStoreUnreachable(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	pool := &redis.Pool{DialContext: func(ctx context.Context) (redis.Conn, error) {
		return redis.DialURLContext(ctx, "redis://127.0.0.1:"+strconv.Itoa(port)+"/0", redis.DialConnectTimeout(5*time.Second))
	}}
	t.Cleanup(func() { _ = pool.Close() })
	tokenstoretest.TokenStoreFails(t, &redisclaim.TokenStore{Pool: pool})
	tokenstoretest.RefreshLocksFail(t, &redisclaim.RefreshLocks{Pool: pool})
}
