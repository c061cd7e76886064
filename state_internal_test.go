package oauthkit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPendingLoginEncoding(t *testing.T) {
	p := newPendingLogin("github", true, "/x?y=1", time.Unix(1700000000, 123))
	got, ok := decodePending(p.encode())
	assert.True(t, ok)
	assert.Equal(t, p.State, got.State)
	assert.Equal(t, p.Verifier, got.Verifier)
	assert.Equal(t, p.Nonce, got.Nonce)
	assert.Equal(t, "/x?y=1", got.ReturnTo)
	assert.Equal(t, "github", got.Provider)
	assert.True(t, p.Created.Equal(got.Created))
	assert.Equal(t, p.State, pendingState(p.encode()))

	// Anything else in the session slot is unreadable, never a panic.
	for _, bad := range []string{"", "a", "s\x1fp\x1fv\x1fn\x1f/\x1fnot-a-time", "s\x1fp\x1fv\x1fn\x1f/\x1f1\x1fextra"} {
		_, ok := decodePending(bad)
		assert.False(t, ok, "%q", bad)
	}
}
