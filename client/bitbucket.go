package client

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

const (
	bitbucketAuthorizeURL = "https://bitbucket.org/site/oauth2/authorize"
	bitbucketTokenURL     = "https://bitbucket.org/site/oauth2/access_token"
	bitbucketUserURL      = "https://api.bitbucket.org/2.0/user"
	bitbucketEmailsURL    = "https://api.bitbucket.org/2.0/user/emails"
)

// Bitbucket is the Bitbucket Cloud provider client. Bitbucket has no extra
// authorization parameters worth typing, so extras are untyped Values.
//
// Identify: Subject is the account uuid of GET /2.0/user, braces included.
// Email is the is_primary address of /2.0/user/emails and EmailVerified its
// is_confirmed flag (JSON true only); "" when the token may not list them.
// Name is "display_name"; AvatarURL is links.avatar.href.
//
// Bitbucket Cloud client (not in upstream).
//
// Follows https://developer.atlassian.com/cloud/bitbucket/oauth-2/ (authorize
// and access_token URLs, HTTP Basic client authentication, refresh at the
// token URL), https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/#api-user-get
// and https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/#api-user-emails-get.
//
// Default scopes: none. Bitbucket takes a token's scopes from the
// permissions ticked on the OAuth consumer, so no scope parameter is sent;
// tick "Account: Read" and "Account: Email" for this client. Refresh: yes, at
// the token URL. Revoke: no (Bitbucket has no revocation endpoint).
//
// id: the account uuid of /2.0/user, braces included ("{...}"), which
// Bitbucket documents as the stable identifier. email: the address of
// /2.0/user/emails that is both is_primary and is_confirmed; "" when there is
// none or the token may not list them (403/404, no email permission). Only
// the first page of addresses is read; the primary one is on it in practice.
type Bitbucket struct {
	*OAuth2
}

var _ Provider = (*Bitbucket)(nil)

// NewBitbucket returns a Bitbucket client (name "bitbucket", display name
// "Bitbucket"). It does no I/O.
func NewBitbucket(clientID, clientSecret string, opts ...Option) (*Bitbucket, error) {
	b, err := newClient("bitbucket", config{
		ClientID:                clientID,
		ClientSecret:            clientSecret,
		AuthorizeEndpoint:       bitbucketAuthorizeURL,
		AccessTokenEndpoint:     bitbucketTokenURL,
		RefreshTokenEndpoint:    bitbucketTokenURL,
		Name:                    "bitbucket",
		DisplayName:             "Bitbucket",
		TokenEndpointAuthMethod: ClientSecretBasic,
	}, opts)
	if err != nil {
		return nil, err
	}
	return &Bitbucket{b}, nil
}

// Profile returns the account document of GET /2.0/user.
func (c *Bitbucket) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	return socialProfile(ctx, c.OAuth2, ErrGetProfile, apiRequest{url: bitbucketUserURL, header: bearer(accessToken)})
}

// IDEmail returns the account uuid and the primary confirmed address.
func (c *Bitbucket) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := c.identity(ctx, accessToken)
	return idEmailOf(id, err, false)
}

// Identify reads /2.0/user and /2.0/user/emails with t's access token; see
// Bitbucket.
func (c *Bitbucket) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return identifyWith(ctx, t, c.identity)
}

func (c *Bitbucket) identity(ctx context.Context, accessToken string) (*Identity, error) {
	var u struct {
		UUID        any `json:"uuid"`
		DisplayName any `json:"display_name"`
		Links       struct {
			Avatar struct {
				Href any `json:"href"`
			} `json:"avatar"`
		} `json:"links"`
	}
	if err := c.apiJSON(ctx, ErrGetIDEmail, apiRequest{url: bitbucketUserURL, header: bearer(accessToken)}, &u); err != nil {
		return nil, err
	}
	sub, ok := u.UUID.(string)
	if !ok || strings.Trim(sub, "{} \t") == "" {
		return nil, identityError(ErrGetIDEmail, "bitbucket /2.0/user has no usable uuid")
	}
	id := &Identity{Subject: sub, Name: str(u.DisplayName), AvatarURL: pictureURL(u.Links.Avatar.Href)}
	var page struct {
		Values []struct {
			Email       any `json:"email"`
			IsPrimary   any `json:"is_primary"`
			IsConfirmed any `json:"is_confirmed"`
		} `json:"values"`
	}
	err := c.apiJSON(ctx, ErrGetIDEmail, apiRequest{url: bitbucketEmailsURL, header: bearer(accessToken)}, &page)
	if err != nil {
		if s := StatusCode(err); s == http.StatusForbidden || s == http.StatusNotFound {
			return id, nil
		}
		return nil, err
	}
	for _, e := range page.Values {
		if email := str(e.Email); socialTrue(e.IsPrimary) && email != "" {
			id.Email, id.EmailVerified = email, socialTrue(e.IsConfirmed)
			break
		}
	}
	return id, nil
}
