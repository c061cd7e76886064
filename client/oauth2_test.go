package client

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The constants of upstream's tests/test_oauth2.py.
const (
	coreClientID     = "CLIENT_ID"
	coreClientSecret = "CLIENT_SECRET"
	coreHost         = "www.camelot.bt"
	coreAuthorizeURL = "https://www.camelot.bt/authorize"
	coreTokenURL     = "https://www.camelot.bt/access-token"
	coreRefreshURL   = "https://www.camelot.bt/refresh"
	coreRevokeURL    = "https://www.camelot.bt/revoke"
	coreRedirectURI  = "https://www.tintagel.bt/oauth-callback"
	// coreBasicAuth is "Basic " + base64("CLIENT_ID:CLIENT_SECRET").
	coreBasicAuth = "Basic Q0xJRU5UX0lEOkNMSUVOVF9TRUNSRVQ="
)

// Upstream's tests/mock files.
const (
	coreAccessTokenJSON  = `{"access_token":"ACCESS_TOKEN","expires_in":3920,"token_type":"Bearer","refresh_token":"REFRESH_TOKEN"}`
	coreRefreshTokenJSON = `{"access_token":"NEW_ACCESS_TOKEN","expires_in":3920,"token_type":"Bearer"}`
	coreErrorJSON        = `{"error":"invalid_request"}`
)

// coreNow is the injected clock of the core tests, so expiries are exact.
var coreNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// coreAuthMethods are the two client authentication methods upstream's
// client, client_refresh and client_revoke fixtures are parametrised over.
var coreAuthMethods = []AuthMethod{ClientSecretBasic, ClientSecretPost}

// coreRecorder keeps every request a test server saw.
type coreRecorder struct {
	mu   sync.Mutex
	reqs []recorded
}

func (r *coreRecorder) add(req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, recorded{
		Method: req.Method,
		Host:   req.Host,
		Path:   req.URL.Path,
		Query:  req.URL.RawQuery,
		Header: req.Header.Clone(),
		Body:   string(b),
	})
}

func (r *coreRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// last returns the latest request the server saw.
func (r *coreRecorder) last() recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return recorded{}
	}
	return r.reqs[len(r.reqs)-1]
}

// only returns the single request the server saw, failing otherwise.
func (r *coreRecorder) only(t *testing.T) recorded {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Len(t, r.reqs, 1, "requests seen by the server")
	return r.reqs[0]
}

// coreServer answers every request with one fixed response and records it.
func coreServer(t *testing.T, status int, contentType, body string) (*http.Client, *coreRecorder) {
	t.Helper()
	return coreServerFunc(t, func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

// coreServerFunc records every request (its body already read) and then
// hands it to h. The client routes the production URLs to the server.
func coreServerFunc(t *testing.T, h http.HandlerFunc) (*http.Client, *coreRecorder) {
	t.Helper()
	rec := &coreRecorder{}
	hc := providerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		h(w, r)
	}))
	return hc, rec
}

// coreClient is upstream's client/client_refresh/client_revoke fixture: all
// endpoints, both methods set to method, with the fixed clock.
func coreClient(t *testing.T, method AuthMethod, hc *http.Client, mods ...func(*config)) *OAuth2 {
	t.Helper()
	cfg := config{
		ClientID:                     coreClientID,
		ClientSecret:                 coreClientSecret,
		AuthorizeEndpoint:            coreAuthorizeURL,
		AccessTokenEndpoint:          coreTokenURL,
		RefreshTokenEndpoint:         coreRefreshURL,
		RevokeTokenEndpoint:          coreRevokeURL,
		TokenEndpointAuthMethod:      method,
		RevocationEndpointAuthMethod: method,
		HTTPClient:                   hc,
		Now:                          func() time.Time { return coreNow },
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := newClient("", cfg, nil)
	require.NoError(t, err)
	return c
}

// coreAssertFormPost checks a token or revocation request: POST on the
// production host and path, form body, JSON accepted, nothing in the URL
// query, and exactly one client authentication method. wantForm is the body
// without the credentials.
func coreAssertFormPost(t *testing.T, got recorded, path string, method AuthMethod, wantForm url.Values) {
	t.Helper()
	assertRequest(t, got, http.MethodPost, coreHost, path)
	assert.Empty(t, got.Query, "nothing may go in the URL query")
	assert.Equal(t, "application/x-www-form-urlencoded", got.Header.Get("Content-Type"))
	assert.Equal(t, "application/json", got.Header.Get("Accept"))
	assert.Equal(t, DefaultUserAgent, got.Header.Get("User-Agent"))
	want := url.Values{}
	for k, v := range wantForm {
		want[k] = slices.Clone(v)
	}
	switch method {
	case ClientSecretBasic:
		assert.Equal(t, coreBasicAuth, got.Header.Get("Authorization"))
	case ClientSecretPost:
		assert.Empty(t, got.Header.Values("Authorization"))
		want.Set("client_id", coreClientID)
		want.Set("client_secret", coreClientSecret)
	case None:
		assert.Empty(t, got.Header.Values("Authorization"))
		want.Set("client_id", coreClientID)
	default:
		t.Fatalf("unknown auth method %q", method)
	}
	form, err := url.ParseQuery(got.Body)
	require.NoError(t, err)
	assert.Equal(t, want, form)
}

// coreClosedServerURL returns a loopback URL nobody listens on any more.
func coreClosedServerURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}

// coreAssertTransportError checks upstream's "response is None" case: the
// operation sentinel, no status, and the transport cause kept.
func coreAssertTransportError(t *testing.T, err error, op error) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, op)
	assert.ErrorIs(t, err, ErrOAuth2)
	assert.Zero(t, StatusCode(err))
	var ue *url.Error
	assert.ErrorAs(t, err, &ue)
	var he *HTTPError
	assert.False(t, errors.As(err, &he), "no response, so no *HTTPError")
}

