package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testIssuer = "https://id.example.com"

func TestDiscoveryFiefLike(t *testing.T) {
	for _, arg := range []string{"https://example.fief.dev", "https://example.fief.dev/.well-known/openid-configuration"} {
		t.Run(arg, func(t *testing.T) {
			f, hc := newFakeServer(t)
			f.json("/.well-known/openid-configuration", 200, map[string]any{
				"issuer":                                "https://example.fief.dev",
				"authorization_endpoint":                "https://example.fief.dev/authorize",
				"token_endpoint":                        "https://example.fief.dev/api/token",
				"userinfo_endpoint":                     "https://example.fief.dev/api/userinfo",
				"jwks_uri":                              "https://example.fief.dev/.well-known/jwks.json",
				"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
				"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
				"id_token_signing_alg_values_supported": []string{"RS256", "HS256"},
			})
			o, err := DiscoverOpenID(context.Background(), arg, "CLIENT_ID", "CLIENT_SECRET", WithHTTPClient(hc))
			require.NoError(t, err)
			cfg := o.cfg
			assert.Equal(t, "https://example.fief.dev/authorize", cfg.AuthorizeEndpoint)
			assert.Equal(t, "https://example.fief.dev/api/token", cfg.AccessTokenEndpoint)
			assert.Equal(t, "https://example.fief.dev/api/token", cfg.RefreshTokenEndpoint)
			assert.Empty(t, cfg.RevokeTokenEndpoint)
			assert.Equal(t, ClientSecretBasic, cfg.TokenEndpointAuthMethod)
			assert.Equal(t, []string{"openid", "email"}, cfg.BaseScopes)
			assert.Equal(t, "openid", o.Name())
			assert.Equal(t, "https://example.fief.dev", o.Capabilities().Issuer)
			assert.True(t, o.Capabilities().Refresh)
			assert.False(t, o.Capabilities().Revoke)
			assert.True(t, o.Capabilities().Nonce)
			assert.Contains(t, string(o.Metadata()), `"jwks_uri"`)

			reqs := f.requests("/.well-known/openid-configuration")
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodGet, reqs[0].Method)
			assert.Equal(t, "example.fief.dev", reqs[0].Host)
			assert.Equal(t, "application/json", reqs[0].Header.Get("Accept"))
			assert.Equal(t, DefaultUserAgent, reqs[0].Header.Get("User-Agent"))
		})
	}
}

func TestDiscoveryErrors(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		doc     any
		hc      *http.Client
		want    []error
		status0 int
	}{
		{name: "http 400", status: 400, doc: `<html>bad</html>`, want: []error{ErrOpenIDConfiguration, ErrOAuth2}, status0: 400},
		{name: "transport error", hc: failingClient(errors.New("connection refused")), want: []error{ErrOpenIDConfiguration}},
		{name: "not json", status: 200, doc: `<html>`, want: []error{ErrOpenIDConfiguration, ErrInvalidResponse}},
		{name: "json array", status: 200, doc: `[]`, want: []error{ErrOpenIDConfiguration, ErrInvalidResponse}},
		{name: "wrong member type", status: 200, doc: discoveryDoc(testIssuer, func(d map[string]any) { d["grant_types_supported"] = "refresh_token" }),
			want: []error{ErrOpenIDConfiguration, ErrInvalidResponse}},
		{name: "issuer mismatch", status: 200, doc: discoveryDoc("https://evil.example"), want: []error{ErrOpenIDConfiguration, ErrDiscoveryIssuerMismatch}},
		{name: "issuer trailing slash", status: 200, doc: discoveryDoc(testIssuer, func(d map[string]any) { d["issuer"] = testIssuer + "/" }),
			want: []error{ErrOpenIDConfiguration, ErrDiscoveryIssuerMismatch}},
		{name: "missing issuer", status: 200, doc: discoveryDoc(testIssuer, func(d map[string]any) { delete(d, "issuer") }),
			want: []error{ErrOpenIDConfiguration, ErrDiscoveryIssuerMismatch}},
		{name: "missing token endpoint", status: 200, doc: discoveryDoc(testIssuer, func(d map[string]any) { delete(d, "token_endpoint") }),
			want: []error{ErrOpenIDConfiguration, ErrInvalidResponse}},
		{name: "missing jwks_uri", status: 200, doc: discoveryDoc(testIssuer, func(d map[string]any) { delete(d, "jwks_uri") }),
			want: []error{ErrOpenIDConfiguration, ErrInvalidResponse}},
		{name: "relative endpoint", status: 200, doc: discoveryDoc(testIssuer, func(d map[string]any) { d["authorization_endpoint"] = "/authorize" }),
			want: []error{ErrOpenIDConfiguration, ErrInvalidConfig}},
		{name: "only unsupported auth methods", status: 200, doc: discoveryDoc(testIssuer, func(d map[string]any) {
			d["token_endpoint_auth_methods_supported"] = []string{"private_key_jwt", "none"}
		}), want: []error{ErrOpenIDConfiguration, ErrNotSupportedAuthMethod}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hc := tc.hc
			if hc == nil {
				var f *fakeServer
				f, hc = newFakeServer(t)
				f.json("/.well-known/openid-configuration", tc.status, tc.doc)
			}
			o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SECRET", WithHTTPClient(hc))
			require.Error(t, err)
			assert.Nil(t, o)
			var re *RequestError
			require.ErrorAs(t, err, &re)
			for _, w := range tc.want {
				assert.ErrorIs(t, err, w)
			}
			assert.Equal(t, tc.status0, StatusCode(err))
			assert.NotContains(t, err.Error(), "SECRET")
		})
	}
}

