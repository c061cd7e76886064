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

func TestTwitchConfig(t *testing.T) {
	c, err := NewTwitch("CID", "SEC")
	require.NoError(t, err)
	checkSocialConfig(t, c, socialConfig{
		authorize: "https://id.twitch.tv/oauth2/authorize",
		token:     "https://id.twitch.tv/oauth2/token",
		refresh:   "https://id.twitch.tv/oauth2/token",
		revoke:    "https://id.twitch.tv/oauth2/revoke",
		scopes:    []string{"user:read:email"},
		tokenAuth: ClientSecretPost, revokeAuth: ClientSecretPost,
		name: "twitch", display: "Twitch",
	})
}

func TestTwitchAuthorizationURL(t *testing.T) {
	c, err := NewTwitch("CID", "SEC")
	require.NoError(t, err)
	u, err := c.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "S"}, TwitchParams{ForceVerify: true})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u, "https://id.twitch.tv/oauth2/authorize?"), u)
	assert.Equal(t, url.Values{
		"response_type": {"code"}, "client_id": {"CID"}, "redirect_uri": {"https://app.example/cb"},
		"state": {"S"}, "scope": {"user:read:email"}, "force_verify": {"true"},
	}, socialQuery(t, u))
	u, err = c.AuthCodeURL("https://app.example/cb", AuthURLOptions{}, TwitchParams{})
	require.NoError(t, err)
	assert.NotContains(t, u, "force_verify")
}

func TestTwitchTokenEndpoint(t *testing.T) {
	const key = "POST id.twitch.tv/oauth2/token"
	// Twitch's documented answer: scope is a JSON array.
	const success = `{"access_token":"rfx2uswqe8l4g1mkagrvg5tv0ks3","expires_in":14124,"refresh_token":"5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01","scope":["user:read:email","chat:read"],"token_type":"bearer"}`
	exchange := func(c *Twitch) (*Token, error) {
		return c.AccessToken(context.Background(), "CODE", "https://app.example/cb", "V")
	}
	refresh := func(c *Twitch) (*Token, error) { return c.RefreshToken(context.Background(), "OLD_RT") }
	for _, tc := range []struct {
		name     string
		route    socialRoute
		call     func(*Twitch) (*Token, error)
		wantForm url.Values
		check    func(*testing.T, *Token)
		want     *socialErr
	}{
		{name: "exchange with array scope", route: socialRoute{body: success}, call: exchange,
			wantForm: url.Values{"grant_type": {"authorization_code"}, "code": {"CODE"}, "redirect_uri": {"https://app.example/cb"},
				"code_verifier": {"V"}, "client_id": {"CID"}, "client_secret": {"SEC"}},
			check: func(t *testing.T, tok *Token) {
				assert.Equal(t, "rfx2uswqe8l4g1mkagrvg5tv0ks3", tok.AccessToken)
				assert.Equal(t, "5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01", tok.RefreshToken)
				assert.Equal(t, "user:read:email chat:read", tok.Scope)
				assert.False(t, tok.Expiry.IsZero())
			}},
		{name: "exchange with string scope", route: socialRoute{body: `{"access_token":"AT","scope":"user:read:email","token_type":"bearer"}`}, call: exchange,
			check: func(t *testing.T, tok *Token) { assert.Equal(t, "user:read:email", tok.Scope) }},
		{name: "refresh rotates", route: socialRoute{body: success}, call: refresh,
			wantForm: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"OLD_RT"}, "client_id": {"CID"}, "client_secret": {"SEC"}},
			check: func(t *testing.T, tok *Token) {
				assert.Equal(t, "5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01", tok.RefreshToken)
			}},
		{name: "refresh without new refresh token keeps the old one", route: socialRoute{body: `{"access_token":"AT","scope":[],"token_type":"bearer"}`}, call: refresh,
			check: func(t *testing.T, tok *Token) {
				assert.Equal(t, "OLD_RT", tok.RefreshToken)
				assert.Empty(t, tok.Scope)
			}},
		{name: "exchange 400 Twitch JSON", route: socialRoute{status: 400, body: `{"status":400,"message":"Invalid authorization code"}`}, call: exchange,
			want: &socialErr{op: ErrGetAccessToken, status: 400, httpBody: "Invalid authorization code"}},
		{name: "refresh 400 invalid refresh token", route: socialRoute{status: 400, body: `{"error":"Bad Request","status":400,"message":"Invalid refresh token"}`}, call: refresh,
			want: &socialErr{op: ErrRefreshToken, status: 400, code: "Bad Request"}},
		{name: "exchange 200 with error", route: socialRoute{body: `{"error":"invalid_grant"}`}, call: exchange,
			want: &socialErr{op: ErrGetAccessToken, status: 200, code: "invalid_grant"}},
		{name: "exchange 200 not JSON", route: socialRoute{ctype: "text/html", body: "<html></html>"}, call: exchange,
			want: &socialErr{op: ErrGetAccessToken, status: 200, cause: ErrInvalidResponse}},
		{name: "exchange without access_token", route: socialRoute{body: `{"scope":["a"]}`}, call: exchange,
			want: &socialErr{op: ErrGetAccessToken, status: 200, cause: ErrMissingAccessToken}},
		{name: "exchange connection closed", route: socialHangUp, call: exchange,
			want: &socialErr{op: ErrGetAccessToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, hc := newSocialAPI(t, map[string]socialRoute{key: tc.route})
			c, err := NewTwitch("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			tok, err := tc.call(c)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assertRequest(t, r, http.MethodPost, "id.twitch.tv", "/oauth2/token")
			assert.Empty(t, r.Header.Get("Authorization"))
			assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
			assert.Equal(t, "application/json", r.Header.Get("Accept"))
			if tc.want != nil {
				checkSocialErr(t, err, *tc.want)
				assert.Nil(t, tok)
				return
			}
			require.NoError(t, err)
			if tc.wantForm != nil {
				assert.Equal(t, tc.wantForm, socialForm(t, r.Body))
			}
			tc.check(t, tok)
		})
	}
}

