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

func TestDiscordConfig(t *testing.T) {
	c, err := NewDiscord("CID", "SEC")
	require.NoError(t, err)
	checkSocialConfig(t, c, socialConfig{
		authorize: "https://discord.com/oauth2/authorize",
		token:     "https://discord.com/api/oauth2/token",
		refresh:   "https://discord.com/api/oauth2/token",
		revoke:    "https://discord.com/api/oauth2/token/revoke",
		scopes:    []string{"identify", "email"},
		tokenAuth: ClientSecretBasic, revokeAuth: ClientSecretBasic,
		name: "discord", display: "Discord",
	})
}

func TestDiscordAuthorizationURL(t *testing.T) {
	c, err := NewDiscord("CID", "SEC")
	require.NoError(t, err)
	u, err := c.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "S"}, DiscordParams{Prompt: "none"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u, "https://discord.com/oauth2/authorize?"), u)
	assert.Equal(t, url.Values{
		"response_type": {"code"}, "client_id": {"CID"}, "redirect_uri": {"https://app.example/cb"},
		"state": {"S"}, "scope": {"identify email"}, "prompt": {"none"},
	}, socialQuery(t, u))
	u, err = c.AuthCodeURL("https://app.example/cb", AuthURLOptions{}, DiscordParams{})
	require.NoError(t, err)
	assert.NotContains(t, u, "prompt")
}

func discordCheckReq(t *testing.T, r recorded) {
	t.Helper()
	assertRequest(t, r, http.MethodGet, "discord.com", "/api/v10/users/@me")
	assert.Empty(t, r.Query)
	assert.Equal(t, "Bearer "+socialToken, r.Header.Get("Authorization"))
	assert.Equal(t, "application/json", r.Header.Get("Accept"))
}

func TestDiscordIDEmail(t *testing.T) {
	const me = "GET discord.com/api/v10/users/@me"
	route := func(body string) map[string]socialRoute { return map[string]socialRoute{me: {body: body}} }
	one := []string{me}
	cases := []socialCase{
		{
			name:   "verified email (upstream)",
			routes: route(`{"id":"80351110224678912","username":"Nelly","discriminator":"0","email":"nelly@discord.com","verified":true,"mfa_enabled":false}`),
			calls:  one, id: "80351110224678912", email: "nelly@discord.com",
		},
		{
			name:   "no email and no verified (upstream)",
			routes: route(`{"id":"80351110224678912","username":"Nelly"}`),
			calls:  one, id: "80351110224678912", email: "",
		},
		{
			name:   "email with verified false (upstream)",
			routes: route(`{"id":"80351110224678912","email":"nelly@discord.com","verified":false}`),
			calls:  one, id: "80351110224678912", email: "",
		},
		{
			name:   "email without verified",
			routes: route(`{"id":"80351110224678912","email":"nelly@discord.com"}`),
			calls:  one, id: "80351110224678912", email: "",
		},
		{
			name:   "verified as the string true does not count",
			routes: route(`{"id":"80351110224678912","email":"nelly@discord.com","verified":"true"}`),
			calls:  one, id: "80351110224678912", email: "",
		},
		{
			name:   "verified but null email",
			routes: route(`{"id":"80351110224678912","email":null,"verified":true}`),
			calls:  one, id: "80351110224678912", email: "",
		},
		{
			name:   "numeric snowflake stays exact",
			routes: route(`{"id":1234567890123456789,"email":"n@d.com","verified":true}`),
			calls:  one, id: "1234567890123456789", email: "n@d.com",
		},
		{
			name:   "400 (upstream)",
			routes: map[string]socialRoute{me: {status: 400, body: `{"error":"invalid_request"}`}},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 400, code: "invalid_request"},
		},
		{
			name:   "401 Discord JSON",
			routes: map[string]socialRoute{me: {status: 401, body: `{"message":"401: Unauthorized","code":0}`}},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 401, httpBody: "401: Unauthorized"},
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
			name:   "200 not JSON",
			routes: map[string]socialRoute{me: {ctype: "text/plain", body: "ok"}},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, cause: ErrInvalidResponse},
		},
	}
	for _, bad := range []struct{ name, body string }{
		{"missing id", `{"email":"n@d.com","verified":true}`},
		{"null id", `{"id":null}`},
		{"empty id", `{"id":""}`},
		{"zero id", `{"id":0}`},
		{"object id", `{"id":{}}`},
	} {
		cases = append(cases, socialCase{name: bad.name, routes: route(bad.body), calls: one,
			err: &socialErr{op: ErrGetIDEmail, cause: ErrMissingID}})
	}
	runSocialCases(t, cases, func(hc *http.Client) userAPIClient {
		c, err := NewDiscord("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		return c
	}, discordCheckReq)
}

