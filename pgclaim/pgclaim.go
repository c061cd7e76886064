// Package pgclaim holds the records oauthkit's instances must share when
// several serve one site, in a PostgreSQL database they all reach, for sites
// whose sessions already live there (scs's postgresstore) and that run no
// Redis:
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
// It uses only database/sql: bring the driver the application already uses
// (lib/pq, pgx's stdlib). Create the tables with [Schema], and run it again
// after an upgrade: it only adds what is missing.
//
//	db.ExecContext(ctx, pgclaim.Schema)
//	kit, err := oauthkit.New(oauthkit.Config{
//		Sessions:      sm, // postgresstore on the same database
//		StateClaimer:  &pgclaim.Claimer{DB: db},
//		EndedSessions: &pgclaim.EndedSessions{DB: db},
//		SessionIndex:  &pgclaim.SessionIndex{DB: db},
//		TokenStore:    &pgclaim.TokenStore{DB: db},
//		RefreshLocks:  &pgclaim.RefreshLocks{DB: db},
//		...
//	})
//
// Claim keys are SHA-256 sums: oauthkit_claims never holds a state or a
// session token. The index has to give tokens back to end their sessions,
// so oauthkit_session_index holds them as they are, as postgresstore's
// sessions table already does; its keys are the kit's hashes, as are those
// of oauthkit_tokens and oauthkit_refresh_locks. Every deadline is judged by
// the database's clock (now()).
package pgclaim

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"time"

	"github.com/oauthkit/oauthkit"
)

// Schema creates the tables: oauthkit_claims for Claimer and
// EndedSessions, oauthkit_session_index for SessionIndex, oauthkit_tokens
// for TokenStore and oauthkit_refresh_locks for RefreshLocks. Rows expire by
// their until (expires_at) column, judged by the database's now(); expired
// rows are removed as new ones are written (a token written with no expiry
// has a NULL expires_at and stays until deleted). Every statement is IF NOT EXISTS, so a deployment that created
// an earlier Schema runs it again to add what is new.
const Schema = `CREATE TABLE IF NOT EXISTS oauthkit_claims (
	kind  TEXT NOT NULL,
	key   BYTEA NOT NULL,
	until TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS oauthkit_claims_until_idx ON oauthkit_claims (until);
CREATE TABLE IF NOT EXISTS oauthkit_session_index (
	key        TEXT NOT NULL,
	token      TEXT NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (key, token)
);
CREATE INDEX IF NOT EXISTS oauthkit_session_index_expires_at_idx ON oauthkit_session_index (expires_at);
CREATE TABLE IF NOT EXISTS oauthkit_tokens (
	key        TEXT PRIMARY KEY,
	record     BYTEA NOT NULL,
	expires_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS oauthkit_tokens_expires_at_idx ON oauthkit_tokens (expires_at);
CREATE TABLE IF NOT EXISTS oauthkit_refresh_locks (
	key   TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	until TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS oauthkit_refresh_locks_until_idx ON oauthkit_refresh_locks (until);`

// Claimer claims a state with one INSERT ... ON CONFLICT, which exactly one
// caller wins until the claim expires.
type Claimer struct {
	// DB is the database every instance shares, holding the Schema table.
	DB *sql.DB
}

var _ oauthkit.StateClaimer = (*Claimer)(nil)

// Claim reports whether this call is the first to claim state within ttl. A
// database failure is an error, which the kit reports as a session failure
// (500) rather than letting the callback through.
func (c *Claimer) Claim(ctx context.Context, state string, ttl time.Duration) (bool, error) {
	return claim(ctx, c.DB, "state", state, ttl)
}

// EndedSessions records ended session tokens.
type EndedSessions struct {
	// DB is the database every instance shares, holding the Schema table.
	DB *sql.DB
}

var _ oauthkit.EndedSessions = (*EndedSessions)(nil)

// End records token as ended for ttl.
func (e *EndedSessions) End(ctx context.Context, token string, ttl time.Duration) error {
	sum := sha256.Sum256([]byte(token))
	_, err := e.DB.ExecContext(ctx, `INSERT INTO oauthkit_claims (kind, key, until)
		VALUES ('ended', $1, now() + $2 * interval '1 millisecond')
		ON CONFLICT (kind, key) DO UPDATE SET until = EXCLUDED.until`, sum[:], max(ttl.Milliseconds(), 1))
	if err == nil {
		err = sweep(ctx, e.DB)
	}
	return err
}

// Ended reports whether token was ended.
func (e *EndedSessions) Ended(ctx context.Context, token string) (bool, error) {
	sum := sha256.Sum256([]byte(token))
	var ended bool
	err := e.DB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM oauthkit_claims
		WHERE kind = 'ended' AND key = $1 AND until > now())`, sum[:]).Scan(&ended)
	return ended, err
}

// claim inserts (kind, sha256(value)) unless a live row exists; an expired
// row is taken over. One row affected means this caller won.
func claim(ctx context.Context, db *sql.DB, kind, value string, ttl time.Duration) (bool, error) {
	sum := sha256.Sum256([]byte(value))
	res, err := db.ExecContext(ctx, `INSERT INTO oauthkit_claims (kind, key, until)
		VALUES ($1, $2, now() + $3 * interval '1 millisecond')
		ON CONFLICT (kind, key) DO UPDATE SET until = EXCLUDED.until
		WHERE oauthkit_claims.until <= now()`, kind, sum[:], max(ttl.Milliseconds(), 1))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 1 {
		err = sweep(ctx, db)
	}
	return n == 1, err
}

// sweep deletes a bounded batch of expired rows, so the table stays the size
// of one TTL's traffic without a background job.
func sweep(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `DELETE FROM oauthkit_claims WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM oauthkit_claims WHERE until <= now() LIMIT 16))`)
	return err
}
