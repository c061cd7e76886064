package client

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/providertest"
)

// ---- shared fakes for the provider-client tests (GitHub, Google, Discord,
// Facebook, Reddit, Bitbucket, Twitch) ----

// socialRoute is the canned answer of one fake provider endpoint.
type socialRoute struct {
	status int    // 0 means 200
	ctype  string // "" means application/json
	body   string
	hangUp bool // close the connection without answering (transport error)
}

// socialAPI is a fake provider: it answers by "METHOD host/path" (host as
// the production URL names it) and records every request.
type socialAPI struct {
	t      *testing.T
	routes map[string]socialRoute
	// guard, when set, may replace the route's answer (for instance with a
	// 401 when the request lacks the expected client credentials).
	guard func(*http.Request) (socialRoute, bool)
	mu    sync.Mutex
	seen  []recorded
}

func newSocialAPI(t *testing.T, routes map[string]socialRoute) (*socialAPI, *http.Client) {
	t.Helper()
	a := &socialAPI{t: t, routes: routes}
	return a, providerServer(t, a)
}

func (a *socialAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.Host + r.URL.Path
	a.mu.Lock()
	a.seen = append(a.seen, recorded{
		Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: string(b),
	})
	a.mu.Unlock()
	rt, ok := a.routes[key]
	if a.guard != nil {
		if g, hit := a.guard(r); hit {
			rt, ok = g, true
		}
	}
	if !ok {
		a.t.Errorf("unexpected request %s", key)
		http.Error(w, "no route", http.StatusTeapot)
		return
	}
	if rt.hangUp {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	ct := rt.ctype
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	if rt.status != 0 {
		w.WriteHeader(rt.status)
	}
	_, _ = io.WriteString(w, rt.body)
}

func (a *socialAPI) requests() []recorded {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.seen)
}

// calls lists "METHOD host/path" of the requests seen. When retried is true,
// consecutive repeats are merged: Go's transport replays an idempotent GET
// once when a reused connection is closed under it (the hang-up cases).
func (a *socialAPI) calls(retried bool) []string {
	var out []string
	for _, r := range a.requests() {
		c := r.Method + " " + r.Host + r.Path
		if retried && len(out) > 0 && out[len(out)-1] == c {
			continue
		}
		out = append(out, c)
	}
	return out
}

// socialErr is an expected failure.
type socialErr struct {
	op       error  // operation sentinel (ErrGetIDEmail, ...)
	cause    error  // optional cause sentinel (ErrMissingID, ErrInvalidResponse, ...)
	status   int    // StatusCode(err); 0 for transport and decoding errors
	code     string // expected *OAuthError code; "" when none
	httpBody string // when set, the cause is an *HTTPError whose body contains it
}

func checkSocialErr(t *testing.T, err error, want socialErr) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, want.op)
	var re *RequestError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, want.op, re.Op)
	if want.cause != nil {
		assert.ErrorIs(t, err, want.cause)
	}
	assert.Equal(t, want.status, StatusCode(err))
	var oe *OAuthError
	if want.code != "" {
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, want.code, oe.Code)
	} else {
		assert.False(t, errors.As(err, &oe), "unexpected OAuthError %v", err)
	}
	if want.httpBody != "" {
		var he *HTTPError
		require.ErrorAs(t, err, &he)
		assert.Contains(t, he.Body, want.httpBody)
	}
}

// socialCase is one IDEmail scenario against a fake provider.
type socialCase struct {
	name   string
	routes map[string]socialRoute
	calls  []string // exact "METHOD host/path" sequence
	id     string
	email  string
	err    *socialErr
}

const socialToken = "TOKEN-abc123"

