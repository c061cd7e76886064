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

// TestProviderCapabilities: each client reports, as data, what the kit
// used to probe with type assertions (issuer, nonce, form_post) and what
// its endpoints allow. Go embedding would otherwise report the embedded
// OAuth2's answer (no issuer, no nonce) for the OIDC clients.
func TestProviderCapabilities(t *testing.T) {
	_, p8 := appleKeyPEM(t)
	static := []struct {
		name string
		new  func() (Provider, error)
		want Capabilities
	}{
		{"oauth2", func() (Provider, error) {
			return New(Config{ClientID: "CID", ClientSecret: "SEC",
				AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL})
		}, Capabilities{}},
		{"oauth2 refresh revoke", func() (Provider, error) {
			return New(Config{ClientID: "CID", ClientSecret: "SEC",
				AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL,
				RefreshTokenEndpoint: coreRefreshURL, RevokeTokenEndpoint: coreRevokeURL},
				WithRevocationEndpointAuthMethod(ClientSecretBasic))
		}, Capabilities{Refresh: true, Revoke: true}},
		{"apple", func() (Provider, error) { return NewApple("com.example.app", "TEAM123456", "KEY1234567", p8) },
			Capabilities{Issuer: "https://appleid.apple.com", Nonce: true, FormPost: true, Refresh: true, Revoke: true}},
		{"bitbucket", func() (Provider, error) { return NewBitbucket("CID", "SEC") }, Capabilities{Refresh: true}},
		{"discord", func() (Provider, error) { return NewDiscord("CID", "SEC") }, Capabilities{Refresh: true, Revoke: true}},
		{"facebook", func() (Provider, error) { return NewFacebook("CID", "SEC") }, Capabilities{}},
		{"franceconnect", func() (Provider, error) { return NewFranceConnect("CID", "SEC") },
			Capabilities{Issuer: "https://app.franceconnect.gouv.fr", Nonce: true}},
		{"franceconnect integration", func() (Provider, error) { return NewFranceConnect("CID", "SEC", WithFranceConnectIntegration()) },
			Capabilities{Issuer: "https://fcp.integ01.dev-franceconnect.fr", Nonce: true}},
		{"github", func() (Provider, error) { return NewGitHub("CID", "SEC") }, Capabilities{Refresh: true}},
		{"gitlab", func() (Provider, error) { return NewGitLab("CID", "SEC") }, Capabilities{Refresh: true, Revoke: true}},
		{"google", func() (Provider, error) { return NewGoogle("CID", "SEC") }, Capabilities{Nonce: true, Refresh: true, Revoke: true}},
		{"kakao", func() (Provider, error) { return NewKakao("CID", "SEC") }, Capabilities{Refresh: true, Revoke: true}},
		{"linkedin", func() (Provider, error) { return NewLinkedIn("CID", "SEC") },
			Capabilities{Issuer: "https://www.linkedin.com/oauth", Nonce: true, Refresh: true}},
		{"microsoft", func() (Provider, error) { return NewMicrosoft("common", "CID", "SEC", WithMicrosoftAnyTenant()) }, Capabilities{Nonce: true, Refresh: true}},
		{"naver", func() (Provider, error) { return NewNaver("CID", "SEC") }, Capabilities{Refresh: true, Revoke: true}},
		{"reddit", func() (Provider, error) { return NewReddit("CID", "SEC") }, Capabilities{Refresh: true, Revoke: true}},
		{"shopify", func() (Provider, error) { return NewShopify("my-shop", "CID", "SEC") }, Capabilities{}},
		{"slack", func() (Provider, error) { return NewSlack("CID", "SEC") },
			Capabilities{Issuer: "https://slack.com", Nonce: true, Refresh: true}},
		{"twitch", func() (Provider, error) { return NewTwitch("CID", "SEC") }, Capabilities{Refresh: true, Revoke: true}},
	}
	for _, tc := range static {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.new()
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.Capabilities())
		})
	}

	// Discovered clients: the issuer, iss support, refresh and revocation
	// come from the metadata.
	f, hc := newFakeServer(t)
	doc := discoveryDoc(testIssuer, func(m map[string]any) {
		m["authorization_response_iss_parameter_supported"] = true
		m["grant_types_supported"] = []string{"authorization_code", "refresh_token"}
		m["revocation_endpoint"] = testIssuer + "/revoke"
	})
	f.json("/.well-known/openid-configuration", 200, doc)
	f.json("/.well-known/oauth-authorization-server", 200, doc)
	o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	assert.Equal(t, Capabilities{Issuer: testIssuer, IssParameter: true, Nonce: true, Refresh: true, Revoke: true}, o.Capabilities())
	a, err := DiscoverAuthorizationServer(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	assert.Equal(t, Capabilities{Issuer: testIssuer, IssParameter: true, Refresh: true, Revoke: true}, a.Capabilities())
}

