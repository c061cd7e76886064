package client

import (
	"context"
	"encoding/json"
)

// LinkedIn is the LinkedIn OpenID Connect client.
//
// Identify: Subject is the ID token's "sub", which the UserInfo "sub" must
// equal. Email is the UserInfo "email" and EmailVerified its
// "email_verified"; Name is "name" and AvatarURL "picture".
//
// LinkedIn client: "Sign In with LinkedIn using OpenID Connect".
//
// Follows https://learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2
// and https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow:
// authorize https://www.linkedin.com/oauth/v2/authorization, token
// https://www.linkedin.com/oauth/v2/accessToken, UserInfo
// https://api.linkedin.com/v2/userinfo, issuer https://www.linkedin.com/oauth,
// JWKS https://www.linkedin.com/oauth/openid/jwks.
//
// Default scopes: "openid profile email" (upstream's r_emailaddress,
// r_liteprofile and r_basicprofile are refused for apps created since
// August 2023). Refresh: token URL (LinkedIn grants refresh tokens to
// selected partners only, as upstream notes). Revoke: no.
//
// id: the UserInfo "sub"; email: the UserInfo email when email_verified is
// true.
type LinkedIn struct {
	*OAuth2
	oidcCore
}

var _ Provider = (*LinkedIn)(nil)

// NewLinkedIn returns the LinkedIn client.
func NewLinkedIn(clientID, clientSecret string, opts ...Option) (*LinkedIn, error) {
	const token = "https://www.linkedin.com/oauth/v2/accessToken"
	b, core, err := newStaticOIDC("linkedin", config{
		ClientID:             clientID,
		ClientSecret:         clientSecret,
		AuthorizeEndpoint:    "https://www.linkedin.com/oauth/v2/authorization",
		AccessTokenEndpoint:  token,
		RefreshTokenEndpoint: token,
		Name:                 "linkedin",
		DisplayName:          "LinkedIn",
		BaseScopes:           []string{"openid", "profile", "email"},
	}, opts, "https://www.linkedin.com/oauth", "https://api.linkedin.com/v2/userinfo",
		jwksAt("https://www.linkedin.com/oauth/openid/jwks"), []string{"RS256"})
	if err != nil {
		return nil, err
	}
	return &LinkedIn{OAuth2: b, oidcCore: core}, nil
}

// Capabilities reports the issuer https://www.linkedin.com/oauth, a nonce, and refresh.
func (l *LinkedIn) Capabilities() Capabilities { return l.oidcCore.capabilities(&l.cfg, true) }

// Profile returns the UserInfo document.
func (l *LinkedIn) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	raw, _, err := l.userinfo(ctx, &l.cfg, accessToken)
	return raw, err
}

// Identify verifies t's ID token with nonce and reads UserInfo; see
// LinkedIn.
func (l *LinkedIn) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return l.identify(ctx, l.cfg.Name, t, nonce, l.verifyClaims, l.userinfoUser(&l.cfg))
}

// IDEmail returns the UserInfo sub and verified email.
func (l *LinkedIn) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	return l.idEmail(ctx, &l.cfg, accessToken)
}
