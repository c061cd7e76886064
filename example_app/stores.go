package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gomodule/redigo/redis"
	_ "github.com/lib/pq" // PostgreSQL driver for database/sql
)

// sessionsTable is the schema of scs's postgresstore.
const sessionsTable = `CREATE TABLE IF NOT EXISTS sessions (
	token TEXT PRIMARY KEY,
	data BYTEA NOT NULL,
	expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);`

// newStore returns the session store cfg selects (Redis, PostgreSQL or
// memory), checked to be reachable, and a func that releases it.
func newStore(ctx context.Context, cfg Config) (scs.Store, string, func(), error) {
	switch {
	case cfg.RedisURL != "":
		st, closeFn, err := newRedisStore(ctx, cfg.RedisURL)
		return st, "redis", closeFn, err
	case cfg.DatabaseURL != "":
		st, closeFn, err := newPostgresStore(ctx, cfg.DatabaseURL)
		return st, "postgres", closeFn, err
	}
	// The cleanup goroutine is not stopped on Close: memstore's StopCleanup
	// races with the goroutine's start (scs v2.9.0), and it ends with the
	// process anyway.
	return memstore.NewWithCleanupInterval(time.Minute), "memory", func() {}, nil
}

// newRedisStore connects to rawURL (redis://[:password@]host:port/db).
func newRedisStore(ctx context.Context, rawURL string) (scs.Store, func(), error) {
	pool := &redis.Pool{
		MaxIdle:     10,
		IdleTimeout: 4 * time.Minute,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialURLContext(ctx, rawURL,
				redis.DialConnectTimeout(5*time.Second),
				redis.DialReadTimeout(5*time.Second),
				redis.DialWriteTimeout(5*time.Second))
		},
		TestOnBorrow: func(c redis.Conn, idle time.Time) error {
			if time.Since(idle) < time.Minute {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}
	conn, err := pool.GetContext(ctx)
	if err == nil {
		_, err = conn.Do("PING")
		conn.Close()
	}
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("REDIS_URL: cannot reach Redis: %w", err)
	}
	return redisstore.NewWithPrefix(pool, "oauthkit-example:session:"), func() { pool.Close() }, nil
}

// newPostgresStore opens rawURL, creates the sessions table if missing and
// starts the store's expired-session cleanup.
func newPostgresStore(ctx context.Context, rawURL string) (scs.Store, func(), error) {
	db, err := sql.Open("postgres", rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	db.SetMaxOpenConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("DATABASE_URL: cannot reach PostgreSQL: %w", err)
	}
	if _, err := db.ExecContext(ctx, sessionsTable); err != nil && !tableExists(ctx, db) {
		// CREATE TABLE IF NOT EXISTS can still fail when several instances
		// start at once; the table existing afterwards is what counts.
		db.Close()
		return nil, nil, fmt.Errorf("DATABASE_URL: cannot create the sessions table: %w", err)
	}
	st := postgresstore.NewWithCleanupInterval(db, 5*time.Minute)
	return st, func() { st.StopCleanup(); db.Close() }, nil
}

func tableExists(ctx context.Context, db *sql.DB) bool {
	var ok bool
	err := db.QueryRowContext(ctx, `SELECT to_regclass('sessions') IS NOT NULL`).Scan(&ok)
	return err == nil && ok
}
