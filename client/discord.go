// Discord client.
//
// Follows https://discord.com/developers/docs/topics/oauth2 (authorization
// URL https://discord.com/oauth2/authorize, token and revocation URLs, HTTP
// Basic client authentication) and
// https://discord.com/developers/docs/resources/user#get-current-user, called
// on API v10: the unversioned /api/users/@me upstream uses is the deprecated
// default version.
//
// Default scopes: "identify" and "email". Refresh: yes, at the token URL.
// Revoke: yes, at https://discord.com/api/oauth2/token/revoke with Basic
// authentication.
//
// id: the user's snowflake, an exact decimal string. email: the account email
// only when the user object says "verified": true; otherwise "".

package client

import (
	"context"
	"encoding/json"
	"net/url"
)

const (
	discordAuthorizeURL = "https://discord.com/oauth2/authorize"
	discordTokenURL     = "https://discord.com/api/oauth2/token"
	discordRevokeURL    = "https://discord.com/api/oauth2/token/revoke"
	discordUserURL      = "https://discord.com/api/v10/users/@me"
)

// DiscordParams are Discord's extra authorization parameters.
type DiscordParams struct {
	// Prompt "consent" always shows the consent screen; "none" skips it when
	// the user already authorized the requested scopes.
	Prompt string
}

// AuthParams implements Params.
func (p DiscordParams) AuthParams() url.Values {
	v := url.Values{}
	if p.Prompt != "" {
		v.Set("prompt", p.Prompt)
	}
	return v
}

// Discord is the Discord provider client.
type Discord struct {
	*BaseOAuth2[DiscordParams]
}

var _ Provider = (*Discord)(nil)

// NewDiscord returns a Discord client (name "discord", display name
// "Discord"). It does no I/O.
func NewDiscord(clientID, clientSecret string, opts ...Option) (*Discord, error) {
	b, err := newWithOptions[DiscordParams](Config{
		ClientID:                     clientID,
		ClientSecret:                 clientSecret,
		AuthorizeEndpoint:            discordAuthorizeURL,
		AccessTokenEndpoint:          discordTokenURL,
		RefreshTokenEndpoint:         discordTokenURL,
		RevokeTokenEndpoint:          discordRevokeURL,
		Name:                         "discord",
		DisplayName:                  "Discord",
		BaseScopes:                   []string{"identify", "email"},
		TokenEndpointAuthMethod:      ClientSecretBasic,
		RevocationEndpointAuthMethod: ClientSecretBasic,
	}, opts)
	if err != nil {
		return nil, err
	}
	return &Discord{b}, nil
}

// Profile returns the user object of GET /users/@me.
func (c *Discord) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	return socialProfile(ctx, c.BaseOAuth2, ErrGetProfile, apiRequest{url: discordUserURL, header: bearer(accessToken)})
}

// IDEmail returns the snowflake and the email when Discord marks it verified.
func (c *Discord) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	var u struct {
		ID       any `json:"id"`
		Email    any `json:"email"`
		Verified any `json:"verified"`
	}
	if err := c.apiJSON(ctx, ErrGetIDEmail, apiRequest{url: discordUserURL, header: bearer(accessToken)}, &u); err != nil {
		return "", "", err
	}
	id, ok := idString(u.ID)
	if !ok {
		return "", "", identityError(ErrGetIDEmail, "discord user has no usable id")
	}
	if !socialTrue(u.Verified) {
		return id, "", nil
	}
	return id, nonBlank(u.Email), nil
}
