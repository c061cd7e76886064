package oauthkit

import (
	"encoding/json"
	"strings"
	"sync"
)

// userCacheSize bounds the decoded users kept: a few thousand active
// sessions' worth (each entry is the user's JSON and its User, a few
// hundred bytes). A full cache starts over rather than tracking recency.
const userCacheSize = 4096

// userCache maps a session's stored user value (JSON) to the User it
// decodes to. Every signed-in request reads the user, and encoding/json
// was a third of a signed-in request's allocations; a value decodes to
// the same User whoever's session holds it, so sharing the result across
// sessions reveals nothing. Callers get a copy, never the cached User.
type userCache struct {
	mu sync.RWMutex
	m  map[string]*User
}

// decode returns the User that s holds, false when s is not a user.
func (c *userCache) decode(s string) (*User, bool) {
	c.mu.RLock()
	u, ok := c.m[s]
	c.mu.RUnlock()
	if !ok {
		var nu User
		if s == "" || json.Unmarshal([]byte(s), &nu) != nil {
			return nil, false
		}
		u = &nu
		c.mu.Lock()
		if c.m == nil || len(c.m) >= userCacheSize {
			c.m = make(map[string]*User)
		}
		// A clone: s may be a slice of the whole decoded session record,
		// which the cache must not keep alive.
		c.m[strings.Clone(s)] = u
		c.mu.Unlock()
	}
	cp := *u
	return &cp, true
}
