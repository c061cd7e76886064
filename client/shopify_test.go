package client

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShopifyConstructor(t *testing.T) {
	for _, shop := range []string{"my-shop", "my-shop.myshopify.com", "My-Shop", "MY-SHOP.MyShopify.com"} {
		t.Run(shop, func(t *testing.T) {
			s, err := NewShopify(shop, "CID", "SEC")
			require.NoError(t, err)
			cfg := s.cfg
			assert.Equal(t, "https://my-shop.myshopify.com/admin/oauth/authorize", cfg.AuthorizeEndpoint)
			assert.Equal(t, "https://my-shop.myshopify.com/admin/oauth/access_token", cfg.AccessTokenEndpoint)
			assert.Empty(t, cfg.RefreshTokenEndpoint)
			assert.Empty(t, cfg.RevokeTokenEndpoint)
			assert.Equal(t, []string{"read_orders"}, cfg.BaseScopes)
			assert.Equal(t, ClientSecretPost, cfg.TokenEndpointAuthMethod)
			assert.Equal(t, "shopify", s.Name())
			assert.Equal(t, "Shopify", s.DisplayName())
			assert.False(t, s.Capabilities().Refresh)
			assert.False(t, s.Capabilities().Revoke)
			assert.Equal(t, "my-shop", s.Shop())
			assert.Equal(t, ShopifyDefaultAPIVersion, s.APIVersion())
		})
	}
	assert.Equal(t, "2025-10", ShopifyDefaultAPIVersion)

	s, err := NewShopify("my-shop", "CID", "SEC")
	require.NoError(t, err)
	_, err = s.RefreshToken(context.Background(), "RT")
	assert.ErrorIs(t, err, ErrRefreshNotSupported)
	assert.ErrorIs(t, s.RevokeToken(context.Background(), "AT", ""), ErrRevokeNotSupported)
}

func TestShopifyShopNameInjection(t *testing.T) {
	for _, shop := range []string{
		"", "-x", "evil.com/", "evil.com", "a@evil.com", "shop.evil.com", "x:443", "my-shop.myshopify.com:443",
		"my-shop.myshopify.com.evil.com", "my-shop.myshopify.com/", "evil.com#", "evil.com?", "evil.com\\",
		"https://my-shop.myshopify.com", "my shop", "my_shop", "my-shop\n", ".myshopify.com", "my-shop..myshopify.com",
		"evil.com/.myshopify.com", "a%2Fb", "shop\u00e9", strings.Repeat("a", 64),
	} {
		t.Run(shop, func(t *testing.T) {
			s, err := NewShopify(shop, "CID", "SEC")
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorIs(t, err, ErrOAuth2)
			assert.Nil(t, s)
		})
	}
	s, err := NewShopify(strings.Repeat("a", 63), "CID", "SEC")
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("a", 63), s.Shop())
}

func TestShopifyAPIVersion(t *testing.T) {
	for _, v := range []string{"", "2025", "2025-10/../../x", "../2025-10", "2025-10?x=1", "latest", "2025-1"} {
		t.Run("reject "+v, func(t *testing.T) {
			_, err := NewShopify("my-shop", "CID", "SEC", WithShopifyAPIVersion(v))
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}

	hc, srv := newCannedAPI(t, 200, ctJSON, `{"shop":{"id":548380009,"email":"j.smith@example.com"}}`)
	s, err := NewShopify("my-shop", "CID", "SEC", WithShopifyAPIVersion("2026-01"), WithHTTPClient(hc))
	require.NoError(t, err)
	assert.Equal(t, "2026-01", s.APIVersion())
	_, _, err = s.IDEmail(context.Background(), "TOKEN")
	require.NoError(t, err)
	assert.Equal(t, "/admin/api/2026-01/shop.json", srv.only(t).Path)
}

func TestShopifyAuthorizationURL(t *testing.T) {
	s, err := NewShopify("my-shop", "CID", "SEC")
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		opts   AuthURLOptions
		extra  ShopifyParams
		expect url.Values
	}{
		{name: "default scope, offline", opts: AuthURLOptions{State: "ST"},
			expect: url.Values{"scope": {"read_orders"}}},
		{name: "scopes joined by commas", opts: AuthURLOptions{State: "ST", Scopes: []string{"read_orders", "write_products"}},
			expect: url.Values{"scope": {"read_orders,write_products"}}},
		{name: "per-user access mode", opts: AuthURLOptions{State: "ST"}, extra: ShopifyParams{AccessMode: ShopifyPerUser},
			expect: url.Values{"scope": {"read_orders"}, "grant_options[]": {"per-user"}}},
		{name: "no scopes", opts: AuthURLOptions{State: "ST", Scopes: []string{}}, expect: url.Values{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := s.AuthCodeURL("https://app.example/cb", tc.opts, tc.extra)
			require.NoError(t, err)
			u, err := url.Parse(raw)
			require.NoError(t, err)
			assert.Equal(t, "https", u.Scheme)
			assert.Equal(t, "my-shop.myshopify.com", u.Host)
			assert.Equal(t, "/admin/oauth/authorize", u.Path)
			want := url.Values{"response_type": {"code"}, "client_id": {"CID"},
				"redirect_uri": {"https://app.example/cb"}, "state": {"ST"}}
			for k, v := range tc.expect {
				want[k] = v
			}
			assert.Equal(t, want, u.Query())
		})
	}

	t.Run("Provider interface uses the same URL", func(t *testing.T) {
		var p Provider = s
		raw, err := p.AuthCodeURL("https://app.example/cb", AuthURLOptions{Scopes: []string{"a", "b"}}, Values{"grant_options[]": {"per-user"}})
		require.NoError(t, err)
		u, err := url.Parse(raw)
		require.NoError(t, err)
		assert.Equal(t, "a,b", u.Query().Get("scope"))
		assert.Equal(t, "per-user", u.Query().Get("grant_options[]"))
	})

	t.Run("reserved parameters stay protected", func(t *testing.T) {
		_, err := s.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "ST"}, Values{"state": {"X"}})
		assert.ErrorIs(t, err, ErrInvalidConfig)
	})
}