func TestDiscoveryAuthMethods(t *testing.T) {
	cases := []struct {
		name       string
		opts       []Option
		mod        func(map[string]any)
		token      AuthMethod
		refresh    bool
		revoke     string
		revokeAuth AuthMethod
	}{
		{name: "defaults", mod: func(map[string]any) {}, token: ClientSecretBasic},
		{name: "#333 unsupported first method", mod: func(d map[string]any) {
			d["token_endpoint_auth_methods_supported"] = []string{"private_key_jwt", "client_secret_post"}
		}, token: ClientSecretPost},
		{name: "#295 missing grant_types_supported", mod: func(d map[string]any) { delete(d, "grant_types_supported") }, token: ClientSecretBasic},
		{name: "grant types without refresh", mod: func(d map[string]any) { d["grant_types_supported"] = []string{"authorization_code"} }, token: ClientSecretBasic},
		{name: "refresh and revocation", mod: func(d map[string]any) {
			d["grant_types_supported"] = []string{"authorization_code", "refresh_token"}
			d["revocation_endpoint"] = testIssuer + "/revoke"
		}, token: ClientSecretBasic, refresh: true, revoke: testIssuer + "/revoke", revokeAuth: ClientSecretBasic},
		{name: "revocation defaults to the token method", mod: func(d map[string]any) {
			d["token_endpoint_auth_methods_supported"] = []string{"client_secret_post"}
			d["revocation_endpoint"] = testIssuer + "/revoke"
		}, token: ClientSecretPost, revoke: testIssuer + "/revoke", revokeAuth: ClientSecretPost},
		{name: "revocation prefers the token method", mod: func(d map[string]any) {
			d["token_endpoint_auth_methods_supported"] = []string{"client_secret_post"}
			d["revocation_endpoint"] = testIssuer + "/revoke"
			d["revocation_endpoint_auth_methods_supported"] = []string{"client_secret_basic", "client_secret_post"}
		}, token: ClientSecretPost, revoke: testIssuer + "/revoke", revokeAuth: ClientSecretPost},
		{name: "revocation picks first supported", mod: func(d map[string]any) {
			d["revocation_endpoint"] = testIssuer + "/revoke"
			d["revocation_endpoint_auth_methods_supported"] = []string{"private_key_jwt", "client_secret_post"}
		}, token: ClientSecretBasic, revoke: testIssuer + "/revoke", revokeAuth: ClientSecretPost},
		{name: "#346 revocation none only is public", mod: func(d map[string]any) {
			d["revocation_endpoint"] = testIssuer + "/revoke"
			d["revocation_endpoint_auth_methods_supported"] = []string{"none"}
		}, token: ClientSecretBasic, revoke: testIssuer + "/revoke", revokeAuth: None},
		{name: "revocation prefers a secret method over none", mod: func(d map[string]any) {
			d["revocation_endpoint"] = testIssuer + "/revoke"
			d["revocation_endpoint_auth_methods_supported"] = []string{"none", "client_secret_post"}
		}, token: ClientSecretBasic, revoke: testIssuer + "/revoke", revokeAuth: ClientSecretPost},
		{name: "revocation with only unusable methods disables revocation", mod: func(d map[string]any) {
			d["revocation_endpoint"] = testIssuer + "/revoke"
			d["revocation_endpoint_auth_methods_supported"] = []string{"private_key_jwt"}
		}, token: ClientSecretBasic},
		{name: "explicit method survives a list that puts another first", opts: []Option{WithTokenEndpointAuthMethod(ClientSecretBasic)}, mod: func(d map[string]any) {
			d["token_endpoint_auth_methods_supported"] = []string{"client_secret_post", "client_secret_basic"}
			d["revocation_endpoint"] = testIssuer + "/revoke"
		}, token: ClientSecretBasic, revoke: testIssuer + "/revoke", revokeAuth: ClientSecretBasic},
		{name: "without an explicit method the first listed wins", mod: func(d map[string]any) {
			d["token_endpoint_auth_methods_supported"] = []string{"client_secret_post", "client_secret_basic"}
		}, token: ClientSecretPost},
		{name: "explicit method when the list is absent", opts: []Option{WithTokenEndpointAuthMethod(ClientSecretPost)}, mod: func(map[string]any) {},
			token: ClientSecretPost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, hc := newFakeServer(t)
			f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, tc.mod))
			o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", append([]Option{WithHTTPClient(hc)}, tc.opts...)...)
			require.NoError(t, err)
			cfg := o.cfg
			assert.Equal(t, tc.token, cfg.TokenEndpointAuthMethod)
			assert.Equal(t, tc.refresh, o.Capabilities().Refresh)
			assert.Equal(t, tc.revoke, cfg.RevokeTokenEndpoint)
			assert.Equal(t, tc.revokeAuth, cfg.RevocationEndpointAuthMethod)
			if tc.revoke == "" {
				assert.ErrorIs(t, o.RevokeToken(context.Background(), "TOK", ""), ErrRevokeNotSupported)
			}
		})
	}
}

