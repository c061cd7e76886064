package client

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func oktaDoc(issuer string) map[string]any {
	return map[string]any{
		"issuer":                                     issuer,
		"authorization_endpoint":                     issuer + "/v1/authorize",
		"token_endpoint":                             issuer + "/v1/token",
		"userinfo_endpoint":                          issuer + "/v1/userinfo",
		"revocation_endpoint":                        issuer + "/v1/revoke",
		"jwks_uri":                                   issuer + "/v1/keys",
		"grant_types_supported":                      []string{"authorization_code", "implicit", "refresh_token", "password"},
		"token_endpoint_auth_methods_supported":      []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
		"revocation_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
		"id_token_signing_alg_values_supported":      []string{"RS256"},
	}
}

func TestOktaOrgServer(t *testing.T) {
	f, hc := newFakeServer(t)
	doc := oktaDoc("https://foo.okta.com")
	doc["authorization_endpoint"] = "https://foo.okta.com/oauth2/v1/authorize"
	doc["token_endpoint"] = "https://foo.okta.com/oauth2/v1/token"
	doc["revocation_endpoint"] = "https://foo.okta.com/oauth2/v1/revoke"
	f.json("/.well-known/openid-configuration", 200, doc)
	o, err := DiscoverOkta(context.Background(), "foo.okta.com", "CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	cfg := o.cfg
	assert.Equal(t, "https://foo.okta.com/oauth2/v1/authorize", cfg.AuthorizeEndpoint)
	assert.Equal(t, "https://foo.okta.com/oauth2/v1/token", cfg.AccessTokenEndpoint)
	assert.Equal(t, "https://foo.okta.com/oauth2/v1/token", cfg.RefreshTokenEndpoint)
	assert.Equal(t, "https://foo.okta.com/oauth2/v1/revoke", cfg.RevokeTokenEndpoint)
	assert.Equal(t, ClientSecretBasic, cfg.TokenEndpointAuthMethod)
	assert.Equal(t, ClientSecretBasic, cfg.RevocationEndpointAuthMethod)
	assert.Equal(t, []string{"openid", "email"}, cfg.BaseScopes)
	assert.Equal(t, "okta", o.Name())
	assert.Equal(t, "Okta", o.DisplayName())
	assert.Equal(t, "https://foo.okta.com", o.Capabilities().Issuer)
	reqs := f.requests("/.well-known/openid-configuration")
	require.Len(t, reqs, 1)
	assert.Equal(t, "foo.okta.com", reqs[0].Host)
}

func TestOktaCustomAuthServer(t *testing.T) {
	f, hc := newFakeServer(t)
	f.json("/oauth2/default/.well-known/openid-configuration", 200, oktaDoc("https://foo.okta.com/oauth2/default"))
	o, err := DiscoverOktaAuthServer(context.Background(), "foo.okta.com", "default", "CID", "SEC", WithHTTPClient(hc), WithName("okta-api"))
	require.NoError(t, err)
	assert.Equal(t, "https://foo.okta.com/oauth2/default", o.Capabilities().Issuer)
	assert.Equal(t, "https://foo.okta.com/oauth2/default/v1/token", o.cfg.AccessTokenEndpoint)
	assert.Equal(t, "okta-api", o.Name())
	require.Len(t, f.requests("/oauth2/default/.well-known/openid-configuration"), 1)

	t.Run("org document for custom server is rejected", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/oauth2/aus1/.well-known/openid-configuration", 200, oktaDoc("https://foo.okta.com"))
		_, err := DiscoverOktaAuthServer(context.Background(), "foo.okta.com", "aus1", "CID", "SEC", WithHTTPClient(hc))
		assert.ErrorIs(t, err, ErrDiscoveryIssuerMismatch)
	})
}

func TestOktaInvalidDomain(t *testing.T) {
	never := WithHTTPClient(failingClient(errors.New("must not be called")))
	for _, d := range []string{"", "foo", "https://foo.okta.com", "foo.okta.com/x", "evil.com@foo.okta.com",
		"foo.okta.com:443", "foo.okta.com?x", "foo.okta.com#", "foo .okta.com", "evil.com/.well-known/x?.okta.com"} {
		_, err := DiscoverOkta(context.Background(), d, "CID", "SEC", never)
		assert.ErrorIs(t, err, ErrInvalidConfig, d)
	}
	for _, id := range []string{"", "../x", "a/b", "default?x", "a b"} {
		_, err := DiscoverOktaAuthServer(context.Background(), "foo.okta.com", id, "CID", "SEC", never)
		assert.ErrorIs(t, err, ErrInvalidConfig, id)
	}
}
