// Google client (OAuth 2.0 for web server applications).
//
// Follows https://developers.google.com/identity/protocols/oauth2/web-server
// (authorization parameters, refresh, revocation at
// https://oauth2.googleapis.com/revoke, the current endpoint that replaces
// upstream's https://accounts.google.com/o/oauth2/revoke) and the People API
// https://developers.google.com/people/api/rest/v1/people/get.
//
// Default scopes: ".../auth/userinfo.profile" and ".../auth/userinfo.email".
// Refresh: yes (a refresh token is only issued with AccessType "offline").
// Revoke: yes.
//
// id: the People API resourceName, "people/<account id>", kept from upstream
// so ids stored by its users stay valid; the part after "people/" is the
// account id that OpenID Connect calls sub. email: the emailAddresses entry
// whose metadata is both primary and verified; "" when there is none (no
// fallback to another address).
//
// ID-token verification is not done here; an OpenID Connect client does it.

package client

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
)

const (
	googleAuthorizeURL = "https://accounts.google.com/o/oauth2/v2/auth"
	googleTokenURL     = "https://oauth2.googleapis.com/token"
	googleRevokeURL    = "https://oauth2.googleapis.com/revoke"
	googlePeopleURL    = "https://people.googleapis.com/v1/people/me?personFields=emailAddresses"
)

// GoogleParams are Google's extra authorization parameters. Zero fields are
// not sent.
type GoogleParams struct {
	// AccessType "offline" asks for a refresh token; "online" is the default.
	AccessType string
	// Prompt is a space-separated list of "none", "consent" and
	// "select_account". "consent" makes Google issue a new refresh token.
	Prompt string
	// LoginHint is an email address or sub that preselects the account.
	LoginHint string
	// IncludeGrantedScopes enables incremental authorization.
	IncludeGrantedScopes bool
	// HD restricts the account chooser to a Workspace domain. It is only a
	// UI hint: Google does not enforce it, so check the domain of the
	// verified email after login if it matters.
	HD string
}

// AuthParams implements Params.
func (p GoogleParams) AuthParams() url.Values {
	v := url.Values{}
	if p.AccessType != "" {
		v.Set("access_type", p.AccessType)
	}
	if p.Prompt != "" {
		v.Set("prompt", p.Prompt)
	}
	if p.LoginHint != "" {
		v.Set("login_hint", p.LoginHint)
	}
	if p.IncludeGrantedScopes {
		v.Set("include_granted_scopes", "true")
	}
	if p.HD != "" {
		v.Set("hd", p.HD)
	}
	return v
}

// Google is the Google provider client. When "openid" is among the
// requested scopes Google also returns an ID token, which VerifyIDToken
// checks (signature against Google's JWKS, iss, aud, exp, nonce); with the
// default scopes no ID token comes back and identity comes from the People
// API alone.
type Google struct {
	*BaseOAuth2[GoogleParams]
	oidcCore
}

// Google's OpenID Connect issuer and keys (accounts.google.com discovery
// document). go-oidc also accepts the scheme-less "accounts.google.com" iss
// Google sometimes sends.
const (
	googleIssuer  = "https://accounts.google.com"
	googleJWKSURL = "https://www.googleapis.com/oauth2/v3/certs"
)

var _ Provider = (*Google)(nil)

// NewGoogle returns a Google client (name "google", display name "Google").
// It does no I/O.
func NewGoogle(clientID, clientSecret string, opts ...Option) (*Google, error) {
	b, core, err := newStaticOIDC[GoogleParams](Config{
		ClientID:             clientID,
		ClientSecret:         clientSecret,
		AuthorizeEndpoint:    googleAuthorizeURL,
		AccessTokenEndpoint:  googleTokenURL,
		RefreshTokenEndpoint: googleTokenURL,
		RevokeTokenEndpoint:  googleRevokeURL,
		Name:                 "google",
		DisplayName:          "Google",
		BaseScopes: []string{
			"https://www.googleapis.com/auth/userinfo.profile",
			"https://www.googleapis.com/auth/userinfo.email",
		},
		TokenEndpointAuthMethod:      ClientSecretPost,
		RevocationEndpointAuthMethod: ClientSecretPost,
	}, opts, googleIssuer, "", jwksAt(googleJWKSURL), []string{"RS256"})
	if err != nil {
		return nil, err
	}
	return &Google{BaseOAuth2: b, oidcCore: core}, nil
}

// VerifyIDToken verifies Google's ID token and reports its subject in the
// People API's form ("people/<sub>"), the id IDEmail returns, so the kit's
// subject check compares like with like.
func (c *Google) VerifyIDToken(ctx context.Context, t *Token, nonce string) (*IDClaims, error) {
	claims, err := c.oidcCore.VerifyIDToken(ctx, t, nonce)
	if err != nil || claims == nil {
		return claims, err
	}
	claims.Subject = "people/" + claims.Subject
	return claims, nil
}

// Profile returns the People API person (resourceName and emailAddresses).
func (c *Google) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	return socialProfile(ctx, c.BaseOAuth2, ErrGetProfile, apiRequest{url: googlePeopleURL, header: bearer(accessToken)})
}

// IDEmail returns the resourceName and the primary verified address.
func (c *Google) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	var p struct {
		ResourceName   any `json:"resourceName"`
		EmailAddresses []struct {
			Value    any `json:"value"`
			Metadata struct {
				Primary  any `json:"primary"`
				Verified any `json:"verified"`
			} `json:"metadata"`
		} `json:"emailAddresses"`
	}
	if err := c.apiJSON(ctx, ErrGetIDEmail, apiRequest{url: googlePeopleURL, header: bearer(accessToken)}, &p); err != nil {
		return "", "", err
	}
	id, ok := p.ResourceName.(string)
	if !ok || strings.TrimSpace(id) == "" || id == "people/" {
		return "", "", identityError(ErrGetIDEmail, "google person has no usable resourceName")
	}
	for _, e := range p.EmailAddresses {
		v, _ := e.Value.(string)
		if socialTrue(e.Metadata.Primary) && socialTrue(e.Metadata.Verified) && strings.TrimSpace(v) != "" {
			return id, v, nil
		}
	}
	return id, "", nil
}