// --- Constructor (upstream test_oauth2.py) ---

func TestOAuth2ConstructorErrors(t *testing.T) {
	base := func() config {
		return config{
			ClientID: coreClientID, ClientSecret: coreClientSecret,
			AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL,
		}
	}
	tests := []struct {
		name       string
		mod        func(*config)
		wantIs     error
		wantMethod AuthMethod // set when a *NotSupportedAuthMethodError is expected
	}{
		{"invalid token endpoint auth method", func(c *config) { c.TokenEndpointAuthMethod = "invalid" }, ErrNotSupportedAuthMethod, "invalid"},
		{"invalid revocation auth method", func(c *config) { c.RevocationEndpointAuthMethod = "tls_client_auth" }, ErrNotSupportedAuthMethod, "tls_client_auth"},
		// A confidential client must authenticate at the token endpoint.
		{"none at the token endpoint", func(c *config) { c.TokenEndpointAuthMethod = None }, ErrNotSupportedAuthMethod, None},
		{"revoke endpoint without revocation method", func(c *config) { c.RevokeTokenEndpoint = coreRevokeURL }, ErrMissingRevokeTokenAuthMethod, ""},
		{"relative authorize endpoint", func(c *config) { c.AuthorizeEndpoint = "/authorize" }, ErrInvalidConfig, ""},
		{"empty access token endpoint", func(c *config) { c.AccessTokenEndpoint = "" }, ErrInvalidConfig, ""},
		{"non-http refresh endpoint", func(c *config) { c.RefreshTokenEndpoint = "ftp://as/refresh" }, ErrInvalidConfig, ""},
		{"revoke endpoint with fragment", func(c *config) {
			c.RevokeTokenEndpoint = coreRevokeURL + "#x"
			c.RevocationEndpointAuthMethod = ClientSecretPost
		}, ErrInvalidConfig, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.mod(&cfg)
			c, err := newOAuth2(cfg)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, tt.wantIs)
			assert.ErrorIs(t, err, ErrOAuth2)
			if tt.wantMethod != "" {
				var nse *NotSupportedAuthMethodError
				require.ErrorAs(t, err, &nse)
				assert.Equal(t, tt.wantMethod, nse.Method)
			}
		})
	}
}

func TestOAuth2ConstructorDefaults(t *testing.T) {
	c, err := newOAuth2(config{
		ClientID: coreClientID, ClientSecret: coreClientSecret,
		AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL,
		// A revocation method without an endpoint is allowed, as upstream.
		RevocationEndpointAuthMethod: ClientSecretBasic,
	})
	require.NoError(t, err)
	cfg := c.cfg
	assert.Equal(t, "oauth2", c.Name())
	assert.Equal(t, "oauth2", c.DisplayName())
	assert.Equal(t, ClientSecretPost, cfg.TokenEndpointAuthMethod, "upstream's default")
	assert.Equal(t, DefaultUserAgent, cfg.UserAgent)
	require.NotNil(t, cfg.HTTPClient)
	require.NotNil(t, cfg.Now)
	assert.False(t, c.Capabilities().Refresh)
	assert.False(t, c.Capabilities().Revoke)
}

// --- Authorization URL (upstream test_oauth2.py) ---

func TestAuthURL(t *testing.T) {
	const prefix = coreAuthorizeURL + "?client_id=CLIENT_ID&"
	const redirect = "redirect_uri=https%3A%2F%2Fwww.tintagel.bt%2Foauth-callback"
	tests := []struct {
		name  string
		opts  AuthURLOptions
		extra Values
		want  string
	}{
		{"base", AuthURLOptions{}, nil,
			prefix + redirect + "&response_type=code"},
		{"state", AuthURLOptions{State: "STATE"}, nil,
			prefix + redirect + "&response_type=code&state=STATE"},
		{"scope", AuthURLOptions{Scopes: []string{"SCOPE1", "SCOPE2", "SCOPE3"}}, nil,
			prefix + redirect + "&response_type=code&scope=SCOPE1+SCOPE2+SCOPE3"},
		{"code challenge", AuthURLOptions{CodeChallenge: "CODE_CHALLENGE", CodeChallengeMethod: "plain"}, nil,
			prefix + "code_challenge=CODE_CHALLENGE&code_challenge_method=plain&" + redirect + "&response_type=code"},
		{"extras params", AuthURLOptions{}, Values{"PARAM1": {"VALUE1"}, "PARAM2": {"VALUE2"}},
			coreAuthorizeURL + "?PARAM1=VALUE1&PARAM2=VALUE2&client_id=CLIENT_ID&" + redirect + "&response_type=code"},
		{"nonce", AuthURLOptions{Nonce: "N"}, nil,
			prefix + "nonce=N&" + redirect + "&response_type=code"},
	}
	for _, method := range coreAuthMethods {
		for _, tt := range tests {
			t.Run(string(method)+"/"+tt.name, func(t *testing.T) {
				hc, rec := coreServer(t, http.StatusOK, "", "")
				c := coreClient(t, method, hc)
				got, err := c.AuthCodeURL(coreRedirectURI, tt.opts, tt.extra)
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				assert.True(t, strings.HasPrefix(got, coreAuthorizeURL))
				assert.Contains(t, got, "response_type=code")
				assert.Contains(t, got, "client_id=CLIENT_ID")
				assert.Contains(t, got, redirect)
				// The generic entry point gives the same URL.
				got2, err := c.AuthCodeURL(coreRedirectURI, tt.opts, Values(tt.extra))
				require.NoError(t, err)
				assert.Equal(t, got, got2)
				assert.Zero(t, rec.count(), "building a URL does no I/O")
			})
		}
	}
}