// runSocialCases runs IDEmail for each case with a fresh fake provider;
// checkReq asserts what every user-API request must carry.
func runSocialCases(t *testing.T, cases []socialCase, newClient func(*http.Client) userAPIClient, checkReq func(*testing.T, recorded)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api, hc := newSocialAPI(t, tc.routes)
			c := newClient(hc)
			id, email, err := c.IDEmail(context.Background(), socialToken)
			retried := slices.ContainsFunc(slices.Collect(maps.Values(tc.routes)), func(r socialRoute) bool { return r.hangUp })
			assert.Equal(t, tc.calls, api.calls(retried))
			for _, r := range api.requests() {
				checkReq(t, r)
			}
			if tc.err != nil {
				checkSocialErr(t, err, *tc.err)
				assert.Empty(t, id)
				assert.Empty(t, email)
				assert.NotContains(t, err.Error(), socialToken)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.id, id)
			assert.Equal(t, tc.email, email)
		})
	}
}

// socialBasic is the RFC 6749 §2.3.1 Basic header the core sends.
func socialBasic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func socialForm(t *testing.T, body string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(body)
	require.NoError(t, err)
	return v
}

func socialQuery(t *testing.T, rawURL string) url.Values {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	return u.Query()
}

// Canned error answers every provider table uses.
var (
	socialHTMLError = socialRoute{status: 400, ctype: "text/html; charset=utf-8", body: "<!doctype html><html><body>Bad request</body></html>"}
	social401       = socialRoute{status: 401, body: `{"message":"Bad credentials"}`}
	socialHangUp    = socialRoute{hangUp: true}
)

// socialConfig is the documented table row of a provider client.
type socialConfig struct {
	authorize, token, refresh, revoke string
	scopes                            []string
	tokenAuth, revokeAuth             AuthMethod
	name, display                     string
}

type socialClient interface {
	Provider
	settings() *config
	RevokeToken(ctx context.Context, token, tokenTypeHint string) error
}

func checkSocialConfig(t *testing.T, c socialClient, want socialConfig) {
	t.Helper()
	cfg := c.settings()
	assert.Equal(t, want.authorize, cfg.AuthorizeEndpoint)
	assert.Equal(t, want.token, cfg.AccessTokenEndpoint)
	assert.Equal(t, want.refresh, cfg.RefreshTokenEndpoint)
	assert.Equal(t, want.revoke, cfg.RevokeTokenEndpoint)
	assert.Equal(t, want.scopes, cfg.BaseScopes)
	assert.Equal(t, want.tokenAuth, cfg.TokenEndpointAuthMethod)
	assert.Equal(t, want.revokeAuth, cfg.RevocationEndpointAuthMethod)
	assert.Equal(t, want.name, c.Name())
	assert.Equal(t, want.display, c.DisplayName())
	assert.Equal(t, want.refresh != "", c.Capabilities().Refresh)
	assert.Equal(t, want.revoke != "", c.Capabilities().Revoke)
	if want.refresh == "" {
		_, err := c.RefreshToken(context.Background(), "R")
		assert.ErrorIs(t, err, ErrRefreshNotSupported)
	}
	if want.revoke == "" {
		assert.ErrorIs(t, c.RevokeToken(context.Background(), "T", ""), ErrRevokeNotSupported)
	}
}

// ---- GitHub ----

func TestGitHubConfig(t *testing.T) {
	c, err := NewGitHub("CID", "SEC")
	require.NoError(t, err)
	checkSocialConfig(t, c, socialConfig{
		authorize: "https://github.com/login/oauth/authorize",
		token:     "https://github.com/login/oauth/access_token",
		refresh:   "https://github.com/login/oauth/access_token",
		scopes:    []string{"read:user", "user:email"},
		tokenAuth: ClientSecretPost,
		name:      "github", display: "GitHub",
	})

	c2, err := NewGitHub("CID", "SEC", WithName("github-enterprise-login"), WithScopes("read:user"))
	require.NoError(t, err)
	assert.Equal(t, "github-enterprise-login", c2.Name())
	assert.Equal(t, []string{"read:user"}, c2.cfg.BaseScopes)
}