// TestDiscoveryExplicitAuthMethodRefused: a method the caller is registered
// for but the server does not list is refused at discovery, as a typed
// error, before any token request.
func TestDiscoveryExplicitAuthMethodRefused(t *testing.T) {
	cases := []struct {
		name    string
		listed  []string
		method  AuthMethod
		refused AuthMethod
	}{
		{"basic, server lists post only", []string{"client_secret_post"}, ClientSecretBasic, ClientSecretBasic},
		{"post, server lists basic only", []string{"client_secret_basic"}, ClientSecretPost, ClientSecretPost},
		{"listed but not implemented", []string{"tls_client_auth"}, "tls_client_auth", "tls_client_auth"},
		{"none is not a token endpoint method", []string{"none", "client_secret_basic"}, None, None},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, hc := newFakeServer(t)
			f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
				d["token_endpoint_auth_methods_supported"] = tc.listed
			}))
			f.json("/.well-known/oauth-authorization-server", 200, discoveryDoc(testIssuer, func(d map[string]any) {
				d["token_endpoint_auth_methods_supported"] = tc.listed
			}))
			o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc), WithTokenEndpointAuthMethod(tc.method))
			assert.Nil(t, o)
			a, aerr := DiscoverAuthorizationServer(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc), WithTokenEndpointAuthMethod(tc.method))
			assert.Nil(t, a)
			for _, err := range []error{err, aerr} {
				var re *RequestError
				require.ErrorAs(t, err, &re)
				assert.ErrorIs(t, err, ErrOpenIDConfiguration)
				assert.ErrorIs(t, err, ErrNotSupportedAuthMethod)
				var nse *NotSupportedAuthMethodError
				require.ErrorAs(t, err, &nse)
				assert.Equal(t, tc.refused, nse.Method)
			}
			assert.Empty(t, f.requests("/token"))
		})
	}
}

// TestDiscoveryExplicitAuthMethodUsed: the method chosen by the caller is
// the one the token and revocation requests carry.
func TestDiscoveryExplicitAuthMethodUsed(t *testing.T) {
	f, hc := newFakeServer(t)
	f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
		d["token_endpoint_auth_methods_supported"] = []string{"client_secret_post", "client_secret_basic"}
		d["revocation_endpoint"] = testIssuer + "/revoke"
	}))
	f.json("/token", 200, `{"access_token":"AT","token_type":"Bearer"}`)
	f.json("/revoke", 200, ``)
	o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc), WithTokenEndpointAuthMethod(ClientSecretBasic))
	require.NoError(t, err)
	_, err = o.AccessToken(context.Background(), "CODE", "https://app/cb", "VERIFIER")
	require.NoError(t, err)
	require.NoError(t, o.RevokeToken(context.Background(), "AT", "access_token"))
	for _, path := range []string{"/token", "/revoke"} {
		reqs := f.requests(path)
		require.Len(t, reqs, 1, path)
		user, pass, ok := (&http.Request{Header: reqs[0].Header}).BasicAuth()
		assert.True(t, ok, path)
		assert.Equal(t, "CID", user)
		assert.Equal(t, "SEC", pass)
		form, err := url.ParseQuery(reqs[0].Body)
		require.NoError(t, err)
		assert.NotContains(t, form, "client_secret", path)
	}
}

