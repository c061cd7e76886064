package oauthkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthkit/oauthkit/client"
)

// ErrPushAuthorization (502, 504 on timeout): the pushed authorization
// request (RFC 9126) that starts a login with a provider requiring it
// failed: the provider refused the parameters or the client, or could not
// be reached. It wraps the client's *client.RequestError (Op
// client.ErrPushAuthorization). The login route then answers with the
// error page instead of sending the browser to the provider, where a
// request that was not pushed would only be refused.
var ErrPushAuthorization = errors.New("oauthkit: pushed authorization request failed")

// pusherOf returns c as an AuthorizationPusher when its capabilities say
// its requests must be pushed, and refuses a client that claims it but
// cannot: every login with it would go to the provider unpushed.
func pusherOf(c client.Provider, caps client.Capabilities) (client.AuthorizationPusher, error) {
	if !caps.PushedAuthorization {
		return nil, nil
	}
	p, ok := c.(client.AuthorizationPusher)
	if !ok {
		return nil, fmt.Errorf("the client reports PushedAuthorization but is no client.AuthorizationPusher (%T)", c)
	}
	return p, nil
}

// authorizationURL is where the login sends the browser: the client's
// AuthCodeURL, or for a pushing client the URL PushAuthCodeURL returns once
// the provider holds the parameters, the push bounded by ProviderTimeout.
// The parameters are the same either way, so the pending login binds
// state, verifier and nonce alike.
func (k *Kit) authorizationURL(ctx context.Context, p *providerState, opts client.AuthURLOptions, params client.Params) (string, error) {
	if p.pusher == nil {
		return p.Client.AuthCodeURL(p.RedirectURL, opts, params)
	}
	pctx, cancel := context.WithTimeout(ctx, k.cfg.ProviderTimeout)
	defer cancel()
	u, err := p.pusher.PushAuthCodeURL(pctx, p.RedirectURL, opts, params)
	if err != nil {
		if errors.Is(err, client.ErrInvalidConfig) {
			// Refused before any request (a reserved extra parameter), as
			// AuthCodeURL refuses it: the site's configuration, not the
			// provider.
			return "", err
		}
		return "", wrap(ErrPushAuthorization, err)
	}
	return u, nil
}
