package oauthkit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oauthkit/oauthkit/client"
)

// The grant path: with a TokenStore, the user's current grant lives there,
// keyed by (user id, provider); the session keeps a copy without the
// refresh token. An expired token is refreshed by one caller across every
// instance: concurrent callers of one process share one flight
// (singleflight), and flights of different processes take turns on a
// RefreshLocks lease; the others wait for the stored grant to become valid.

// ErrUnknownProvider (404) is returned by Kit.TokenFor for a provider name
// the kit does not have, and answers a request whose tenant a
// ProviderResolver does not know.
var ErrUnknownProvider = errors.New("oauthkit: no such provider")

// grantKey is the TokenStore key of userID's grant at provider.
func grantKey(userID, provider string) string { return indexKey("grant", userID, provider) }

func grantAAD(key string) string { return "grant\x00" + key }

// loadGrant reads the stored grant under key; nil when there is none.
func (k *Kit) loadGrant(ctx context.Context, key string) (*client.Token, error) {
	rec, err := k.tokens.Get(ctx, key)
	if err != nil {
		return nil, wrap(ErrSession, err)
	}
	if rec == nil {
		return nil, nil
	}
	return k.openToken(string(rec), grantAAD(key))
}

// saveGrant stores t under key. A refreshed token that cannot be saved is
// a rotated refresh token that would be lost: the write is tried a few
// times, with a context of its own, before giving up.
func (k *Kit) saveGrant(ctx context.Context, key string, t *client.Token) error {
	rec := []byte(k.sealToken(t, grantAAD(key)))
	var err error
	for range 3 {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.ProviderTimeout)
		err = k.tokens.Put(wctx, key, rec, 0)
		cancel()
		if err == nil {
			return nil
		}
	}
	return wrap(ErrSession, err)
}

// sessionCopy is t as the session keeps it next to a TokenStore: without
// the refresh token, which only the store holds.
func sessionCopy(t *client.Token) *client.Token {
	c := *t
	c.RefreshToken = ""
	return &c
}

// freshGrant returns a valid token of the grant under key: the stored one
// if it is still valid, else the result of the one refresh every instance
// waits for. onRefresh, when not nil, runs once per refresh this process
// made, with the new token.
func (k *Kit) freshGrant(ctx context.Context, key string, p *providerState, onRefresh func(*client.Token)) (*client.Token, error) {
	v, err, _ := k.flights.Do(key, func() (any, error) {
		// One flight serves every caller of this process: it must not end
		// with the first caller's request.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.ProviderTimeout+2*k.cfg.RefreshLease)
		defer cancel()
		t, refreshed, err := k.refreshGrant(fctx, key, p)
		if err == nil && refreshed && onRefresh != nil {
			onRefresh(t)
		}
		return t, err
	})
	if err != nil {
		return nil, err
	}
	c := *v.(*client.Token) // each caller its own copy
	return &c, nil
}

