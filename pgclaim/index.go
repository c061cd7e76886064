package pgclaim

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/oauthkit/oauthkit"
)

// SessionIndex is an oauthkit.SessionIndex in the oauthkit_session_index
// table of [Schema], so a logout received by one instance finds the
// sessions made on the others. Expiry is judged by the database's clock
// (now()), as postgresstore judges its sessions.
type SessionIndex struct {
	// DB is the database every instance shares, holding the Schema tables.
	DB *sql.DB
}

var _ oauthkit.SessionIndex = (*SessionIndex)(nil)

// Add records token under each of keys until expiry in one statement; a
// (key, token) already there keeps the later of its two expiries. The keys
// travel as one JSON array, which every driver passes as text (database/sql
// has no portable array parameter), and are deduplicated and sorted so that
// concurrent Adds lock rows in one order.
func (s *SessionIndex) Add(ctx context.Context, token string, keys []string, expiry time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	_, err = s.DB.ExecContext(ctx, `INSERT INTO oauthkit_session_index (key, token, expires_at)
		SELECT k, $2, $3 FROM (SELECT DISTINCT k FROM json_array_elements_text($1::json) AS k) AS ks ORDER BY k
		ON CONFLICT (key, token) DO UPDATE
		SET expires_at = GREATEST(oauthkit_session_index.expires_at, EXCLUDED.expires_at)`,
		string(list), token, expiry)
	if err == nil {
		err = sweepIndex(ctx, s.DB)
	}
	return err
}

// Tokens returns the tokens recorded under key whose expiry is after the
// database's now().
func (s *SessionIndex) Tokens(ctx context.Context, key string) ([]string, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT token FROM oauthkit_session_index
		WHERE key = $1 AND expires_at > now()`, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tokens []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return tokens, nil
}

// indexSweepBatch bounds one sweep. An Add writes one row per key (three
// for a kit login), so sweeping more than that per Add keeps the table the
// size of one session lifetime's logins.
const indexSweepBatch = 64

// sweepIndex deletes a bounded batch of expired index rows, like sweep does
// for the claims.
func sweepIndex(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `DELETE FROM oauthkit_session_index WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM oauthkit_session_index WHERE expires_at <= now() LIMIT $1))`, indexSweepBatch)
	return err
}