func TestGitHubAuthorizationURL(t *testing.T) {
	c, err := NewGitHub("CID", "SEC")
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		params GitHubParams
		want   url.Values
	}{
		{"zero params send nothing extra", GitHubParams{}, url.Values{}},
		{"all params", GitHubParams{Login: "octocat", DisallowSignup: true, Prompt: "select_account"},
			url.Values{"login": {"octocat"}, "allow_signup": {"false"}, "prompt": {"select_account"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := c.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "S"}, tc.params)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(u, "https://github.com/login/oauth/authorize?"), u)
			want := url.Values{
				"response_type": {"code"}, "client_id": {"CID"}, "redirect_uri": {"https://app.example/cb"},
				"state": {"S"}, "scope": {"read:user user:email"},
			}
			for k, v := range tc.want {
				want[k] = v
			}
			assert.Equal(t, want, socialQuery(t, u))
		})
	}
}

func githubCheckReq(t *testing.T, r recorded) {
	t.Helper()
	assert.Equal(t, http.MethodGet, r.Method)
	assert.Equal(t, "api.github.com", r.Host)
	assert.Equal(t, "Bearer "+socialToken, r.Header.Get("Authorization"))
	assert.Equal(t, "application/vnd.github+json", r.Header.Get("Accept"))
	assert.Equal(t, "2022-11-28", r.Header.Get("X-GitHub-Api-Version"))
	assert.Equal(t, DefaultUserAgent, r.Header.Get("User-Agent"))
	assert.Empty(t, r.Query, "no token or anything else in the query")
	assert.Empty(t, r.Body)
}

