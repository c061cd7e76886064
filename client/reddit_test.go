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

// Upstream's Reddit mock credentials.
const (
	redditID     = "fake-client-id-1234567"
	redditSecret = "fake-client-secret-12345678901"
	redditUA     = "oauthkit:" + redditID + ":v1 (by oauthkit)"
)

// newRedditAPI is upstream's Reddit mock: www.reddit.com answers 401
// {"error":401,...} unless the request carries the right Basic credentials.
func newRedditAPI(t *testing.T, routes map[string]socialRoute) (*socialAPI, *http.Client) {
	t.Helper()
	a := &socialAPI{t: t, routes: routes, guard: func(r *http.Request) (socialRoute, bool) {
		if r.Host == "www.reddit.com" && r.Header.Get("Authorization") != socialBasic(redditID, redditSecret) {
			return socialRoute{status: 401, body: `{"message":"Unauthorized","error":401}`}, true
		}
		return socialRoute{}, false
	}}
	return a, providerServer(t, a)
}

func TestRedditConfig(t *testing.T) {
	c, err := NewReddit(redditID, redditSecret)
	require.NoError(t, err)
	checkSocialConfig(t, c, socialConfig{
		authorize: "https://www.reddit.com/api/v1/authorize",
		token:     "https://www.reddit.com/api/v1/access_token",
		refresh:   "https://www.reddit.com/api/v1/access_token",
		revoke:    "https://www.reddit.com/api/v1/revoke_token",
		scopes:    []string{"identity"},
		tokenAuth: ClientSecretBasic, revokeAuth: ClientSecretBasic,
		name: "reddit", display: "Reddit",
	})
	assert.Equal(t, redditUA, c.cfg.UserAgent)

	c, err = NewReddit(redditID, redditSecret, WithUserAgent("web:com.example.app:v2.1 (by /u/arthur)"))
	require.NoError(t, err)
	assert.Equal(t, "web:com.example.app:v2.1 (by /u/arthur)", c.cfg.UserAgent)

	c, err = NewReddit("id\r\nX-Evil: 1", redditSecret)
	require.NoError(t, err)
	assert.NotContains(t, c.cfg.UserAgent, "\n", "a client id cannot inject a header")
}

func TestRedditAuthorizationURL(t *testing.T) {
	c, err := NewReddit(redditID, redditSecret)
	require.NoError(t, err)
	u, err := c.AuthCodeURL("http://example.com/redirect/", AuthURLOptions{State: "S"}, RedditParams{Duration: "permanent"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u, "https://www.reddit.com/api/v1/authorize?"), u)
	assert.Equal(t, url.Values{
		"response_type": {"code"}, "client_id": {redditID}, "redirect_uri": {"http://example.com/redirect/"},
		"state": {"S"}, "scope": {"identity"}, "duration": {"permanent"},
	}, socialQuery(t, u))
}