func TestDiscordProfile(t *testing.T) {
	const body = `{"id":"80351110224678912","username":"Nelly","verified":true}`
	api, hc := newSocialAPI(t, map[string]socialRoute{"GET discord.com/api/v10/users/@me": {body: body}})
	c, err := NewDiscord("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	p, err := c.Profile(context.Background(), socialToken)
	require.NoError(t, err)
	assert.JSONEq(t, body, string(p))
	require.Len(t, api.requests(), 1)
	discordCheckReq(t, api.requests()[0])
}

// TestDiscordTokenAndRevoke checks HTTP Basic on the token and revocation
// endpoints (client secret never in the body).
func TestDiscordTokenAndRevoke(t *testing.T) {
	const (
		tokenKey  = "POST discord.com/api/oauth2/token"
		revokeKey = "POST discord.com/api/oauth2/token/revoke"
	)
	for _, tc := range []struct {
		name     string
		route    socialRoute
		call     func(c *Discord) error
		path     string
		wantForm url.Values
		want     *socialErr
	}{
		{
			name: "exchange", route: socialRoute{body: `{"access_token":"6qrZcUqja7812RVdnEKjpzOL4CvHBFG","token_type":"Bearer","expires_in":604800,"refresh_token":"D43f5y0ahjqew82jZ4NViEr2YafMKhue","scope":"identify email"}`},
			call: func(c *Discord) error {
				tok, err := c.AccessToken(context.Background(), "CODE", "https://app.example/cb", "V")
				if err == nil {
					assert.Equal(t, "D43f5y0ahjqew82jZ4NViEr2YafMKhue", tok.RefreshToken)
				}
				return err
			},
			path:     "/api/oauth2/token",
			wantForm: url.Values{"grant_type": {"authorization_code"}, "code": {"CODE"}, "redirect_uri": {"https://app.example/cb"}, "code_verifier": {"V"}},
		},
		{
			name: "refresh", route: socialRoute{body: `{"access_token":"AT2","token_type":"Bearer","expires_in":604800,"refresh_token":"RT2"}`},
			call: func(c *Discord) error {
				_, err := c.RefreshToken(context.Background(), "RT")
				return err
			},
			path:     "/api/oauth2/token",
			wantForm: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"RT"}},
		},
		{
			name: "exchange invalid_grant", route: socialRoute{status: 400, body: `{"error":"invalid_grant","error_description":"Invalid \"code\" in request."}`},
			call: func(c *Discord) error {
				_, err := c.AccessToken(context.Background(), "CODE", "https://app.example/cb", "")
				return err
			},
			path: "/api/oauth2/token",
			want: &socialErr{op: ErrGetAccessToken, status: 400, code: "invalid_grant"},
		},
		{
			name: "revoke", route: socialRoute{body: `{}`},
			call: func(c *Discord) error { return c.RevokeToken(context.Background(), "RT", "refresh_token") },
			path: "/api/oauth2/token/revoke", wantForm: url.Values{"token": {"RT"}, "token_type_hint": {"refresh_token"}},
		},
		{
			name: "revoke invalid_client", route: socialRoute{status: 401, body: `{"error":"invalid_client"}`},
			call: func(c *Discord) error { return c.RevokeToken(context.Background(), "RT", "") },
			path: "/api/oauth2/token/revoke",
			want: &socialErr{op: ErrRevokeToken, status: 401, code: "invalid_client"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, hc := newSocialAPI(t, map[string]socialRoute{tokenKey: tc.route, revokeKey: tc.route})
			c, err := NewDiscord("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			err = tc.call(c)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, "discord.com", r.Host)
			assert.Equal(t, tc.path, r.Path)
			assert.Equal(t, socialBasic("CID", "SEC"), r.Header.Get("Authorization"))
			assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
			assert.NotContains(t, r.Body, "client_secret")
			if tc.want != nil {
				checkSocialErr(t, err, *tc.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantForm, socialForm(t, r.Body))
		})
	}
}
