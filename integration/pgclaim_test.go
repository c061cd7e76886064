package integration

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/postgresstore"

	"github.com/oauthkit/oauthkit/pgclaim"
)

// pgclaim.Claimer alone: one winner among concurrent claims, and the claim
// can be taken again once its TTL has passed.
func TestPostgresStateClaimer(t *testing.T) {
	db := postgres(t)
	cl := &pgclaim.Claimer{DB: db}
	ctx := context.Background()
	state := randomString()
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			won, err := cl.Claim(ctx, state, time.Minute)
			if err != nil {
				t.Error(err)
			}
			if won {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners, want 1", wins.Load())
	}
	short := randomString()
	if won, err := cl.Claim(ctx, short, time.Millisecond); err != nil || !won {
		t.Fatalf("fresh state: %v %v", won, err)
	}
	time.Sleep(20 * time.Millisecond)
	if won, err := cl.Claim(ctx, short, time.Minute); err != nil || !won {
		t.Fatalf("claim after the TTL: %v %v", won, err)
	}
}

// G5 on PostgreSQL with pgclaim's shared claimer: 300 concurrent replays of
// one callback over 3 instances give exactly one login and one code
// exchange, as redisclaim does on Redis.
func TestPostgresClaimerReplayAcrossInstances(t *testing.T) {
	db := postgres(t)
	c := newCluster(t, 3, postgresstore.NewWithCleanupInterval(db, 0), shared{claimer: &pgclaim.Claimer{DB: db}})
	if logins := c.replayStorm(t, 300); logins != 1 {
		t.Fatalf("%d logins from one callback, want exactly 1", logins)
	}
	if n := c.as.TokenHits.Load(); n != 1 {
		t.Fatalf("%d token requests, want exactly 1", n)
	}
}
