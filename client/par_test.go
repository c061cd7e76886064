package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	coreParURL = "https://www.camelot.bt/par"
	coreParOK  = `{"request_uri":"urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c","expires_in":60}`
	coreParURI = "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c"
)

// withPAR gives a core client the PAR endpoint and turns pushing on.
func withPAR(c *config) {
	c.PushedAuthorizationEndpoint = coreParURL
	c.pushed = true
}

// parOpts and parExtras are the arguments of the pushes below: every parameter
// AuthCodeURL can carry.
var parOpts = AuthURLOptions{
	State: "STATE", Scopes: []string{"openid", "email"}, Nonce: "NONCE",
	CodeChallenge: S256Challenge("VERIFIER-0123456789012345678901234567890123"), CodeChallengeMethod: "S256",
}

var parExtras = Values{"prompt": {"login"}, "login_hint": {"ada@example.com"}}

// assertPushedURL checks that u is the authorize endpoint with client_id
// and the request_uri only.
func assertPushedURL(t *testing.T, u string) {
	t.Helper()
	pu, err := url.Parse(u)
	require.NoError(t, err)
	assert.Equal(t, "https", pu.Scheme)
	assert.Equal(t, coreHost, pu.Host)
	assert.Equal(t, "/authorize", pu.Path)
	assert.Equal(t, url.Values{"client_id": {coreClientID}, "request_uri": {coreParURI}}, pu.Query())
}

// The pushed body holds exactly what AuthCodeURL puts in the URL (state,
// PKCE, nonce, scope, redirect_uri, extras) plus the client's
// authentication; the browser gets client_id and request_uri only.
func TestPushAuthCodeURL(t *testing.T) {
	for _, m := range coreAuthMethods {
		t.Run(string(m), func(t *testing.T) {
			hc, rec := coreServer(t, http.StatusCreated, "application/json", coreParOK)
			c := coreClient(t, m, hc, withPAR)
			assert.True(t, c.Capabilities().PushedAuthorization)

			u, err := c.PushAuthCodeURL(context.Background(), coreRedirectURI, parOpts, parExtras)
			require.NoError(t, err)
			assertPushedURL(t, u)

			plain, err := c.AuthCodeURL(coreRedirectURI, parOpts, parExtras)
			require.NoError(t, err)
			pu, err := url.Parse(plain)
			require.NoError(t, err)
			want := pu.Query()
			for _, k := range []string{"state", "code_challenge", "code_challenge_method", "nonce", "scope", "redirect_uri", "prompt", "login_hint"} {
				require.NotEmpty(t, want.Get(k), k)
			}
			coreAssertFormPost(t, rec.only(t), "/par", m, want)
		})
	}
}

// A client assertion at the PAR endpoint is made for the token endpoint,
// the audience servers accept there.
func TestPushAuthCodeURLPrivateKeyJWT(t *testing.T) {
	hc, rec := coreServer(t, http.StatusCreated, "application/json", coreParOK)
	key := testKeys[jose.ES256]
	c := assertionClient(t, PrivateKeyJWT, hc, WithClientAssertionKey(key, "k1"), withPAR)
	u, err := c.PushAuthCodeURL(context.Background(), coreRedirectURI, parOpts, nil)
	require.NoError(t, err)
	assertPushedURL(t, u)
	got := rec.only(t)
	assertRequest(t, got, http.MethodPost, coreHost, "/par")
	_, claims := verifyAssertion(t, got, jose.ES256, key.Public())
	assert.Equal(t, coreTokenURL, claims.Aud)
	form, err := url.ParseQuery(got.Body)
	require.NoError(t, err)
	assert.Equal(t, "STATE", form.Get("state"))
	assert.Equal(t, parOpts.CodeChallenge, form.Get("code_challenge"))
}