// TestDiscoveryRevocationNone: a revocation endpoint that accepts only
// "none" is called as a public client would call it.
func TestDiscoveryRevocationNone(t *testing.T) {
	f, hc := newFakeServer(t)
	f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
		d["revocation_endpoint"] = testIssuer + "/revoke"
		d["revocation_endpoint_auth_methods_supported"] = []string{"none"}
	}))
	f.json("/revoke", 200, ``)
	o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	require.True(t, o.Capabilities().Revoke)
	require.NoError(t, o.RevokeToken(context.Background(), "RT", "refresh_token"))
	reqs := f.requests("/revoke")
	require.Len(t, reqs, 1)
	assertRequest(t, reqs[0], http.MethodPost, "id.example.com", "/revoke")
	assert.Empty(t, reqs[0].Header.Values("Authorization"))
	form, err := url.ParseQuery(reqs[0].Body)
	require.NoError(t, err)
	assert.Equal(t, url.Values{"token": {"RT"}, "token_type_hint": {"refresh_token"}, "client_id": {"CID"}}, form)
	assert.NotContains(t, reqs[0].Body, "SEC")
}

// TestDiscoveryIssParameter covers RFC 9207's
// authorization_response_iss_parameter_supported.
func TestDiscoveryIssParameter(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want bool
	}{{"true", true, true}, {"false", false, false}, {"absent", nil, false}} {
		t.Run(tc.name, func(t *testing.T) {
			f, hc := newFakeServer(t)
			doc := discoveryDoc(testIssuer, func(d map[string]any) {
				if tc.v != nil {
					d["authorization_response_iss_parameter_supported"] = tc.v
				}
			})
			f.json("/.well-known/openid-configuration", 200, doc)
			f.json("/.well-known/oauth-authorization-server", 200, doc)
			o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			a, err := DiscoverAuthorizationServer(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			for _, r := range []Provider{o, a} {
				assert.Equal(t, tc.want, r.Capabilities().IssParameter)
			}
		})
	}
	t.Run("not a boolean", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
			d["authorization_response_iss_parameter_supported"] = "true"
		}))
		_, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
		assert.ErrorIs(t, err, ErrOpenIDConfiguration)
		assert.ErrorIs(t, err, ErrInvalidResponse)
	})
}

