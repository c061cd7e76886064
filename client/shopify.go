package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// ShopifyDefaultAPIVersion is the Admin API version NewShopify uses for
// the shop lookup (upstream pinned 2023-04, long retired). Shopify supports
// each quarterly version for about a year; pass a newer one with
// [WithShopifyAPIVersion] when this one ages out.
const ShopifyDefaultAPIVersion = "2025-10"

// ShopifyAccessMode selects the kind of access token Shopify issues.
type ShopifyAccessMode string

// ShopifyPerUser requests an online (per-user) access token, tied to the
// staff member who logged in and expiring with their session.
const ShopifyPerUser ShopifyAccessMode = "per-user"

// ShopifyParams are the extra authorization parameters Shopify documents.
// Zero fields are not sent.
type ShopifyParams struct {
	// AccessMode is sent as Shopify's grant_options[] parameter; empty asks
	// for an offline token. (Upstream sent it as "access_mode", which
	// Shopify does not read.)
	AccessMode ShopifyAccessMode
}

// AuthParams implements Params.
func (p ShopifyParams) AuthParams() url.Values {
	v := url.Values{}
	if p.AccessMode != "" {
		v.Set("grant_options[]", string(p.AccessMode))
	}
	return v
}

// Shopify is the client for one shop. Shopify offers neither refresh nor
// revocation through this flow.
//
// Identify: Subject is shop.id of shop.json: it identifies the shop, not
// the staff member who logged in. Email is shop.email, the contact address
// the merchant entered, with EmailVerified false (Shopify does not say it
// is verified). Name is shop.name; there is no AvatarURL.
//
// Shopify, following Shopify's authorization code grant guide
// (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant),
// the Admin REST Shop resource
// (https://shopify.dev/docs/api/admin-rest/latest/resources/shop) and
// httpx-oauth's shopify.py.
//
// Default scopes: read_orders (upstream's), sent comma-separated as Shopify
// documents.
// Id: shop.id of GET https://{shop}.myshopify.com/admin/api/{version}/shop.json,
// as a decimal string. It identifies the shop, not the person who logged in.
// Email: shop.email, the shop's contact email as the merchant entered it;
// Shopify does not say it is verified, so key accounts by id.
type Shopify struct {
	*OAuth2
	shop       string
	apiVersion string
	shopURL    string
}

var _ Provider = (*Shopify)(nil)

var (
	shopifyShopName   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	shopifyAPIVersion = regexp.MustCompile(`^([0-9]{4}-[0-9]{2}|unstable)$`)
)

// WithShopifyAPIVersion selects the Admin API version of the shop lookup,
// such as "2025-10" (or "unstable"); the default is
// ShopifyDefaultAPIVersion. Anything not of the form YYYY-MM is
// ErrInvalidConfig. Other constructors refuse the option.
func WithShopifyAPIVersion(version string) Option {
	return scoped("WithShopifyAPIVersion", "shopify", func(c *config) { c.shopifyAPIVersion = version })
}

// NewShopify returns a client for one shop, named "shopify" (display name
// "Shopify"). shop is the shop's subdomain ("my-shop") or its full
// "my-shop.myshopify.com" domain; it is lowercased. Anything else (other
// domains, dots, slashes, "@", ports, an empty name) is an error matching
// ErrInvalidConfig, so a shop name taken from a request cannot send the
// client secret to another host. It does no I/O.
func NewShopify(shop, clientID, clientSecret string, opts ...Option) (*Shopify, error) {
	name, err := shopifyShop(shop)
	if err != nil {
		return nil, err
	}
	base := "https://" + name + ".myshopify.com"
	b, err := newClient("shopify", config{
		ClientID:                clientID,
		ClientSecret:            clientSecret,
		AuthorizeEndpoint:       base + "/admin/oauth/authorize",
		AccessTokenEndpoint:     base + "/admin/oauth/access_token",
		Name:                    "shopify",
		DisplayName:             "Shopify",
		BaseScopes:              []string{"read_orders"},
		TokenEndpointAuthMethod: ClientSecretPost,
		shopifyAPIVersion:       ShopifyDefaultAPIVersion,
	}, opts)
	if err != nil {
		return nil, err
	}
	apiVersion := b.cfg.shopifyAPIVersion
	if !shopifyAPIVersion.MatchString(apiVersion) {
		return nil, fmt.Errorf("%w: Shopify API version %q is not of the form YYYY-MM", ErrInvalidConfig, sanitize(apiVersion, 64))
	}
	return &Shopify{
		OAuth2:     b,
		shop:       name,
		apiVersion: apiVersion,
		shopURL:    base + "/admin/api/" + apiVersion + "/shop.json",
	}, nil
}

