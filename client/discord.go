package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
)

const (
	discordAuthorizeURL = "https://discord.com/oauth2/authorize"
	discordTokenURL     = "https://discord.com/api/oauth2/token"
	discordRevokeURL    = "https://discord.com/api/oauth2/token/revoke"
	discordAPI          = "https://discord.com/api/v"
	discordAvatarPrefix = "https://cdn.discordapp.com/avatars/"
)

// discordAvatarRE matches avatar hashes (hex, "a_" for animated ones), so a
// hostile value cannot change the CDN URL's path.
var discordAvatarRE = regexp.MustCompile(`^(a_)?[0-9a-f]{1,64}$`)

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
//
// Identify: Subject is the user's snowflake id. Email is "email" and
// EmailVerified the user object's "verified" (JSON true only). Name is
// "global_name", else "username"; AvatarURL is the CDN URL
// https://cdn.discordapp.com/avatars/{id}/{avatar}.png, "" when the user
// has no avatar.
//
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
type Discord struct {
	*OAuth2
	apiVersion int
	userURL    string
}

var _ Provider = (*Discord)(nil)

// DiscordDefaultAPIVersion is the Discord API version of the user lookup
// by default.
const DiscordDefaultAPIVersion = 10

// WithDiscordAPIVersion selects the Discord API version of the user lookup
// (https://discord.com/api/v{version}/users/@me); versions below 9 are
// retired and, like anything above 99, ErrInvalidConfig. The OAuth2
// endpoints are unversioned. Other constructors refuse the option.
func WithDiscordAPIVersion(version int) Option {
	return scoped("WithDiscordAPIVersion", "discord", func(c *config) { c.discordAPIVersion = version })
}

// NewDiscord returns a Discord client (name "discord", display name
// "Discord"). It does no I/O.
func NewDiscord(clientID, clientSecret string, opts ...Option) (*Discord, error) {
	b, err := newClient("discord", config{
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
		discordAPIVersion:            DiscordDefaultAPIVersion,
	}, opts)
	if err != nil {
		return nil, err
	}
	v := b.cfg.discordAPIVersion
	if v < 9 || v > 99 {
		return nil, fmt.Errorf("%w: Discord API version %d is not between 9 and 99", ErrInvalidConfig, v)
	}
	return &Discord{OAuth2: b, apiVersion: v, userURL: discordAPI + strconv.Itoa(v) + "/users/@me"}, nil
}

// APIVersion returns the Discord API version of the user lookup.
func (c *Discord) APIVersion() int { return c.apiVersion }

// Profile returns the user object of GET /users/@me.
func (c *Discord) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	return socialProfile(ctx, c.OAuth2, ErrGetProfile, apiRequest{url: c.userURL, header: bearer(accessToken)})
}

// IDEmail returns the snowflake and the email when Discord marks it verified.
func (c *Discord) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := c.identity(ctx, accessToken)
	return idEmailOf(id, err, false)
}

// Identify reads /users/@me with t's access token; see Discord.
func (c *Discord) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return identifyWith(ctx, t, c.identity)
}

func (c *Discord) identity(ctx context.Context, accessToken string) (*Identity, error) {
	var u struct {
		ID         any `json:"id"`
		Email      any `json:"email"`
		Verified   any `json:"verified"`
		Username   any `json:"username"`
		GlobalName any `json:"global_name"`
		Avatar     any `json:"avatar"`
	}
	if err := c.apiJSON(ctx, ErrGetIDEmail, apiRequest{url: c.userURL, header: bearer(accessToken)}, &u); err != nil {
		return nil, err
	}
	sub, ok := idString(u.ID)
	if !ok {
		return nil, identityError(ErrGetIDEmail, "discord user has no usable id")
	}
	id := &Identity{
		Subject:       sub,
		Email:         nonBlank(u.Email),
		EmailVerified: socialTrue(u.Verified),
		Name:          firstNonEmpty(str(u.GlobalName), str(u.Username)),
	}
	if h := str(u.Avatar); discordAvatarRE.MatchString(h) && discordSnowflakeRE.MatchString(sub) {
		id.AvatarURL = discordAvatarPrefix + sub + "/" + h + ".png"
	}
	return id, nil
}

var discordSnowflakeRE = regexp.MustCompile(`^[0-9]{1,20}$`)
