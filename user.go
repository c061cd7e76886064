package oauthkit

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/oauthkit/oauthkit/client"
)

// User is the signed-in user, stored in the session. Accounts should be
// keyed by (Provider, ID), never by Email.
type User struct {
	// Provider is the name of the provider the user logged in with.
	Provider string
	// ID is the provider's stable user id.
	ID string
	// Email is the primary address the provider gave, or "". It is set
	// even when the provider does not vouch for it: check EmailVerified
	// before trusting it (sending mail, linking accounts).
	Email string
	// EmailVerified reports that the provider asserts the user controls
	// Email; see each client's doc for what that means there.
	EmailVerified bool
	// Name is the display name, where the provider gives one. It is chosen
	// by the user: show it, never authorize by it.
	Name string
	// AvatarURL is the user's picture URL (http or https), where the
	// provider gives one.
	AvatarURL string
	// UserID is the application's own id for the user, set by OnLogin; it
	// defaults to Provider + ":" + ID.
	UserID string
	// LoginAt is when the login completed.
	LoginAt time.Time
	// AuthTime is when the provider last authenticated the user, from the
	// verified ID token's auth_time; zero when the provider gave none (no
	// ID token, or no auth_time in it). RequireRecentAuth decides by it,
	// not by LoginAt: a login can complete on a provider session that is
	// days old.
	AuthTime time.Time `json:",omitzero"`
	// ACR is the authentication context class the provider reports for
	// the login (the verified ID token's acr), or "".
	ACR string `json:",omitempty"`
}

// userKey carries the user RequireAuth found into the request context. It
// holds its kit, so two kits' users never mix in one context.
type userKey struct{ k *Kit }

// User returns the user this kit signed in, for any handler inside the
// session manager's LoadAndSave: behind RequireAuth it reads what the
// middleware already found; elsewhere (a home page that greets signed-in
// users) it reads the session. A session signed in by another kit sharing
// the session manager, or through a provider since removed, has no user
// here; so has a context without a session (a handler mounted outside
// LoadAndSave). The returned value is the caller's to keep.
func (k *Kit) User(ctx context.Context) (*User, bool) {
	if u, ok := ctx.Value(userKey{k}).(*User); ok {
		c := *u
		return &c, true
	}
	u, _, err := k.signedIn(ctx)
	return u, err == nil
}

// Token returns the signed-in user's provider token, refreshed first when it
// has expired (10 s leeway). Concurrent calls for one session, in this
// process, share one refresh: with refresh-token rotation a second refresh
// would present an invalidated token, which providers may punish by revoking
// the grant. The rotated token is saved in the session. Token never returns
// a token that has expired.
//
// With Config.TokenStore, the grant is refreshed from the store, once
// across every instance sharing it and RefreshLocks (see TokenStore), and
// the session keeps the new access token; a Token call on a valid token
// makes no store round trip. The token returned then carries no refresh
// token, which stays in the store (Kit.TokenFor returns the whole grant).
//
// Token only reads: when the token cannot be refreshed (no refresh token, a
// provider without refresh, or invalid_grant) it returns ErrReauthRequired
// and leaves the session as it is. Signing the user out (LogoutHandler) or
// sending them to log in again is the application's decision.
func (k *Kit) Token(ctx context.Context) (*client.Token, error) {
	u, p, err := k.signedIn(ctx)
	if err != nil {
		return nil, err
	}
	t, err := k.storedToken(ctx, u)
	if err != nil {
		return nil, err
	}
	now := k.cfg.Now()
	if !t.Expired(now) {
		return t, nil
	}
	if k.tokens != nil {
		var onRefresh func(*client.Token)
		if k.cfg.OnTokenRefresh != nil {
			onRefresh = func(t *client.Token) { k.cfg.OnTokenRefresh(ctx, u, t) }
		}
		nt, err := k.freshGrant(ctx, grantKey(u.UserID, p.name), p, onRefresh)
		if err != nil {
			return nil, err
		}
		k.putToken(ctx, u, sessionCopy(nt))
		return nt, nil
	}
	if t.RefreshToken == "" {
		return nil, ErrReauthRequired
	}
	nt, err := k.refreshes.do(t.RefreshToken, now, func(refreshToken string) (*client.Token, error) {
		rctx, cancel := context.WithTimeout(refreshContext(context.WithoutCancel(ctx), t), k.cfg.ProviderTimeout)
		defer cancel()
		rctx, end := k.observe(rctx, OpRefresh, p.name)
		nt, err := k.refreshWith(rctx, p, refreshToken)
		end(err)
		if err == nil {
			k.stampExpiry(nt)
		}
		return nt, err
	})
	if err != nil {
		if grantEnded(err) {
			return nil, wrap(ErrReauthRequired, err)
		}
		return nil, wrap(ErrExchange, err)
	}
	if nt, err = completeRefresh(t, nt, now); err != nil {
		return nil, err
	}
	k.putToken(ctx, u, nt)
	if k.cfg.OnTokenRefresh != nil {
		k.cfg.OnTokenRefresh(ctx, u, nt)
	}
	return nt, nil
}

