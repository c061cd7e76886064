package pgclaim

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/oauthkit/oauthkit"
)

// TokenStore is an oauthkit.TokenStore in the oauthkit_tokens table of
// [Schema], so that any instance (or a background job) finds the grant a
// login or a refresh stored on another, and every refresh starts from the
// current refresh token.
//
// Expiry is judged by the database's clock (now()): a record whose
// expires_at has passed is not returned, and expired rows are removed as
// new records are written. The records are what the kit hands over: set
// Config.TokenKeys so that they are encrypted before they reach the
// database.
type TokenStore struct {
	// DB is the database every instance shares, holding the Schema tables.
	DB *sql.DB
}

var _ oauthkit.TokenStore = (*TokenStore)(nil)

// Get returns the record under key, or nil and no error when there is none
// or it has expired.
func (s *TokenStore) Get(ctx context.Context, key string) ([]byte, error) {
	var rec []byte
	err := s.DB.QueryRowContext(ctx, `SELECT record FROM oauthkit_tokens
		WHERE key = $1 AND (expires_at IS NULL OR expires_at > now())`, key).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec == nil {
		rec = []byte{} // an empty record is still a record
	}
	return rec, nil
}

// Put stores record under key, replacing it and its expiry, in one upsert;
// a ttl of 0 or less keeps it until deleted, as the in-memory store does.
func (s *TokenStore) Put(ctx context.Context, key string, record []byte, ttl time.Duration) error {
	if record == nil {
		record = []byte{} // the column is NOT NULL; nil and empty are one record
	}
	var micros sql.NullInt64
	if ttl > 0 {
		micros = sql.NullInt64{Int64: max(ttl.Microseconds(), 1), Valid: true}
	}
	_, err := s.DB.ExecContext(ctx, `INSERT INTO oauthkit_tokens (key, record, expires_at)
		VALUES ($1, $2, now() + $3 * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET record = EXCLUDED.record, expires_at = EXCLUDED.expires_at`,
		key, record, micros)
	if err == nil {
		err = sweepTokens(ctx, s.DB)
	}
	return err
}

// Delete removes the record under key; a missing one is not an error.
func (s *TokenStore) Delete(ctx context.Context, key string) error {
	_, err := s.DB.ExecContext(ctx, `DELETE FROM oauthkit_tokens WHERE key = $1`, key)
	return err
}

// RefreshLocks are oauthkit.RefreshLocks in the oauthkit_refresh_locks table
// of [Schema], so that exactly one instance refreshes a grant at a time.
//
// Each lock is one row, holding its owner and the end of its lease. Acquire
// is one INSERT ... ON CONFLICT that takes the row only when it is free,
// expired or already the caller's; Extend and Release compare the owner, so
// an owner whose lease ran out cannot extend or free the lock someone else
// has taken since. Leases are judged by the database's clock (now()): the
// instances' clocks do not enter, only how long a lease is.
type RefreshLocks struct {
	// DB is the database every instance shares, holding the Schema tables.
	DB *sql.DB
}

var _ oauthkit.RefreshLocks = (*RefreshLocks)(nil)

// Acquire takes the lock on key for owner for lease, reporting false when
// another owner holds it; owner acquiring again renews its lease.
func (l *RefreshLocks) Acquire(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	return affected(l.DB.ExecContext(ctx, `INSERT INTO oauthkit_refresh_locks (key, owner, until)
		VALUES ($1, $2, now() + $3 * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
		WHERE oauthkit_refresh_locks.owner = EXCLUDED.owner OR oauthkit_refresh_locks.until <= now()`,
		key, owner, lease.Microseconds()))
}

// Extend renews owner's lock on key for another lease, reporting false
// when owner no longer holds it (its lease has run out, whether or not
// someone else has taken the lock since).
func (l *RefreshLocks) Extend(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	return affected(l.DB.ExecContext(ctx, `UPDATE oauthkit_refresh_locks
		SET until = now() + $3 * interval '1 microsecond'
		WHERE key = $1 AND owner = $2 AND until > now()`, key, owner, lease.Microseconds()))
}

// Release frees owner's lock on key, leaving a lock another owner holds,
// and removes a few locks whose holders never released them (instances
// that stopped mid-refresh).
func (l *RefreshLocks) Release(ctx context.Context, key, owner string) error {
	_, err := l.DB.ExecContext(ctx, `DELETE FROM oauthkit_refresh_locks WHERE key = $1 AND owner = $2`, key, owner)
	if err == nil {
		_, err = l.DB.ExecContext(ctx, `DELETE FROM oauthkit_refresh_locks WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM oauthkit_refresh_locks WHERE until <= now() LIMIT $1))`, sweepBatch)
	}
	return err
}

// affected reports whether the statement changed one row.
func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// sweepBatch bounds one sweep of expired tokens or locks: each write adds
// at most one row, so sweeping more than one per write keeps the tables the
// size of the live grants.
const sweepBatch = 16

// sweepTokens deletes a bounded batch of expired token rows, like sweep does
// for the claims.
func sweepTokens(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `DELETE FROM oauthkit_tokens WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM oauthkit_tokens WHERE expires_at <= now() LIMIT $1))`, sweepBatch)
	return err
}
