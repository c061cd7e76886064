package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/providertest"
)

// TestConfigEndpointScheme: every endpoint of a Config must be https, or
// plain http on a loopback host (127.0.0.0/8, ::1, localhost) for local
// development servers; anything else would send the client secret, codes
// and tokens in clear text.
func TestConfigEndpointScheme(t *testing.T) {
	fields := map[string]func(*config, string){
		"authorize": func(c *config, v string) { c.AuthorizeEndpoint = v },
		"token":     func(c *config, v string) { c.AccessTokenEndpoint = v },
		"refresh":   func(c *config, v string) { c.RefreshTokenEndpoint = v },
		"revoke": func(c *config, v string) {
			c.RevokeTokenEndpoint = v
			c.RevocationEndpointAuthMethod = ClientSecretPost
		},
	}
	bad := []string{
		"http://provider.example/token",
		"http://10.0.0.1/token",
		"http://[::2]/token",
		"http://localhost.example/token",
		"http://127.0.0.1.example/token",
		"http://0.0.0.0/token",
		"HTTP://provider.example/token",
		"ws://127.0.0.1/token",
	}
	good := []string{
		"https://provider.example/token",
		"http://127.0.0.1:8080/token",
		"http://127.9.9.9/token",
		"http://[::1]:9000/token",
		"http://localhost/token",
		"http://localhost:3000/token",
	}
	for name, set := range fields {
		for _, v := range bad {
			t.Run(name+"/"+v, func(t *testing.T) {
				cfg := config{ClientID: "CID", ClientSecret: "SEC",
					AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL}
				set(&cfg, v)
				c, err := newOAuth2(cfg)
				assert.ErrorIs(t, err, ErrInvalidConfig)
				assert.Nil(t, c)
			})
		}
		for _, v := range good {
			t.Run(name+"/"+v, func(t *testing.T) {
				cfg := config{ClientID: "CID", ClientSecret: "SEC",
					AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL}
				set(&cfg, v)
				_, err := newOAuth2(cfg)
				assert.NoError(t, err)
			})
		}
	}
}

// constructor builds one client of the package with id and secret, the
// caller's options appended; it reports only the error.
type constructor struct {
	name string
	// noSecret: the client has no secret argument (Apple signs its own).
	noSecret bool
	// discovers: the constructor fetches metadata; requests counts them.
	discovers bool
	new       func(t *testing.T, id, secret string, opts ...Option) error
	requests  func() int64
}

