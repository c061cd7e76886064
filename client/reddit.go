package client

import (
	"context"
	"encoding/json"
	"html"
	"net/url"
	"strings"
)

const (
	redditAuthorizeURL = "https://www.reddit.com/api/v1/authorize"
	redditTokenURL     = "https://www.reddit.com/api/v1/access_token"
	redditRevokeURL    = "https://www.reddit.com/api/v1/revoke_token"
	redditMeURL        = "https://oauth.reddit.com/api/v1/me"
)

// RedditParams are Reddit's extra authorization parameters.
type RedditParams struct {
	// Duration "permanent" asks for a refresh token; "temporary" (Reddit's
	// default) gives a one-hour access token only.
	Duration string
}

// AuthParams implements Params.
func (p RedditParams) AuthParams() url.Values {
	v := url.Values{}
	if p.Duration != "" {
		v.Set("duration", p.Duration)
	}
	return v
}

// Reddit is the Reddit provider client.
//
// Identify: Subject is the account fullname "t2_<id>" of /api/v1/me. Email
// is always "" (Reddit's API exposes none). Name is the username ("name");
// AvatarURL is "icon_img", with the HTML entities Reddit leaves in it
// decoded.
//
// Reddit client.
//
// Follows https://github.com/reddit-archive/reddit/wiki/OAuth2 (authorize,
// access_token and revoke_token URLs, HTTP Basic client authentication for
// all three, the duration parameter), the API rules at
// https://github.com/reddit-archive/reddit/wiki/API (a unique, descriptive
// User-Agent is required) and https://www.reddit.com/dev/api#GET_api_v1_me.
//
// Default scopes: "identity". Refresh: yes, at the token URL (a refresh token
// is only issued with Duration "permanent"). Revoke: yes, with Basic
// authentication and token_type_hint.
//
// Default User-Agent: "oauthkit:<client id>:v1 (by oauthkit)", in Reddit's
// "<platform>:<app ID>:<version> (by <author>)" form; WithUserAgent replaces
// it.
//
// id: the account's fullname "t2_<id>" built from the id field of
// /api/v1/me. Upstream uses the username; Reddit usernames cannot be changed
// today, but the id is what Reddit documents as the account's identifier and
// is never reassigned. email: always "": Reddit's API exposes none.
//
// Reddit answers a bad code with HTTP 200 and an error member; the core
// treats any token response with an error member as an error.
type Reddit struct {
	*OAuth2
}

var _ Provider = (*Reddit)(nil)

// NewReddit returns a Reddit client (name "reddit", display name "Reddit").
// It does no I/O.
func NewReddit(clientID, clientSecret string, opts ...Option) (*Reddit, error) {
	b, err := newClient("reddit", config{
		ClientID:                     clientID,
		ClientSecret:                 clientSecret,
		AuthorizeEndpoint:            redditAuthorizeURL,
		AccessTokenEndpoint:          redditTokenURL,
		RefreshTokenEndpoint:         redditTokenURL,
		RevokeTokenEndpoint:          redditRevokeURL,
		Name:                         "reddit",
		DisplayName:                  "Reddit",
		BaseScopes:                   []string{"identity"},
		TokenEndpointAuthMethod:      ClientSecretBasic,
		RevocationEndpointAuthMethod: ClientSecretBasic,
		UserAgent:                    "oauthkit:" + sanitize(clientID, 128) + ":v1 (by oauthkit)",
	}, opts)
	if err != nil {
		return nil, err
	}
	return &Reddit{b}, nil
}

// Profile returns the account document of GET /api/v1/me.
func (c *Reddit) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	return socialProfile(ctx, c.OAuth2, ErrGetProfile, apiRequest{url: redditMeURL, header: bearer(accessToken)})
}

// IDEmail returns the account fullname ("t2_...") and an empty email.
func (c *Reddit) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := c.identity(ctx, accessToken)
	return idEmailOf(id, err, false)
}

// Identify reads /api/v1/me with t's access token; see Reddit.
func (c *Reddit) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return identifyWith(ctx, t, c.identity)
}

func (c *Reddit) identity(ctx context.Context, accessToken string) (*Identity, error) {
	var u struct {
		ID      any `json:"id"`
		Name    any `json:"name"`
		IconImg any `json:"icon_img"`
	}
	if err := c.apiJSON(ctx, ErrGetIDEmail, apiRequest{url: redditMeURL, header: bearer(accessToken)}, &u); err != nil {
		return nil, err
	}
	id, ok := u.ID.(string)
	id = strings.TrimPrefix(strings.TrimSpace(id), "t2_")
	if !ok || id == "" {
		return nil, identityError(ErrGetIDEmail, "reddit /api/v1/me has no usable id")
	}
	return &Identity{
		Subject:   "t2_" + id,
		Name:      str(u.Name),
		AvatarURL: pictureURL(html.UnescapeString(str(u.IconImg))),
	}, nil
}
