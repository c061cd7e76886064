package integration

import (
	"context"
	"database/sql"
	"strconv"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/tokenstoretest"
	"github.com/oauthkit/oauthkit/pgclaim"
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

// --- PostgreSQL --------------------------------------------------------

func TestPostgresTokenStore(t *testing.T) {
	db := postgres(t)
	tokenstoretest.RunTokenStore(t, func(t *testing.T) (oauthkit.TokenStore, tokenstoretest.Expiry) {
		return &pgclaim.TokenStore{DB: db}, pgExpiry(db, "oauthkit_tokens", "expires_at")
	}, tokenstoretest.WithContextErrors())
}

func TestPostgresRefreshLocks(t *testing.T) {
	db := postgres(t)
	tokenstoretest.RunRefreshLocks(t, func(t *testing.T) (oauthkit.RefreshLocks, tokenstoretest.Expiry) {
		return &pgclaim.RefreshLocks{DB: db}, pgExpiry(db, "oauthkit_refresh_locks", "until")
	}, tokenstoretest.WithContextErrors())
}

// pgExpiry reads a row's deadline column against now() and moves it a
// second into the past. The row stays, so the store's own now() comparison
// is what hides it.
func pgExpiry(db *sql.DB, table, column string) tokenstoretest.Expiry {
	return tokenstoretest.Expiry{
		Remaining: func(t *testing.T, key string) (time.Duration, bool) {
			t.Helper()
			var micros sql.NullInt64
			err := db.QueryRowContext(t.Context(), `SELECT (EXTRACT(EPOCH FROM (`+column+` - now())) * 1000000)::bigint
				FROM `+table+` WHERE key = $1`, key).Scan(&micros)
			if err != nil {
				t.Fatalf("%s of %s: %v", column, key, err)
			}
			if !micros.Valid {
				return 0, false
			}
			return time.Duration(micros.Int64) * time.Microsecond, true
		},
		Expire: func(t *testing.T, key string) {
			t.Helper()
			res, err := db.ExecContext(t.Context(), `UPDATE `+table+` SET `+column+` = now() - interval '1 second' WHERE key = $1`, key)
			if n, _ := affected(res, err); n != 1 {
				t.Fatalf("moving %s of %s: %d rows, %v", column, key, n, err)
			}
		},
	}
}

func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Expired token rows nobody reads again are swept as new ones are put, and
// expired locks nobody released (an instance that stopped mid-refresh) as
// locks are released; rows without an expiry stay.
func TestPostgresTokenStoreSweep(t *testing.T) {
	db := postgres(t)
	ctx := t.Context()
	for _, table := range []string{"oauthkit_tokens", "oauthkit_refresh_locks"} {
		if _, err := db.ExecContext(ctx, `DELETE FROM `+table); err != nil {
			t.Fatal(err)
		}
	}
	// Rows written behind the stores' backs, so no sweep has run.
	if _, err := db.ExecContext(ctx, `INSERT INTO oauthkit_tokens (key, record, expires_at)
		SELECT md5(i::text) || md5(i::text), '\x00', CASE WHEN i <= 10 THEN now() - interval '1 second' END
		FROM generate_series(1, 12) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO oauthkit_refresh_locks (key, owner, until)
		SELECT md5(i::text) || md5(i::text), 'crashed', now() - interval '1 second'
		FROM generate_series(1, 10) AS i`); err != nil {
		t.Fatal(err)
	}
	if err := (&pgclaim.TokenStore{DB: db}).Put(ctx, tokenstoretest.Key(), []byte("r"), time.Hour); err != nil {
		t.Fatal(err)
	}
	var expired, kept int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE expires_at <= now()),
		count(*) FILTER (WHERE expires_at IS NULL OR expires_at > now()) FROM oauthkit_tokens`).Scan(&expired, &kept); err != nil {
		t.Fatal(err)
	}
	if expired != 0 || kept != 3 {
		t.Fatalf("after a Put: %d expired token rows, %d kept, want 0 and 3 (two without expiry, the new one)", expired, kept)
	}

	locks := &pgclaim.RefreshLocks{DB: db}
	key, owner := tokenstoretest.Key(), tokenstoretest.Owner()
	if ok, err := locks.Acquire(ctx, key, owner, time.Minute); err != nil || !ok {
		t.Fatalf("Acquire: %v %v", ok, err)
	}
	if err := locks.Release(ctx, key, owner); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM oauthkit_refresh_locks`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("after a Release: %d lock rows, want 0", left)
	}
}

// Schema runs again on a database that already holds tokens and locks (an
// upgrade re-runs it), keeping them.
func TestPostgresSchemaIdempotentTokens(t *testing.T) {
	db := postgres(t)
	ctx := t.Context()
	store, locks := &pgclaim.TokenStore{DB: db}, &pgclaim.RefreshLocks{DB: db}
	key, owner := tokenstoretest.Key(), tokenstoretest.Owner()
	if err := store.Put(ctx, key, []byte("grant"), 0); err != nil {
		t.Fatal(err)
	}
	if ok, err := locks.Acquire(ctx, key, owner, time.Minute); err != nil || !ok {
		t.Fatalf("Acquire: %v %v", ok, err)
	}
	if _, err := db.ExecContext(ctx, pgclaim.Schema); err != nil {
		t.Fatalf("Schema a second time: %v", err)
	}
	if got, err := store.Get(ctx, key); err != nil || string(got) != "grant" {
		t.Fatalf("Get after Schema again: %q %v", got, err)
	}
	if ok, err := locks.Acquire(ctx, key, tokenstoretest.Owner(), time.Minute); err != nil || ok {
		t.Fatalf("Acquire by another owner after Schema again: %v %v, want the lock still held", ok, err)
	}
}

// A closed database is an error from every method (no server needed:
// sql.Open does not connect).
func TestPostgresTokenStoreClosedDB(t *testing.T) {
	db := closedPostgres(t)
	tokenstoretest.TokenStoreFails(t, &pgclaim.TokenStore{DB: db})
	tokenstoretest.RefreshLocksFail(t, &pgclaim.RefreshLocks{DB: db})
}