// constructors lists every client constructor of the package. The
// discovering ones talk to loopback servers: DiscoverOpenID and
// DiscoverAuthorizationServer to a real http://127.0.0.1 issuer, Okta to its
// production host through the loopback transport.
func constructors(t *testing.T) []constructor {
	t.Helper()
	_, p8 := appleKeyPEM(t)
	var hits atomic.Int64
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(discoveryDoc(issuer))
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL
	okta, oktaHC := newFakeServer(t)
	okta.json("/.well-known/openid-configuration", 200, oktaDoc("https://foo.okta.com"))
	okta.json("/oauth2/default/.well-known/openid-configuration", 200, oktaDoc("https://foo.okta.com/oauth2/default"))
	oktaHits := func() int64 {
		return int64(len(okta.requests("/.well-known/openid-configuration")) +
			len(okta.requests("/oauth2/default/.well-known/openid-configuration")))
	}

	static := func(name string, f func(id, secret string, opts ...Option) error) constructor {
		return constructor{name: name, new: func(_ *testing.T, id, secret string, opts ...Option) error {
			return f(id, secret, opts...)
		}}
	}
	return []constructor{
		static("NewOAuth2", func(id, secret string, opts ...Option) error {
			cfg := config{ClientID: id, ClientSecret: secret, AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL}
			for _, o := range opts {
				o(&cfg)
			}
			_, err := newOAuth2(cfg)
			return err
		}),
		static("NewBitbucket", func(id, s string, o ...Option) error { _, err := NewBitbucket(id, s, o...); return err }),
		static("NewDiscord", func(id, s string, o ...Option) error { _, err := NewDiscord(id, s, o...); return err }),
		static("NewFacebook", func(id, s string, o ...Option) error { _, err := NewFacebook(id, s, o...); return err }),
		static("NewFranceConnect", func(id, s string, o ...Option) error { _, err := NewFranceConnect(id, s, o...); return err }),
		static("NewFranceConnect integration", func(id, s string, o ...Option) error {
			_, err := NewFranceConnect(id, s, append([]Option{WithFranceConnectIntegration()}, o...)...)
			return err
		}),
		static("NewGitHub", func(id, s string, o ...Option) error { _, err := NewGitHub(id, s, o...); return err }),
		static("NewGitLab", func(id, s string, o ...Option) error { _, err := NewGitLab(id, s, o...); return err }),
		static("NewGitLabAt", func(id, s string, o ...Option) error {
			_, err := NewGitLabAt("https://git.example.com/gitlab", id, s, o...)
			return err
		}),
		static("NewGoogle", func(id, s string, o ...Option) error { _, err := NewGoogle(id, s, o...); return err }),
		static("NewKakao", func(id, s string, o ...Option) error { _, err := NewKakao(id, s, o...); return err }),
		static("NewLinkedIn", func(id, s string, o ...Option) error { _, err := NewLinkedIn(id, s, o...); return err }),
		static("NewMicrosoft", func(id, s string, o ...Option) error {
			_, err := NewMicrosoft("contoso.onmicrosoft.com", id, s, o...)
			return err
		}),
		static("NewNaver", func(id, s string, o ...Option) error { _, err := NewNaver(id, s, o...); return err }),
		static("NewReddit", func(id, s string, o ...Option) error { _, err := NewReddit(id, s, o...); return err }),
		static("NewShopify", func(id, s string, o ...Option) error { _, err := NewShopify("my-shop", id, s, o...); return err }),
		static("NewShopify WithShopifyAPIVersion", func(id, s string, o ...Option) error {
			_, err := NewShopify("my-shop", id, s, append([]Option{WithShopifyAPIVersion("2025-10")}, o...)...)
			return err
		}),
		static("NewSlack", func(id, s string, o ...Option) error { _, err := NewSlack(id, s, o...); return err }),
		static("NewTwitch", func(id, s string, o ...Option) error { _, err := NewTwitch(id, s, o...); return err }),
		{name: "NewApple", noSecret: true, new: func(_ *testing.T, id, _ string, o ...Option) error {
			_, err := NewApple(id, "TEAM123456", "KEY1234567", p8, o...)
			return err
		}},
		{name: "DiscoverOpenID", discovers: true, requests: hits.Load, new: func(t *testing.T, id, s string, o ...Option) error {
			_, err := DiscoverOpenID(context.Background(), issuer, id, s, o...)
			return err
		}},
		{name: "DiscoverAuthorizationServer", discovers: true, requests: hits.Load, new: func(t *testing.T, id, s string, o ...Option) error {
			_, err := DiscoverAuthorizationServer(context.Background(), issuer, id, s, o...)
			return err
		}},
		{name: "DiscoverOkta", discovers: true, requests: oktaHits, new: func(t *testing.T, id, s string, o ...Option) error {
			_, err := DiscoverOkta(context.Background(), "foo.okta.com", id, s, append([]Option{WithHTTPClient(oktaHC)}, o...)...)
			return err
		}},
		{name: "DiscoverOktaAuthServer", discovers: true, requests: oktaHits, new: func(t *testing.T, id, s string, o ...Option) error {
			_, err := DiscoverOktaAuthServer(context.Background(), "foo.okta.com", "default", id, s, append([]Option{WithHTTPClient(oktaHC)}, o...)...)
			return err
		}},
	}
}

// TestConstructorsAcceptCredentials: the baseline of the tables below, so
// their failures are about the one argument they change.
func TestConstructorsAcceptCredentials(t *testing.T) {
	for _, c := range constructors(t) {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, c.new(t, "CID", "SEC"))
		})
	}
}

// TestConstructorsRejectEmptyCredentials: an empty client id, or an empty
// secret for client_secret_basic/client_secret_post, is a misconfiguration
// (ErrInvalidConfig) for every constructor, not an authorization URL with
// "client_id=" or a token request with an empty secret. Discovery refuses
// the empty id before any request.
func TestConstructorsRejectEmptyCredentials(t *testing.T) {
	for _, c := range constructors(t) {
		for _, id := range []string{"", " \t"} {
			t.Run(c.name+"/blank id "+strconv.Quote(id), func(t *testing.T) {
				var before int64
				if c.discovers {
					before = c.requests()
				}
				err := c.new(t, id, "SEC")
				assert.ErrorIs(t, err, ErrInvalidConfig)
				if c.discovers {
					assert.Equal(t, before, c.requests(), "no discovery request for an empty id")
				}
			})
		}
		if c.noSecret {
			continue
		}
		t.Run(c.name+"/empty secret", func(t *testing.T) {
			assert.ErrorIs(t, c.new(t, "CID", ""), ErrInvalidConfig)
		})
	}
}