// shopifyShop normalises and validates a shop name: one DNS label, or that
// label followed by ".myshopify.com".
func shopifyShop(shop string) (string, error) {
	name := strings.ToLower(shop)
	name = strings.TrimSuffix(name, ".myshopify.com")
	if len(name) > 63 || !shopifyShopName.MatchString(name) {
		return "", fmt.Errorf("%w: Shopify shop %q is not a shop name or NAME.myshopify.com", ErrInvalidConfig, sanitize(shop, 64))
	}
	return name, nil
}

// Shop returns the validated shop subdomain, so the app can check that the
// shop parameter of a callback is the one it started the login with.
func (s *Shopify) Shop() string { return s.shop }

// APIVersion returns the Admin API version used for the shop lookup.
func (s *Shopify) APIVersion() string { return s.apiVersion }

// AuthCodeURL is the base AuthCodeURL with the scopes joined by commas,
// Shopify's documented separator (the base joins with spaces). A "scope"
// value in params still wins.
func (s *Shopify) AuthCodeURL(redirectURI string, opts AuthURLOptions, params Params) (string, error) {
	extra := paramValues(params)
	scopes := opts.Scopes
	if scopes == nil {
		scopes = s.cfg.BaseScopes
	}
	opts.Scopes = []string{}
	ev := url.Values{}
	if len(scopes) > 0 {
		ev.Set("scope", strings.Join(scopes, ","))
	}
	for k, vs := range extra {
		ev[k] = vs
	}
	return s.authCodeURL(redirectURI, opts, ev)
}

// Profile returns the "shop" object of shop.json. Shopify takes the token
// in X-Shopify-Access-Token, not as a Bearer credential.
func (s *Shopify) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	raw, _, err := s.shopObject(ctx, ErrGetProfile, accessToken)
	return raw, err
}

// IDEmail returns the shop id and the shop's contact email ("" when
// absent). Both describe the shop, not the staff member who logged in.
func (s *Shopify) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := s.identity(ctx, accessToken)
	return idEmailOf(id, err, true)
}

// Identify reads shop.json with t's access token; see Shopify.
func (s *Shopify) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return identifyWith(ctx, t, s.identity)
}

func (s *Shopify) identity(ctx context.Context, accessToken string) (*Identity, error) {
	_, m, err := s.shopObject(ctx, ErrGetIDEmail, accessToken)
	if err != nil {
		return nil, err
	}
	sub, ok := idString(m["id"])
	if !ok {
		return nil, identityError(ErrGetIDEmail, "shopify: shop.id")
	}
	return &Identity{Subject: sub, Email: str(m["email"]), Name: str(m["name"])}, nil
}

func (s *Shopify) shopObject(ctx context.Context, op error, accessToken string) (json.RawMessage, map[string]any, error) {
	var doc struct {
		Shop json.RawMessage `json:"shop"`
	}
	if err := s.apiJSON(ctx, op, apiRequest{
		method: http.MethodGet,
		url:    s.shopURL,
		header: http.Header{"X-Shopify-Access-Token": {accessToken}},
	}, &doc); err != nil {
		return nil, nil, err
	}
	m, err := decodeBody("application/json", doc.Shop)
	if err != nil {
		return nil, nil, identityError(op, "shopify: no shop object in shop.json")
	}
	return doc.Shop, m, nil
}