func TestAuthURLScopes(t *testing.T) {
	tests := []struct {
		name      string
		base      []string
		scopes    []string
		wantScope []string // nil: no scope parameter at all
	}{
		{"nil scopes use base scopes", []string{"a", "b"}, nil, []string{"a b"}},
		{"explicit scopes replace base scopes", []string{"a", "b"}, []string{"x", "y:z"}, []string{"x y:z"}},
		{"empty non-nil scopes send no scope", []string{"a", "b"}, []string{}, nil},
		{"empty base scopes send no scope", []string{}, nil, nil},
		{"nil base scopes send no scope", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := coreClient(t, ClientSecretPost, nil, func(cfg *config) { cfg.BaseScopes = tt.base })
			got, err := c.AuthCodeURL(coreRedirectURI, AuthURLOptions{Scopes: tt.scopes}, nil)
			require.NoError(t, err)
			u, err := url.Parse(got)
			require.NoError(t, err)
			assert.Equal(t, tt.wantScope, u.Query()["scope"])
			if tt.wantScope == nil {
				assert.NotContains(t, got, "scope")
			}
		})
	}
}

func TestAuthURLExtras(t *testing.T) {
	c := coreClient(t, ClientSecretPost, nil, func(cfg *config) { cfg.BaseScopes = []string{"base"} })
	opts := AuthURLOptions{State: "STATE", Scopes: []string{"a"}, CodeChallenge: "CC", CodeChallengeMethod: "S256", Nonce: "N"}

	t.Run("extras may override scope", func(t *testing.T) {
		got, err := c.AuthCodeURL(coreRedirectURI, opts, Values{"scope": {"OVR"}, "prompt": {"consent"}, "multi": {"1", "2"}})
		require.NoError(t, err)
		u, err := url.Parse(got)
		require.NoError(t, err)
		q := u.Query()
		assert.Equal(t, []string{"OVR"}, q["scope"])
		assert.Equal(t, []string{"consent"}, q["prompt"])
		assert.Equal(t, []string{"1", "2"}, q["multi"])
		assert.Equal(t, []string{"STATE"}, q["state"])
	})

	for _, key := range []string{"response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "nonce"} {
		t.Run("extras cannot override "+key, func(t *testing.T) {
			got, err := c.AuthCodeURL(coreRedirectURI, opts, Values{key: {"EVIL"}})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), key)
			assert.Empty(t, got)
			// Even when the option itself is unset.
			_, err = c.AuthCodeURL(coreRedirectURI, AuthURLOptions{}, Values{key: {"EVIL"}})
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

// coreTestParams is a typed Params, as provider clients declare them.
type coreTestParams struct {
	Prompt     string
	AccessType string
}

func (p coreTestParams) AuthParams() url.Values {
	v := url.Values{}
	if p.Prompt != "" {
		v.Set("prompt", p.Prompt)
	}
	if p.AccessType != "" {
		v.Set("access_type", p.AccessType)
	}
	return v
}

func TestAuthURLTypedParams(t *testing.T) {
	c, err := New(Config{
		ClientID: coreClientID, ClientSecret: coreClientSecret,
		AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL,
	})
	require.NoError(t, err)

	got, err := c.AuthCodeURL(coreRedirectURI, AuthURLOptions{State: "S"}, coreTestParams{Prompt: "consent", AccessType: "offline"})
	require.NoError(t, err)
	assert.Equal(t, coreAuthorizeURL+"?access_type=offline&client_id=CLIENT_ID&prompt=consent&"+
		"redirect_uri=https%3A%2F%2Fwww.tintagel.bt%2Foauth-callback&response_type=code&state=S", got)

	// Zero fields are omitted.
	got, err = c.AuthCodeURL(coreRedirectURI, AuthURLOptions{}, coreTestParams{})
	require.NoError(t, err)
	assert.NotContains(t, got, "prompt")
	assert.NotContains(t, got, "access_type")
}

func TestAuthURLEndpointWithQuery(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
	}{
		{"existing parameter kept", "https://as/authorize?tenant=x"},
		{"existing protocol parameter overridden", "https://as/authorize?tenant=x&client_id=EVIL&state=EVIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := coreClient(t, ClientSecretPost, nil, func(cfg *config) { cfg.AuthorizeEndpoint = tt.endpoint })
			got, err := c.AuthCodeURL(coreRedirectURI, AuthURLOptions{State: "STATE"}, nil)
			require.NoError(t, err)
			assert.Equal(t, 1, strings.Count(got, "?"), "a single ?: %s", got)
			u, err := url.Parse(got)
			require.NoError(t, err)
			assert.Equal(t, "as", u.Host)
			assert.Equal(t, "/authorize", u.Path)
			q := u.Query()
			assert.Equal(t, []string{"x"}, q["tenant"])
			assert.Equal(t, []string{coreClientID}, q["client_id"])
			assert.Equal(t, []string{"STATE"}, q["state"])
			assert.Equal(t, []string{"code"}, q["response_type"])
			assert.Equal(t, []string{coreRedirectURI}, q["redirect_uri"])
		})
	}
}