// completeRefresh checks the refresh response nt for old and returns what
// to store: a token already expired (a provider's answer, or a clock far
// off) is ErrExchange, never handed out; an ID token is carried over from
// old when nt has none, as refresh responses rarely do (OIDC Core §12.2)
// and the login's is the id_token_hint of an RP-initiated logout. nt may be
// shared with concurrent callers: it is copied, not mutated.
func completeRefresh(old, nt *client.Token, now time.Time) (*client.Token, error) {
	if nt.Expired(now) {
		return nil, wrap(ErrExchange, errors.New("refreshed token is already expired"))
	}
	c := *nt
	if c.IDToken == "" {
		c.IDToken = old.IDToken
	}
	if c.DPoPKey == nil {
		// A client that does not carry the key over must not unbind the
		// grant from it: the provider still holds the old binding.
		c.DPoPKey = old.DPoPKey
	}
	return &c, nil
}

// refreshContext is ctx for refreshing t: it carries the grant's DPoP key,
// which the refresh of a DPoP-bound grant must prove it holds
// (client.ContextWithDPoPKey).
func refreshContext(ctx context.Context, t *client.Token) context.Context {
	if t.DPoPKey == nil {
		return ctx
	}
	return client.ContextWithDPoPKey(ctx, t.DPoPKey)
}

// stampExpiry sets t's expiry by the kit's clock, so Config.Now is the
// only clock to set: the client's would otherwise stamp it by its own.
func (k *Kit) stampExpiry(t *client.Token) {
	if t != nil && t.ExpiresIn > 0 {
		t.Expiry = k.cfg.Now().Add(t.ExpiresIn)
	}
}

// grantEnded reports a refresh failure that no retry can mend: the refresh
// token is invalid (expired, revoked, rotated away) or the provider cannot
// refresh at all.
func grantEnded(err error) bool {
	return errors.Is(err, client.ErrRefreshNotSupported) || errors.Is(err, client.ErrInvalidGrant)
}

// refreshGroup runs at most one refresh per refresh token at a time and
// remembers the result for a while, so a request that loaded its session
// before another request saved the rotated token gets the new token instead
// of sending the old refresh token again.
type refreshGroup struct {
	mu    sync.Mutex
	calls map[string]*refreshCall
}

type refreshCall struct {
	done chan struct{}
	tok  *client.Token
	err  error
	at   time.Time
}

// refreshMemory is how long a completed refresh answers for its old token.
const refreshMemory = 2 * time.Minute

// do refreshes with the refresh token key, or waits for the refresh of key
// in flight, or answers with the remembered result of a recent one. A
// remembered token that has expired since is not reused: its rotated
// refresh token is refreshed instead, under the same key, so requests still
// holding the old session take turns with the new one.
func (g *refreshGroup) do(key string, now time.Time, fn func(refreshToken string) (*client.Token, error)) (*client.Token, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*refreshCall)
	}
	for k, c := range g.calls {
		if !c.at.IsZero() && now.Sub(c.at) > refreshMemory {
			delete(g.calls, k)
		}
	}
	refreshToken := key
	if c, ok := g.calls[key]; ok {
		if c.at.IsZero() || c.err != nil || !c.tok.Expired(now) {
			g.mu.Unlock()
			<-c.done
			return c.tok, c.err
		}
		refreshToken = c.tok.RefreshToken
	}
	c := &refreshCall{done: make(chan struct{})}
	g.calls[key] = c
	g.mu.Unlock()

	c.tok, c.err = fn(refreshToken)
	g.mu.Lock()
	if c.err != nil && !grantEnded(c.err) {
		// A passing failure is not remembered: a later call may succeed.
		// An ended grant is, so that every request of a session whose
		// refresh token is dead does not ask the provider again.
		if g.calls[key] == c {
			delete(g.calls, key)
		}
	} else {
		c.at = now
	}
	g.mu.Unlock()
	close(c.done)
	return c.tok, c.err
}
