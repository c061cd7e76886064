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

func TestFacebookConfig(t *testing.T) {
	c, err := NewFacebook("CID", "SEC")
	require.NoError(t, err)
	checkSocialConfig(t, c, socialConfig{
		authorize: "https://www.facebook.com/v23.0/dialog/oauth",
		token:     "https://graph.facebook.com/v23.0/oauth/access_token",
		scopes:    []string{"email", "public_profile"},
		tokenAuth: ClientSecretPost,
		name:      "facebook", display: "Facebook",
	})
	assert.Equal(t, FacebookGraphVersion, c.GraphVersion())

	c, err = NewFacebook("CID", "SEC", WithFacebookGraphVersion("v24.0"))
	require.NoError(t, err)
	assert.Equal(t, "v24.0", c.GraphVersion())
	assert.Equal(t, "https://www.facebook.com/v24.0/dialog/oauth", c.cfg.AuthorizeEndpoint)
	assert.Equal(t, "https://graph.facebook.com/v24.0/oauth/access_token", c.cfg.AccessTokenEndpoint)
}

func TestFacebookGraphVersionValidation(t *testing.T) {
	for _, v := range []string{"", "23.0", "v23", "v23.0/..", "v23.0/../../me", "v23.0?x=1", "v23.0#f", "evil.example/v1.0", "v23.0\n", "V23.0"} {
		t.Run(v, func(t *testing.T) {
			c, err := NewFacebook("CID", "SEC", WithFacebookGraphVersion(v))
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Nil(t, c)
		})
	}
}

func TestFacebookAuthorizationURL(t *testing.T) {
	c, err := NewFacebook("CID", "SEC")
	require.NoError(t, err)
	u, err := c.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "S"}, FacebookParams{AuthType: "rerequest"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u, "https://www.facebook.com/v23.0/dialog/oauth?"), u)
	assert.Equal(t, url.Values{
		"response_type": {"code"}, "client_id": {"CID"}, "redirect_uri": {"https://app.example/cb"},
		"state": {"S"}, "scope": {"email public_profile"}, "auth_type": {"rerequest"},
	}, socialQuery(t, u))
}

// facebookProof is hex(HMAC-SHA256("SEC", socialToken)), computed with
// `openssl dgst -sha256 -hmac SEC`.
const facebookProof = "650efd196eea57c0015056b7322276eba8900af7456fa12fbe053f25d17fe1ff"

func facebookCheckReq(version string) func(*testing.T, recorded) {
	return func(t *testing.T, r recorded) {
		t.Helper()
		assert.Equal(t, http.MethodGet, r.Method)
		assert.Equal(t, "graph.facebook.com", r.Host)
		assert.Equal(t, "/"+version+"/me", r.Path)
		q, err := url.ParseQuery(r.Query)
		require.NoError(t, err)
		assert.Equal(t, url.Values{"fields": {"id,name,email,picture"}, "appsecret_proof": {facebookProof}}, q)
		assert.NotContains(t, r.Query, "access_token")
		assert.NotContains(t, r.Query, socialToken)
		assert.Equal(t, "Bearer "+socialToken, r.Header.Get("Authorization"))
		assert.Equal(t, "application/json", r.Header.Get("Accept"))
	}
}

func TestFacebookIDEmail(t *testing.T) {
	const me = "GET graph.facebook.com/v23.0/me"
	route := func(body string) map[string]socialRoute { return map[string]socialRoute{me: {body: body}} }
	one := []string{me}
	cases := []socialCase{
		{name: "success (upstream)", routes: route(`{"id":"424242","email":"arthur@camelot.bt"}`), calls: one, id: "424242", email: "arthur@camelot.bt"},
		{name: "no email (upstream)", routes: route(`{"id":"424242"}`), calls: one, id: "424242", email: ""},
		{name: "null email", routes: route(`{"id":"424242","email":null}`), calls: one, id: "424242", email: ""},
		{name: "large id stays exact", routes: route(`{"id":1234567890123456789}`), calls: one, id: "1234567890123456789"},
		{
			name:   "400 (upstream)",
			routes: map[string]socialRoute{me: {status: 400, body: `{"error":"invalid_request"}`}},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 400, code: "invalid_request"},
		},
		{
			name:   "401 Graph API error object",
			routes: map[string]socialRoute{me: {status: 401, body: `{"error":{"message":"Invalid OAuth access token data.","type":"OAuthException","code":190,"fbtrace_id":"A"}}`}},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 401, httpBody: "OAuthException"},
		},
		{
			name:   "HTML error page",
			routes: map[string]socialRoute{me: socialHTMLError},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 400, httpBody: "Bad request"},
		},
		{
			name:   "connection closed: the error does not carry the token",
			routes: map[string]socialRoute{me: socialHangUp},
			calls:  one, err: &socialErr{op: ErrGetIDEmail},
		},
	}
	for _, bad := range []struct{ name, body string }{
		{"missing id", `{"email":"arthur@camelot.bt"}`},
		{"null id", `{"id":null}`},
		{"empty id", `{"id":""}`},
		{"zero id", `{"id":0}`},
		{"array id", `{"id":["1"]}`},
	} {
		cases = append(cases, socialCase{name: bad.name, routes: route(bad.body), calls: one,
			err: &socialErr{op: ErrGetIDEmail, cause: ErrMissingID}})
	}
	runSocialCases(t, cases, func(hc *http.Client) userAPIClient {
		c, err := NewFacebook("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		return c
	}, facebookCheckReq("v23.0"))
}