func TestShopifyAccessToken(t *testing.T) {
	hc, srv := newCannedAPI(t, 200, ctJSON, `{"access_token":"shpat_XXX","scope":"read_orders"}`)
	s, err := NewShopify("my-shop", "CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	tok, err := s.AccessToken(context.Background(), "CODE", "https://app.example/cb", "")
	require.NoError(t, err)
	assert.Equal(t, "shpat_XXX", tok.AccessToken)
	assert.Equal(t, "read_orders", tok.Scope)
	got := srv.only(t)
	assertRequest(t, got, http.MethodPost, "my-shop.myshopify.com", "/admin/oauth/access_token")
	form, err := url.ParseQuery(got.Body)
	require.NoError(t, err)
	assert.Equal(t, "CODE", form.Get("code"))
	assert.Equal(t, "CID", form.Get("client_id"))
	assert.Equal(t, "SEC", form.Get("client_secret"))
}

func TestShopifyIDEmail(t *testing.T) {
	for _, tc := range []identityCase{
		// Upstream: X-Shopify-Access-Token; int shop id turned into a string.
		{name: "success", status: 200, contentType: ctJSON,
			body:   `{"shop":{"id":548380009,"name":"John Smith Test Store","email":"j.smith@example.com","domain":"shop.apple.com","myshopify_domain":"my-shop.myshopify.com"}}`,
			wantID: "548380009", wantEmail: "j.smith@example.com"},
		{name: "large id stays exact", status: 200, contentType: ctJSON,
			body: `{"shop":{"id":1234567890123456789,"email":"a@b.com"}}`, wantID: "1234567890123456789", wantEmail: "a@b.com"},
		{name: "no email", status: 200, contentType: ctJSON,
			body: `{"shop":{"id":548380009}}`, wantID: "548380009"},
		{name: "null email", status: 200, contentType: ctJSON,
			body: `{"shop":{"id":548380009,"email":null}}`, wantID: "548380009"},
		// Upstream: 400 is a GetIdEmailError.
		{name: "400", status: 400, contentType: ctJSON, body: `{"errors":"bad request"}`,
			wantErr: errCauseHTTP, wantStatus: 400},
		{name: "401 invalid token", status: 401, contentType: ctJSON,
			body:    `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`,
			wantErr: errCauseHTTP, wantStatus: 401},
		{name: "HTML error page", status: 503, contentType: ctHTML, body: `<html>Shop unavailable</html>`,
			wantErr: errCauseHTTP, wantStatus: 503},
		{name: "no shop object", status: 200, contentType: ctJSON, body: `{"errors":"Not Found"}`, wantErr: ErrMissingID},
		{name: "shop not an object", status: 200, contentType: ctJSON, body: `{"shop":[1]}`, wantErr: ErrMissingID},
		{name: "missing id", status: 200, contentType: ctJSON, body: `{"shop":{"email":"a@b.com"}}`, wantErr: ErrMissingID},
		{name: "zero id", status: 200, contentType: ctJSON, body: `{"shop":{"id":0}}`, wantErr: ErrMissingID},
		{name: "empty id", status: 200, contentType: ctJSON, body: `{"shop":{"id":""}}`, wantErr: ErrMissingID},
		{name: "not JSON", status: 200, contentType: ctHTML, body: `<html></html>`, wantErr: ErrInvalidResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, srv := newCannedAPI(t, tc.status, tc.contentType, tc.body)
			s, err := NewShopify("my-shop", "CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			id, email, err := s.IDEmail(context.Background(), "TOKEN")
			checkIdentityCase(t, tc, id, email, err)

			got := srv.only(t)
			assertRequest(t, got, http.MethodGet, "my-shop.myshopify.com", "/admin/api/2025-10/shop.json")
			assert.Empty(t, got.Query)
			assert.Equal(t, "TOKEN", got.Header.Get("X-Shopify-Access-Token"))
			assert.Empty(t, got.Header.Get("Authorization"), "Shopify takes no Bearer header")
			assert.Empty(t, got.Body)
		})
	}
}

func TestShopifyProfile(t *testing.T) {
	hc, _ := newCannedAPI(t, 200, ctJSON, `{"shop":{"id":548380009,"name":"John Smith Test Store"}}`)
	s, err := NewShopify("my-shop", "CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	raw, err := s.Profile(context.Background(), "TOKEN")
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":548380009,"name":"John Smith Test Store"}`, string(raw))

	hc, _ = newCannedAPI(t, 401, ctJSON, `{"errors":"[API] Invalid API key or access token"}`)
	s, err = NewShopify("my-shop", "CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	_, err = s.Profile(context.Background(), "TOKEN")
	assert.ErrorIs(t, err, ErrGetProfile)
	assert.Equal(t, 401, StatusCode(err))
}