func TestDiscoveryIssuerArgument(t *testing.T) {
	for _, bad := range []string{
		"http://id.example.com", "id.example.com", "https://id.example.com?x=1", "https://id.example.com#f",
		"https://user@id.example.com", "", "https://",
	} {
		t.Run(bad, func(t *testing.T) {
			_, err := DiscoverOpenID(context.Background(), bad, "CID", "SEC", WithHTTPClient(failingClient(errors.New("must not be called"))))
			assert.ErrorIs(t, err, ErrInvalidConfig)
			_, err = DiscoverAuthorizationServer(context.Background(), bad, "CID", "SEC", WithHTTPClient(failingClient(errors.New("must not be called"))))
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

func TestDiscoveryAuthorizationServer(t *testing.T) {
	cases := []struct{ issuer, path string }{
		{"https://as.example", "/.well-known/oauth-authorization-server"},
		{"https://as.example/tenant1", "/.well-known/oauth-authorization-server/tenant1"},
	}
	for _, tc := range cases {
		t.Run(tc.issuer, func(t *testing.T) {
			f, hc := newFakeServer(t)
			f.json(tc.path, 200, map[string]any{
				"issuer":                 tc.issuer,
				"authorization_endpoint": "https://as.example/authorize",
				"token_endpoint":         "https://as.example/token",
				"revocation_endpoint":    "https://as.example/revoke",
			})
			a, err := DiscoverAuthorizationServer(context.Background(), tc.issuer, "CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			assert.Equal(t, tc.issuer, a.Capabilities().Issuer)
			assert.Equal(t, "https://as.example/token", a.cfg.AccessTokenEndpoint)
			assert.Equal(t, ClientSecretBasic, a.cfg.RevocationEndpointAuthMethod)
			assert.Equal(t, "oauth2", a.Name())
			require.Len(t, f.requests(tc.path), 1)
			assert.Equal(t, "as.example", f.requests(tc.path)[0].Host)
		})
	}
	t.Run("issuer mismatch", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/oauth-authorization-server", 200, map[string]any{
			"issuer": "https://evil.example", "authorization_endpoint": "https://as.example/a", "token_endpoint": "https://as.example/t",
		})
		_, err := DiscoverAuthorizationServer(context.Background(), "https://as.example", "CID", "SEC", WithHTTPClient(hc))
		assert.ErrorIs(t, err, ErrOpenIDConfiguration)
		assert.ErrorIs(t, err, ErrDiscoveryIssuerMismatch)
	})
}

// TestDiscoveryPlainHTTPEndpoints: metadata that sends any endpoint the
// client would call (authorize, token, UserInfo, JWKS, revocation) to plain
// http on a public host is refused as a whole, by every discovering
// constructor, before the client exists.
func TestDiscoveryPlainHTTPEndpoints(t *testing.T) {
	discover := map[string]func(hc *http.Client) error{
		"DiscoverOpenID": func(hc *http.Client) error {
			_, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
			return err
		},
		"DiscoverAuthorizationServer": func(hc *http.Client) error {
			_, err := DiscoverAuthorizationServer(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
			return err
		},
		"NewOkta": func(hc *http.Client) error {
			_, err := DiscoverOkta(context.Background(), "id.example.com", "CID", "SEC", WithHTTPClient(hc))
			return err
		},
	}
	members := []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "revocation_endpoint"}
	for name, call := range discover {
		for _, m := range members {
			t.Run(name+"/"+m, func(t *testing.T) {
				f, hc := newFakeServer(t)
				doc := discoveryDoc(testIssuer, func(d map[string]any) {
					d["revocation_endpoint"] = testIssuer + "/revoke"
					d[m] = "http://id.example.com/" + m
				})
				f.json("/.well-known/openid-configuration", 200, doc)
				f.json("/.well-known/oauth-authorization-server", 200, doc)
				err := call(hc)
				var re *RequestError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, ErrOpenIDConfiguration, re.Op)
				assert.ErrorIs(t, err, ErrInvalidConfig)
			})
		}
	}
	t.Run("loopback http is allowed", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
			for _, m := range members {
				d[m] = "http://127.0.0.1:9/" + m
			}
		}))
		_, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
	})
}

// newTestOpenID discovers testIssuer from a fake server publishing key.
func newTestOpenID(t testing.TB, keys ...*testKey) (*OpenID, *fakeServer) {
	t.Helper()
	f, hc := newFakeServer(t)
	f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
		d["id_token_signing_alg_values_supported"] = []string{"RS256", "ES256"}
	}))
	f.json("/jwks", 200, jwksBody(t, keys...))
	o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	return o, f
}

func TestOpenIDIDEmail(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		id, email string
		want      []error
		status0   int
	}{
		{name: "int sub, verified", status: 200, body: `{"sub":42,"email":"arthur@camelot.bt","email_verified":true}`, id: "42", email: "arthur@camelot.bt"},
		{name: "large sub stays exact", status: 200, body: `{"sub":1234567890123456789,"email":"a@x","email_verified":"true"}`, id: "1234567890123456789", email: "a@x"},
		{name: "email_verified absent", status: 200, body: `{"sub":"abc","email":"arthur@camelot.bt"}`, id: "abc"},
		{name: "email_verified string false", status: 200, body: `{"sub":"abc","email":"arthur@camelot.bt","email_verified":"false"}`, id: "abc"},
		{name: "email_verified false", status: 200, body: `{"sub":"abc","email":"arthur@camelot.bt","email_verified":false}`, id: "abc"},
		{name: "missing sub", status: 200, body: `{"email":"a@x"}`, want: []error{ErrGetIDEmail, ErrMissingID}},
		{name: "empty sub", status: 200, body: `{"sub":""}`, want: []error{ErrGetIDEmail, ErrMissingID}},
		{name: "object sub", status: 200, body: `{"sub":{}}`, want: []error{ErrGetIDEmail, ErrMissingID}},
		{name: "userinfo 400", status: 400, body: `{"error":"invalid_token"}`, want: []error{ErrGetIDEmail}, status0: 400},
		{name: "userinfo html 500", status: 500, body: `<html>`, want: []error{ErrGetIDEmail}, status0: 500},
		{name: "not json", status: 200, body: `<html>`, want: []error{ErrGetIDEmail, ErrInvalidResponse}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, f := newTestOpenID(t)
			f.json("/userinfo", tc.status, tc.body)
			id, email, err := o.IDEmail(context.Background(), "TOKEN")
			reqs := f.requests("/userinfo")
			require.Len(t, reqs, 1)
			assert.Equal(t, "Bearer TOKEN", reqs[0].Header.Get("Authorization"))
			assert.Equal(t, "application/json", reqs[0].Header.Get("Accept"))
			assert.Equal(t, "id.example.com", reqs[0].Host)
			assert.Empty(t, reqs[0].Query)
			if tc.want != nil {
				for _, w := range tc.want {
					assert.ErrorIs(t, err, w)
				}
				assert.NotErrorIs(t, err, ErrGetProfile)
				assert.Equal(t, tc.status0, StatusCode(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.id, id)
			assert.Equal(t, tc.email, email)
		})
	}
	t.Run("profile is raw userinfo", func(t *testing.T) {
		o, f := newTestOpenID(t)
		f.json("/userinfo", 200, `{"sub":"abc","name":"Arthur"}`)
		p, err := o.Profile(context.Background(), "TOKEN")
		require.NoError(t, err)
		assert.JSONEq(t, `{"sub":"abc","name":"Arthur"}`, string(p))
	})
	t.Run("no userinfo endpoint", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) { delete(d, "userinfo_endpoint") }))
		o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		_, _, err = o.IDEmail(context.Background(), "TOKEN")
		assert.ErrorIs(t, err, ErrIDEmailNotSupported)
	})
}

