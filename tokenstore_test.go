package oauthkit_test

import (
	"testing"
	"time"

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
