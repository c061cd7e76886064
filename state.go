package oauthkit

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/oauthkit/oauthkit/client"
)

// onlyPending reports whether the session holds nothing but pending logins
// (a session the login start itself created).
func (k *Kit) onlyPending(ctx context.Context) bool {
	for _, key := range k.sm.Keys(ctx) {
		if key != keyPending {
			return false
		}
	}
	return true
}

// pendingLogin is one started login, keyed by its state. It never leaves
// the server.
type pendingLogin struct {
	State    string    `json:"s"`
	Provider string    `json:"p"`
	Verifier string    `json:"v"`
	Nonce    string    `json:"n,omitempty"`
	ReturnTo string    `json:"r,omitempty"`
	Created  time.Time `json:"c"`
	// MaxAge and ACR are the max_age and acr_values the login sent to the
	// provider ("" when it sent none), which the callback checks the ID
	// token's auth_time and acr against (see checkStepUp).
	MaxAge string `json:"m,omitempty"`
	ACR    string `json:"a,omitempty"`
}

// newPendingLogin draws a fresh state, PKCE verifier and (for OpenID
// Connect clients) nonce.
func newPendingLogin(provider string, nonce bool, returnTo string, now time.Time) pendingLogin {
	p := pendingLogin{
		State:    client.GenerateState(),
		Provider: provider,
		Verifier: client.GenerateVerifier(),
		ReturnTo: returnTo,
		Created:  now,
	}
	if nonce {
		p.Nonce = client.GenerateState()
	}
	return p
}

// addPending stores p in the session (see withPending).
func (k *Kit) addPending(ctx context.Context, p pendingLogin) {
	k.putPending(ctx, k.withPending(k.pendingList(ctx), p))
}

// withPending is list plus p, without the expired entries and without the
// oldest beyond MaxPending, so one browser can never grow its session
// without bound however many logins it starts.
func (k *Kit) withPending(list []pendingLogin, p pendingLogin) []pendingLogin {
	now := p.Created
	kept := list[:0]
	for _, e := range list {
		if now.Sub(e.Created) <= k.cfg.PendingTTL {
			kept = append(kept, e)
		}
	}
	if over := len(kept) - (k.cfg.MaxPending - 1); over > 0 {
		kept = kept[over:]
	}
	return append(kept, p)
}

// takePending removes and returns the pending login for state, if this
// session holds it and the StateClaimer grants it (no concurrent request
// took it first). A state that is not pending here is not claimed, so a
// forged callback in another browser cannot cancel the victim's login. The
// comparison is constant-time per entry so timing does not reveal how much
// of a guessed state matched.
func (k *Kit) takePending(ctx context.Context, state string) (pendingLogin, bool, error) {
	list := k.pendingList(ctx)
	for i, e := range list {
		if subtle.ConstantTimeCompare([]byte(e.State), []byte(state)) != 1 {
			continue
		}
		won, err := k.claimer.Claim(ctx, state, k.cfg.PendingTTL)
		if err != nil {
			return pendingLogin{}, false, err
		}
		if !won {
			return pendingLogin{}, false, nil
		}
		k.putPending(ctx, append(list[:i:i], list[i+1:]...))
		return e, true, nil
	}
	return pendingLogin{}, false, nil
}

// StateClaimer makes a state single-use across concurrent callbacks. Each
// request works on its own copy of the session, so removing the pending
// login from the session alone would let simultaneous replays of one
// callback all pass: the first to claim the state wins.
//
// The default claims in memory, which covers one process. Sites running
// several instances can plug in a shared implementation (for example Redis
// SET NX with the TTL) so that concurrent replays spread over instances give
// at most one code exchange.
type StateClaimer interface {
	// Claim reports whether state had not been claimed before; claims may be
	// forgotten after ttl, when the state has expired anyway.
	Claim(ctx context.Context, state string, ttl time.Duration) (bool, error)
}

// memoryClaims is the in-process StateClaimer. It keeps a fixed-size
// digest of each state, not the state: the string the caller passes is
// usually a substring of the callback's request line, which holding would
// pin for the whole TTL. An entry costs about 40 bytes (map slot and queue
// entry) whatever the request was.
type memoryClaims struct {
	now   func() time.Time
	mu    sync.Mutex
	base  time.Time // the first claim's time; claim.at counts from it
	seen  map[claimKey]struct{}
	order []claim // the entries of seen, oldest first
}

// claimKey is the first half of a state's SHA-256: two states colliding
// would only refuse the second login, and takes 2^64 states to expect.
type claimKey [16]byte

type claim struct {
	key claimKey
	at  time.Duration // since memoryClaims.base, on the monotonic clock
}

// Claim drops entries older than ttl, oldest first, as new ones arrive,
// which bounds the set by the number of callbacks within one TTL and keeps
// each call O(1) amortised (a full scan per call made every callback, under
// the lock, cost time proportional to the logins of the last TTL).
func (c *memoryClaims) Claim(_ context.Context, state string, ttl time.Duration) (bool, error) {
	sum := sha256.Sum256([]byte(state))
	key := claimKey(sum[:16])
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = make(map[claimKey]struct{})
		c.base = now
	}
	if _, dup := c.seen[key]; dup {
		return false, nil
	}
	at := now.Sub(c.base)
	for len(c.order) > 0 && at-c.order[0].at > ttl {
		delete(c.seen, c.order[0].key)
		c.order = c.order[1:]
	}
	c.seen[key] = struct{}{}
	c.order = append(c.order, claim{key: key, at: at})
	return true, nil
}

// maxReturnTo bounds a return-to value; longer ones fall back to the default.
const maxReturnTo = 2048

// SafeReturnTo returns raw re-serialised if it is a same-site local path
// ("/x/y?z"), and false otherwise. It rejects scheme-relative ("//host") and
// backslash ("/\host") forms, schemes, hosts, control characters and their
// percent-encoded variants, which browsers would turn into a redirect off
// the site, as well as "//", "/./" and "/../" anywhere, raw or decoded, the
// query included. The fragment is dropped.
func SafeReturnTo(raw string) (string, bool) {
	if raw == "" || len(raw) > maxReturnTo || raw[0] != '/' || !cleanPath(raw) {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	// The decoded path must be just as clean: "/%2F%2Fevil.com" decodes to
	// "///evil.com" and "/%5Cevil.com" to "/\evil.com".
	if !cleanPath(u.Path) {
		return "", false
	}
	if q, err := url.QueryUnescape(u.RawQuery); err != nil || strings.ContainsFunc(q, isControl) {
		return "", false
	}
	out := u.EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	if !cleanPath(out) {
		return "", false
	}
	// As oauth2-proxy's validator: no "//", "/./", "/../" or "/ /" anywhere,
	// raw (query included: "/?url=//evil.com" is a nested open redirect) or
	// decoded ("/x/%2f%2e%2e" is "/x//.."), so every line of its open-redirect
	// corpus falls back to the default.
	if slashTrick(raw) || slashTrick(u.Path) {
		return "", false
	}
	return out, true
}

// slashTrick reports a "/" followed by optional spaces or one or two dots
// and another "/" (backslashes and other whitespace are refused earlier).
func slashTrick(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		j := i + 1
		for j < len(p) && p[j] == ' ' {
			j++
		}
		if j == i+1 {
			for j < len(p) && j < i+3 && p[j] == '.' {
				j++
			}
		}
		if j < len(p) && p[j] == '/' {
			return true
		}
	}
	return false
}

// cleanPath: starts with one "/", no backslash, no control characters.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	return !strings.ContainsRune(p, '\\') && !strings.ContainsFunc(p, isControl)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || r == '\uFFFD' }