// TestProviderRevoke: Revoke ends the grant with the refresh token where
// the provider can revoke one, and with the access token where it cannot
// (Kakao's unlink, Naver's delete, Twitch) or when there is no refresh
// token. Each case asserts which token reached which endpoint.
func TestProviderRevoke(t *testing.T) {
	_, p8 := appleKeyPEM(t)
	type ctor func(hc *http.Client) (Provider, error)
	cases := []struct {
		name string
		new  ctor
		path string // the revocation path on the provider's host
		// sent returns the token the request carried.
		sent           func(r recorded) string
		revokesRefresh bool
	}{
		{"google", func(hc *http.Client) (Provider, error) { return NewGoogle("CID", "SEC", WithHTTPClient(hc)) },
			"/revoke", formToken, true},
		{"discord", func(hc *http.Client) (Provider, error) { return NewDiscord("CID", "SEC", WithHTTPClient(hc)) },
			"/api/oauth2/token/revoke", formToken, true},
		{"gitlab", func(hc *http.Client) (Provider, error) { return NewGitLab("CID", "SEC", WithHTTPClient(hc)) },
			"/oauth/revoke", formToken, true},
		{"reddit", func(hc *http.Client) (Provider, error) { return NewReddit("CID", "SEC", WithHTTPClient(hc)) },
			"/api/v1/revoke_token", formToken, true},
		{"apple", func(hc *http.Client) (Provider, error) {
			return NewApple("com.example.app", "TEAM123456", "KEY1234567", p8, WithHTTPClient(hc))
		}, "/auth/revoke", formToken, true},
		{"kakao", func(hc *http.Client) (Provider, error) { return NewKakao("CID", "SEC", WithHTTPClient(hc)) },
			"/v1/user/unlink", func(r recorded) string { return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") }, false},
		{"naver", func(hc *http.Client) (Provider, error) { return NewNaver("CID", "SEC", WithHTTPClient(hc)) },
			"/oauth2.0/token", func(r recorded) string { q, _ := url.ParseQuery(r.Body); return q.Get("access_token") }, false},
		{"twitch", func(hc *http.Client) (Provider, error) { return NewTwitch("CID", "SEC", WithHTTPClient(hc)) },
			"/oauth2/revoke", formToken, false},
	}
	for _, tc := range cases {
		for _, tok := range []Token{{AccessToken: "AT", RefreshToken: "RT"}, {AccessToken: "AT"}} {
			name := tc.name + "/with refresh token"
			if tok.RefreshToken == "" {
				name = tc.name + "/access token only"
			}
			t.Run(name, func(t *testing.T) {
				f, hc := newFakeServer(t)
				f.json(tc.path, 200, `{}`)
				p, err := tc.new(hc)
				require.NoError(t, err)
				require.NoError(t, p.Revoke(context.Background(), &tok))
				reqs := f.requests(tc.path)
				require.Len(t, reqs, 1, "one revocation request, no fallback round trip")
				want := "AT"
				if tok.RefreshToken != "" && tc.revokesRefresh {
					want = "RT"
				}
				assert.Equal(t, want, tc.sent(reqs[0]))
			})
		}
	}

	t.Run("nothing to revoke", func(t *testing.T) {
		f, hc := newFakeServer(t)
		twitch, err := NewTwitch("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		google, err := NewGoogle("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		github, err := NewGitHub("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		for _, c := range []struct {
			p   Provider
			tok *Token
		}{
			{twitch, &Token{RefreshToken: "RT"}}, // Twitch cannot revoke refresh tokens
			{google, &Token{}},
			{google, nil},
			{github, &Token{AccessToken: "AT", RefreshToken: "RT"}}, // no revocation endpoint
		} {
			err := c.p.Revoke(context.Background(), c.tok)
			assert.ErrorIs(t, err, ErrRevokeNotSupported, c.p.Name())
		}
		assert.Empty(t, f.seen, "no request")
	})
}

// formToken is the RFC 7009 "token" form parameter of a revocation request.
func formToken(r recorded) string {
	q, _ := url.ParseQuery(r.Body)
	return q.Get("token")
}