func TestOpenIDAuthorizationURL(t *testing.T) {
	o, _ := newTestOpenID(t)
	u, err := o.AuthCodeURL("https://app/cb", AuthURLOptions{State: "ST", Nonce: "NONCE"},
		OpenIDParams{Prompt: "login", LoginHint: "a@x", MaxAge: 90 * time.Second, ACRValues: "eidas1"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(u, testIssuer+"/authorize?"))
	for _, p := range []string{"nonce=NONCE", "prompt=login", "login_hint=a%40x", "max_age=90", "acr_values=eidas1", "scope=openid+email", "state=ST"} {
		assert.Contains(t, u, p)
	}
	assert.NotContains(t, u, "display=")
}

func TestIDTokenVerification(t *testing.T) {
	key := newRSAKey(t, "k1")
	other := newRSAKey(t, "k1") // same kid, different key: bad signature
	ec := newECKey(t, "k2")
	now := time.Now()
	cases := []struct {
		name  string
		key   *testKey
		mod   func(map[string]any)
		nonce string
		raw   string
		want  error
		check func(*testing.T, *IDClaims)
	}{
		{name: "valid", key: key, nonce: "N", check: func(t *testing.T, c *IDClaims) {
			assert.Equal(t, &IDClaims{Issuer: testIssuer, Subject: "user-42", Email: "arthur@camelot.bt", EmailVerified: true, Nonce: "N"}, c)
		}},
		{name: "valid ES256, audience list with azp", key: ec, nonce: "N", mod: func(c map[string]any) {
			c["aud"] = []string{"other", "CID"}
			c["azp"] = "CID"
		}},
		{name: "single audience, azp is the client", key: key, nonce: "N", mod: func(c map[string]any) { c["azp"] = "CID" }},
		// OIDC Core §3.1.3.7 items 4-5.
		{name: "audience list without azp", key: key, nonce: "N", mod: func(c map[string]any) { c["aud"] = []string{"other", "CID"} }, want: ErrIDTokenAudience},
		{name: "audience list, azp another client", key: key, nonce: "N", mod: func(c map[string]any) {
			c["aud"] = []string{"other", "CID"}
			c["azp"] = "other"
		}, want: ErrIDTokenAudience},
		{name: "single audience, azp another client", key: key, nonce: "N", mod: func(c map[string]any) { c["azp"] = "other" }, want: ErrIDTokenAudience},
		{name: "azp not a string", key: key, nonce: "N", mod: func(c map[string]any) { c["azp"] = []string{"CID"} }, want: ErrIDTokenAudience},
		{name: "iat within the leeway", key: key, nonce: "N", mod: func(c map[string]any) { c["iat"] = now.Add(4 * time.Minute).Unix() }},
		{name: "iat in the future", key: key, nonce: "N", mod: func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() }, want: ErrIDTokenExpired},
		{name: "email_verified string false", key: key, nonce: "N", mod: func(c map[string]any) { c["email_verified"] = "false" },
			check: func(t *testing.T, c *IDClaims) { assert.False(t, c.EmailVerified) }},
		{name: "email_verified string true", key: key, nonce: "N", mod: func(c map[string]any) { c["email_verified"] = "true" },
			check: func(t *testing.T, c *IDClaims) { assert.True(t, c.EmailVerified) }},
		{name: "wrong issuer", key: key, nonce: "N", mod: func(c map[string]any) { c["iss"] = "https://evil.example" }, want: ErrIDTokenIssuer},
		{name: "wrong audience", key: key, nonce: "N", mod: func(c map[string]any) { c["aud"] = "other" }, want: ErrIDTokenAudience},
		{name: "expired", key: key, nonce: "N", mod: func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }, want: ErrIDTokenExpired},
		{name: "not yet valid", key: key, nonce: "N", mod: func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }, want: ErrIDTokenExpired},
		{name: "bad signature", key: other, nonce: "N", want: ErrIDTokenSignature},
		{name: "unknown key id", key: &testKey{kid: "nope", alg: key.alg, priv: key.priv}, nonce: "N", want: ErrIDTokenSignature},
		{name: "malformed", raw: "not.a.jwt", nonce: "N", want: ErrIDTokenSignature},
		{name: "wrong nonce", key: key, nonce: "OTHER", want: ErrIDTokenNonce},
		{name: "nonce expected but absent", key: key, nonce: "N", mod: func(c map[string]any) { delete(c, "nonce") }, want: ErrIDTokenNonce},
		{name: "empty sub", key: key, nonce: "N", mod: func(c map[string]any) { c["sub"] = "" }, want: ErrIDTokenSubject},
		{name: "missing id token", raw: "-", nonce: "N", want: ErrIDTokenMissing},
	}
	o, f := newTestOpenID(t, key, ec)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw
			if raw == "-" {
				raw = ""
			} else if raw == "" {
				c := idTokenClaims(testIssuer, "CID", "N", now)
				if tc.mod != nil {
					tc.mod(c)
				}
				raw = tc.key.sign(t, c)
			}
			claims, err := o.VerifyIDToken(context.Background(), &Token{AccessToken: "AT", IDToken: raw}, tc.nonce)
			if tc.want != nil {
				require.Error(t, err)
				assert.Nil(t, claims)
				assert.ErrorIs(t, err, ErrIDToken)
				assert.ErrorIs(t, err, ErrOAuth2)
				assert.ErrorIs(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, claims)
			if tc.check != nil {
				tc.check(t, claims)
			}
		})
	}
	jwks := f.requests("/jwks")
	require.NotEmpty(t, jwks)
	assert.Equal(t, DefaultUserAgent, jwks[0].Header.Get("User-Agent"))
	assert.Equal(t, "id.example.com", jwks[0].Host)
	// Keys are cached: only unknown kids and bad signatures refetch.
	assert.Less(t, len(jwks), len(cases))
}