func TestFacebookProfileVersion(t *testing.T) {
	const body = `{"id":"424242","email":"arthur@camelot.bt"}`
	api, hc := newSocialAPI(t, map[string]socialRoute{"GET graph.facebook.com/v24.0/me": {body: body}})
	c, err := NewFacebook("CID", "SEC", WithHTTPClient(hc), WithFacebookGraphVersion("v24.0"))
	require.NoError(t, err)
	p, err := c.Profile(context.Background(), socialToken)
	require.NoError(t, err)
	assert.JSONEq(t, body, string(p))
	require.Len(t, api.requests(), 1)
	facebookCheckReq("v24.0")(t, api.requests()[0])
}

// facebookLongLived is upstream's facebook_success_long_lived_access_token.json.
const facebookLongLived = `{"access_token":"LONG_LIVED","token_type":"bearer","expires_in":5183944}`

func TestFacebookLongLivedAccessToken(t *testing.T) {
	const key = "POST graph.facebook.com/v23.0/oauth/access_token"
	for _, tc := range []struct {
		name  string
		route socialRoute
		want  *socialErr
	}{
		{name: "success (upstream)", route: socialRoute{body: facebookLongLived}},
		{name: "400 (upstream)", route: socialRoute{status: 400, body: `{"error":{"message":"Error validating access token","type":"OAuthException","code":190}}`},
			want: &socialErr{op: ErrGetLongLivedAccessToken, status: 400, httpBody: "OAuthException"}},
		{name: "connection closed (upstream HTTPError)", route: socialHangUp,
			want: &socialErr{op: ErrGetLongLivedAccessToken}},
		{name: "200 not JSON (upstream)", route: socialRoute{ctype: "text/html", body: "<html>nope</html>"},
			want: &socialErr{op: ErrGetLongLivedAccessToken, status: 200, cause: ErrInvalidResponse}},
		{name: "200 with RFC error member", route: socialRoute{body: `{"error":"invalid_request"}`},
			want: &socialErr{op: ErrGetLongLivedAccessToken, status: 200, code: "invalid_request"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, hc := newSocialAPI(t, map[string]socialRoute{key: tc.route})
			c, err := NewFacebook("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			tok, err := c.LongLivedAccessToken(context.Background(), "ACCESS_TOKEN")
			reqs := api.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assertRequest(t, r, http.MethodPost, "graph.facebook.com", "/v23.0/oauth/access_token")
			assert.Empty(t, r.Query)
			assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
			assert.Equal(t, url.Values{
				"grant_type": {"fb_exchange_token"}, "fb_exchange_token": {"ACCESS_TOKEN"},
				"client_id": {"CID"}, "client_secret": {"SEC"},
			}, socialForm(t, r.Body))
			if tc.want != nil {
				checkSocialErr(t, err, *tc.want)
				assert.ErrorIs(t, err, ErrOAuth2)
				assert.NotContains(t, err.Error(), "ACCESS_TOKEN")
				assert.Nil(t, tok)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "LONG_LIVED", tok.AccessToken)
			assert.Equal(t, "bearer", tok.TokenType)
			assert.False(t, tok.Expired(c.cfg.Now()))
			assert.False(t, tok.Expiry.IsZero())
		})
	}
}
