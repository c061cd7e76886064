package client

import (
	"context"
	"fmt"
	"regexp"
)

// Okta is an OpenID client for an Okta org; everything but its constructors
// comes from OpenID.
//
// Okta client: an OpenID Connect client discovered from the Okta org
// authorization server or from a custom authorization server (upstream
// issue #324).
//
// Follows https://developer.okta.com/docs/concepts/auth-servers/ and
// https://developer.okta.com/docs/reference/api/oidc/ (discovery at
// https://{domain}/.well-known/openid-configuration, or
// https://{domain}/oauth2/{authServerId}/.well-known/openid-configuration).
//
// Default scopes: "openid email" (as upstream). Refresh and revocation as
// the discovery document advertises (see DiscoverOpenID). id: the UserInfo
// "sub" (the Okta user id); email: the UserInfo email when email_verified
// is true.
type Okta struct {
	*OpenID
}

var _ Provider = (*Okta)(nil)

// oktaAuthServerRE matches Okta authorization server ids ("default" or
// "aus..."): nothing that could change the path.
var oktaAuthServerRE = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)

// DiscoverOkta fetches, with ctx, the discovery document of the org
// authorization server of domain (such as "dev-123.okta.com", no scheme or
// path). Its issuer is https://{domain}.
func DiscoverOkta(ctx context.Context, domain, clientID, clientSecret string, opts ...Option) (*Okta, error) {
	return newOkta(ctx, domain, "", clientID, clientSecret, opts)
}

// DiscoverOktaAuthServer fetches, with ctx, the discovery document of the
// custom authorization server authServerID ("default" or an "aus..." id) of
// domain. Its issuer is
// https://{domain}/oauth2/{authServerID}; use it when the application's
// tokens come from a custom server (API access management).
func DiscoverOktaAuthServer(ctx context.Context, domain, authServerID, clientID, clientSecret string, opts ...Option) (*Okta, error) {
	if !oktaAuthServerRE.MatchString(authServerID) {
		return nil, fmt.Errorf("%w: Okta authorization server id %q must be alphanumeric", ErrInvalidConfig, sanitize(authServerID, 64))
	}
	return newOkta(ctx, domain, authServerID, clientID, clientSecret, opts)
}

func newOkta(ctx context.Context, domain, authServerID, clientID, clientSecret string, opts []Option) (*Okta, error) {
	if !hostnameRE.MatchString(domain) {
		return nil, fmt.Errorf("%w: Okta domain %q must be a bare host name such as dev-123.okta.com", ErrInvalidConfig, sanitize(domain, 100))
	}
	issuer := "https://" + domain
	if authServerID != "" {
		issuer += "/oauth2/" + authServerID
	}
	o, err := discoverOpenID(ctx, issuer, issuer+openIDWellKnown, config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Name:         "okta",
		DisplayName:  "Okta",
		BaseScopes:   []string{"openid", "email"},
	}, opts)
	if err != nil {
		return nil, err
	}
	return &Okta{OpenID: o}, nil
}