// refreshGrant is one flight: read the grant; valid, done; else take the
// lock and refresh, or wait for whoever holds it.
func (k *Kit) refreshGrant(ctx context.Context, key string, p *providerState) (*client.Token, bool, error) {
	owner := client.GenerateState()
	wait := 5 * time.Millisecond
	for {
		t, err := k.loadGrant(ctx, key)
		if err != nil {
			return nil, false, err
		}
		if t == nil {
			return nil, false, ErrReauthRequired
		}
		if !t.Expired(k.cfg.Now()) {
			return t, false, nil
		}
		if t.RefreshToken == "" {
			return nil, false, ErrReauthRequired
		}
		won, err := k.locks.Acquire(ctx, key, owner, k.cfg.RefreshLease)
		if err != nil {
			return nil, false, wrap(ErrSession, err)
		}
		if won {
			return k.refreshLocked(ctx, key, p, owner)
		}
		// Someone else refreshes: wait for the stored grant to change, or
		// for their lease to end (a crashed holder).
		select {
		case <-ctx.Done():
			return nil, false, wrap(ErrExchange, fmt.Errorf("waiting for another instance's refresh: %w", ctx.Err()))
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// refreshLocked refreshes the grant under key while owner holds its lock,
// renewing the lease until the provider has answered and the result is
// stored.
func (k *Kit) refreshLocked(ctx context.Context, key string, p *providerState, owner string) (*client.Token, bool, error) {
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.ProviderTimeout)
		defer cancel()
		_ = k.locks.Release(rctx, key, owner) // a lock not released ends with its lease
	}()
	// The previous holder may have stored a fresh grant just before the
	// lock was free.
	t, err := k.loadGrant(ctx, key)
	if err != nil {
		return nil, false, err
	}
	now := k.cfg.Now()
	if t == nil || t.RefreshToken == "" {
		return nil, false, ErrReauthRequired
	}
	if !t.Expired(now) {
		return t, false, nil
	}
	stop := k.keepLease(ctx, key, owner)
	defer stop()
	pctx, cancel := context.WithTimeout(refreshContext(ctx, t), k.cfg.ProviderTimeout)
	pctx, end := k.observe(pctx, OpRefresh, p.name)
	nt, err := k.refreshWith(pctx, p, t.RefreshToken)
	end(err)
	cancel()
	if err != nil {
		if grantEnded(err) {
			// The grant is dead for every instance: the waiters find no grant
			// and answer ErrReauthRequired without asking the provider.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.ProviderTimeout)
			_ = k.tokens.Delete(dctx, key)
			cancel()
			return nil, false, wrap(ErrReauthRequired, err)
		}
		return nil, false, wrap(ErrExchange, err)
	}
	k.stampExpiry(nt)
	if nt, err = completeRefresh(t, nt, now); err != nil {
		return nil, false, err
	}
	if err := k.saveGrant(ctx, key, nt); err != nil {
		k.cfg.Logger.ErrorContext(ctx, "oauthkit: a refreshed grant could not be stored; the rotated refresh token is lost and the user must log in again",
			"provider", p.name, "error", err.Error())
		return nil, false, err
	}
	return nt, true, nil
}

// keepLease renews owner's lease every third of it until stop is called.
func (k *Kit) keepLease(ctx context.Context, key, owner string) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(k.cfg.RefreshLease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.RefreshLease/3)
				ok, err := k.locks.Extend(ectx, key, owner, k.cfg.RefreshLease)
				cancel()
				if err != nil || !ok {
					k.cfg.Logger.WarnContext(ctx, "oauthkit: refresh lease could not be renewed", "ok", ok, "error", fmt.Sprint(err))
				}
			}
		}
	}()
	return func() { close(done) }
}

// TokenFor returns a valid provider token of the user whose User.UserID is
// userID at the named provider, for code that runs outside the user's
// requests (a background job): the grant stored at the user's last login,
// refreshed through the same single-flight path as Token, across every
// instance sharing the TokenStore and RefreshLocks. It needs
// Config.TokenStore.
//
// Errors: ErrReauthRequired when there is no stored grant or it has ended
// (the user must log in again), ErrUnknownProvider, ErrExchange when the
// provider fails, ErrSession when a store fails, ErrTokenDecrypt or
// ErrTokenKeyUnknown when the stored grant cannot be read.
// OnTokenRefresh sees a refresh made here with a User holding only UserID
// and Provider.
func (k *Kit) TokenFor(ctx context.Context, userID, provider string) (*client.Token, error) {
	p, err := k.byName(ctx, provider)
	if err != nil {
		return nil, err
	}
	if k.tokens == nil {
		return nil, configError("TokenFor needs Config.TokenStore")
	}
	var onRefresh func(*client.Token)
	if k.cfg.OnTokenRefresh != nil {
		onRefresh = func(t *client.Token) { k.cfg.OnTokenRefresh(ctx, &User{UserID: userID, Provider: p.name}, t) }
	}
	return k.freshGrant(ctx, grantKey(userID, p.name), p, onRefresh)
}

// refreshWith refreshes with p's client, resolved first (see live): a
// provider that cannot be reached is ErrProviderUnavailable, which, like
// any failure that is not invalid_grant, keeps the grant.
func (k *Kit) refreshWith(ctx context.Context, p *providerState, refreshToken string) (*client.Token, error) {
	lp, err := k.live(ctx, p)
	if err != nil {
		return nil, err
	}
	return lp.Client.RefreshToken(ctx, refreshToken)
}
