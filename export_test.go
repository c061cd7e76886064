package oauthkit

// Hooks for the external tests (package oauthkit_test), which can import
// internal/indextest where this package's own tests cannot (indextest
// imports oauthkit).

// NewMemoryIndex is the kit's default SessionIndex.
func NewMemoryIndex() SessionIndex { return newMemoryIndex() }

// SweepEvery is how many additions the memory index makes between sweeps.
const SweepEvery = sweepEvery

// MemoryIndexKeys is how many keys a memory index holds, expired or not.
func MemoryIndexKeys(idx SessionIndex) int {
	m := idx.(*memoryIndex)
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// IndexKey derives the index key of (kind, parts...).
var IndexKey = indexKey

// The index key kinds.
const (
	IndexUser = indexUser
	IndexSub  = indexSub
	IndexSID  = indexSID
)

// GrantKey is the TokenStore key of a user's grant at a provider.
var GrantKey = grantKey
