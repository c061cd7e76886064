package client

import (
	"context"
	"encoding/json"
)

// Slack is the Sign in with Slack client.
//
// Identify: Subject is the ID token's "sub" (the Slack user id, unique
// across workspaces), which the UserInfo "sub" must equal. Email is the
// UserInfo "email" and EmailVerified its "email_verified"; Name is "name"
// and AvatarURL "picture".
//
// Slack client: "Sign in with Slack" (OpenID Connect).
//
// Follows https://api.slack.com/authentication/sign-in-with-slack,
// https://api.slack.com/methods/openid.connect.token and
// https://api.slack.com/methods/openid.connect.userInfo: authorize
// https://slack.com/openid/connect/authorize, token
// https://slack.com/api/openid.connect.token, UserInfo
// https://slack.com/api/openid.connect.userInfo, issuer https://slack.com,
// JWKS https://slack.com/openid/connect/keys.
//
// Default scopes: "openid email profile". Refresh: token URL (only with
// token rotation enabled). Revoke: no (auth.revoke is not RFC 7009).
// Slack answers errors with HTTP 200 and {"ok":false,"error":"..."}: at the
// token endpoint the core already turns the error member into an
// *OAuthError; for UserInfo this file does.
//
// id: the UserInfo "sub" (the Slack user id); email: the UserInfo email when
// email_verified is true.
type Slack struct {
	*OAuth2
	oidcCore
}

var _ Provider = (*Slack)(nil)

// NewSlack returns the Slack client.
func NewSlack(clientID, clientSecret string, opts ...Option) (*Slack, error) {
	const token = "https://slack.com/api/openid.connect.token"
	b, core, err := newStaticOIDC("slack", config{
		ClientID:             clientID,
		ClientSecret:         clientSecret,
		AuthorizeEndpoint:    "https://slack.com/openid/connect/authorize",
		AccessTokenEndpoint:  token,
		RefreshTokenEndpoint: token,
		Name:                 "slack",
		DisplayName:          "Slack",
		BaseScopes:           []string{"openid", "email", "profile"},
	}, opts, "https://slack.com", "https://slack.com/api/openid.connect.userInfo",
		jwksAt("https://slack.com/openid/connect/keys"), []string{"RS256"})
	if err != nil {
		return nil, err
	}
	return &Slack{OAuth2: b, oidcCore: core}, nil
}

// Capabilities reports the issuer https://slack.com, a nonce, and refresh.
func (s *Slack) Capabilities() Capabilities { return s.oidcCore.capabilities(&s.cfg, true) }

// Profile returns the UserInfo document; {"ok":false} is an *OAuthError
// (HTTP 200) under ErrGetProfile.
func (s *Slack) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	raw, m, err := s.userinfo(ctx, &s.cfg, accessToken)
	if err != nil {
		return nil, err
	}
	if err := slackError(m, accessToken); err != nil {
		return nil, err
	}
	return raw, nil
}

// IDEmail returns the UserInfo sub and verified email.
func (s *Slack) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	_, m, err := s.userinfo(ctx, &s.cfg, accessToken)
	if err == nil {
		err = slackError(m, accessToken)
	}
	if err != nil {
		return "", "", asIDEmailError(err)
	}
	return s.idEmailFrom(m)
}

// Identify verifies t's ID token with nonce and reads UserInfo; see Slack.
func (s *Slack) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return s.identify(ctx, s.cfg.Name, t, nonce, s.verifyClaims, func(ctx context.Context, at string) (*Identity, error) {
		_, m, err := s.userinfo(ctx, &s.cfg, at)
		if err == nil {
			err = slackError(m, at)
		}
		if err != nil {
			return nil, err
		}
		return s.userinfoIdentity(m)
	})
}

// slackError turns {"ok":false} into an *OAuthError, with the access token
// redacted should Slack echo it.
func slackError(m map[string]any, accessToken string) error {
	if ok, isBool := m["ok"].(bool); !isBool || ok {
		return nil
	}
	oe := oauthErrorFrom(200, m)
	if oe == nil {
		oe = &OAuthError{StatusCode: 200, Code: "ok_false"}
	}
	return &RequestError{Op: ErrGetProfile, Err: redactValues(oe, accessToken)}
}
