package oauthkit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/tokenstoretest"
)

// The in-memory TokenStore and RefreshLocks pass the same conformance test
// as the shared stores; their deadlines are read and moved through the
// export_test.go hooks.

func TestMemoryTokenStore(t *testing.T) {
	tokenstoretest.RunTokenStore(t, func(*testing.T) (oauthkit.TokenStore, tokenstoretest.Expiry) {
		s := oauthkit.NewMemoryTokenStore()
		return s, tokenstoretest.Expiry{
			Remaining: func(t *testing.T, key string) (time.Duration, bool) {
				t.Helper()
				until, ok := oauthkit.MemoryTokenUntil(s, key)
				if !ok {
					t.Fatalf("no record under %s", key)
				}
				if until.IsZero() {
					return 0, false
				}
				return time.Until(until), true
			},
			Expire: func(t *testing.T, key string) {
				oauthkit.SetMemoryTokenUntil(s, key, time.Now().Add(-time.Second))
			},
		}
	})
}

func TestMemoryRefreshLocks(t *testing.T) {
	tokenstoretest.RunRefreshLocks(t, func(*testing.T) (oauthkit.RefreshLocks, tokenstoretest.Expiry) {
		l := oauthkit.NewMemoryRefreshLocks()
		return l, tokenstoretest.Expiry{
			Remaining: func(t *testing.T, key string) (time.Duration, bool) {
				t.Helper()
				until, ok := oauthkit.MemoryLockUntil(l, key)
				if !ok {
					t.Fatalf("no lock on %s", key)
				}
				return time.Until(until), true
			},
			Expire: func(t *testing.T, key string) {
				oauthkit.SetMemoryLockUntil(l, key, time.Now().Add(-time.Second))
			},
		}
	})
}

// Records written with a ttl and never read again are swept every
// SweepEvery writes; records without a ttl stay.
func TestMemoryTokenStoreSweep(t *testing.T) {
	s := oauthkit.NewMemoryTokenStore()
	ctx := t.Context()
	require.NoError(t, s.Put(ctx, "keep", []byte("x"), 0))
	for i := range oauthkit.SweepEvery - 2 {
		k := fmt.Sprint("k", i)
		require.NoError(t, s.Put(ctx, k, []byte("x"), time.Hour))
		oauthkit.SetMemoryTokenUntil(s, k, time.Now().Add(-time.Second))
	}
	require.Equal(t, oauthkit.SweepEvery-1, oauthkit.MemoryTokenCount(s), "no sweep before the SweepEvery-th write")
	require.NoError(t, s.Put(ctx, "last", []byte("x"), time.Hour))
	assert.Equal(t, 2, oauthkit.MemoryTokenCount(s), "the expired ones are gone; keep and last stay")
}
