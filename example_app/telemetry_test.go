package main

import (
	"bytes"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer the server's goroutines write to while a
// test waits to read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// OAUTHKIT_OTEL=stdout prints the kit's spans as they end and its login
// counter at shutdown, without the user's email; unset, nothing is
// printed.
func TestOTelStdout(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		on   bool
	}{
		{"on", map[string]string{"OAUTHKIT_OTEL": "stdout"}, true},
		{"off", map[string]string{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := configFromEnv(envMap(c.env))
			require.NoError(t, err)
			out := &lockedBuffer{}
			cfg.otelOut = out
			cfg.Addr = "127.0.0.1:0"
			a, base := startApp(t, cfg, "127.0.0.1")
			profile := loginHTTP(t, browserlessClient(t), base, "/auth/dev/login?next=%2Fprofile", "test-user2")
			require.Equal(t, http.StatusOK, profile.Status, profile.Body)
			require.Contains(t, profile.Body, "test-user2@example.com")
			a.Close() // flushes the metrics

			printed := out.String()
			if !c.on {
				assert.Empty(t, printed)
				return
			}
			for _, want := range []string{`"Name": "oauthkit.login"`, `"Name": "oauthkit.callback"`,
				`"Name": "oauthkit.token_exchange"`, `"Name": "oauthkit.user_api"`, `"Name": "oauthkit.logins"`} {
				assert.Contains(t, printed, want)
			}
			assert.NotContains(t, printed, "test-user2@example.com")
		})
	}
}