func TestTwitchRevokeToken(t *testing.T) {
	const key = "POST id.twitch.tv/oauth2/revoke"
	for _, tc := range []struct {
		name  string
		hint  string
		route socialRoute
		form  url.Values
		want  *socialErr
	}{
		{name: "success", route: socialRoute{ctype: "text/plain"}, form: url.Values{"client_id": {"CID"}, "token": {"AT"}}},
		{name: "success with hint", hint: "access_token", route: socialRoute{ctype: "text/plain"},
			form: url.Values{"client_id": {"CID"}, "token": {"AT"}, "token_type_hint": {"access_token"}}},
		{name: "invalid token", route: socialRoute{status: 400, body: `{"status":400,"message":"Invalid token"}`},
			form: url.Values{"client_id": {"CID"}, "token": {"AT"}},
			want: &socialErr{op: ErrRevokeToken, status: 400, httpBody: "Invalid token"}},
		{name: "unknown client", route: socialRoute{status: 404, body: `{"status":404,"message":"client does not exist"}`},
			form: url.Values{"client_id": {"CID"}, "token": {"AT"}},
			want: &socialErr{op: ErrRevokeToken, status: 404, httpBody: "client does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, hc := newSocialAPI(t, map[string]socialRoute{key: tc.route})
			c, err := NewTwitch("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			err = c.RevokeToken(context.Background(), "AT", tc.hint)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assertRequest(t, r, http.MethodPost, "id.twitch.tv", "/oauth2/revoke")
			assert.Empty(t, r.Header.Get("Authorization"))
			assert.Equal(t, tc.form, socialForm(t, r.Body), "client_id and token only: no client secret")
			if tc.want != nil {
				checkSocialErr(t, err, *tc.want)
				return
			}
			require.NoError(t, err)
		})
	}
}

func twitchCheckReq(t *testing.T, r recorded) {
	t.Helper()
	assertRequest(t, r, http.MethodGet, "api.twitch.tv", "/helix/users")
	assert.Empty(t, r.Query)
	assert.Equal(t, "Bearer "+socialToken, r.Header.Get("Authorization"))
	assert.Equal(t, "CID", r.Header.Get("Client-Id"))
	assert.Equal(t, "application/json", r.Header.Get("Accept"))
}

// twitchUser is the documented Get Users example.
const twitchUser = `{"data":[{"id":"141981764","login":"twitchdev","display_name":"TwitchDev","type":"","broadcaster_type":"partner",
"description":"Supporting third-party developers building Twitch integrations from chatbots to game integrations.",
"profile_image_url":"https://static-cdn.jtvnw.net/jtv_user_pictures/8a6381c7-d0c0-4576-b179-38bd5ce1d6af-profile_image-300x300.png",
"offline_image_url":"https://static-cdn.jtvnw.net/jtv_user_pictures/3f13ab61-ec78-4fe6-8481-8682cb3b0ac2-channel_offline_image-1920x1080.png",
"view_count":5980557,"email":"not-real@email.com","created_at":"2016-12-14T20:32:28Z"}]}`

func TestTwitchIDEmail(t *testing.T) {
	const users = "GET api.twitch.tv/helix/users"
	route := func(body string) map[string]socialRoute { return map[string]socialRoute{users: {body: body}} }
	one := []string{users}
	cases := []socialCase{
		{name: "documented example", routes: route(twitchUser), calls: one, id: "141981764", email: "not-real@email.com"},
		{name: "no email (scope not granted)", routes: route(`{"data":[{"id":"141981764","login":"twitchdev"}]}`), calls: one, id: "141981764"},
		{name: "large numeric id stays exact", routes: route(`{"data":[{"id":1234567890123456789}]}`), calls: one, id: "1234567890123456789"},
		{
			name:   "401 Twitch JSON",
			routes: map[string]socialRoute{users: {status: 401, body: `{"error":"Unauthorized","status":401,"message":"Invalid OAuth token"}`}},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 401, code: "Unauthorized"},
		},
		{
			name:   "HTML error page",
			routes: map[string]socialRoute{users: socialHTMLError},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 400, httpBody: "Bad request"},
		},
		{
			name:   "connection closed",
			routes: map[string]socialRoute{users: socialHangUp},
			calls:  one, err: &socialErr{op: ErrGetIDEmail},
		},
		{
			name:   "data is not a list",
			routes: route(`{"data":{"id":"1"}}`),
			calls:  one, err: &socialErr{op: ErrGetIDEmail, cause: ErrInvalidResponse},
		},
		{
			name:   "data[0] is not an object",
			routes: route(`{"data":["1"]}`),
			calls:  one, err: &socialErr{op: ErrGetIDEmail, cause: ErrInvalidResponse},
		},
	}
	for _, bad := range []struct{ name, body string }{
		{"empty data", `{"data":[]}`},
		{"missing data", `{}`},
		{"missing id", `{"data":[{"login":"twitchdev"}]}`},
		{"null id", `{"data":[{"id":null}]}`},
		{"empty id", `{"data":[{"id":""}]}`},
		{"zero id", `{"data":[{"id":0}]}`},
	} {
		cases = append(cases, socialCase{name: bad.name, routes: route(bad.body), calls: one,
			err: &socialErr{op: ErrGetIDEmail, cause: ErrMissingID}})
	}
	runSocialCases(t, cases, func(hc *http.Client) userAPIClient {
		c, err := NewTwitch("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		return c
	}, twitchCheckReq)
}