// TestIDTokenIssuedAtUsesClock checks that the iat check reads the
// client's clock (WithClock), not the wall clock: the token is issued ten
// minutes after the configured "now", which is a day in the past.
func TestIDTokenIssuedAtUsesClock(t *testing.T) {
	key := newRSAKey(t, "k1")
	clock := time.Now().Add(-24 * time.Hour)
	f, hc := newFakeServer(t)
	f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer))
	f.json("/jwks", 200, jwksBody(t, key))
	o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc),
		WithClock(func() time.Time { return clock }))
	require.NoError(t, err)

	ok := idTokenClaims(testIssuer, "CID", "N", clock)
	_, err = o.VerifyIDToken(context.Background(), &Token{IDToken: key.sign(t, ok)}, "N")
	require.NoError(t, err)

	future := idTokenClaims(testIssuer, "CID", "N", clock)
	future["iat"] = clock.Add(10 * time.Minute).Unix()
	_, err = o.VerifyIDToken(context.Background(), &Token{IDToken: key.sign(t, future)}, "N")
	assert.ErrorIs(t, err, ErrIDToken)
	assert.ErrorIs(t, err, ErrIDTokenExpired)
}

func TestIDTokenNotRequestedWithoutOpenIDScope(t *testing.T) {
	f, hc := newFakeServer(t)
	f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer))
	o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc), WithScopes("email"))
	require.NoError(t, err)
	claims, err := o.VerifyIDToken(context.Background(), &Token{AccessToken: "AT"}, "N")
	require.NoError(t, err)
	assert.Nil(t, claims)
}