func TestGitHubIDEmail(t *testing.T) {
	const (
		user   = "GET api.github.com/user"
		emails = "GET api.github.com/user/emails"
	)
	ok := func(body string) socialRoute { return socialRoute{body: body} }
	userOK := ok(`{"login":"arthur","id":42,"email":"arthur@camelot.bt"}`)
	both := []string{user, emails}
	cases := []socialCase{
		{
			// Upstream: public email on /user used as is. Fixed: the address
			// must come from /user/emails as primary and verified.
			name: "public email, confirmed primary verified in emails",
			routes: map[string]socialRoute{user: userOK, emails: ok(`[
				{"email":"other@camelot.bt","primary":false,"verified":true,"visibility":null},
				{"email":"arthur@camelot.bt","primary":true,"verified":true,"visibility":"public"}]`)},
			calls: both, id: "42", email: "arthur@camelot.bt",
		},
		{
			name:   "email null, primary verified entry not first",
			routes: map[string]socialRoute{user: ok(`{"id":42,"email":null}`), emails: ok(`[{"email":"a@x","primary":false,"verified":true},{"email":"b@x","primary":true,"verified":true}]`)},
			calls:  both, id: "42", email: "b@x",
		},
		{
			// Upstream test: entry without primary key picked by the
			// emails[0] fallback. Fixed: not primary, not verified: none.
			name:   "email null, single entry without primary or verified",
			routes: map[string]socialRoute{user: ok(`{"id":42,"email":null}`), emails: ok(`[{"email":"arthur@camelot.bt"}]`)},
			calls:  both, id: "42", email: "",
		},
		{
			name:   "unverified primary is not used, verified secondary is not promoted",
			routes: map[string]socialRoute{user: ok(`{"id":42,"email":null}`), emails: ok(`[{"email":"a@x","primary":true,"verified":false},{"email":"b@x","verified":true}]`)},
			calls:  both, id: "42", email: "",
		},
		{
			name:   "public email in /user but unverified in emails",
			routes: map[string]socialRoute{user: userOK, emails: ok(`[{"email":"arthur@camelot.bt","primary":true,"verified":false}]`)},
			calls:  both, id: "42", email: "",
		},
		{
			name:   "verified as the string true does not count",
			routes: map[string]socialRoute{user: ok(`{"id":42}`), emails: ok(`[{"email":"a@x","primary":true,"verified":"true"}]`)},
			calls:  both, id: "42", email: "",
		},
		{
			name:   "empty email list: no email, no error",
			routes: map[string]socialRoute{user: ok(`{"id":42,"email":null}`), emails: ok(`[]`)},
			calls:  both, id: "42", email: "",
		},
		{
			name:   "emails 404 (no user:email scope): no email, no error",
			routes: map[string]socialRoute{user: ok(`{"id":42,"email":null}`), emails: socialRoute{status: 404, body: `{"message":"Not Found"}`}},
			calls:  both, id: "42", email: "",
		},
		{
			name:   "emails 403 (GitHub App without email permission): no email",
			routes: map[string]socialRoute{user: ok(`{"id":42}`), emails: socialRoute{status: 403, body: `{"message":"Resource not accessible by integration"}`}},
			calls:  both, id: "42", email: "",
		},
		{
			name:   "large id stays exact",
			routes: map[string]socialRoute{user: ok(`{"id":1234567890123456789}`), emails: ok(`[{"email":"a@x","primary":true,"verified":true}]`)},
			calls:  both, id: "1234567890123456789", email: "a@x",
		},
		{
			name:   "profile 400 (upstream)",
			routes: map[string]socialRoute{user: socialRoute{status: 400, body: `{"error":"invalid_request"}`}},
			calls:  []string{user},
			err:    &socialErr{op: ErrGetIDEmail, status: 400, code: "invalid_request"},
		},
		{
			name:   "profile HTML error page",
			routes: map[string]socialRoute{user: socialHTMLError},
			calls:  []string{user},
			err:    &socialErr{op: ErrGetIDEmail, status: 400, httpBody: "Bad request"},
		},
		{
			name:   "profile 401 JSON",
			routes: map[string]socialRoute{user: social401},
			calls:  []string{user},
			err:    &socialErr{op: ErrGetIDEmail, status: 401, httpBody: "Bad credentials"},
		},
		{
			name:   "emails 400 (upstream)",
			routes: map[string]socialRoute{user: ok(`{"id":42,"email":null}`), emails: socialRoute{status: 400, body: `{"error":"invalid_request"}`}},
			calls:  both,
			err:    &socialErr{op: ErrGetIDEmail, status: 400, code: "invalid_request"},
		},
		{
			name:   "emails answer is not a list",
			routes: map[string]socialRoute{user: ok(`{"id":42}`), emails: ok(`{"email":"a@x"}`)},
			calls:  both,
			err:    &socialErr{op: ErrGetIDEmail, cause: ErrInvalidResponse},
		},
		{
			name:   "emails connection closed",
			routes: map[string]socialRoute{user: ok(`{"id":42}`), emails: socialHangUp},
			calls:  both,
			err:    &socialErr{op: ErrGetIDEmail},
		},
		{
			name:   "profile 200 not JSON",
			routes: map[string]socialRoute{user: socialRoute{ctype: "text/html", body: "<html>hi</html>"}},
			calls:  []string{user},
			err:    &socialErr{op: ErrGetIDEmail, cause: ErrInvalidResponse},
		},
	}
	for _, bad := range []struct{ name, body string }{
		{"missing id", `{"login":"arthur"}`},
		{"null id", `{"id":null}`},
		{"empty id", `{"id":""}`},
		{"zero id", `{"id":0}`},
		{"object id", `{"id":{"n":1}}`},
		{"null document", `null`},
	} {
		cases = append(cases, socialCase{
			name: bad.name, routes: map[string]socialRoute{user: ok(bad.body)}, calls: []string{user},
			err: &socialErr{op: ErrGetIDEmail, cause: ErrMissingID},
		})
	}
	runSocialCases(t, cases, func(hc *http.Client) userAPIClient {
		c, err := NewGitHub("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		return c
	}, githubCheckReq)
}

func TestGitHubProfileAndEmails(t *testing.T) {
	api, hc := newSocialAPI(t, map[string]socialRoute{
		"GET api.github.com/user":        {body: `{"login":"arthur","id":1234567890123456789}`},
		"GET api.github.com/user/emails": {body: `[{"email":"a@x","primary":true,"verified":true,"visibility":"private"},{"email":"b@x","primary":"yes","verified":1}]`},
	})
	c, err := NewGitHub("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	p, err := c.Profile(context.Background(), socialToken)
	require.NoError(t, err)
	assert.JSONEq(t, `{"login":"arthur","id":1234567890123456789}`, string(p))
	assert.Contains(t, string(p), "1234567890123456789")
	emails, err := c.Emails(context.Background(), socialToken)
	require.NoError(t, err)
	assert.Equal(t, []GitHubEmail{
		{Email: "a@x", Primary: true, Verified: true, Visibility: "private"},
		{Email: "b@x"},
	}, emails)
	for _, r := range api.requests() {
		githubCheckReq(t, r)
	}

	for _, tc := range []struct {
		name  string
		route socialRoute
		want  socialErr
	}{
		{"401", social401, socialErr{op: ErrGetProfile, status: 401, httpBody: "Bad credentials"}},
		{"array", socialRoute{body: `[1]`}, socialErr{op: ErrGetProfile, cause: ErrInvalidResponse}},
		{"null", socialRoute{body: `null`}, socialErr{op: ErrGetProfile, cause: ErrInvalidResponse}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, hc := newSocialAPI(t, map[string]socialRoute{"GET api.github.com/user": tc.route, "GET api.github.com/user/emails": tc.route})
			c, err := NewGitHub("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			_, err = c.Profile(context.Background(), socialToken)
			checkSocialErr(t, err, tc.want)
			if tc.name == "401" {
				_, err = c.Emails(context.Background(), socialToken)
				checkSocialErr(t, err, tc.want)
			}
		})
	}
}

// githubRefreshSuccess is upstream's github_success_refresh_token.json.
const githubRefreshSuccess = `{"access_token":"ghu_XXX","expires_in":28800,"refresh_token":"ghr_XXX","refresh_token_expires_in":15897600,"scope":"","token_type":"bearer"}`

func TestGitHubTokenEndpoint(t *testing.T) {
	const tokenKey = "POST github.com/login/oauth/access_token"
	type call func(c *GitHub) (*Token, error)
	refresh := func(c *GitHub) (*Token, error) {
		return c.RefreshToken(context.Background(), "REFRESH_TOKEN")
	}
	exchange := func(c *GitHub) (*Token, error) {
		return c.AccessToken(context.Background(), "CODE", "https://app.example/cb", "VERIFIER")
	}
	for _, tc := range []struct {
		name     string
		call     call
		op       error
		route    socialRoute
		wantForm url.Values
		want     *socialErr
	}{
		{name: "refresh success", call: refresh, op: ErrRefreshToken, route: socialRoute{body: githubRefreshSuccess},
			wantForm: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"REFRESH_TOKEN"}, "client_id": {"CID"}, "client_secret": {"SEC"}}},
		{name: "refresh 400", call: refresh, route: socialRoute{status: 400, body: `{"error":"invalid_request"}`},
			want: &socialErr{op: ErrRefreshToken, status: 400, code: "invalid_request"}},
		{name: "refresh connection closed", call: refresh, route: socialHangUp,
			want: &socialErr{op: ErrRefreshToken}},
		{name: "refresh 200 with error (JSON)", call: refresh,
			route: socialRoute{body: `{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired.","error_uri":"https://docs.github.com"}`},
			want:  &socialErr{op: ErrRefreshToken, status: 200, code: "bad_refresh_token"}},
		{name: "refresh 200 not JSON", call: refresh, route: socialRoute{ctype: "text/html", body: "<html>oops</html>"},
			want: &socialErr{op: ErrRefreshToken, cause: ErrInvalidResponse, status: 200}},
		{name: "exchange success", call: exchange, route: socialRoute{body: `{"access_token":"gho_X","scope":"read:user,user:email","token_type":"bearer"}`},
			wantForm: url.Values{"grant_type": {"authorization_code"}, "code": {"CODE"}, "redirect_uri": {"https://app.example/cb"},
				"code_verifier": {"VERIFIER"}, "client_id": {"CID"}, "client_secret": {"SEC"}}},
		{name: "exchange 200 with error (JSON)", call: exchange,
			route: socialRoute{body: `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}`},
			want:  &socialErr{op: ErrGetAccessToken, status: 200, code: "bad_verification_code"}},
		{name: "exchange 200 with error (form-encoded)", call: exchange,
			route: socialRoute{ctype: "application/x-www-form-urlencoded; charset=utf-8", body: "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired."},
			want:  &socialErr{op: ErrGetAccessToken, status: 200, code: "bad_verification_code"}},
		{name: "exchange HTML error page", call: exchange, route: socialHTMLError,
			want: &socialErr{op: ErrGetAccessToken, status: 400, httpBody: "Bad request"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, hc := newSocialAPI(t, map[string]socialRoute{tokenKey: tc.route})
			c, err := NewGitHub("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			tok, err := tc.call(c)
			reqs := api.requests()
			require.NotEmpty(t, reqs)
			r := reqs[0]
			assertRequest(t, r, http.MethodPost, "github.com", "/login/oauth/access_token")
			assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
			assert.Equal(t, "application/json", r.Header.Get("Accept"))
			assert.Empty(t, r.Header.Get("Authorization"))
			if tc.want != nil {
				checkSocialErr(t, err, *tc.want)
				assert.Nil(t, tok)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantForm, socialForm(t, r.Body))
			assert.NotEmpty(t, tok.AccessToken)
			assert.False(t, tok.Expired(c.cfg.Now()))
			if tc.name == "refresh success" {
				assert.Equal(t, "ghu_XXX", tok.AccessToken)
				assert.Equal(t, "ghr_XXX", tok.RefreshToken)
				assert.Equal(t, "bearer", tok.TokenType)
				assert.False(t, tok.Expiry.IsZero())
			}
		})
	}
}

// WithGitHubAPIVersion: the version is sent in X-GitHub-Api-Version; a
// malformed one, or the option given to another provider, is refused.
func TestGitHubAPIVersionOption(t *testing.T) {
	var got string
	hc := providerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("X-GitHub-Api-Version")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1}`))
	}))
	c, err := NewGitHub("CID", "SEC", WithHTTPClient(hc), WithGitHubAPIVersion("2026-03-10"))
	require.NoError(t, err)
	_, err = c.Profile(t.Context(), "AT")
	require.NoError(t, err)
	assert.Equal(t, "2026-03-10", got)

	for _, v := range []string{"", "2026-03", "v3", "2026-03-10\r\nX: y"} {
		_, err := NewGitHub("CID", "SEC", WithGitHubAPIVersion(v))
		assert.ErrorIs(t, err, ErrInvalidConfig, "%q", v)
	}
	_, err = NewFacebook("CID", "SEC", WithGitHubAPIVersion("2026-03-10"))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = New(Config{ClientID: "CID", ClientSecret: "SEC", AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL},
		WithGitHubAPIVersion("2026-03-10"))
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// OrgMembership is true only for an "active" membership in the
// organization asked about; 404 and 403 are "not a member"; everything
// else that is not the membership document is an error, never a false
// that a caller could not tell from "not a member".
func TestGitHubOrgMembership(t *testing.T) {
	const route = "GET api.github.com/user/memberships/orgs/acme-corp"
	member := func(state, org string) socialRoute {
		return socialRoute{body: `{"url":"https://api.github.com/orgs/` + org + `/memberships/arthur","state":` + state +
			`,"role":"member","organization":{"login":"` + org + `","id":1},"user":{"login":"arthur","id":42}}`}
	}
	for _, tc := range []struct {
		name   string
		route  socialRoute
		member bool
		err    *socialErr
	}{
		{"active", member(`"active"`, "acme-corp"), true, nil},
		{"active, organization login in another case", member(`"active"`, "ACME-corp"), true, nil},
		{"pending invitation", member(`"pending"`, "acme-corp"), false, nil},
		{"state in another case", member(`"ACTIVE"`, "acme-corp"), false, nil},
		{"state true", member(`true`, "acme-corp"), false, nil},
		{"state null", member(`null`, "acme-corp"), false, nil},
		{"404: not a member (or no read:org)", socialRoute{status: 404, body: `{"message":"Not Found"}`}, false, nil},
		{"403: organization has not approved the app", socialRoute{status: 403, body: `{"message":"Resource protected by organization SAML enforcement"}`}, false, nil},
		{"500", socialRoute{status: 500, body: `{"message":"Server Error"}`}, false, &socialErr{op: ErrGetProfile, status: 500, httpBody: "Server Error"}},
		{"502 HTML", socialRoute{status: 502, ctype: "text/html", body: "<html>Bad gateway</html>"}, false, &socialErr{op: ErrGetProfile, status: 502, httpBody: "Bad gateway"}},
		{"401", social401, false, &socialErr{op: ErrGetProfile, status: 401, httpBody: "Bad credentials"}},
		{"redirect", socialRoute{status: 302, body: `{}`}, false, &socialErr{op: ErrGetProfile, cause: ErrRedirect, status: 302}},
		{"connection closed", socialHangUp, false, &socialErr{op: ErrGetProfile}},
		{"membership of another organization", member(`"active"`, "evil-corp"), false, &socialErr{op: ErrGetProfile, cause: ErrInvalidResponse}},
		{"no organization", socialRoute{body: `{"state":"active"}`}, false, &socialErr{op: ErrGetProfile, cause: ErrInvalidResponse}},
		{"organization login not a string", socialRoute{body: `{"state":"active","organization":{"login":["acme-corp"]}}`}, false, &socialErr{op: ErrGetProfile, cause: ErrInvalidResponse}},
		{"null document", socialRoute{body: `null`}, false, &socialErr{op: ErrGetProfile, cause: ErrInvalidResponse}},
		{"array", socialRoute{body: `[{"state":"active","organization":{"login":"acme-corp"}}]`}, false, &socialErr{op: ErrGetProfile, cause: ErrInvalidResponse}},
		{"200 HTML", socialRoute{ctype: "text/html", body: "<html>active</html>"}, false, &socialErr{op: ErrGetProfile, cause: ErrInvalidResponse}},
		{"truncated JSON", socialRoute{body: `{"state":"active","organization":{"login":"acme-corp"`}, false, &socialErr{op: ErrGetProfile, cause: ErrInvalidResponse}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, hc := newSocialAPI(t, map[string]socialRoute{route: tc.route})
			c, err := NewGitHub("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			ok, err := c.OrgMembership(t.Context(), socialToken, "acme-corp")
			assert.Equal(t, tc.member, ok)
			if tc.err != nil {
				checkSocialErr(t, err, *tc.err)
				assert.NotContains(t, err.Error(), socialToken)
			} else {
				require.NoError(t, err)
			}
			reqs := api.requests()
			require.NotEmpty(t, reqs)
			for _, r := range reqs {
				githubCheckReq(t, r)
				assertRequest(t, r, http.MethodGet, "api.github.com", "/user/memberships/orgs/acme-corp")
			}
		})
	}
	t.Run("oversized body", func(t *testing.T) {
		hc := providerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { providertest.WriteHuge(w) }))
		c, err := NewGitHub("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		ok, err := c.OrgMembership(t.Context(), socialToken, "acme-corp")
		assert.False(t, ok)
		checkSocialErr(t, err, socialErr{op: ErrGetProfile, cause: ErrResponseTooLarge})
	})
	t.Run("malformed organization or no token: no request", func(t *testing.T) {
		api, hc := newSocialAPI(t, nil)
		c, err := NewGitHub("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		for _, org := range []string{"", "acme/../../user", "acme?x=1", "acme%2F..", "-acme", "acme-", "ac--me", "acme corp", "ac.me", strings.Repeat("a", 40)} {
			ok, err := c.OrgMembership(t.Context(), socialToken, org)
			assert.False(t, ok)
			assert.ErrorIs(t, err, ErrInvalidConfig, "%q", org)
		}
		ok, err := c.OrgMembership(t.Context(), "", "acme-corp")
		assert.False(t, ok)
		assert.ErrorIs(t, err, ErrGetProfile)
		assert.ErrorIs(t, err, ErrMissingAccessToken)
		assert.Empty(t, api.requests())
		assert.True(t, ValidGitHubLogin(strings.Repeat("a", 39)))
		assert.True(t, ValidGitHubLogin("a-b-c1"))
	})
}