func TestAuthURLDoesNotMutateInputs(t *testing.T) {
	base := []string{"b1", "b2"}
	c := coreClient(t, ClientSecretPost, nil, func(cfg *config) { cfg.BaseScopes = base })
	base[0] = "CHANGED" // the client keeps its own copy
	scopes := []string{"s1", "s2"}
	extra := Values{"prompt": {"consent"}, "multi": {"1", "2"}}
	extraCopy := Values{}
	for k, v := range extra {
		extraCopy[k] = slices.Clone(v)
	}

	got, err := c.AuthCodeURL(coreRedirectURI, AuthURLOptions{Scopes: scopes, State: "S"}, extra)
	require.NoError(t, err)
	assert.Contains(t, got, "scope=s1+s2")
	assert.Equal(t, []string{"s1", "s2"}, scopes)
	assert.Equal(t, extraCopy, extra)
	assert.True(t, maps.EqualFunc(extra, extraCopy, slices.Equal))

	got, err = c.AuthCodeURL(coreRedirectURI, AuthURLOptions{}, nil)
	require.NoError(t, err)
	assert.Contains(t, got, "scope=b1+b2")
}

// --- Access token (upstream test_oauth2.py) ---

func TestOAuth2AccessToken(t *testing.T) {
	for _, method := range coreAuthMethods {
		t.Run(string(method), func(t *testing.T) {
			hc, rec := coreServer(t, http.StatusOK, "application/json", coreAccessTokenJSON)
			c := coreClient(t, method, hc)
			tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "CODE_VERIFIER")
			require.NoError(t, err)

			coreAssertFormPost(t, rec.only(t), "/access-token", method, url.Values{
				"grant_type":    {"authorization_code"},
				"code":          {"CODE"},
				"redirect_uri":  {coreRedirectURI},
				"code_verifier": {"CODE_VERIFIER"},
			})
			assert.Contains(t, rec.only(t).Body, "redirect_uri=https%3A%2F%2Fwww.tintagel.bt%2Foauth-callback")

			assert.Equal(t, "ACCESS_TOKEN", tok.AccessToken)
			assert.Equal(t, "Bearer", tok.TokenType)
			assert.Equal(t, "REFRESH_TOKEN", tok.RefreshToken)
			assert.Equal(t, coreNow.Add(3920*time.Second), tok.Expiry)
			assert.False(t, tok.Expired(coreNow))
			assert.JSONEq(t, coreAccessTokenJSON, string(tok.Raw))
		})
	}
}

func TestOAuth2AccessTokenEmptyVerifierOmitted(t *testing.T) {
	for _, method := range coreAuthMethods {
		t.Run(string(method), func(t *testing.T) {
			hc, rec := coreServer(t, http.StatusOK, "application/json", coreAccessTokenJSON)
			c := coreClient(t, method, hc)
			_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
			require.NoError(t, err)
			got := rec.only(t)
			coreAssertFormPost(t, got, "/access-token", method, url.Values{
				"grant_type":   {"authorization_code"},
				"code":         {"CODE"},
				"redirect_uri": {coreRedirectURI},
			})
			assert.NotContains(t, got.Body, "code_verifier")
		})
	}
}

// coreResponseErrorCases are upstream's "error with response" cases of the
// three token operations, plus the Go port's typed details.
var coreResponseErrorCases = []struct {
	name        string
	status      int
	contentType string
	body        string
	wantStatus  int
	wantCode    string // expected *OAuthError code; "" means an *HTTPError
	wantIs      error  // an extra cause, or nil
}{
	{"400 json error", http.StatusBadRequest, "application/json", coreErrorJSON, 400, "invalid_request", nil},
	{"200 not json (text/plain)", http.StatusOK, "text/plain; charset=utf-8", "NOT JSON", 200, "", ErrMissingAccessToken},
	{"200 not json (application/json)", http.StatusOK, "application/json", "NOT JSON", 200, "", ErrInvalidResponse},
	{"200 html page", http.StatusOK, "text/html", "<html>captive portal</html>", 200, "", ErrInvalidResponse},
	{"200 empty body", http.StatusOK, "application/json", "", 200, "", ErrInvalidResponse},
	{"200 json list", http.StatusOK, "application/json", `[{"access_token":"a"}]`, 200, "", ErrInvalidResponse},
	{"500 html", http.StatusInternalServerError, "text/html", "<h1>oops</h1>", 500, "", nil},
}

func TestOAuth2AccessTokenErrors(t *testing.T) {
	for _, method := range coreAuthMethods {
		for _, tt := range coreResponseErrorCases {
			t.Run(string(method)+"/"+tt.name, func(t *testing.T) {
				hc, rec := coreServer(t, tt.status, tt.contentType, tt.body)
				c := coreClient(t, method, hc)
				tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "CODE_VERIFIER")
				require.Error(t, err)
				assert.Nil(t, tok)
				assert.Equal(t, 1, rec.count())
				coreAssertResponseError(t, err, ErrGetAccessToken, tt.wantStatus, tt.wantCode, tt.wantIs)
			})
		}
	}
}

// coreAssertResponseError checks upstream's "error with response" case.
func coreAssertResponseError(t *testing.T, err error, op error, status int, code string, cause error) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, op)
	assert.ErrorIs(t, err, ErrOAuth2)
	var re *RequestError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, op, re.Op)
	assert.Equal(t, status, StatusCode(err))
	if code != "" {
		var oe *OAuthError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, code, oe.Code)
		assert.Equal(t, status, oe.StatusCode)
	} else {
		var he *HTTPError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, status, he.StatusCode)
	}
	if cause != nil {
		assert.ErrorIs(t, err, cause)
	}
}

var errCoreTransport = errors.New("ERROR")

