package oauthkit

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
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
}

type userKey struct{}

// UserFrom returns the signed-in user that RequireAuth put in ctx. The
// returned value is shared: do not modify it.
func UserFrom(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}

// UserFromRequest is UserFrom(r.Context()).
func UserFromRequest(r *http.Request) (*User, bool) { return UserFrom(r.Context()) }

// CurrentUser reads the user from the session directly, for handlers that
// are not behind RequireAuth (a home page that greets signed-in users). It
// reports false, rather than panicking as scs does, when ctx carries no
// session (a handler mounted outside LoadAndSave), and for a session this
// kit did not sign in (another kit sharing the session manager, or a
// provider since removed from the configuration).
func (k *Kit) CurrentUser(ctx context.Context) (*User, bool) {
	u, _, ok := k.signedIn(ctx, k.sessionValue)
	return u, ok
}

// signedIn returns the session's user and provider when this kit signed the
// session in through a provider it still has. get reads the session.
func (k *Kit) signedIn(ctx context.Context, get func(context.Context, string) any) (*User, *providerState, bool) {
	u, ok := get(ctx, keyUser).(*User)
	if !ok || u == nil {
		return nil, nil, false
	}
	p, ok := k.providers[u.Provider]
	if !ok {
		return nil, nil, false
	}
	if b, _ := get(ctx, keyBinding).(string); b != p.binding {
		return nil, nil, false
	}
	return u, p, true
}

// PeekToken returns the stored provider token as it is, without refreshing
// it (a page that only shows its expiry must not call the provider).
func (k *Kit) PeekToken(ctx context.Context) (*client.Token, bool) {
	b, ok := k.sessionValue(ctx, keyToken).([]byte)
	if !ok {
		return nil, false
	}
	var t client.Token
	if json.Unmarshal(b, &t) != nil || t.AccessToken == "" {
		return nil, false
	}
	return &t, true
}

// putToken stores t as JSON bytes. Every request decodes the whole session
// with scs's gob codec, which compiles a decoder for each struct type it
// meets; a []byte costs nothing to decode until Token or PeekToken needs it.
func (k *Kit) putToken(ctx context.Context, t *client.Token) {
	b, err := json.Marshal(t)
	if err != nil { // a Token holds only strings, a time and raw JSON
		return
	}
	k.sm.Put(ctx, keyToken, b)
}

// sessionValue is scs's Get without its panic on a context that has no
// session loaded.
func (k *Kit) sessionValue(ctx context.Context, key string) (v any) {
	defer func() {
		if recover() != nil {
			v = nil
		}
	}()
	return k.sm.Get(ctx, key)
}

// Token returns the signed-in user's provider token, refreshed first when it
// has expired (10 s leeway). Concurrent calls for one session, in this
// process, share one refresh: with refresh-token rotation a second refresh
// would present an invalidated token, which providers may punish by revoking
// the grant. The rotated token is saved in the session. Token never returns
// a token that has expired.
//
// Token only reads: when the token cannot be refreshed (no refresh token, a
// provider without refresh, or invalid_grant) it returns ErrReauthRequired
// and leaves the session as it is. Signing the user out (LogoutHandler) or
// sending them to log in again is the application's decision.
func (k *Kit) Token(ctx context.Context) (*client.Token, error) {
	u, p, ok := k.signedIn(ctx, k.sessionValue)
	if !ok {
		return nil, ErrNotSignedIn
	}
	t, ok := k.PeekToken(ctx)
	if !ok {
		return nil, ErrNotSignedIn
	}
	now := k.cfg.Now()
	if !t.Expired(now) {
		return t, nil
	}
	if t.RefreshToken == "" {
		return nil, ErrReauthRequired
	}
	nt, err := k.refreshes.do(t.RefreshToken, now, func(refreshToken string) (*client.Token, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.ProviderTimeout)
		defer cancel()
		return p.Client.RefreshToken(rctx, refreshToken)
	})
	if err != nil {
		if grantEnded(err) {
			return nil, wrap(ErrReauthRequired, err)
		}
		return nil, wrap(ErrExchange, err)
	}
	if nt.Expired(now) {
		// A provider answering with an already expired token (or a clock
		// far off) must not make Token hand it out.
		return nil, wrap(ErrExchange, errors.New("refreshed token is already expired"))
	}
	k.putToken(ctx, nt)
	if k.cfg.OnTokenRefresh != nil {
		k.cfg.OnTokenRefresh(ctx, u, nt)
	}
	return nt, nil
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
