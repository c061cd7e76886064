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

func TestGoogleConfig(t *testing.T) {
	c, err := NewGoogle("CID", "SEC")
	require.NoError(t, err)
	checkSocialConfig(t, c, socialConfig{
		authorize: "https://accounts.google.com/o/oauth2/v2/auth",
		token:     "https://oauth2.googleapis.com/token",
		refresh:   "https://oauth2.googleapis.com/token",
		revoke:    "https://oauth2.googleapis.com/revoke",
		scopes: []string{
			"https://www.googleapis.com/auth/userinfo.profile",
			"https://www.googleapis.com/auth/userinfo.email",
		},
		tokenAuth: ClientSecretPost, revokeAuth: ClientSecretPost,
		name: "google", display: "Google",
	})
}

func TestGoogleAuthorizationURL(t *testing.T) {
	c, err := NewGoogle("CID", "SEC")
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		params GoogleParams
		want   url.Values
	}{
		{"zero params send nothing extra", GoogleParams{}, url.Values{}},
		{"all params", GoogleParams{AccessType: "offline", Prompt: "consent select_account", LoginHint: "arthur@camelot.bt", IncludeGrantedScopes: true, HD: "camelot.bt"},
			url.Values{"access_type": {"offline"}, "prompt": {"consent select_account"}, "login_hint": {"arthur@camelot.bt"},
				"include_granted_scopes": {"true"}, "hd": {"camelot.bt"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := c.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "S", CodeChallenge: "CH", CodeChallengeMethod: "S256"}, tc.params)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(u, "https://accounts.google.com/o/oauth2/v2/auth?"), u)
			want := url.Values{
				"response_type": {"code"}, "client_id": {"CID"}, "redirect_uri": {"https://app.example/cb"}, "state": {"S"},
				"scope":          {"https://www.googleapis.com/auth/userinfo.profile https://www.googleapis.com/auth/userinfo.email"},
				"code_challenge": {"CH"}, "code_challenge_method": {"S256"},
			}
			for k, v := range tc.want {
				want[k] = v
			}
			assert.Equal(t, want, socialQuery(t, u))
		})
	}
}

func googleCheckReq(t *testing.T, r recorded) {
	t.Helper()
	assertRequest(t, r, http.MethodGet, "people.googleapis.com", "/v1/people/me")
	assert.Equal(t, "personFields=emailAddresses,names,photos", r.Query)
	assert.Equal(t, "Bearer "+socialToken, r.Header.Get("Authorization"))
	assert.Equal(t, "application/json", r.Header.Get("Accept"))
}

func TestGoogleIDEmail(t *testing.T) {
	const me = "GET people.googleapis.com/v1/people/me"
	route := func(body string) map[string]socialRoute { return map[string]socialRoute{me: {body: body}} }
	one := []string{me}
	cases := []socialCase{
		{
			// Upstream case: the primary entry wins over a non-primary one
			// listed second; verified is now required too.
			name: "primary verified entry over a secondary",
			routes: route(`{"resourceName":"people/424242424242","etag":"e","emailAddresses":[
				{"metadata":{"primary":true,"verified":true,"source":{"type":"ACCOUNT","id":"424242424242"}},"value":"arthur@camelot.bt"},
				{"metadata":{"verified":true,"source":{"type":"CONTACT","id":"1"}},"value":"arthur@lancelot.bt"}]}`),
			calls: one, id: "people/424242424242", email: "arthur@camelot.bt",
		},
		{
			name: "primary entry listed second",
			routes: route(`{"resourceName":"people/424242424242","emailAddresses":[
				{"metadata":{"verified":true},"value":"other@camelot.bt"},
				{"metadata":{"primary":true,"verified":true},"value":"arthur@camelot.bt"}]}`),
			calls: one, id: "people/424242424242", email: "arthur@camelot.bt",
		},
		{
			// Upstream raised RuntimeError (StopIteration) here.
			name:   "no primary entry: no email, no error",
			routes: route(`{"resourceName":"people/424242424242","emailAddresses":[{"metadata":{"verified":true},"value":"arthur@camelot.bt"}]}`),
			calls:  one, id: "people/424242424242", email: "",
		},
		{
			name:   "unverified primary: no email",
			routes: route(`{"resourceName":"people/424242424242","emailAddresses":[{"metadata":{"primary":true,"verified":false},"value":"arthur@camelot.bt"},{"metadata":{"verified":true},"value":"b@x"}]}`),
			calls:  one, id: "people/424242424242", email: "",
		},
		{
			name:   "verified as a string does not count",
			routes: route(`{"resourceName":"people/424242424242","emailAddresses":[{"metadata":{"primary":true,"verified":"true"},"value":"arthur@camelot.bt"}]}`),
			calls:  one, id: "people/424242424242", email: "",
		},
		{
			// Upstream raised KeyError.
			name:   "no emailAddresses (email scope not granted)",
			routes: route(`{"resourceName":"people/424242424242","etag":"e"}`),
			calls:  one, id: "people/424242424242", email: "",
		},
		{
			name:   "empty emailAddresses",
			routes: route(`{"resourceName":"people/1234567890123456789","emailAddresses":[]}`),
			calls:  one, id: "people/1234567890123456789", email: "",
		},
		{
			name:   "400 (upstream)",
			routes: map[string]socialRoute{me: {status: 400, body: `{"error":"invalid_request"}`}},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 400, code: "invalid_request"},
		},
		{
			name:   "401 Google JSON error object",
			routes: map[string]socialRoute{me: {status: 401, body: `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`}},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 401, httpBody: "UNAUTHENTICATED"},
		},
		{
			name:   "HTML error page",
			routes: map[string]socialRoute{me: socialHTMLError},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 400, httpBody: "Bad request"},
		},
		{
			name:   "connection closed",
			routes: map[string]socialRoute{me: socialHangUp},
			calls:  one, err: &socialErr{op: ErrGetIDEmail},
		},
		{
			name:   "emailAddresses not a list",
			routes: route(`{"resourceName":"people/1","emailAddresses":{"value":"a@x"}}`),
			calls:  one, err: &socialErr{op: ErrGetIDEmail, cause: ErrInvalidResponse},
		},
	}
	for _, bad := range []struct{ name, body string }{
		{"missing resourceName", `{"emailAddresses":[]}`},
		{"null resourceName", `{"resourceName":null}`},
		{"empty resourceName", `{"resourceName":""}`},
		{"bare people/ prefix", `{"resourceName":"people/"}`},
		{"numeric resourceName", `{"resourceName":0}`},
		{"object resourceName", `{"resourceName":{"id":"1"}}`},
	} {
		cases = append(cases, socialCase{name: bad.name, routes: route(bad.body), calls: one,
			err: &socialErr{op: ErrGetIDEmail, cause: ErrMissingID}})
	}
	runSocialCases(t, cases, func(hc *http.Client) userAPIClient {
		c, err := NewGoogle("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		return c
	}, googleCheckReq)
}

