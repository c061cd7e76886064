package main

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/oauthkit/oauthkit/oauthkittest"
)

// devPassword is the password of the embedded provider's demo users.
const devPassword = oauthkittest.DemoPassword

// devProvider is the embedded development OpenID Connect provider:
// oauthkittest's (zitadel/oidc's op package, in memory) on a loopback port,
// with oauthkittest.DemoUsers and a login page that lists them (one click
// each, or the password form). It supports the authorization code flow
// with PKCE S256, refresh tokens (scope offline_access) that rotate,
// revocation, userinfo, discovery and RP-initiated logout
// (end_session_endpoint; it keeps no login session of its own, so ending
// one ends the user's grants issued to the client). It is for local
// development only: its users and password are public.
type devProvider struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// Users are the demo users (password devPassword).
	Users []oauthkittest.User

	p *oauthkittest.Provider
}

// devAccessTokenLifetime is short, as at many providers, so that a
// session of a few minutes already shows a refresh.
const devAccessTokenLifetime = 5 * time.Minute

// startDevProvider starts the provider on addr (a loopback address; port 0
// picks a free one) with one web client whose redirect URI is redirectURL
// and whose post-logout redirect URI (RP-initiated logout) is
// postLogoutURL. The client secret is new on every start.
func startDevProvider(addr, redirectURL, postLogoutURL string) (*devProvider, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	d := &devProvider{ClientID: "oauthkit-example", ClientSecret: rand.Text(), Users: oauthkittest.DemoUsers()}
	opts := []oauthkittest.Option{
		oauthkittest.WithAddr(addr),
		oauthkittest.WithAccessTokenLifetime(devAccessTokenLifetime),
		oauthkittest.WithClient(oauthkittest.Client{
			ID: d.ClientID, Secret: d.ClientSecret,
			RedirectURIs: []string{redirectURL}, PostLogoutRedirectURIs: []string{postLogoutURL},
		}),
	}
	for _, u := range d.Users {
		opts = append(opts, oauthkittest.WithUser(u))
	}
	p, err := oauthkittest.Start(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded provider: %w", err)
	}
	d.p, d.Issuer = p, p.Issuer()
	return d, nil
}

// Close stops the provider.
func (d *devProvider) Close() { d.p.Close() }

// userNames are the demo users' names, for the start-up log.
func (d *devProvider) userNames() []string {
	names := make([]string, len(d.Users))
	for i, u := range d.Users {
		names[i] = u.Subject
	}
	return names
}