func TestRedditTokenAndRevoke(t *testing.T) {
	const (
		tokenKey  = "POST www.reddit.com/api/v1/access_token"
		revokeKey = "POST www.reddit.com/api/v1/revoke_token"
		success   = `{"access_token":"AT","token_type":"bearer","expires_in":86400,"refresh_token":"RT","scope":"identity"}`
	)
	exchange := func(c *Reddit) error {
		tok, err := c.AccessToken(context.Background(), "CODE", "http://example.com/redirect/", "")
		if err == nil {
			// Upstream: the token is a superset of the server JSON plus
			// expires_at; here the fields, an expiry, and Raw.
			assert.Equal(t, "AT", tok.AccessToken)
			assert.Equal(t, "RT", tok.RefreshToken)
			assert.Equal(t, "identity", tok.Scope)
			assert.False(t, tok.Expiry.IsZero())
			assert.JSONEq(t, success, string(tok.Raw))
		}
		return err
	}
	revoke := func(c *Reddit) error { return c.RevokeToken(context.Background(), "RT", "refresh_token") }
	for _, tc := range []struct {
		name     string
		secret   string
		route    socialRoute
		call     func(*Reddit) error
		path     string
		wantForm url.Values
		want     *socialErr
	}{
		{name: "exchange wrong credentials (upstream)", secret: "wrong", route: socialRoute{body: success}, call: exchange,
			path: "/api/v1/access_token", want: &socialErr{op: ErrGetAccessToken, status: 401, code: "401"}},
		{name: "exchange success (upstream)", secret: redditSecret, route: socialRoute{body: success}, call: exchange,
			path:     "/api/v1/access_token",
			wantForm: url.Values{"grant_type": {"authorization_code"}, "code": {"CODE"}, "redirect_uri": {"http://example.com/redirect/"}}},
		{name: "exchange 200 with error (upstream, sic)", secret: redditSecret, route: socialRoute{body: `{"error":"invalid_grant"}`}, call: exchange,
			path: "/api/v1/access_token", want: &socialErr{op: ErrGetAccessToken, status: 200, code: "invalid_grant"}},
		{name: "refresh 200 with error", secret: redditSecret, route: socialRoute{body: `{"error":"invalid_grant"}`},
			call: func(c *Reddit) error { _, err := c.RefreshToken(context.Background(), "RT"); return err },
			path: "/api/v1/access_token", want: &socialErr{op: ErrRefreshToken, status: 200, code: "invalid_grant"}},
		{name: "exchange HTML error page", secret: redditSecret, route: socialHTMLError, call: exchange,
			path: "/api/v1/access_token", want: &socialErr{op: ErrGetAccessToken, status: 400, httpBody: "Bad request"}},
		{name: "revoke wrong credentials (upstream)", secret: "wrong", route: socialRoute{status: 204}, call: revoke,
			path: "/api/v1/revoke_token", want: &socialErr{op: ErrRevokeToken, status: 401, code: "401"}},
		{name: "revoke success (upstream)", secret: redditSecret, route: socialRoute{status: 204}, call: revoke,
			path: "/api/v1/revoke_token", wantForm: url.Values{"token": {"RT"}, "token_type_hint": {"refresh_token"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, hc := newRedditAPI(t, map[string]socialRoute{tokenKey: tc.route, revokeKey: tc.route})
			c, err := NewReddit(redditID, tc.secret, WithHTTPClient(hc))
			require.NoError(t, err)
			err = tc.call(c)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, "www.reddit.com", r.Host)
			assert.Equal(t, tc.path, r.Path)
			assert.Equal(t, socialBasic(redditID, tc.secret), r.Header.Get("Authorization"))
			assert.Equal(t, redditUA, r.Header.Get("User-Agent"))
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

// redditIdentity is a trimmed /api/v1/me answer (upstream's
// reddit_success_identity.json has the same shape, with more members).
const redditIdentity = `{"is_employee":false,"has_visited_new_profile":false,"is_friend":false,"pref_no_profanity":true,
"has_external_account":false,"pref_geopopular":"","subreddit":{"default_set":true,"user_is_contributor":false,
"banner_img":"","restrict_posting":true,"user_is_banned":false,"free_form_reports":true,"community_icon":null,
"show_media":true,"icon_color":"#24A0ED","user_is_muted":null,"display_name":"u_TheQuickBrownCatJumpsOverTheLazyDog",
"header_img":null,"title":"","coins":0,"previous_names":[],"over_18":false,"icon_size":[256,256],"primary_color":"",
"icon_img":"https://www.redditstatic.com/avatars/avatar_default_11_24A0ED.png","description":"","submit_link_label":"",
"header_size":null,"restrict_commenting":false,"subscribers":0,"submit_text_label":"","is_default_icon":true,
"link_flair_position":"","display_name_prefixed":"u/TheQuickBrownCatJumpsOverTheLazyDog","key_color":"",
"name":"t5_4h7ztj","is_default_banner":true,"url":"/user/TheQuickBrownCatJumpsOverTheLazyDog/","quarantine":false,
"banner_size":null,"user_is_moderator":true,"accept_followers":true,"public_description":"","link_flair_enabled":false,
"disable_contributor_requests":false,"subreddit_type":"user","user_is_subscriber":false},"pref_show_presence":true,
"snoovatar_img":"","snoovatar_size":null,"gold_expiration":null,"has_gold_subscription":false,"is_sponsor":false,
"num_friends":0,"features":{"mod_service_mute_writes":true,"promoted_trend_blanks":true,"show_amp_link":true},
"can_edit_name":false,"verified":true,"new_modmail_exists":null,"pref_autoplay":true,"coins":0,"has_paypal_subscription":false,
"has_subscribed_to_premium":false,"id":"8fuj3ayk","has_stripe_subscription":false,"oauth_client_id":"fake-client-id-1234567",
"can_create_subreddit":true,"over_18":false,"is_gold":false,"is_mod":false,"awarder_karma":0,"suspension_expiration_utc":null,
"has_verified_email":true,"is_suspended":false,"pref_video_autoplay":true,"has_android_subscription":false,"in_redesign_beta":true,
"icon_img":"https://www.redditstatic.com/avatars/avatar_default_11_24A0ED.png","pref_nightmode":false,"awardee_karma":0,
"hide_from_robots":false,"password_set":true,"link_karma":1,"force_password_reset":false,"total_karma":1,
"seen_give_award_tooltip":false,"inbox_count":0,"seen_premium_adblock_modal":false,"pref_top_karma_subreddits":true,
"pref_show_snoovatar":false,"name":"TheQuickBrownCatJumpsOverTheLazyDog","pref_clickgadget":5,"created":1620825000.0,
"gold_creddits":0,"created_utc":1620825000.0,"has_ios_subscription":false,"pref_show_twitter":false,"in_beta":false,
"comment_karma":0,"accept_followers":true,"has_subscribed":false}`

func redditCheckReq(t *testing.T, r recorded) {
	t.Helper()
	assertRequest(t, r, http.MethodGet, "oauth.reddit.com", "/api/v1/me")
	assert.Empty(t, r.Query)
	assert.Equal(t, "Bearer "+socialToken, r.Header.Get("Authorization"))
	assert.Equal(t, redditUA, r.Header.Get("User-Agent"))
}

func TestRedditIDEmail(t *testing.T) {
	const me = "GET oauth.reddit.com/api/v1/me"
	route := func(body string) map[string]socialRoute { return map[string]socialRoute{me: {body: body}} }
	one := []string{me}
	cases := []socialCase{
		{
			// Upstream returns ("TheQuickBrownCatJumpsOverTheLazyDog", None);
			// the id is now the account fullname, the email still none.
			name: "identity (upstream)", routes: route(redditIdentity), calls: one, id: "t2_8fuj3ayk", email: "",
		},
		{name: "id already a fullname", routes: route(`{"id":"t2_8fuj3ayk","name":"x"}`), calls: one, id: "t2_8fuj3ayk"},
		{name: "long id stays exact", routes: route(`{"id":"1234567890123456789"}`), calls: one, id: "t2_1234567890123456789"},
		{
			name:   "400 HTML (upstream)",
			routes: map[string]socialRoute{me: {status: 400, ctype: "text/html", body: "<!doctype html><html><head><title>reddit</title></head></html>"}},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 400, httpBody: "<!doctype html>"},
		},
		{
			name:   "401 JSON",
			routes: map[string]socialRoute{me: {status: 401, body: `{"message":"Unauthorized","error":401}`}},
			calls:  one, err: &socialErr{op: ErrGetIDEmail, status: 401, code: "401"},
		},
		{
			name:   "connection closed",
			routes: map[string]socialRoute{me: socialHangUp},
			calls:  one, err: &socialErr{op: ErrGetIDEmail},
		},
	}
	for _, bad := range []struct{ name, body string }{
		{"suspended account without id", `{"name":"TheQuickBrownCatJumpsOverTheLazyDog","is_suspended":true}`},
		{"null id", `{"id":null,"name":"x"}`},
		{"empty id", `{"id":"","name":"x"}`},
		{"bare prefix", `{"id":"t2_"}`},
		{"numeric id", `{"id":0}`},
	} {
		cases = append(cases, socialCase{name: bad.name, routes: route(bad.body), calls: one,
			err: &socialErr{op: ErrGetIDEmail, cause: ErrMissingID}})
	}
	runSocialCases(t, cases, func(hc *http.Client) userAPIClient {
		c, err := NewReddit(redditID, redditSecret, WithHTTPClient(hc))
		require.NoError(t, err)
		return c
	}, redditCheckReq)
}

func TestRedditProfile(t *testing.T) {
	api, hc := newSocialAPI(t, map[string]socialRoute{"GET oauth.reddit.com/api/v1/me": {body: redditIdentity}})
	c, err := NewReddit(redditID, redditSecret, WithHTTPClient(hc))
	require.NoError(t, err)
	p, err := c.Profile(context.Background(), socialToken)
	require.NoError(t, err)
	assert.JSONEq(t, redditIdentity, string(p))
	require.Len(t, api.requests(), 1)
	redditCheckReq(t, api.requests()[0])
}