// TestConstructorsRejectPlainHTTPEndpoints: whatever a constructor builds,
// an Option that points an endpoint at plain http on a public host is
// refused by the same validation.
func TestConstructorsRejectPlainHTTPEndpoints(t *testing.T) {
	for _, c := range constructors(t) {
		if c.discovers {
			continue // the metadata replaces the endpoints: see TestDiscoveryPlainHTTPEndpoints
		}
		for _, field := range []string{"authorize", "token"} {
			t.Run(c.name+"/"+field, func(t *testing.T) {
				err := c.new(t, "CID", "SEC", func(cfg *config) {
					if field == "authorize" {
						cfg.AuthorizeEndpoint = "http://provider.example/authorize"
					} else {
						cfg.AccessTokenEndpoint = "http://provider.example/token"
					}
				})
				assert.ErrorIs(t, err, ErrInvalidConfig)
			})
		}
	}
}

// TestInjectedClientNeverFollowsRedirects: an application's *http.Client
// without CheckRedirect (so one that follows redirects, re-sending a 307/308
// POST body with the client secret and the code or refresh token) is still
// used without following them: every call fails with ErrRedirect after one
// request, and the redirect target receives nothing. The caller's client is
// left as it was.
func TestInjectedClientNeverFollowsRedirects(t *testing.T) {
	type pair struct {
		from     *httptest.Server
		fromRec  *coreRecorder
		toRec    *coreRecorder
		injected *http.Client
	}
	// newPair starts a server that redirects every request with status to a
	// second server; both record what they see.
	newPair := func(t *testing.T, status int) pair {
		p := pair{fromRec: &coreRecorder{}, toRec: &coreRecorder{}, injected: &http.Client{}}
		to := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.toRec.add(r)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(coreAccessTokenJSON))
		}))
		t.Cleanup(to.Close)
		p.from = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.fromRec.add(r)
			http.Redirect(w, r, to.URL+r.URL.Path, status)
		}))
		t.Cleanup(p.from.Close)
		return p
	}
	oauth2At := func(t *testing.T, p pair) *OAuth2 {
		c, err := newOAuth2(config{
			ClientID: coreClientID, ClientSecret: coreClientSecret,
			AuthorizeEndpoint:   p.from.URL + "/authorize",
			AccessTokenEndpoint: p.from.URL + "/token", RefreshTokenEndpoint: p.from.URL + "/token",
			RevokeTokenEndpoint: p.from.URL + "/revoke", RevocationEndpointAuthMethod: ClientSecretBasic,
			HTTPClient: p.injected,
		})
		require.NoError(t, err)
		return c
	}
	cases := []struct {
		name string
		call func(t *testing.T, p pair) error
		op   error
	}{
		{"AccessToken", func(t *testing.T, p pair) error {
			_, err := oauth2At(t, p).AccessToken(context.Background(), "CODE", coreRedirectURI, "VERIFIER")
			return err
		}, ErrGetAccessToken},
		{"RefreshToken", func(t *testing.T, p pair) error {
			_, err := oauth2At(t, p).RefreshToken(context.Background(), "REFRESH_TOKEN")
			return err
		}, ErrRefreshToken},
		{"RevokeToken", func(t *testing.T, p pair) error {
			return oauth2At(t, p).RevokeToken(context.Background(), "REFRESH_TOKEN", "refresh_token")
		}, ErrRevokeToken},
		{"GitHub IDEmail", func(t *testing.T, p pair) error {
			// The loopback transport sends the redirect target back to
			// p.from too, so a followed redirect shows as a second request.
			p.injected.Transport = &providertest.Loopback{Target: p.from.Listener.Addr().String()}
			gh, err := NewGitHub("CID", "SEC", WithHTTPClient(p.injected))
			require.NoError(t, err)
			_, _, err = gh.IDEmail(context.Background(), "ACCESS_TOKEN")
			return err
		}, ErrGetIDEmail},
		{"DiscoverOpenID", func(t *testing.T, p pair) error {
			_, err := DiscoverOpenID(context.Background(), p.from.URL, "CID", "SEC", WithHTTPClient(p.injected))
			return err
		}, ErrOpenIDConfiguration},
		{"JWKS", func(t *testing.T, p pair) error {
			var issuer string
			idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(discoveryDoc(issuer, func(d map[string]any) { d["jwks_uri"] = p.from.URL + "/jwks" }))
			}))
			t.Cleanup(idp.Close)
			issuer = idp.URL
			o, err := DiscoverOpenID(context.Background(), issuer, "CID", "SEC", WithHTTPClient(p.injected))
			require.NoError(t, err)
			idt := newRSAKey(t, "k1").sign(t, idTokenClaims(issuer, "CID", "N", time.Now()))
			_, err = o.VerifyIDToken(context.Background(), &Token{IDToken: idt}, "N")
			assert.ErrorIs(t, err, ErrIDToken)
			assert.ErrorIs(t, err, ErrIDTokenSignature)
			// VerifyIDToken reports the failure as a signature one; the key
			// set underneath keeps the typed cause.
			_, err = remoteKeySet(&o.cfg, p.from.URL+"/jwks").VerifySignature(context.Background(), idt)
			return &RequestError{Op: ErrIDToken, Err: err}
		}, ErrIDToken},
	}
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		for _, tc := range cases {
			t.Run(http.StatusText(status)+"/"+tc.name, func(t *testing.T) {
				p := newPair(t, status)
				err := tc.call(t, p)
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.op)
				assert.ErrorIs(t, err, ErrRedirect)
				var re *RequestError
				assert.ErrorAs(t, err, &re)
				assert.Equal(t, 0, p.toRec.count(), "the redirect target must receive nothing")
				if tc.name == "JWKS" {
					assert.Equal(t, 2, p.fromRec.count(), "one JWKS request per key-set lookup")
				} else {
					assert.Equal(t, 1, p.fromRec.count(), "exactly one request, not followed")
				}
				assert.Nil(t, p.injected.CheckRedirect, "the caller's client is not modified")
				assert.NotContains(t, err.Error(), coreClientSecret)
			})
		}
	}
}

