package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// FacebookGraphVersion is the Graph API version used by default.
const FacebookGraphVersion = "v23.0"

const (
	facebookAuthorizePrefix = "https://www.facebook.com/"
	facebookAuthorizeSuffix = "/dialog/oauth"
	facebookGraphPrefix     = "https://graph.facebook.com/"
	facebookTokenSuffix     = "/oauth/access_token"
)

var facebookVersionRE = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)

// WithFacebookGraphVersion selects the Graph API version ("v23.0") of a
// Facebook client: the dialog, token and /me URLs all use it. NewFacebook
// rejects anything that is not of the form vX.Y with ErrInvalidConfig;
// other constructors refuse the option.
func WithFacebookGraphVersion(version string) Option {
	return scoped("WithFacebookGraphVersion", "facebook", func(c *config) { setFacebookVersion(c, version) })
}

func setFacebookVersion(c *config, version string) {
	c.AuthorizeEndpoint = facebookAuthorizePrefix + version + facebookAuthorizeSuffix
	c.AccessTokenEndpoint = facebookGraphPrefix + version + facebookTokenSuffix
}

// FacebookParams are Facebook's extra authorization parameters.
type FacebookParams struct {
	// AuthType "rerequest" asks again for declined permissions (such as
	// email); "reauthenticate" asks for the password again.
	AuthType string
}

// AuthParams implements Params.
func (p FacebookParams) AuthParams() url.Values {
	v := url.Values{}
	if p.AuthType != "" {
		v.Set("auth_type", p.AuthType)
	}
	return v
}

// Facebook is the Facebook provider client.
//
// Identify: Subject is the app-scoped user id of /me. Email is its "email"
// field with EmailVerified false: Facebook documents the field as the
// profile's primary address but gives no verification flag or guarantee.
// Name is "name"; AvatarURL is picture.data.url (unless it is Facebook's
// default silhouette).
//
// Facebook client (Facebook Login, manual flow).
//
// Follows https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow,
// https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived,
// https://developers.facebook.com/docs/graph-api/securing-requests (appsecret_proof)
// and https://developers.facebook.com/docs/graph-api/reference/user.
//
// Graph API version: FacebookGraphVersion unless WithFacebookGraphVersion is
// given (upstream is pinned to v5.0, long retired).
//
// Default scopes: "email" and "public_profile". Refresh: no (use
// LongLivedAccessToken). Revoke: no (Facebook has no RFC 7009 endpoint).
//
// id: the app-scoped user id of /me, an exact decimal string. email: the
// email field of /me, "" when absent (no email permission, or no usable
// address). Facebook returns only a confirmed primary address there and has
// no verified flag to check.
//
// /me is called with "Authorization: Bearer" (never ?access_token=, which
// ends up in logs) plus appsecret_proof, the hex HMAC-SHA256 of the token
// keyed with the app secret, which Facebook recommends and can require.
type Facebook struct {
	*OAuth2
	version string
}

var _ Provider = (*Facebook)(nil)

// NewFacebook returns a Facebook client (name "facebook", display name
// "Facebook"). It does no I/O.
func NewFacebook(clientID, clientSecret string, opts ...Option) (*Facebook, error) {
	cfg := config{
		ClientID:                clientID,
		ClientSecret:            clientSecret,
		Name:                    "facebook",
		DisplayName:             "Facebook",
		BaseScopes:              []string{"email", "public_profile"},
		TokenEndpointAuthMethod: ClientSecretPost,
	}
	setFacebookVersion(&cfg, FacebookGraphVersion)
	if err := cfg.apply("facebook", opts); err != nil {
		return nil, err
	}
	// The /me URL is derived from the token URL, so both stay on one version
	// and the version cannot smuggle a path or a host.
	v, ok := strings.CutPrefix(cfg.AccessTokenEndpoint, facebookGraphPrefix)
	if ok {
		v, ok = strings.CutSuffix(v, facebookTokenSuffix)
	}
	if !ok || !facebookVersionRE.MatchString(v) {
		return nil, fmt.Errorf("%w: facebook graph API version must look like v23.0", ErrInvalidConfig)
	}
	b, err := newClient("facebook", cfg, nil)
	if err != nil {
		return nil, err
	}
	return &Facebook{OAuth2: b, version: v}, nil
}

// GraphVersion returns the Graph API version the client calls.
func (c *Facebook) GraphVersion() string { return c.version }

// LongLivedAccessToken exchanges a short-lived user token for a long-lived
// one (about 60 days) with grant_type=fb_exchange_token. Failures are
// ErrGetLongLivedAccessToken errors.
func (c *Facebook) LongLivedAccessToken(ctx context.Context, accessToken string) (*Token, error) {
	form := url.Values{
		"grant_type":        {"fb_exchange_token"},
		"fb_exchange_token": {accessToken},
	}
	return c.tokenRequest(ctx, ErrGetLongLivedAccessToken, c.cfg.AccessTokenEndpoint, form)
}

// appSecretProof is hex(HMAC-SHA256(app secret, token)).
func (c *Facebook) appSecretProof(accessToken string) string {
	m := hmac.New(sha256.New, []byte(c.cfg.ClientSecret))
	m.Write([]byte(accessToken))
	return hex.EncodeToString(m.Sum(nil))
}

func (c *Facebook) meRequest(accessToken string) apiRequest {
	q := url.Values{
		"fields":          {"id,name,email,picture"},
		"appsecret_proof": {c.appSecretProof(accessToken)},
	}
	return apiRequest{
		url:    facebookGraphPrefix + c.version + "/me?" + q.Encode(),
		header: bearer(accessToken),
	}
}

// Profile returns the /me document with the id, name, email and picture
// fields.
func (c *Facebook) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	return socialProfile(ctx, c.OAuth2, ErrGetProfile, c.meRequest(accessToken))
}

// IDEmail returns the app-scoped user id and the email, "" when absent.
func (c *Facebook) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := c.identity(ctx, accessToken)
	return idEmailOf(id, err, true)
}

// Identify reads /me with t's access token; see Facebook.
func (c *Facebook) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return identifyWith(ctx, t, c.identity)
}

func (c *Facebook) identity(ctx context.Context, accessToken string) (*Identity, error) {
	var u struct {
		ID      any `json:"id"`
		Name    any `json:"name"`
		Email   any `json:"email"`
		Picture struct {
			Data struct {
				URL          any `json:"url"`
				IsSilhouette any `json:"is_silhouette"`
			} `json:"data"`
		} `json:"picture"`
	}
	if err := c.apiJSON(ctx, ErrGetIDEmail, c.meRequest(accessToken), &u); err != nil {
		return nil, err
	}
	sub, ok := idString(u.ID)
	if !ok {
		return nil, identityError(ErrGetIDEmail, "facebook /me has no usable id")
	}
	id := &Identity{Subject: sub, Email: nonBlank(u.Email), Name: str(u.Name)}
	if !socialTrue(u.Picture.Data.IsSilhouette) {
		id.AvatarURL = pictureURL(u.Picture.Data.URL)
	}
	return id, nil
}
