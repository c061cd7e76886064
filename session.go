package oauthkit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/oauthkit/oauthkit/client"
)

// Session keys. They are namespaced so they cannot collide with the
// application's own keys in the same session.
const (
	keyPending = "oauthkit.pending"
	keyUser    = "oauthkit.user"
	keyToken   = "oauthkit.token"
	// keyBinding names the kit provider that signed the session in (see
	// providerState.binding), followed by what the SessionIndex needs (see
	// bindingValue).
	keyBinding = "oauthkit.binding"
	// keyLogout holds the pending RP-initiated logout (state and time).
	keyLogout = "oauthkit.logout"
)

// Everything the kit stores is a string holding JSON (or plain text). A
// string is a type every scs codec round-trips, gob and JSON alike, so the
// kit registers nothing with encoding/gob and works with any Codec; and a
// string costs nothing to decode until the kit reads it.

// lookup is scs's Get that reports, instead of panicking as scs does, a
// context without a session loaded by the session manager's LoadAndSave.
func (k *Kit) lookup(ctx context.Context, key string) (any, bool) {
	return guarded(func() any { return k.sm.Get(ctx, key) })
}

// sessionStatus is scs's Status of the session in ctx, and false for a
// context without a session loaded by LoadAndSave (see lookup).
func (k *Kit) sessionStatus(ctx context.Context) (scs.Status, bool) {
	return guarded(func() scs.Status { return k.sm.Status(ctx) })
}

// guarded runs one scs call, turning the panic scs raises for a context
// without a loaded session into loaded == false.
func guarded[T any](call func() T) (v T, loaded bool) {
	defer func() {
		if recover() != nil {
			var zero T
			v, loaded = zero, false
		}
	}()
	return call(), true
}

// hasSession reports whether ctx carries a loaded session.
func (k *Kit) hasSession(ctx context.Context) bool {
	_, loaded := k.lookup(ctx, keyBinding)
	return loaded
}

// getJSON decodes the value under key into v, reporting whether there was
// a readable one.
func (k *Kit) getJSON(ctx context.Context, key string, v any) bool {
	s, ok := k.sm.Get(ctx, key).(string)
	return ok && s != "" && json.Unmarshal([]byte(s), v) == nil
}

// putJSON stores v under key. The kit's values hold only strings, numbers,
// booleans, times and raw JSON, which always marshal.
func (k *Kit) putJSON(ctx context.Context, key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	k.sm.Put(ctx, key, string(b))
}

// sessionUser is the user stored in the session, whoever signed it in.
func (k *Kit) sessionUser(ctx context.Context) (*User, bool) {
	s, _ := k.sm.Get(ctx, keyUser).(string)
	return k.users.decode(s)
}

// signedIn returns the session's user and provider when this kit signed the
// session in through a provider it still has: a session made by another kit
// sharing the session manager, or through a provider since removed from the
// configuration, is anonymous here (ErrNotSignedIn). A context without a
// session gives ErrNoSession. The binding is read first: one guarded map
// lookup is all an anonymous request costs.
func (k *Kit) signedIn(ctx context.Context) (*User, *providerState, error) {
	u, p, _, err := k.signedInBinding(ctx)
	return u, p, err
}

// signedInBinding is signedIn that also returns the whole binding value,
// for RequireAuth's index check (each scs lookup costs an allocation).
func (k *Kit) signedInBinding(ctx context.Context) (*User, *providerState, string, error) {
	v, loaded := k.lookup(ctx, keyBinding)
	if !loaded {
		return nil, nil, "", ErrNoSession
	}
	value, _ := v.(string)
	b, _, _ := strings.Cut(value, bindingSep)
	if b == "" {
		return nil, nil, "", ErrNotSignedIn
	}
	u, ok := k.sessionUser(ctx)
	if !ok {
		return nil, nil, "", ErrNotSignedIn
	}
	p, ok := k.providers[u.Provider]
	if !ok {
		// A resolver's tenant, named resolver:tenant. A tenant the
		// resolver no longer knows is a session that no longer belongs
		// here; a resolver that fails says so (503), signing nobody out.
		var err error
		if p, err = k.byName(ctx, u.Provider); err != nil {
			if errors.Is(err, ErrProviderUnavailable) {
				return nil, nil, "", err
			}
			return nil, nil, "", ErrNotSignedIn
		}
	}
	if b != p.binding {
		return nil, nil, "", ErrNotSignedIn
	}
	return u, p, value, nil
}

// signIn stores the user, the provider token and the binding to p, with
// the session's SessionIndex entries for the login ref (see writeIndex).
func (k *Kit) signIn(ctx context.Context, p *providerState, u *User, t *client.Token, ref loginRef) {
	k.putJSON(ctx, keyUser, u)
	k.putToken(ctx, u, t)
	refJSON, _ := json.Marshal(ref) // two strings: cannot fail
	k.writeIndex(ctx, p, u, ref, refJSON)
}

// putToken stores u's provider token in the session, encrypted with
// TokenKeys when set. The ciphertext is bound to u's user id, so a value
// copied into another user's session does not decrypt.
func (k *Kit) putToken(ctx context.Context, u *User, t *client.Token) {
	k.sm.Put(ctx, keyToken, k.sealToken(t, sessionAAD(u)))
}

func sessionAAD(u *User) string { return "session\x00" + u.UserID }

