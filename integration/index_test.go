package integration

import (
	"context"
	"database/sql"
	"strconv"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/indextest"
	"github.com/oauthkit/oauthkit/pgclaim"
	"github.com/oauthkit/oauthkit/redisclaim"
)

// The shared SessionIndex implementations pass the same conformance test as
// the kit's in-memory one, on real servers, and report a store they cannot
// reach as an error.

// --- Redis -------------------------------------------------------------

func TestRedisSessionIndex(t *testing.T) {
	pool := redisPool(t)
	indextest.Run(t, func(t *testing.T) oauthkit.SessionIndex {
		return &redisclaim.SessionIndex{Pool: pool, Prefix: redisPrefix(t, pool)}
	}, indextest.WithContextErrors())
}

// Each set expires with its latest entry, so keys vanish with their last
// session and a shorter re-add does not cut a longer session's key short;
// a set whose entries have all expired is gone at once.
func TestRedisSessionIndexKeyExpiry(t *testing.T) {
	pool := redisPool(t)
	prefix := redisPrefix(t, pool)
	idx := &redisclaim.SessionIndex{Pool: pool, Prefix: prefix}
	ctx := t.Context()
	conn := pool.Get()
	defer conn.Close()

	key := indextest.Key()
	long := time.Now().Add(2 * time.Hour).Truncate(time.Millisecond)
	short := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := idx.Add(ctx, indextest.Token(), []string{key}, long); err != nil {
		t.Fatal(err)
	}
	if err := idx.Add(ctx, indextest.Token(), []string{key}, short); err != nil {
		t.Fatal(err)
	}
	at, err := redis.Int64(conn.Do("PEXPIRETIME", prefix+key))
	if err != nil {
		t.Fatal(err)
	}
	if at != long.UnixMilli() {
		t.Fatalf("set expires at %d, want the latest entry's %d (short one %d)", at, long.UnixMilli(), short.UnixMilli())
	}

	gone := indextest.Key()
	if err := idx.Add(ctx, indextest.Token(), []string{gone}, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := redis.Int(conn.Do("EXISTS", prefix+gone)); err != nil || n != 0 {
		t.Fatalf("EXISTS on a set of expired entries: %d %v, want 0", n, err)
	}
}

// An empty Prefix means DefaultIndexPrefix.
func TestRedisSessionIndexDefaultPrefix(t *testing.T) {
	pool := redisPool(t)
	idx := &redisclaim.SessionIndex{Pool: pool}
	key := indextest.Key()
	conn := pool.Get()
	defer conn.Close()
	t.Cleanup(func() { _, _ = conn.Do("DEL", redisclaim.DefaultIndexPrefix+key) })
	if err := idx.Add(t.Context(), indextest.Token(), []string{key}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := redis.Int(conn.Do("ZCARD", redisclaim.DefaultIndexPrefix+key)); err != nil || n != 1 {
		t.Fatalf("ZCARD %s<key>: %d %v, want 1", redisclaim.DefaultIndexPrefix, n, err)
	}
}

// A Redis nobody answers on is an error from both methods.
func TestRedisSessionIndexUnreachable(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	pool := &redis.Pool{DialContext: func(ctx context.Context) (redis.Conn, error) {
		return redis.DialURLContext(ctx, "redis://127.0.0.1:"+strconv.Itoa(port)+"/0", redis.DialConnectTimeout(5*time.Second))
	}}
	t.Cleanup(func() { _ = pool.Close() })
	indextest.Fails(t, &redisclaim.SessionIndex{Pool: pool})
}

// --- PostgreSQL --------------------------------------------------------

func TestPostgresSessionIndex(t *testing.T) {
	db := postgres(t)
	indextest.Run(t, func(t *testing.T) oauthkit.SessionIndex {
		cleanIndexTable(t, db)
		return &pgclaim.SessionIndex{DB: db}
	}, indextest.WithContextErrors())
}

// Expired rows nobody reads again are swept as new ones are added.
func TestPostgresSessionIndexSweep(t *testing.T) {
	db := postgres(t)
	cleanIndexTable(t, db)
	idx := &pgclaim.SessionIndex{DB: db}
	ctx := t.Context()
	// Expired rows written behind the index's back, so no sweep has run.
	if _, err := db.ExecContext(ctx, `INSERT INTO oauthkit_session_index (key, token, expires_at)
		SELECT md5(i::text) || md5(i::text), md5(i::text), now() - interval '1 second'
		FROM generate_series(1, 20) AS i`); err != nil {
		t.Fatal(err)
	}
	if err := idx.Add(ctx, indextest.Token(), []string{indextest.Key()}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var expired, live int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE expires_at <= now()),
		count(*) FILTER (WHERE expires_at > now()) FROM oauthkit_session_index`).Scan(&expired, &live); err != nil {
		t.Fatal(err)
	}
	if expired != 0 || live != 1 {
		t.Fatalf("after an Add: %d expired rows, %d live, want 0 and 1", expired, live)
	}
}

// Schema runs again on a database that already has it (an upgrade re-runs
// it), keeping the rows.
func TestPostgresSchemaIdempotent(t *testing.T) {
	db := postgres(t)
	cleanIndexTable(t, db)
	idx := &pgclaim.SessionIndex{DB: db}
	key, tok := indextest.Key(), indextest.Token()
	if err := idx.Add(t.Context(), tok, []string{key}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), pgclaim.Schema); err != nil {
		t.Fatalf("Schema a second time: %v", err)
	}
	if got, err := idx.Tokens(t.Context(), key); err != nil || len(got) != 1 || got[0] != tok {
		t.Fatalf("Tokens after Schema again: %q %v", got, err)
	}
}

// A closed database is an error from both methods (no server needed:
// sql.Open does not connect).
func TestPostgresSessionIndexClosedDB(t *testing.T) {
	db := closedPostgres(t)
	indextest.Fails(t, &pgclaim.SessionIndex{DB: db})
}

// cleanIndexTable empties oauthkit_session_index (no other test writes it
// concurrently), so row counts are this test's.
func cleanIndexTable(t *testing.T, db *sql.DB) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), `DELETE FROM oauthkit_session_index`); err != nil {
		t.Fatal(err)
	}
}
