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
	googlePeopleURL    = "https://people.googleapis.com/v1/people/me?personFields=emailAddresses,names,photos"
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
//
// Identify: Subject is the People API resourceName "people/<account id>"
// (the ID token's sub with that prefix, which it must match when an ID
// token came back). Email is the primary entry of emailAddresses and
// EmailVerified its metadata.verified (JSON true only); Name and AvatarURL
// are the primary entries of names (displayName) and photos (url).
//
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
// fallback to another address) for IDEmail; Identify returns the primary
// address with its verified flag, as above.
type Google struct {
	*OAuth2
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

// Capabilities reports a nonce (verified when an ID token comes back),
// refresh and revocation. No issuer: Google does not send the RFC 9207 iss
// parameter.
func (c *Google) Capabilities() Capabilities { return c.oidcCore.capabilities(&c.cfg, false) }

// NewGoogle returns a Google client (name "google", display name "Google").
// It does no I/O.
func NewGoogle(clientID, clientSecret string, opts ...Option) (*Google, error) {
	b, core, err := newStaticOIDC("google", config{
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
	return &Google{OAuth2: b, oidcCore: core}, nil
}

// VerifyIDToken verifies Google's ID token and reports its subject in the
// People API's form ("people/<sub>"), the id IDEmail returns, so a subject
// check compares like with like.
func (c *Google) VerifyIDToken(ctx context.Context, t *Token, nonce string) (*IDClaims, error) {
	claims, _, err := c.verifyPeople(ctx, t, nonce)
	return claims, err
}

func (c *Google) verifyPeople(ctx context.Context, t *Token, nonce string) (*IDClaims, map[string]any, error) {
	claims, m, err := c.verifyClaims(ctx, t, nonce)
	if err != nil || claims == nil {
		return claims, m, err
	}
	claims.Subject = "people/" + claims.Subject
	return claims, m, nil
}

// Profile returns the People API person (resourceName, emailAddresses,
// names and photos).
func (c *Google) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	return socialProfile(ctx, c.OAuth2, ErrGetProfile, apiRequest{url: googlePeopleURL, header: bearer(accessToken)})
}

// IDEmail returns the resourceName and the primary verified address.
func (c *Google) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := c.person(ctx, accessToken)
	return idEmailOf(id, err, false)
}

// Identify verifies the ID token when there is one, then reads the People
// API; see Google.
func (c *Google) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return c.identify(ctx, c.cfg.Name, t, nonce, c.verifyPeople, c.person)
}

// googleEntry is one entry of a People API list field.
type googleEntry struct {
	Value       any `json:"value"`
	DisplayName any `json:"displayName"`
	URL         any `json:"url"`
	Metadata    struct {
		Primary  any `json:"primary"`
		Verified any `json:"verified"`
	} `json:"metadata"`
}

// primaryEntry returns the entry marked primary, else the first, else nil.
func primaryEntry(es []googleEntry) *googleEntry {
	for i := range es {
		if socialTrue(es[i].Metadata.Primary) {
			return &es[i]
		}
	}
	if len(es) > 0 {
		return &es[0]
	}
	return nil
}

func (c *Google) person(ctx context.Context, accessToken string) (*Identity, error) {
	var p struct {
		ResourceName   any           `json:"resourceName"`
		EmailAddresses []googleEntry `json:"emailAddresses"`
		Names          []googleEntry `json:"names"`
		Photos         []googleEntry `json:"photos"`
	}
	if err := c.apiJSON(ctx, ErrGetIDEmail, apiRequest{url: googlePeopleURL, header: bearer(accessToken)}, &p); err != nil {
		return nil, err
	}
	sub, ok := p.ResourceName.(string)
	if !ok || strings.TrimSpace(sub) == "" || sub == "people/" {
		return nil, identityError(ErrGetIDEmail, "google person has no usable resourceName")
	}
	id := &Identity{Subject: sub}
	for _, e := range p.EmailAddresses {
		if v := str(e.Value); socialTrue(e.Metadata.Primary) && v != "" {
			id.Email, id.EmailVerified = v, socialTrue(e.Metadata.Verified)
			break
		}
	}
	if e := primaryEntry(p.Names); e != nil {
		id.Name = str(e.DisplayName)
	}
	if e := primaryEntry(p.Photos); e != nil {
		id.AvatarURL = pictureURL(e.URL)
	}
	return id, nil
}