// TestConfigProviderOptions: a provider-specific option is refused, with
// ErrInvalidConfig, by every other constructor, so a misplaced option is a
// start-up error rather than a setting silently ignored; its own
// constructor applies it.
func TestConfigProviderOptions(t *testing.T) {
	cfg := Config{ClientID: "CID", ClientSecret: "SEC", AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL}
	for name, o := range map[string]Option{
		"WithFacebookGraphVersion":     WithFacebookGraphVersion("v24.0"),
		"WithShopifyAPIVersion":        WithShopifyAPIVersion("2026-01"),
		"WithDiscordAPIVersion":        WithDiscordAPIVersion(10),
		"WithMicrosoftGraphVersion":    WithMicrosoftGraphVersion("beta"),
		"WithFranceConnectIntegration": WithFranceConnectIntegration(),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(cfg, o)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), name)
			_, err = NewGitHub("CID", "SEC", o)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	_, err := NewFacebook("CID", "SEC", WithShopifyAPIVersion("2026-01"))
	assert.ErrorIs(t, err, ErrInvalidConfig)

	d, err := NewDiscord("CID", "SEC", WithDiscordAPIVersion(9))
	require.NoError(t, err)
	assert.Equal(t, 9, d.APIVersion())
	assert.Equal(t, "https://discord.com/api/v9/users/@me", d.userURL)
	for _, v := range []int{0, 8, 100, -10} {
		_, err := NewDiscord("CID", "SEC", WithDiscordAPIVersion(v))
		assert.ErrorIs(t, err, ErrInvalidConfig, v)
	}
	m, err := NewMicrosoft("common", "CID", "SEC", WithMicrosoftAnyTenant(), WithMicrosoftGraphVersion("beta"))
	require.NoError(t, err)
	assert.Equal(t, "https://graph.microsoft.com/beta/me", m.graphMe)
	for _, v := range []string{"v2.0", "../v1.0", "beta/x"} {
		_, err := NewMicrosoft("common", "CID", "SEC", WithMicrosoftAnyTenant(), WithMicrosoftGraphVersion(v))
		assert.ErrorIs(t, err, ErrInvalidConfig, v)
	}
}

// TestConfigOptionsOnNew: New takes the same options as the provider
// constructors; a revocation endpoint still needs its auth method.
func TestConfigOptionsOnNew(t *testing.T) {
	cfg := Config{ClientID: "CID", ClientSecret: "SEC", AuthorizeEndpoint: coreAuthorizeURL,
		AccessTokenEndpoint: coreTokenURL, RevokeTokenEndpoint: coreRevokeURL}
	_, err := New(cfg)
	assert.ErrorIs(t, err, ErrMissingRevokeTokenAuthMethod)
	now := func() time.Time { return coreNow }
	c, err := New(cfg, WithRevocationEndpointAuthMethod(None), WithTokenEndpointAuthMethod(ClientSecretBasic),
		WithName("corp"), WithDisplayName("Corp SSO"), WithScopes("a", "b"), WithUserAgent("ua/1"), WithClock(now))
	require.NoError(t, err)
	tm, rm := c.AuthMethods()
	assert.Equal(t, ClientSecretBasic, tm)
	assert.Equal(t, None, rm)
	assert.Equal(t, "corp", c.Name())
	assert.Equal(t, "Corp SSO", c.DisplayName())
	assert.Equal(t, []string{"a", "b"}, c.cfg.BaseScopes)
	assert.Equal(t, "ua/1", c.cfg.UserAgent)
	assert.Equal(t, coreNow, c.cfg.Now())
	assert.Equal(t, cfg, c.Config())
}