func TestIDTokenJWKSTooLarge(t *testing.T) {
	key := newRSAKey(t, "k1")
	o, f := newTestOpenID(t)
	f.json("/jwks", 200, `{"keys":[],"pad":"`+strings.Repeat("a", MaxResponseBytes)+`"}`)
	_, err := o.VerifyIDToken(context.Background(), &Token{IDToken: key.sign(t, idTokenClaims(testIssuer, "CID", "N", time.Now()))}, "N")
	assert.ErrorIs(t, err, ErrIDTokenSignature)
}

func TestIDTokenCheckSubject(t *testing.T) {
	c := &IDClaims{Subject: "42"}
	assert.NoError(t, checkSubject(c, "42"))
	assert.NoError(t, checkSubject(nil, "42"))
	err := checkSubject(c, "43")
	assert.ErrorIs(t, err, ErrIDToken)
	assert.ErrorIs(t, err, ErrIDTokenSubject)
	assert.ErrorIs(t, checkSubject(&IDClaims{}, ""), ErrIDTokenSubject)
}

// TestDiscoveryPrivateKeyJWT: private_key_jwt is used when the caller
// chooses it and the server lists it, at the token and revocation
// endpoints; it is refused when the server does not list it (an absent
// list means client_secret_basic), and never chosen from the list alone.
func TestDiscoveryPrivateKeyJWT(t *testing.T) {
	key := WithClientAssertionKey(testKeys[jose.ES256], "k1")
	pk := WithTokenEndpointAuthMethod(PrivateKeyJWT)
	t.Run("chosen and listed", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
			d["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic", "private_key_jwt"}
			d["revocation_endpoint"] = testIssuer + "/revoke"
		}))
		f.json("/token", 200, `{"access_token":"AT","token_type":"Bearer"}`)
		f.json("/revoke", 200, ``)
		o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "", WithHTTPClient(hc), pk, key)
		require.NoError(t, err)
		tok, rev := o.AuthMethods()
		assert.Equal(t, PrivateKeyJWT, tok)
		assert.Equal(t, PrivateKeyJWT, rev)
		_, err = o.AccessToken(context.Background(), "CODE", "https://app/cb", "V")
		require.NoError(t, err)
		require.NoError(t, o.RevokeToken(context.Background(), "AT", ""))
		for _, path := range []string{"/token", "/revoke"} {
			reqs := f.requests(path)
			require.Len(t, reqs, 1, path)
			assert.Empty(t, reqs[0].Header.Values("Authorization"))
			form, err := url.ParseQuery(reqs[0].Body)
			require.NoError(t, err)
			assert.Equal(t, ClientAssertionType, form.Get("client_assertion_type"), path)
			jws, err := jose.ParseSignedCompact(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
			require.NoError(t, err)
			payload, err := jws.Verify(testKeys[jose.ES256].Public())
			require.NoError(t, err)
			var claims struct{ Aud string }
			require.NoError(t, json.Unmarshal(payload, &claims))
			assert.Equal(t, testIssuer+"/token", claims.Aud, path)
		}
	})
	t.Run("revocation list without it disables revocation", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
			d["token_endpoint_auth_methods_supported"] = []string{"private_key_jwt"}
			d["revocation_endpoint"] = testIssuer + "/revoke"
			d["revocation_endpoint_auth_methods_supported"] = []string{"client_secret_basic"}
		}))
		o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "", WithHTTPClient(hc), pk, key)
		require.NoError(t, err)
		assert.False(t, o.Capabilities().Revoke)
	})
	for name, listed := range map[string][]string{
		"not listed":  {"client_secret_basic"},
		"list absent": nil,
	} {
		t.Run(name, func(t *testing.T) {
			f, hc := newFakeServer(t)
			f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
				if listed != nil {
					d["token_endpoint_auth_methods_supported"] = listed
				}
			}))
			o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "", WithHTTPClient(hc), pk, key)
			assert.Nil(t, o)
			var ne *NotSupportedAuthMethodError
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, PrivateKeyJWT, ne.Method)
		})
	}
	t.Run("never chosen from the list", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) {
			d["token_endpoint_auth_methods_supported"] = []string{"private_key_jwt", "client_secret_jwt", "client_secret_post"}
		}))
		o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		tok, _ := o.AuthMethods()
		assert.Equal(t, ClientSecretPost, tok)
		// A key without the explicit method is a configuration mistake.
		_, err = DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc), key)
		assert.ErrorIs(t, err, ErrInvalidConfig)
	})
}
