package oauthkit

import (
	"context"
	"errors"
)

// ErrProviderUnavailable (503): the provider's client could not be made
// ready, because its issuer is unreachable, slow or serves unusable
// metadata (it wraps client.ErrProviderUnavailable and the cause), or
// because a ProviderResolver failed. Other providers keep working, and the
// next request tries again: nothing needs a restart.
var ErrProviderUnavailable = errors.New("oauthkit: login provider unavailable")

// live returns the state to run p's flow with now. A client that is a
// client.Resolver (such as client.Lazy) is resolved first, with ctx, and
// the fields New derives from Capabilities are derived from the client it
// returns, once per client (a background metadata refresh gives a new
// one). Other providers are returned as they are, at no cost.
func (k *Kit) live(ctx context.Context, p *providerState) (*providerState, error) {
	if p.lazy == nil {
		return p, nil
	}
	c, err := p.lazy.Resolve(ctx)
	if err != nil {
		return nil, wrap(ErrProviderUnavailable, err)
	}
	if cur := p.current.Load(); cur != nil && cur.Client == c {
		return cur, nil
	}
	v := *p
	v.lazy, v.current = nil, nil
	if err := v.useClient(c); err != nil {
		// The metadata changed into something the kit cannot run
		// safely (an iss requirement without an issuer, a push it
		// cannot make): unavailable, as unusable metadata is.
		return nil, wrap(ErrProviderUnavailable, err)
	}
	v.setPendingKey()
	p.current.Store(&v)
	return &v, nil
}