// coreTransportCases give the two ways a request can fail without response.
func coreTransportCases(t *testing.T) []struct {
	name string
	mod  func(*config)
} {
	closed := coreClosedServerURL(t)
	return []struct {
		name string
		mod  func(*config)
	}{
		{"connection refused", func(c *config) {
			c.HTTPClient = nil // the package default
			c.AccessTokenEndpoint = closed + "/access-token"
			c.RefreshTokenEndpoint = closed + "/refresh"
			c.RevokeTokenEndpoint = closed + "/revoke"
		}},
		{"transport error", func(c *config) {
			c.HTTPClient = failingClient(errCoreTransport) // as upstream's HTTPError("ERROR")
		}},
	}
}

func TestOAuth2AccessTokenTransportError(t *testing.T) {
	for _, method := range coreAuthMethods {
		for _, tc := range coreTransportCases(t) {
			t.Run(string(method)+"/"+tc.name, func(t *testing.T) {
				c := coreClient(t, method, nil, tc.mod)
				tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "CODE_VERIFIER")
				assert.Nil(t, tok)
				coreAssertTransportError(t, err, ErrGetAccessToken)
				if tc.name == "transport error" {
					assert.ErrorIs(t, err, errCoreTransport)
				}
			})
		}
	}
}

func TestOAuth2AccessToken200Error(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
	}{
		{"json", "application/json", `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/x"}`},
		{"form", "application/x-www-form-urlencoded", "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.&error_uri=https%3A%2F%2Fdocs.github.com%2Fx"},
		{"json with an access token too", "application/json", `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/x","access_token":"AT"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, rec := coreServer(t, http.StatusOK, tt.contentType, tt.body)
			c := coreClient(t, ClientSecretPost, hc)
			tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
			assert.Nil(t, tok)
			assert.Equal(t, 1, rec.count())
			coreAssertResponseError(t, err, ErrGetAccessToken, http.StatusOK, "bad_verification_code", nil)
			var oe *OAuthError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, &OAuthError{
				StatusCode:  http.StatusOK,
				Code:        "bad_verification_code",
				Description: "The code passed is incorrect or expired.",
				URI:         "https://docs.github.com/x",
			}, oe)
		})
	}
}

func TestOAuth2BasicAuthEncoding(t *testing.T) {
	tests := []struct {
		name, id, secret, want string
	}{
		{"RFC 6749 §2.3.1", "s6BhdRkqt3", "7Fjfp0ZBr1KtDRbnfVdmIw", "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"},
		{"RFC 6749 §4.1.3", "s6BhdRkqt3", "gX1fBat3bV", "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"},
		{"x/oauth2 URL-unsafe", "CLIENT_ID??", "CLIENT_SECRET??", "Basic Q0xJRU5UX0lEJTNGJTNGOkNMSUVOVF9TRUNSRVQlM0YlM0Y="},
		// Upstream sends base64("C:ID:C SEC") = "Basic QzpJRDpDIFNFQw==", which
		// a server cannot split; form-encoding first makes it unambiguous.
		{"colon and space", "C:ID", "C SEC", "Basic QyUzQUlEOkMrU0VD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, rec := coreServer(t, http.StatusOK, "application/json", coreAccessTokenJSON)
			c := coreClient(t, ClientSecretBasic, hc, func(cfg *config) {
				cfg.ClientID, cfg.ClientSecret = tt.id, tt.secret
			})
			_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
			require.NoError(t, err)
			got := rec.only(t)
			assert.Equal(t, tt.want, got.Header.Get("Authorization"))
			form, err := url.ParseQuery(got.Body)
			require.NoError(t, err)
			assert.NotContains(t, form, "client_secret", "basic: no secret in the body")
			assert.NotContains(t, form, "client_id", "basic: one authentication method only")
		})
	}

	t.Run("post sends no Authorization header", func(t *testing.T) {
		hc, rec := coreServer(t, http.StatusOK, "application/json", coreAccessTokenJSON)
		c := coreClient(t, ClientSecretPost, hc, func(cfg *config) {
			cfg.ClientID, cfg.ClientSecret = "CLIENT_ID??", "CLIENT_SECRET??"
		})
		_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
		require.NoError(t, err)
		got := rec.only(t)
		assert.Empty(t, got.Header.Values("Authorization"))
		form, err := url.ParseQuery(got.Body)
		require.NoError(t, err)
		assert.Equal(t, []string{"CLIENT_ID??"}, form["client_id"])
		assert.Equal(t, []string{"CLIENT_SECRET??"}, form["client_secret"])
	})
}

func TestOAuth2TokenEndpointRedirect(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			hc, rec := coreServerFunc(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.example/token", status)
			})
			c := coreClient(t, ClientSecretPost, hc)
			tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
			assert.Nil(t, tok)
			assert.Equal(t, 1, rec.count())
			coreAssertResponseError(t, err, ErrGetAccessToken, status, "", ErrRedirect)
		})
	}

	// With the package's default HTTP client: a 307 to a second server would
	// re-send the POST body holding the secret; it must not be followed.
	t.Run("307 to a second server with the default client", func(t *testing.T) {
		var second, first coreRecorder
		srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			second.add(r)
			_, _ = io.WriteString(w, coreAccessTokenJSON)
		}))
		defer srv2.Close()
		srv1 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			first.add(r)
			http.Redirect(w, r, srv2.URL+"/token", http.StatusTemporaryRedirect)
		}))
		defer srv1.Close()
		c := coreClient(t, ClientSecretPost, nil, func(cfg *config) {
			cfg.HTTPClient = nil
			cfg.AccessTokenEndpoint = srv1.URL + "/token"
		})
		_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
		coreAssertResponseError(t, err, ErrGetAccessToken, http.StatusTemporaryRedirect, "", ErrRedirect)
		assert.Equal(t, 1, first.count())
		assert.Equal(t, 0, second.count(), "the second server must see no request")
	})

	t.Run("302 loop with the default client", func(t *testing.T) {
		var rec coreRecorder
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec.add(r)
			http.Redirect(w, r, r.URL.String(), http.StatusFound)
		}))
		defer srv.Close()
		c := coreClient(t, ClientSecretPost, nil, func(cfg *config) {
			cfg.HTTPClient = nil
			cfg.AccessTokenEndpoint = srv.URL + "/token"
		})
		_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
		coreAssertResponseError(t, err, ErrGetAccessToken, http.StatusFound, "", ErrRedirect)
		assert.Equal(t, 1, rec.count())
	})
}

func TestOAuth2NoRetry(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantCode    string
	}{
		{"401 invalid_client", http.StatusUnauthorized, "application/json", `{"error":"invalid_client"}`, "invalid_client"},
		{"500", http.StatusInternalServerError, "text/html", "<html>Internal Server Error</html>", ""},
	}
	for _, method := range coreAuthMethods {
		for _, tt := range tests {
			t.Run(string(method)+"/"+tt.name, func(t *testing.T) {
				hc, rec := coreServer(t, tt.status, tt.contentType, tt.body)
				c := coreClient(t, method, hc)
				_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "V")
				coreAssertResponseError(t, err, ErrGetAccessToken, tt.status, tt.wantCode, nil)
				assert.Equal(t, 1, rec.count(), "a code is never sent twice")

				_, err = c.RefreshToken(context.Background(), "REFRESH_TOKEN")
				coreAssertResponseError(t, err, ErrRefreshToken, tt.status, tt.wantCode, nil)
				assert.Equal(t, 2, rec.count(), "one refresh request")
			})
		}
	}
}

// --- Refresh (upstream test_oauth2.py) ---

func TestOAuth2RefreshTokenNotSupported(t *testing.T) {
	hc, rec := coreServer(t, http.StatusOK, "application/json", coreRefreshTokenJSON)
	c := coreClient(t, ClientSecretPost, hc, func(cfg *config) { cfg.RefreshTokenEndpoint = "" })
	assert.False(t, c.Capabilities().Refresh)
	tok, err := c.RefreshToken(context.Background(), "REFRESH_TOKEN")
	assert.Nil(t, tok)
	assert.ErrorIs(t, err, ErrRefreshNotSupported)
	assert.ErrorIs(t, err, ErrOAuth2)
	assert.Zero(t, StatusCode(err))
	assert.Zero(t, rec.count(), "no request may be made")
}

func TestOAuth2RefreshToken(t *testing.T) {
	for _, method := range coreAuthMethods {
		t.Run(string(method), func(t *testing.T) {
			hc, rec := coreServer(t, http.StatusOK, "application/json", coreRefreshTokenJSON)
			c := coreClient(t, method, hc)
			assert.True(t, c.Capabilities().Refresh)
			tok, err := c.RefreshToken(context.Background(), "REFRESH_TOKEN")
			require.NoError(t, err)
			coreAssertFormPost(t, rec.only(t), "/refresh", method, url.Values{
				"grant_type":    {"refresh_token"},
				"refresh_token": {"REFRESH_TOKEN"},
			})
			assert.Equal(t, "NEW_ACCESS_TOKEN", tok.AccessToken)
			assert.Equal(t, "Bearer", tok.TokenType)
			assert.Equal(t, coreNow.Add(3920*time.Second), tok.Expiry)
			assert.False(t, tok.Expired(coreNow))
		})
	}
}

func TestOAuth2RefreshTokenRotation(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		wantRefresh string
	}{
		{"no new refresh token keeps the old one", `{"access_token":"AT2","token_type":"bearer"}`, "RT1"},
		{"null refresh token keeps the old one", `{"access_token":"AT2","token_type":"bearer","refresh_token":null}`, "RT1"},
		{"a new refresh token replaces the old one", `{"access_token":"AT2","token_type":"bearer","refresh_token":"RT2"}`, "RT2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, rec := coreServer(t, http.StatusOK, "application/json", tt.body)
			c := coreClient(t, ClientSecretBasic, hc)
			tok, err := c.RefreshToken(context.Background(), "RT1")
			require.NoError(t, err)
			assert.Equal(t, 1, rec.count())
			assert.Equal(t, "AT2", tok.AccessToken)
			assert.Equal(t, tt.wantRefresh, tok.RefreshToken)
		})
	}
}

func TestOAuth2RefreshTokenErrors(t *testing.T) {
	for _, method := range coreAuthMethods {
		for _, tt := range coreResponseErrorCases {
			t.Run(string(method)+"/"+tt.name, func(t *testing.T) {
				hc, rec := coreServer(t, tt.status, tt.contentType, tt.body)
				c := coreClient(t, method, hc)
				tok, err := c.RefreshToken(context.Background(), "REFRESH_TOKEN")
				assert.Nil(t, tok)
				assert.Equal(t, 1, rec.count())
				coreAssertResponseError(t, err, ErrRefreshToken, tt.wantStatus, tt.wantCode, tt.wantIs)
				assert.NotErrorIs(t, err, ErrGetAccessToken)
			})
		}
		for _, tc := range coreTransportCases(t) {
			t.Run(string(method)+"/"+tc.name, func(t *testing.T) {
				c := coreClient(t, method, nil, tc.mod)
				tok, err := c.RefreshToken(context.Background(), "REFRESH_TOKEN")
				assert.Nil(t, tok)
				coreAssertTransportError(t, err, ErrRefreshToken)
			})
		}
	}
}

// --- Revoke (upstream test_oauth2.py) ---

func TestOAuth2RevokeTokenNotSupported(t *testing.T) {
	hc, rec := coreServer(t, http.StatusOK, "", "")
	c := coreClient(t, ClientSecretPost, hc, func(cfg *config) { cfg.RevokeTokenEndpoint = "" })
	assert.False(t, c.Capabilities().Revoke)
	err := c.RevokeToken(context.Background(), "TOKEN", "access_token")
	assert.ErrorIs(t, err, ErrRevokeNotSupported)
	assert.ErrorIs(t, err, ErrRevokeNotSupported)
	assert.ErrorIs(t, err, ErrOAuth2)
	assert.Zero(t, rec.count(), "no request may be made")
}

func TestOAuth2RevokeToken(t *testing.T) {
	for _, method := range coreAuthMethods {
		t.Run(string(method), func(t *testing.T) {
			hc, rec := coreServer(t, http.StatusOK, "", "")
			c := coreClient(t, method, hc)
			assert.True(t, c.Capabilities().Revoke)
			require.NoError(t, c.RevokeToken(context.Background(), "TOKEN", "TOKEN_TYPE_HINT"))
			coreAssertFormPost(t, rec.only(t), "/revoke", method, url.Values{
				"token":           {"TOKEN"},
				"token_type_hint": {"TOKEN_TYPE_HINT"},
			})
		})
		t.Run(string(method)+"/no hint", func(t *testing.T) {
			hc, rec := coreServer(t, http.StatusOK, "", "")
			c := coreClient(t, method, hc)
			require.NoError(t, c.RevokeToken(context.Background(), "TOKEN", ""))
			coreAssertFormPost(t, rec.only(t), "/revoke", method, url.Values{"token": {"TOKEN"}})
		})
	}
}

// TestOAuth2RevokeUsesRevocationAuthMethod covers upstream's bug (§1.4): the
// revocation request must use the revocation method, not the token one.
func TestOAuth2RevokeUsesRevocationAuthMethod(t *testing.T) {
	tests := []struct{ token, revocation AuthMethod }{
		{ClientSecretBasic, ClientSecretPost},
		{ClientSecretPost, ClientSecretBasic},
	}
	for _, tt := range tests {
		t.Run("token "+string(tt.token)+", revocation "+string(tt.revocation), func(t *testing.T) {
			hc, rec := coreServer(t, http.StatusOK, "application/json", coreAccessTokenJSON)
			c := coreClient(t, tt.token, hc, func(cfg *config) { cfg.RevocationEndpointAuthMethod = tt.revocation })
			require.NoError(t, c.RevokeToken(context.Background(), "TOKEN", "refresh_token"))
			coreAssertFormPost(t, rec.only(t), "/revoke", tt.revocation, url.Values{
				"token":           {"TOKEN"},
				"token_type_hint": {"refresh_token"},
			})
			// The token endpoint still uses the token method.
			_, err := c.RefreshToken(context.Background(), "RT")
			require.NoError(t, err)
			coreAssertFormPost(t, rec.last(), "/refresh", tt.token, url.Values{
				"grant_type":    {"refresh_token"},
				"refresh_token": {"RT"},
			})
		})
	}
}

// TestOAuth2RevokeTokenNone: revocation as a public client sends the
// client id in the form and no secret at all.
func TestOAuth2RevokeTokenNone(t *testing.T) {
	hc, rec := coreServer(t, http.StatusOK, "", "")
	c := coreClient(t, ClientSecretBasic, hc, func(cfg *config) { cfg.RevocationEndpointAuthMethod = None })
	require.NoError(t, c.RevokeToken(context.Background(), "TOKEN", "refresh_token"))
	got := rec.only(t)
	coreAssertFormPost(t, got, "/revoke", None, url.Values{"token": {"TOKEN"}, "token_type_hint": {"refresh_token"}})
	assert.NotContains(t, got.Body, coreClientSecret)
}

// TestOAuth2WithTokenEndpointAuthMethod: the option overrides a
// provider's default method before validation.
func TestOAuth2WithTokenEndpointAuthMethod(t *testing.T) {
	hc, rec := coreServer(t, http.StatusOK, "application/json", coreAccessTokenJSON)
	c, err := newClient("", config{
		ClientID: coreClientID, ClientSecret: coreClientSecret,
		AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL,
		TokenEndpointAuthMethod: ClientSecretPost, HTTPClient: hc,
	}, []Option{WithTokenEndpointAuthMethod(ClientSecretBasic)})
	require.NoError(t, err)
	_, err = c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	require.NoError(t, err)
	coreAssertFormPost(t, rec.only(t), "/access-token", ClientSecretBasic, url.Values{
		"grant_type": {"authorization_code"}, "code": {"CODE"}, "redirect_uri": {coreRedirectURI},
	})
}

func TestOAuth2RevokeTokenResponses(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantErr     bool
		wantCode    string
	}{
		{"200 empty", http.StatusOK, "", "", false, ""},
		{"200 with an error body is ignored (RFC 7009 §2.2)", http.StatusOK, "application/json", `{"error":"x"}`, false, ""},
		{"200 not json is ignored", http.StatusOK, "text/html", "<html>ok</html>", false, ""},
		{"204", http.StatusNoContent, "", "", false, ""},
		{"400 json error", http.StatusBadRequest, "application/json", coreErrorJSON, true, "invalid_request"},
		{"400 unsupported_token_type", http.StatusBadRequest, "application/json", `{"error":"unsupported_token_type"}`, true, "unsupported_token_type"},
		{"503", http.StatusServiceUnavailable, "text/plain", "try later", true, ""},
	}
	for _, method := range coreAuthMethods {
		for _, tt := range tests {
			t.Run(string(method)+"/"+tt.name, func(t *testing.T) {
				hc, rec := coreServer(t, tt.status, tt.contentType, tt.body)
				c := coreClient(t, method, hc)
				err := c.RevokeToken(context.Background(), "TOKEN", "TOKEN_TYPE_HINT")
				assert.Equal(t, 1, rec.count())
				if !tt.wantErr {
					require.NoError(t, err)
					return
				}
				coreAssertResponseError(t, err, ErrRevokeToken, tt.status, tt.wantCode, nil)
			})
		}
		for _, tc := range coreTransportCases(t) {
			t.Run(string(method)+"/"+tc.name, func(t *testing.T) {
				c := coreClient(t, method, nil, tc.mod)
				err := c.RevokeToken(context.Background(), "TOKEN", "TOKEN_TYPE_HINT")
				coreAssertTransportError(t, err, ErrRevokeToken)
			})
		}
	}
}

// --- Profile and id/email of the base client (upstream test_oauth2.py) ---

func TestOAuth2ProfileNotSupported(t *testing.T) {
	hc, rec := coreServer(t, http.StatusOK, "application/json", `{"id":"1"}`)
	c := coreClient(t, ClientSecretPost, hc)

	profile, err := c.Profile(context.Background(), "TOKEN")
	assert.Nil(t, profile)
	assert.ErrorIs(t, err, ErrProfileNotSupported)
	assert.NotErrorIs(t, err, ErrOAuth2, "identity errors are not OAuth2 errors, as upstream")

	id, email, err := c.IDEmail(context.Background(), "TOKEN")
	assert.Empty(t, id)
	assert.Empty(t, email)
	assert.ErrorIs(t, err, ErrIDEmailNotSupported)
	assert.NotErrorIs(t, err, ErrOAuth2)
	assert.Zero(t, rec.count())
}

func TestOAuth2ContextCancelled(t *testing.T) {
	hc, rec := coreServer(t, http.StatusOK, "application/json", coreAccessTokenJSON)
	c := coreClient(t, ClientSecretPost, hc)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.AccessToken(ctx, "CODE", coreRedirectURI, "")
	assert.ErrorIs(t, err, ErrGetAccessToken)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, StatusCode(err))
	assert.Zero(t, rec.count())
}

func TestOAuth2UserAgent(t *testing.T) {
	hc, rec := coreServer(t, http.StatusOK, "application/json", coreAccessTokenJSON)
	c := coreClient(t, ClientSecretPost, hc, func(cfg *config) { cfg.UserAgent = "myapp/2" })
	_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	require.NoError(t, err)
	assert.Equal(t, "myapp/2", rec.only(t).Header.Get("User-Agent"))
}

// newOAuth2 builds a generic client from a config literal that sets what
// the options would, for tests that set many fields at once.
func newOAuth2(c config) (*OAuth2, error) { return newClient("", c, nil) }

// AuthCodeURL builds from a cached template of the fixed parameters; the
// URL is byte for byte the one the parameters give written out in full,
// on the first call, on repeated calls, and when the inputs change.
func TestAuthURLTemplateMatchesFullBuild(t *testing.T) {
	endpoints := []string{
		coreAuthorizeURL,
		"https://as/authorize?tenant=x&client_id=EVIL",
		"https://as/authorize?a=1&z=2",
		"https://as/authorize?nonce=KEPT",     // a per-login key: no template
		"https://as:8443/o/auth%2Fpath?p=%20", // escapes kept
	}
	opts := []AuthURLOptions{
		{},
		{State: "S", CodeChallenge: "C", CodeChallengeMethod: "S256", Nonce: "N"},
		{State: "S t&=", Scopes: []string{"openid", "email"}},
		{State: "S", Scopes: []string{}},
		{CodeChallenge: "C", CodeChallengeMethod: "plain", Scopes: []string{"a"}},
	}
	extras := []url.Values{nil, {"prompt": {"consent"}}, {"scope": {"override"}, "multi": {"1", "2"}, "zz": {"last"}}, {"a": {""}}}
	for _, ep := range endpoints {
		c := coreClient(t, ClientSecretPost, nil, func(cfg *config) {
			cfg.AuthorizeEndpoint = ep
			cfg.BaseScopes = []string{"base"}
		})
		for round := range 2 {
			for _, o := range opts {
				for _, ex := range extras {
					params, err := c.authParams(coreRedirectURI, o, ex)
					require.NoError(t, err)
					want, err := c.authorizeURL(params)
					require.NoError(t, err)
					for range 2 { // the second call reuses the template
						got, err := c.AuthCodeURL(coreRedirectURI, o, Values(ex))
						require.NoError(t, err)
						assert.Equal(t, want, got, "round %d %s %+v %v", round, ep, o, ex)
					}
					got, err := c.AuthCodeURL("https://other.example/cb", o, Values(ex))
					require.NoError(t, err)
					assert.Contains(t, got, "redirect_uri=https%3A%2F%2Fother.example%2Fcb", "a new redirect URI is a new template")
				}
			}
		}
	}
}

// Once the template is made, a login's URL costs one allocation, the
// string itself.
func TestAuthURLTemplateAllocs(t *testing.T) {
	c := coreClient(t, ClientSecretPost, nil, func(cfg *config) { cfg.BaseScopes = []string{"openid", "email"} })
	opts := AuthURLOptions{State: "STATE", CodeChallenge: "CHALLENGE", CodeChallengeMethod: "S256", Nonce: "NONCE"}
	_, err := c.AuthCodeURL(coreRedirectURI, opts, nil)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() { _, _ = c.AuthCodeURL(coreRedirectURI, opts, nil) })
	assert.LessOrEqual(t, allocs, 1.0)
}