func TestTwitchProfile(t *testing.T) {
	api, hc := newSocialAPI(t, map[string]socialRoute{"GET api.twitch.tv/helix/users": {body: twitchUser}})
	c, err := NewTwitch("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	p, err := c.Profile(context.Background(), socialToken)
	require.NoError(t, err)
	assert.Contains(t, string(p), `"id":"141981764"`)
	assert.True(t, strings.HasPrefix(string(p), "{"), "the user object, not the envelope")
	assert.NotContains(t, string(p), `"data"`)
	require.Len(t, api.requests(), 1)
	twitchCheckReq(t, api.requests()[0])

	_, hc = newSocialAPI(t, map[string]socialRoute{"GET api.twitch.tv/helix/users": {body: `{"data":[]}`}})
	c, err = NewTwitch("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	_, err = c.Profile(context.Background(), socialToken)
	checkSocialErr(t, err, socialErr{op: ErrGetProfile, cause: ErrMissingID})
}

// Twitch revokes access tokens only: a refresh-token hint fails before any
// request, so the kit falls back to the access token.
func TestTwitchRevokeRefusesRefreshTokens(t *testing.T) {
	hits := 0
	hc := providerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	c, err := NewTwitch("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	err = c.RevokeToken(context.Background(), "RT", "refresh_token")
	assert.ErrorIs(t, err, ErrRevokeToken)
	assert.ErrorIs(t, err, ErrRevokeNotSupported)
	assert.Zero(t, hits)
}
