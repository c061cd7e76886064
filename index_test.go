package oauthkit_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/indextest"
)

func TestMemoryIndex(t *testing.T) {
	indextest.Run(t, func(*testing.T) oauthkit.SessionIndex { return oauthkit.NewMemoryIndex() })
}

// Keys that are written once and never read again (a user who never logs
// out) are dropped by the sweep every SweepEvery additions, so the map stays
// the size of the live logins.
func TestMemoryIndexSweepDropsExpiredKeys(t *testing.T) {
	idx := oauthkit.NewMemoryIndex()
	ctx := t.Context()
	past := time.Now().Add(-time.Second)
	live := time.Now().Add(time.Hour)
	kept := indextest.Key()
	if err := idx.Add(ctx, indextest.Token(), []string{kept}, live); err != nil {
		t.Fatal(err)
	}
	// Up to the addition before the sweep, every expired key stays.
	for range oauthkit.SweepEvery - 2 {
		if err := idx.Add(ctx, indextest.Token(), []string{indextest.Key()}, past); err != nil {
			t.Fatal(err)
		}
	}
	if n := oauthkit.MemoryIndexKeys(idx); n != oauthkit.SweepEvery-1 {
		t.Fatalf("%d keys before the sweep, want %d", n, oauthkit.SweepEvery-1)
	}
	// The SweepEvery-th addition sweeps: only the live key and its own
	// (expired) one were there to survive, and the expired one goes too.
	if err := idx.Add(ctx, indextest.Token(), []string{indextest.Key()}, past); err != nil {
		t.Fatal(err)
	}
	if n := oauthkit.MemoryIndexKeys(idx); n != 1 {
		t.Fatalf("%d keys after the sweep, want 1 (the live one)", n)
	}
	if got, err := idx.Tokens(ctx, kept); err != nil || len(got) != 1 {
		t.Fatalf("live key after the sweep: %q %v", got, err)
	}
}

// Index keys are what the stores are tested with (64 hex characters,
// whatever the ids), and distinct for distinct (kind, parts): the parts are
// length-prefixed, so ids cannot run into each other or into the kind.
func TestIndexKey(t *testing.T) {
	long := string(make([]byte, 10000))
	cases := [][]string{
		{oauthkit.IndexUser, "ab"},
		{oauthkit.IndexSub, "ab"},
		{oauthkit.IndexSID, "ab"},
		{oauthkit.IndexSub, "https://issuer", "ab"},
		{oauthkit.IndexSub, "https://issuera", "b"},
		{oauthkit.IndexSub, "https://issuer", "a", "b"},
		{oauthkit.IndexSub, "https://issuerab"},
		{oauthkit.IndexSub + "https://issuer", "ab"},
		{oauthkit.IndexUser, ""},
		{oauthkit.IndexUser},
		{oauthkit.IndexUser, long},
	}
	seen := map[string][]string{}
	for _, c := range cases {
		k := oauthkit.IndexKey(c[0], c[1:]...)
		if b, err := hex.DecodeString(k); err != nil || len(k) != 64 || len(b) != 32 {
			t.Errorf("IndexKey%q = %q, want 64 hex characters", c, k)
		}
		if prev, ok := seen[k]; ok {
			t.Errorf("IndexKey%q = IndexKey%q", c, prev)
		}
		seen[k] = c
	}
}