// Every failed push is an ErrPushAuthorization *RequestError with the
// cause, made of one request only, and names no secret.
func TestPushAuthCodeURLFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		ctype  string
		body   string
		check  func(t *testing.T, err error)
	}{
		{"oauth error", http.StatusBadRequest, "application/json",
			`{"error":"invalid_request","error_description":"client CLIENT_SECRET may not ask for that"}`,
			func(t *testing.T, err error) {
				var oe *OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "invalid_request", oe.Code)
				assert.Equal(t, http.StatusBadRequest, oe.StatusCode)
			}},
		{"oauth error in a 201", http.StatusCreated, "application/json", `{"error":"invalid_client"}`,
			func(t *testing.T, err error) {
				var oe *OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "invalid_client", oe.Code)
			}},
		{"server error", http.StatusInternalServerError, "text/html", "<h1>oops CLIENT_SECRET</h1>",
			func(t *testing.T, err error) {
				var he *HTTPError
				require.ErrorAs(t, err, &he)
				assert.Equal(t, http.StatusInternalServerError, he.StatusCode)
				assert.NotContains(t, he.Body, coreClientSecret)
			}},
		{"redirect", http.StatusFound, "", "", func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrRedirect) }},
		{"no request_uri", http.StatusCreated, "application/json", `{"expires_in":60}`, parInvalid},
		{"request_uri not a string", http.StatusCreated, "application/json", `{"request_uri":42,"expires_in":60}`, parInvalid},
		{"empty request_uri", http.StatusCreated, "application/json", `{"request_uri":" ","expires_in":60}`, parInvalid},
		{"no expires_in", http.StatusCreated, "application/json", `{"request_uri":"urn:x"}`, parInvalid},
		{"null expires_in", http.StatusCreated, "application/json", `{"request_uri":"urn:x","expires_in":null}`, parInvalid},
		{"zero expires_in", http.StatusCreated, "application/json", `{"request_uri":"urn:x","expires_in":0}`, parInvalid},
		{"past expires_in", http.StatusCreated, "application/json", `{"request_uri":"urn:x","expires_in":-5}`, parInvalid},
		{"garbage expires_in", http.StatusCreated, "application/json", `{"request_uri":"urn:x","expires_in":"soon"}`, parInvalid},
		{"garbage JSON", http.StatusCreated, "application/json", `{"request_uri":`, parInvalid},
		{"JSON array", http.StatusOK, "application/json", `["urn:x"]`, parInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, rec := coreServerFunc(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.status == http.StatusFound {
					http.Redirect(w, r, "https://elsewhere.example/par", http.StatusFound)
					return
				}
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			c := coreClient(t, ClientSecretPost, hc, withPAR)
			u, err := c.PushAuthCodeURL(context.Background(), coreRedirectURI, parOpts, nil)
			assertPushError(t, u, err)
			tc.check(t, err)
			assert.Equal(t, 1, rec.count(), "a push is never retried")
		})
	}
	t.Run("endpoint down", func(t *testing.T) {
		down := errors.New("connection refused")
		c := coreClient(t, ClientSecretPost, failingClient(down), withPAR)
		u, err := c.PushAuthCodeURL(context.Background(), coreRedirectURI, parOpts, nil)
		assertPushError(t, u, err)
		assert.ErrorIs(t, err, down)
	})
}

func parInvalid(t *testing.T, err error) {
	t.Helper()
	assert.ErrorIs(t, err, ErrInvalidResponse)
	assert.NotZero(t, StatusCode(err), "the answer's status is reported")
}

func assertPushError(t *testing.T, u string, err error) {
	t.Helper()
	assert.Empty(t, u)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrPushAuthorization)
	assert.ErrorIs(t, err, ErrOAuth2)
	var re *RequestError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, ErrPushAuthorization, re.Op)
	assert.NotContains(t, err.Error(), coreClientSecret)
}

// Parameters AuthCodeURL refuses are refused before any request, and so is
// request_uri, which RFC 9126 §2.1 forbids pushing.
func TestPushAuthCodeURLRefusedParams(t *testing.T) {
	for _, extra := range []Values{{"state": {"x"}}, {"redirect_uri": {"https://evil.example"}}, {"request_uri": {"urn:x"}}} {
		hc, rec := coreServer(t, http.StatusCreated, "application/json", coreParOK)
		c := coreClient(t, ClientSecretPost, hc, withPAR)
		u, err := c.PushAuthCodeURL(context.Background(), coreRedirectURI, parOpts, extra)
		assertPushError(t, u, err)
		assert.ErrorIs(t, err, ErrInvalidConfig)
		assert.Zero(t, rec.count())
	}
	c := coreClient(t, ClientSecretPost, nil)
	_, err := c.PushAuthCodeURL(context.Background(), coreRedirectURI, parOpts, nil)
	assert.ErrorIs(t, err, ErrPushAuthorization)
	assert.ErrorIs(t, err, ErrInvalidConfig, "no PAR endpoint")
}

