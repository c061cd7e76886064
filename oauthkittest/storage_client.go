package oauthkittest

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// registeredClient is a Client as the storage holds it.
type registeredClient struct {
	Client
}

// opClient presents a registered client to the op (op.Client).
type opClient struct {
	c *registeredClient
	p *Provider
	// loopback are the loopback URIs of the request the op looks the
	// client up for; an AnyLoopbackRedirect client lists them.
	loopback loopbackURIs
}

func (c opClient) GetID() string { return c.c.ID }

// RedirectURIs are the registered ones and, for an AnyLoopbackRedirect
// client, the loopback URI the request asks for.
func (c opClient) RedirectURIs() []string {
	return c.withLoopback(c.c.Client.RedirectURIs, c.loopback.redirect)
}

// PostLogoutRedirectURIs are the registered ones and, for an
// AnyLoopbackRedirect client, the loopback URI the request asks for.
func (c opClient) PostLogoutRedirectURIs() []string {
	return c.withLoopback(c.c.Client.PostLogoutRedirectURIs, c.loopback.postLogout)
}

func (c opClient) withLoopback(registered []string, asked string) []string {
	if !c.c.AnyLoopbackRedirect || asked == "" {
		return registered
	}
	return append(append([]string(nil), registered...), asked)
}

// ApplicationType is native for public clients, so that their loopback
// redirect URIs match on any port (RFC 8252 §7.3); web otherwise.
func (c opClient) ApplicationType() op.ApplicationType {
	if c.c.AuthMethod == AuthMethodNone {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

// AuthMethod is the method the op checks. A private_key_jwt client reaches
// the op with an internal secret in basic auth once the middleware has
// verified its assertion, so the op sees it as a basic client.
func (c opClient) AuthMethod() oidc.AuthMethod {
	switch c.c.AuthMethod {
	case AuthMethodPost:
		return oidc.AuthMethodPost
	case AuthMethodNone:
		return oidc.AuthMethodNone
	default:
		return oidc.AuthMethodBasic
	}
}

func (c opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c opClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

// LoginURL is the provider's own login step, which completes the request
// for the user LoginAs, SetNextLogin or login_hint names.
func (c opClient) LoginURL(id string) string {
	return c.p.issuer + loginPath + "?authRequestID=" + id
}

func (c opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c opClient) IDTokenLifetime() time.Duration      { return c.p.opts.idTokenLifetime }
func (c opClient) DevMode() bool                       { return false }

func (c opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed lets any extra scope through: the provider is for tests
// of the application, not of scope policy.
func (c opClient) IsScopeAllowed(string) bool { return true }

// IDTokenUserinfoClaimsAssertion puts the user's claims in the ID token
// too, as most providers do.
func (c opClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c opClient) ClockSkew() time.Duration             { return 0 }
