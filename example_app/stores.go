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

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/pgclaim"
	"github.com/oauthkit/oauthkit/redisclaim"
)

// sessionsTable is the schema of scs's postgresstore.
const sessionsTable = `CREATE TABLE IF NOT EXISTS sessions (
	token TEXT PRIMARY KEY,
	data BYTEA NOT NULL,
	expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);`

// stores are the session store and the records the kit shares between
// instances: with Redis or PostgreSQL every instance of the site uses the
// same ones, so a state is single use, a logout sticks, a provider's
// logout notification ends sessions on every instance and a grant is
// refreshed once. With memory they are the kit's in-process defaults (and
// an in-memory TokenStore, lost with the process as the sessions are).
type stores struct {
	name    string
	session scs.Store
	claimer oauthkit.StateClaimer
	ended   oauthkit.EndedSessions
	index   oauthkit.SessionIndex
	tokens  oauthkit.TokenStore
	locks   oauthkit.RefreshLocks
	close   func()
}

// newStore returns the stores cfg selects (Redis, PostgreSQL or memory),
// checked to be reachable.
func newStore(ctx context.Context, cfg Config) (stores, error) {
	switch {
	case cfg.RedisURL != "":
		return newRedisStore(ctx, cfg.RedisURL)
	case cfg.DatabaseURL != "":
		return newPostgresStore(ctx, cfg.DatabaseURL)
	}
	// The cleanup goroutine is not stopped on Close: memstore's StopCleanup
	// races with the goroutine's start (scs v2.9.0), and it ends with the
	// process anyway.
	return stores{name: "memory", session: memstore.NewWithCleanupInterval(time.Minute),
		tokens: oauthkit.NewMemoryTokenStore(), close: func() {}}, nil
}

// newRedisStore connects to rawURL (redis://[:password@]host:port/db).
func newRedisStore(ctx context.Context, rawURL string) (stores, error) {
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
		return stores{}, fmt.Errorf("REDIS_URL: cannot reach Redis: %w", err)
	}
	const prefix = "oauthkit-example:"
	return stores{
		name:    "redis",
		session: redisstore.NewWithPrefix(pool, prefix+"session:"),
		claimer: &redisclaim.Claimer{Pool: pool, Prefix: prefix + "state:"},
		ended:   &redisclaim.EndedSessions{Pool: pool, Prefix: prefix + "ended:"},
		index:   &redisclaim.SessionIndex{Pool: pool, Prefix: prefix + "index:"},
		tokens:  &redisclaim.TokenStore{Pool: pool, Prefix: prefix + "token:"},
		locks:   &redisclaim.RefreshLocks{Pool: pool, Prefix: prefix + "lock:"},
		close:   func() { pool.Close() },
	}, nil
}

// newPostgresStore opens rawURL, creates the sessions table if missing and
// starts the store's expired-session cleanup.
func newPostgresStore(ctx context.Context, rawURL string) (stores, error) {
	db, err := sql.Open("postgres", rawURL)
	if err != nil {
		return stores{}, fmt.Errorf("DATABASE_URL: %w", err)
	}
	db.SetMaxOpenConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return stores{}, fmt.Errorf("DATABASE_URL: cannot reach PostgreSQL: %w", err)
	}
	for _, t := range []struct{ schema, table string }{{sessionsTable, "sessions"}, {pgclaim.Schema, "oauthkit_session_index"}} {
		if _, err := db.ExecContext(ctx, t.schema); err != nil && !tableExists(ctx, db, t.table) {
			// CREATE TABLE IF NOT EXISTS can still fail when several
			// instances start at once; the table existing afterwards is what
			// counts.
			db.Close()
			return stores{}, fmt.Errorf("DATABASE_URL: cannot create the %s table: %w", t.table, err)
		}
	}
	st := postgresstore.NewWithCleanupInterval(db, 5*time.Minute)
	return stores{
		name:    "postgres",
		session: st,
		claimer: &pgclaim.Claimer{DB: db},
		ended:   &pgclaim.EndedSessions{DB: db},
		index:   &pgclaim.SessionIndex{DB: db},
		tokens:  &pgclaim.TokenStore{DB: db},
		locks:   &pgclaim.RefreshLocks{DB: db},
		close:   func() { st.StopCleanup(); db.Close() },
	}, nil
}

func tableExists(ctx context.Context, db *sql.DB, table string) bool {
	var ok bool
	err := db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok)
	return err == nil && ok
}