// storedToken is u's provider token as stored in the session, without
// refreshing it: ErrNotSignedIn when there is none, ErrTokenKeyUnknown or
// ErrTokenDecrypt when it cannot be read (the session is left as it is).
func (k *Kit) storedToken(ctx context.Context, u *User) (*client.Token, error) {
	v, _ := k.sm.Get(ctx, keyToken).(string)
	if v == "" {
		return nil, ErrNotSignedIn
	}
	t, err := k.openToken(v, sessionAAD(u))
	if err != nil {
		return nil, err
	}
	if t.AccessToken == "" {
		return nil, ErrNotSignedIn
	}
	return t, nil
}

// sealToken is t as stored: JSON, encrypted for aad when TokenKeys are set.
func (k *Kit) sealToken(t *client.Token, aad string) string {
	// Strings, times, raw JSON and a DPoPKey the client made (only a zero
	// DPoPKey{} fails to marshal): cannot fail.
	b, _ := json.Marshal(t)
	if k.cfg.TokenKeys == nil {
		return string(b)
	}
	return k.cfg.TokenKeys.seal(b, aad)
}

// openToken reads a value sealToken wrote. Plain JSON is accepted when
// TokenKeys are set (tokens stored before they were), and the next write
// encrypts it; an encrypted value without TokenKeys is ErrTokenKeyUnknown.
func (k *Kit) openToken(v, aad string) (*client.Token, error) {
	b := []byte(v)
	switch {
	case k.cfg.TokenKeys != nil:
		pt, err := k.cfg.TokenKeys.open(v, aad)
		if err != nil {
			return nil, err
		}
		b = pt
	case strings.HasPrefix(v, tokenPrefix):
		return nil, ErrTokenKeyUnknown
	}
	var t client.Token
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, ErrTokenDecrypt
	}
	return &t, nil
}

// pendingList is the session's pending logins, oldest first.
func (k *Kit) pendingList(ctx context.Context) []pendingLogin {
	s, _ := k.sm.Get(ctx, keyPending).(string)
	return decodePending(s)
}

// putPending stores list, removing the key when it is empty.
func (k *Kit) putPending(ctx context.Context, list []pendingLogin) {
	if len(list) == 0 {
		k.sm.Remove(ctx, keyPending)
		return
	}
	k.sm.Put(ctx, keyPending, encodePending(list))
}

// savePending adds pl to the session and saves the session before the
// login redirects, so that a store that cannot take it gives an error page
// and never a trip to the provider that could only end in "no pending
// login". A session made for the login only has to outlive it (PendingTTL);
// one that holds anything else (a cart, a preference, a user) keeps its
// deadline, or abandoning the login would lose that data.
//
// scs's LoadAndSave saves a modified session again when the handler writes
// its header, and scs has no way to mark a session saved: putting pl in the
// session and committing would write every login start twice. So when
// nothing else modified the session in this request, the record is written
// here, as SessionManager.Commit would write it with pl put (same codec,
// deadline, expiry, token and cookie), and the request's session is left
// unmodified, so LoadAndSave writes nothing. Otherwise (a session modified
// earlier in the request, which LoadAndSave saves anyway, an idle timeout
// on a loaded session, a destroyed one, HashTokenInStore) pl goes into the
// session and it is committed as usual.
//
// The request's own copy of the session then lacks pl: a middleware that
// modified the session after the login handler and before the response
// header reached LoadAndSave (one buffering the response) would have
// LoadAndSave save that copy over the record. scs saves nothing a handler
// changes after writing the header; changes there are lost either way.
//
// status is the session's status as the handler found it (each scs call
// costs an allocation; the kit changes nothing in between).
func (k *Kit) savePending(ctx context.Context, w http.ResponseWriter, status scs.Status, pl pendingLogin) error {
	if status != scs.Unmodified || k.sm.HashTokenInStore {
		k.addPending(ctx, pl)
		if k.onlyPending(ctx) {
			k.sm.SetDeadline(ctx, pl.Created.Add(k.cfg.PendingTTL))
		}
		_, _, err := k.sm.Commit(ctx)
		return err
	}
	keys := k.sm.Keys(ctx)
	values := make(map[string]any, len(keys)+1)
	onlyPending := true
	for _, key := range keys {
		values[key] = k.sm.Get(ctx, key)
		onlyPending = onlyPending && key == keyPending
	}
	deadline := pl.Created.Add(k.cfg.PendingTTL)
	if !onlyPending {
		deadline = k.sm.Deadline(ctx)
	}
	s, _ := values[keyPending].(string)
	values[keyPending] = encodePending(k.withPending(decodePending(s), pl))

	// What Commit does, in its order.
	token := k.sm.Token(ctx)
	if token == "" {
		token = newSessionToken()
	}
	record, err := k.sm.Codec.Encode(deadline, values)
	if err != nil {
		return err
	}
	expiry := deadline
	if k.sm.IdleTimeout > 0 {
		if ie := time.Now().Add(k.sm.IdleTimeout).UTC(); ie.Before(expiry) {
			expiry = ie
		}
	}
	if cs, ok := k.sm.Store.(scs.CtxStore); ok {
		err = cs.CommitCtx(ctx, token, record, expiry)
	} else {
		err = k.sm.Store.Commit(token, record, expiry)
	}
	if err != nil {
		return err
	}
	k.sm.WriteSessionCookie(ctx, w, token, expiry)
	return nil
}

// newSessionToken is a token as scs makes one: 32 bytes from crypto/rand,
// base64url without padding.
func newSessionToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
