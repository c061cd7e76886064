package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

const (
	twitchAuthorizeURL = "https://id.twitch.tv/oauth2/authorize"
	twitchTokenURL     = "https://id.twitch.tv/oauth2/token"
	twitchRevokeURL    = "https://id.twitch.tv/oauth2/revoke"
	twitchUsersURL     = "https://api.twitch.tv/helix/users"
)

// TwitchParams are Twitch's extra authorization parameters.
type TwitchParams struct {
	// ForceVerify makes Twitch ask the user to authorize again even when
	// they already did, so they can switch accounts.
	ForceVerify bool
}

// AuthParams implements Params.
func (p TwitchParams) AuthParams() url.Values {
	v := url.Values{}
	if p.ForceVerify {
		v.Set("force_verify", "true")
	}
	return v
}

// Twitch is the Twitch provider client.
//
// Identify: Subject is data[0].id of GET /helix/users. Email is
// data[0].email, which Twitch documents as the user's verified email
// address (returned only with the user:read:email scope), so EmailVerified
// is true whenever it is present. Name is "display_name", else "login";
// AvatarURL is "profile_image_url".
//
// Twitch client (not in upstream).
//
// Follows https://dev.twitch.tv/docs/authentication/getting-tokens-oauth/#authorization-code-grant-flow,
// https://dev.twitch.tv/docs/authentication/refresh-tokens/,
// https://dev.twitch.tv/docs/authentication/revoke-tokens/ and
// https://dev.twitch.tv/docs/api/reference/#get-users.
//
// Default scopes: "user:read:email" (the only one a login needs). Refresh:
// yes, at the token URL. Revoke: yes; Twitch takes client_id and token only,
// so the secret is not sent there.
//
// id: data[0].id of GET /helix/users, an exact decimal string. email:
// data[0].email, which Twitch only returns when verified and only with the
// user:read:email scope; "" otherwise.
//
// Twitch's token responses carry scope as a JSON array, not the RFC 6749
// space-separated string; the client joins it before building the Token.
type Twitch struct {
	*OAuth2
}

var _ Provider = (*Twitch)(nil)

// NewTwitch returns a Twitch client (name "twitch", display name "Twitch").
// It does no I/O.
func NewTwitch(clientID, clientSecret string, opts ...Option) (*Twitch, error) {
	b, err := newClient("twitch", config{
		ClientID:                     clientID,
		ClientSecret:                 clientSecret,
		AuthorizeEndpoint:            twitchAuthorizeURL,
		AccessTokenEndpoint:          twitchTokenURL,
		RefreshTokenEndpoint:         twitchTokenURL,
		RevokeTokenEndpoint:          twitchRevokeURL,
		Name:                         "twitch",
		DisplayName:                  "Twitch",
		BaseScopes:                   []string{"user:read:email"},
		TokenEndpointAuthMethod:      ClientSecretPost,
		RevocationEndpointAuthMethod: ClientSecretPost,
	}, opts)
	if err != nil {
		return nil, err
	}
	return &Twitch{b}, nil
}

// Revoke revokes t's access token: the provider cannot revoke refresh tokens, so the
// refresh token is never sent. A token without an access token is
// ErrRevokeNotSupported.
func (c *Twitch) Revoke(ctx context.Context, t *Token) error {
	return revokeGrant(ctx, t, true, false, c.RevokeToken)
}

// RevokeToken revokes an access token with the client_id and token
// parameters Twitch documents; the client secret is not sent. Twitch
// documents revocation of access tokens only, so a "refresh_token" hint
// fails before any I/O (ErrRevokeNotSupported); another hint is sent, as
// RFC 7009 allows.
func (c *Twitch) RevokeToken(ctx context.Context, token, tokenTypeHint string) error {
	if err := accessTokenOnly(tokenTypeHint); err != nil {
		return err
	}
	form := url.Values{"client_id": {c.cfg.ClientID}, "token": {token}}
	if tokenTypeHint != "" {
		form.Set("token_type_hint", tokenTypeHint)
	}
	// No auth method: the form already carries the client id.
	req, err := c.formRequest(ctx, c.cfg.RevokeTokenEndpoint, form, "")
	if err != nil {
		return &RequestError{Op: ErrRevokeToken, Err: err}
	}
	_, err = c.send(req, ErrRevokeToken)
	return err
}

func (c *Twitch) usersRequest(accessToken string) apiRequest {
	h := bearer(accessToken)
	h.Set("Client-Id", c.cfg.ClientID)
	return apiRequest{url: twitchUsersURL, header: h}
}

type twitchUsers struct {
	Data []json.RawMessage `json:"data"`
}

// Profile returns the user object (data[0]) of GET /helix/users.
func (c *Twitch) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	return c.user(ctx, ErrGetProfile, accessToken)
}

func (c *Twitch) user(ctx context.Context, op error, accessToken string) (json.RawMessage, error) {
	var page twitchUsers
	if err := c.apiJSON(ctx, op, c.usersRequest(accessToken), &page); err != nil {
		return nil, err
	}
	if len(page.Data) == 0 {
		return nil, identityError(op, "twitch /helix/users returned no user")
	}
	if err := socialCheckObject(op, page.Data[0]); err != nil {
		return nil, err
	}
	return page.Data[0], nil
}

// IDEmail returns data[0].id and data[0].email ("" when absent).
func (c *Twitch) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := c.identity(ctx, accessToken)
	return idEmailOf(id, err, true)
}

// Identify reads /helix/users with t's access token; see Twitch.
func (c *Twitch) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return identifyWith(ctx, t, c.identity)
}

func (c *Twitch) identity(ctx context.Context, accessToken string) (*Identity, error) {
	raw, err := c.user(ctx, ErrGetIDEmail, accessToken)
	if err != nil {
		return nil, err
	}
	var u struct {
		ID              any `json:"id"`
		Login           any `json:"login"`
		DisplayName     any `json:"display_name"`
		Email           any `json:"email"`
		ProfileImageURL any `json:"profile_image_url"`
	}
	if err := decodeExact(raw, &u); err != nil {
		return nil, &RequestError{Op: ErrGetIDEmail, Err: fmt.Errorf("%w: %v", ErrInvalidResponse, err)}
	}
	sub, ok := idString(u.ID)
	if !ok {
		return nil, identityError(ErrGetIDEmail, "twitch user has no usable id")
	}
	email := nonBlank(u.Email)
	return &Identity{
		Subject:       sub,
		Email:         email,
		EmailVerified: email != "",
		Name:          firstNonEmpty(str(u.DisplayName), str(u.Login)),
		AvatarURL:     pictureURL(u.ProfileImageURL),
	}, nil
}