func TestGoogleProfile(t *testing.T) {
	const body = `{"resourceName":"people/424242424242","emailAddresses":[{"metadata":{"primary":true,"verified":true},"value":"arthur@camelot.bt"}]}`
	api, hc := newSocialAPI(t, map[string]socialRoute{"GET people.googleapis.com/v1/people/me": {body: body}})
	c, err := NewGoogle("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	p, err := c.Profile(context.Background(), socialToken)
	require.NoError(t, err)
	assert.JSONEq(t, body, string(p))
	require.Len(t, api.requests(), 1)
	googleCheckReq(t, api.requests()[0])

	_, hc = newSocialAPI(t, map[string]socialRoute{"GET people.googleapis.com/v1/people/me": {status: 403, body: `{"error":"insufficient_scope"}`}})
	c, err = NewGoogle("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	_, err = c.Profile(context.Background(), socialToken)
	checkSocialErr(t, err, socialErr{op: ErrGetProfile, status: 403, code: "insufficient_scope"})
}

// googleAccessToken and googleRefreshToken are upstream's
// google_success_access_token.json and google_success_refresh_token.json.
const (
	googleAccessToken  = `{"access_token":"ya29.AT","expires_in":3920,"token_type":"Bearer","scope":"openid","refresh_token":"1//RT"}`
	googleRefreshToken = `{"access_token":"ya29.AT2","expires_in":3920,"token_type":"Bearer","scope":"openid"}`
)

func TestGoogleTokenAndRevoke(t *testing.T) {
	api, hc := newSocialAPI(t, map[string]socialRoute{
		"POST oauth2.googleapis.com/token":  {body: googleRefreshToken},
		"POST oauth2.googleapis.com/revoke": {body: `{}`},
	})
	c, err := NewGoogle("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	tok, err := c.RefreshToken(context.Background(), "1//RT")
	require.NoError(t, err)
	assert.Equal(t, "ya29.AT2", tok.AccessToken)
	assert.Equal(t, "1//RT", tok.RefreshToken, "Google does not rotate: the old refresh token is kept")
	assert.False(t, tok.Expired(c.cfg.Now()))
	require.NoError(t, c.RevokeToken(context.Background(), "1//RT", "refresh_token"))

	reqs := api.requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "oauth2.googleapis.com", r.Host)
		assert.Empty(t, r.Query)
		assert.Empty(t, r.Header.Get("Authorization"))
		assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
	}
	assert.Equal(t, "/token", reqs[0].Path)
	assert.Equal(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"1//RT"}, "client_id": {"CID"}, "client_secret": {"SEC"}}, socialForm(t, reqs[0].Body))
	assert.Equal(t, "/revoke", reqs[1].Path)
	assert.Equal(t, url.Values{"token": {"1//RT"}, "token_type_hint": {"refresh_token"}, "client_id": {"CID"}, "client_secret": {"SEC"}}, socialForm(t, reqs[1].Body))

	for _, tc := range []struct {
		name  string
		route socialRoute
		want  socialErr
	}{
		{"revoke 400", socialRoute{status: 400, body: `{"error":"invalid_token","error_description":"Token expired or revoked"}`},
			socialErr{op: ErrRevokeToken, status: 400, code: "invalid_token"}},
		{"revoke HTML", socialHTMLError, socialErr{op: ErrRevokeToken, status: 400, httpBody: "Bad request"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, hc := newSocialAPI(t, map[string]socialRoute{"POST oauth2.googleapis.com/revoke": tc.route})
			c, err := NewGoogle("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			checkSocialErr(t, c.RevokeToken(context.Background(), "AT", ""), tc.want)
		})
	}

	_, hc = newSocialAPI(t, map[string]socialRoute{"POST oauth2.googleapis.com/token": {body: googleAccessToken}})
	c, err = NewGoogle("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	tok, err = c.AccessToken(context.Background(), "CODE", "https://app.example/cb", "")
	require.NoError(t, err)
	assert.Equal(t, "1//RT", tok.RefreshToken)
}