// Static clients: the endpoint is validated like the others, the option
// needs it, and only both turn pushing on.
func TestPushedAuthorizationConfig(t *testing.T) {
	cfg := Config{ClientID: "id", ClientSecret: "secret", AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL}

	c, err := New(cfg)
	require.NoError(t, err)
	assert.False(t, c.Capabilities().PushedAuthorization)

	_, err = New(cfg, WithPushedAuthorization())
	assert.ErrorIs(t, err, ErrInvalidConfig, "the option without an endpoint")

	for _, bad := range []string{"http://par.example.com/par", "/par", "https://par.example.com/par#x"} {
		withBad := cfg
		withBad.PushedAuthorizationEndpoint = bad
		_, err = New(withBad, WithPushedAuthorization())
		assert.ErrorIs(t, err, ErrInvalidConfig, bad)
	}

	cfg.PushedAuthorizationEndpoint = coreParURL
	c, err = New(cfg)
	require.NoError(t, err)
	assert.False(t, c.Capabilities().PushedAuthorization, "an endpoint alone is not the opt-in")
	assert.Equal(t, coreParURL, c.Config().PushedAuthorizationEndpoint)

	c, err = New(cfg, WithPushedAuthorization())
	require.NoError(t, err)
	assert.True(t, c.Capabilities().PushedAuthorization)

	// A provider client has no PAR endpoint to use the option with.
	_, err = NewGitHub("id", "secret", WithPushedAuthorization())
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// Discovery: PAR is on when the metadata requires it or the option asks
// for it; the option without an endpoint, and a requirement without one,
// fail discovery; the endpoint is checked like the others.
func TestDiscoveryPushedAuthorization(t *testing.T) {
	const iss = "https://id.example.com"
	par := func(endpoint string, require bool) func(map[string]any) {
		return func(d map[string]any) {
			if endpoint != "" {
				d["pushed_authorization_request_endpoint"] = endpoint
			}
			if require {
				d["require_pushed_authorization_requests"] = true
			}
		}
	}
	discover := func(t *testing.T, mod func(map[string]any), opts ...Option) (*OpenID, *fakeServer, error) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/openid-configuration", 200, discoveryDoc(iss, mod))
		o, err := DiscoverOpenID(context.Background(), iss, "CLIENT_ID", "CLIENT_SECRET", append(opts, WithHTTPClient(hc))...)
		return o, f, err
	}

	t.Run("required", func(t *testing.T) {
		o, f, err := discover(t, par(iss+"/par", true))
		require.NoError(t, err)
		assert.True(t, o.Capabilities().PushedAuthorization)
		assert.Equal(t, iss+"/par", o.Config().PushedAuthorizationEndpoint)

		f.json("/par", http.StatusCreated, `{"request_uri":"urn:r","expires_in":90}`)
		u, err := o.PushAuthCodeURL(context.Background(), coreRedirectURI, AuthURLOptions{State: "S", Nonce: "N"}, nil)
		require.NoError(t, err)
		assert.Equal(t, iss+"/authorize?client_id=CLIENT_ID&request_uri=urn%3Ar", u)
		pushed := f.requests("/par")
		require.Len(t, pushed, 1)
		form, err := url.ParseQuery(pushed[0].Body)
		require.NoError(t, err)
		assert.Equal(t, "openid email", form.Get("scope"))
		assert.Equal(t, "N", form.Get("nonce"))
		assert.Equal(t, coreRedirectURI, form.Get("redirect_uri"))
	})
	t.Run("offered", func(t *testing.T) {
		o, _, err := discover(t, par(iss+"/par", false))
		require.NoError(t, err)
		assert.False(t, o.Capabilities().PushedAuthorization)
		o, _, err = discover(t, par(iss+"/par", false), WithPushedAuthorization())
		require.NoError(t, err)
		assert.True(t, o.Capabilities().PushedAuthorization)
	})
	t.Run("option without endpoint", func(t *testing.T) {
		_, _, err := discover(t, par("", false), WithPushedAuthorization())
		assert.ErrorIs(t, err, ErrOpenIDConfiguration)
		assert.ErrorIs(t, err, ErrInvalidConfig)
	})
	t.Run("required without endpoint", func(t *testing.T) {
		_, _, err := discover(t, par("", true))
		assert.ErrorIs(t, err, ErrOpenIDConfiguration)
		assert.ErrorIs(t, err, ErrInvalidResponse)
	})
	t.Run("plain http endpoint", func(t *testing.T) {
		_, _, err := discover(t, par("http://id.example.com/par", false))
		assert.ErrorIs(t, err, ErrOpenIDConfiguration)
		assert.ErrorIs(t, err, ErrInvalidConfig)
	})
	t.Run("authorization server", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/oauth-authorization-server", 200, discoveryDoc(iss, par(iss+"/par", true)))
		a, err := DiscoverAuthorizationServer(context.Background(), iss, "CLIENT_ID", "CLIENT_SECRET", WithHTTPClient(hc))
		require.NoError(t, err)
		assert.True(t, a.Capabilities().PushedAuthorization)
	})
}
