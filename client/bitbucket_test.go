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

func TestBitbucketConfig(t *testing.T) {
	c, err := NewBitbucket("CID", "SEC")
	require.NoError(t, err)
	checkSocialConfig(t, c, socialConfig{
		authorize: "https://bitbucket.org/site/oauth2/authorize",
		token:     "https://bitbucket.org/site/oauth2/access_token",
		refresh:   "https://bitbucket.org/site/oauth2/access_token",
		tokenAuth: ClientSecretBasic,
		name:      "bitbucket", display: "Bitbucket",
	})
}

func TestBitbucketAuthorizationURL(t *testing.T) {
	c, err := NewBitbucket("CID", "SEC")
	require.NoError(t, err)
	u, err := c.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "S"}, nil)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u, "https://bitbucket.org/site/oauth2/authorize?"), u)
	assert.Equal(t, url.Values{
		"response_type": {"code"}, "client_id": {"CID"}, "redirect_uri": {"https://app.example/cb"}, "state": {"S"},
	}, socialQuery(t, u), "no scope parameter: the consumer's permissions apply")
}

func bitbucketCheckReq(t *testing.T, r recorded) {
	t.Helper()
	assert.Equal(t, http.MethodGet, r.Method)
	assert.Equal(t, "api.bitbucket.org", r.Host)
	assert.Empty(t, r.Query)
	assert.Equal(t, "Bearer "+socialToken, r.Header.Get("Authorization"))
	assert.Equal(t, "application/json", r.Header.Get("Accept"))
}

func TestBitbucketIDEmail(t *testing.T) {
	const (
		user   = "GET api.bitbucket.org/2.0/user"
		emails = "GET api.bitbucket.org/2.0/user/emails"
		uuid   = "{c7e5b3f0-1a2b-4c3d-9e8f-0123456789ab}"
	)
	ok := func(body string) socialRoute { return socialRoute{body: body} }
	userOK := ok(`{"type":"user","uuid":"` + uuid + `","account_id":"557058:abc","username":"arthur","display_name":"Arthur"}`)
	page := func(values string) socialRoute {
		return ok(`{"pagelen":10,"page":1,"size":2,"values":` + values + `}`)
	}
	both := []string{user, emails}
	cases := []socialCase{
		{
			name: "primary confirmed address not first",
			routes: map[string]socialRoute{user: userOK, emails: page(`[
				{"is_primary":false,"is_confirmed":true,"type":"email","email":"other@camelot.bt"},
				{"is_primary":true,"is_confirmed":true,"type":"email","email":"arthur@camelot.bt"}]`)},
			calls: both, id: uuid, email: "arthur@camelot.bt",
		},
		{
			name:   "unconfirmed primary is not used",
			routes: map[string]socialRoute{user: userOK, emails: page(`[{"is_primary":true,"is_confirmed":false,"email":"a@x"},{"is_primary":false,"is_confirmed":true,"email":"b@x"}]`)},
			calls:  both, id: uuid, email: "",
		},
		{
			name:   "confirmed as a string does not count",
			routes: map[string]socialRoute{user: userOK, emails: page(`[{"is_primary":true,"is_confirmed":"true","email":"a@x"}]`)},
			calls:  both, id: uuid, email: "",
		},
		{
			name:   "empty list",
			routes: map[string]socialRoute{user: userOK, emails: page(`[]`)},
			calls:  both, id: uuid, email: "",
		},
		{
			name:   "emails 403 (no email permission): no email",
			routes: map[string]socialRoute{user: userOK, emails: {status: 403, body: `{"type":"error","error":{"message":"Your credentials lack one or more required privilege scopes."}}`}},
			calls:  both, id: uuid, email: "",
		},
		{
			name:   "emails 500",
			routes: map[string]socialRoute{user: userOK, emails: {status: 500, body: `{"type":"error","error":{"message":"Something went wrong"}}`}},
			calls:  both, err: &socialErr{op: ErrGetIDEmail, status: 500, httpBody: "Something went wrong"},
		},
		{
			name:   "emails answer is a list, not a page",
			routes: map[string]socialRoute{user: userOK, emails: ok(`[{"email":"a@x"}]`)},
			calls:  both, err: &socialErr{op: ErrGetIDEmail, cause: ErrInvalidResponse},
		},
		{
			name:   "user 401 JSON",
			routes: map[string]socialRoute{user: {status: 401, body: `{"type":"error","error":{"message":"Access token expired."}}`}},
			calls:  []string{user}, err: &socialErr{op: ErrGetIDEmail, status: 401, httpBody: "Access token expired."},
		},
		{
			name:   "user HTML error page",
			routes: map[string]socialRoute{user: socialHTMLError},
			calls:  []string{user}, err: &socialErr{op: ErrGetIDEmail, status: 400, httpBody: "Bad request"},
		},
		{
			name:   "emails connection closed",
			routes: map[string]socialRoute{user: userOK, emails: socialHangUp},
			calls:  both, err: &socialErr{op: ErrGetIDEmail},
		},
	}
	for _, bad := range []struct{ name, body string }{
		{"missing uuid", `{"account_id":"557058:abc"}`},
		{"null uuid", `{"uuid":null}`},
		{"empty uuid", `{"uuid":""}`},
		{"empty braces", `{"uuid":"{}"}`},
		{"numeric uuid", `{"uuid":0}`},
	} {
		cases = append(cases, socialCase{name: bad.name, routes: map[string]socialRoute{user: ok(bad.body)}, calls: []string{user},
			err: &socialErr{op: ErrGetIDEmail, cause: ErrMissingID}})
	}
	runSocialCases(t, cases, func(hc *http.Client) userAPIClient {
		c, err := NewBitbucket("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		return c
	}, bitbucketCheckReq)
}

func TestBitbucketProfileAndToken(t *testing.T) {
	const body = `{"type":"user","uuid":"{c7e5b3f0-1a2b-4c3d-9e8f-0123456789ab}","display_name":"Arthur"}`
	api, hc := newSocialAPI(t, map[string]socialRoute{
		"GET api.bitbucket.org/2.0/user":              {body: body},
		"POST bitbucket.org/site/oauth2/access_token": {body: `{"access_token":"AT","scopes":"account email","expires_in":7200,"refresh_token":"RT","token_type":"bearer","state":"authorization_code"}`},
	})
	c, err := NewBitbucket("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	p, err := c.Profile(context.Background(), socialToken)
	require.NoError(t, err)
	assert.JSONEq(t, body, string(p))
	tok, err := c.AccessToken(context.Background(), "CODE", "https://app.example/cb", "")
	require.NoError(t, err)
	assert.Equal(t, "AT", tok.AccessToken)
	assert.Equal(t, "RT", tok.RefreshToken)

	reqs := api.requests()
	require.Len(t, reqs, 2)
	bitbucketCheckReq(t, reqs[0])
	assert.Equal(t, "/2.0/user", reqs[0].Path)
	r := reqs[1]
	assertRequest(t, r, http.MethodPost, "bitbucket.org", "/site/oauth2/access_token")
	assert.Equal(t, socialBasic("CID", "SEC"), r.Header.Get("Authorization"))
	assert.Equal(t, url.Values{"grant_type": {"authorization_code"}, "code": {"CODE"}, "redirect_uri": {"https://app.example/cb"}}, socialForm(t, r.Body))
}
