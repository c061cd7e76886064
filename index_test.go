package oauthkit_test

import (
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
