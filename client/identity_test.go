package client

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// userAPICase is one user-API answer of a provider without ID tokens and the
// identity it must give.
type userAPICase struct {
	name   string
	routes map[string]string // path -> JSON answer (200)
	want   Identity
}

func TestIdentifySocial(t *testing.T) {
	const githubUser = `{"login":"octocat","id":583231,"name":"The Octocat","avatar_url":"https://avatars.githubusercontent.com/u/583231?v=4"}`
	const bitbucketUser = `{"uuid":"{c7e5b3f0-1a2b-4c3d-9e8f-0123456789ab}","display_name":"Arthur","links":{"avatar":{"href":"https://avatar-management.services.atlassian.com/a.png"}}}`
	providers := []struct {
		name  string
		ctor  func(hc *http.Client) (userAPIClient, error)
		cases []userAPICase
	}{
		{"github", func(hc *http.Client) (userAPIClient, error) { return NewGitHub("CID", "SEC", WithHTTPClient(hc)) }, []userAPICase{
			{"verified primary", map[string]string{
				"/user":        githubUser,
				"/user/emails": `[{"email":"other@x.io","primary":false,"verified":true},{"email":"octocat@github.com","primary":true,"verified":true,"visibility":"public"}]`,
			}, Identity{Subject: "583231", Email: "octocat@github.com", EmailVerified: true, Name: "The Octocat", AvatarURL: "https://avatars.githubusercontent.com/u/583231?v=4"}},
			{"unverified primary, login as name", map[string]string{
				"/user":        `{"login":"octocat","id":583231,"name":null,"avatar_url":"https://avatars.githubusercontent.com/u/583231?v=4"}`,
				"/user/emails": `[{"email":"octocat@github.com","primary":true,"verified":false}]`,
			}, Identity{Subject: "583231", Email: "octocat@github.com", Name: "octocat", AvatarURL: "https://avatars.githubusercontent.com/u/583231?v=4"}},
		}},
		{"google", func(hc *http.Client) (userAPIClient, error) { return NewGoogle("CID", "SEC", WithHTTPClient(hc)) }, []userAPICase{
			{"verified", map[string]string{"/v1/people/me": `{"resourceName":"people/4242","etag":"%E","emailAddresses":[{"metadata":{"primary":true,"verified":true,"source":{"type":"ACCOUNT","id":"4242"}},"value":"arthur@camelot.bt"}],"names":[{"metadata":{"primary":true},"displayName":"Arthur Pendragon","givenName":"Arthur"}],"photos":[{"metadata":{"primary":true},"url":"https://lh3.googleusercontent.com/a/photo"}]}`},
				Identity{Subject: "people/4242", Email: "arthur@camelot.bt", EmailVerified: true, Name: "Arthur Pendragon", AvatarURL: "https://lh3.googleusercontent.com/a/photo"}},
			{"unverified", map[string]string{"/v1/people/me": `{"resourceName":"people/4242","emailAddresses":[{"metadata":{"primary":true,"verified":false},"value":"arthur@camelot.bt"}]}`},
				Identity{Subject: "people/4242", Email: "arthur@camelot.bt"}},
		}},
		{"gitlab", func(hc *http.Client) (userAPIClient, error) { return NewGitLab("CID", "SEC", WithHTTPClient(hc)) }, []userAPICase{
			{"confirmed", map[string]string{"/api/v4/user": `{"id":1,"username":"john_smith","name":"John Smith","email":"john@example.com","confirmed_at":"2012-05-23T09:05:22Z","avatar_url":"https://gitlab.com/uploads/user/avatar/1/index.jpg"}`},
				Identity{Subject: "1", Email: "john@example.com", EmailVerified: true, Name: "John Smith", AvatarURL: "https://gitlab.com/uploads/user/avatar/1/index.jpg"}},
			{"unconfirmed", map[string]string{"/api/v4/user": `{"id":1,"username":"john_smith","name":"","email":"john@example.com","confirmed_at":null,"avatar_url":null}`},
				Identity{Subject: "1", Email: "john@example.com", Name: "john_smith"}},
		}},
		{"discord", func(hc *http.Client) (userAPIClient, error) { return NewDiscord("CID", "SEC", WithHTTPClient(hc)) }, []userAPICase{
			{"verified", map[string]string{"/api/v10/users/@me": `{"id":"80351110224678912","username":"nelly","global_name":"Nelly","avatar":"8342729096ea3675442027381ff50dfe","verified":true,"email":"nelly@discord.com"}`},
				Identity{Subject: "80351110224678912", Email: "nelly@discord.com", EmailVerified: true, Name: "Nelly", AvatarURL: "https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png"}},
			{"unverified, no avatar", map[string]string{"/api/v10/users/@me": `{"id":"80351110224678912","username":"nelly","global_name":null,"avatar":null,"verified":false,"email":"nelly@discord.com"}`},
				Identity{Subject: "80351110224678912", Email: "nelly@discord.com", Name: "nelly"}},
			{"hostile avatar hash", map[string]string{"/api/v10/users/@me": `{"id":"80351110224678912","username":"nelly","avatar":"../../evil","verified":true}`},
				Identity{Subject: "80351110224678912", Name: "nelly"}},
		}},
		{"bitbucket", func(hc *http.Client) (userAPIClient, error) { return NewBitbucket("CID", "SEC", WithHTTPClient(hc)) }, []userAPICase{
			{"confirmed", map[string]string{"/2.0/user": bitbucketUser, "/2.0/user/emails": `{"values":[{"email":"arthur@camelot.bt","is_primary":true,"is_confirmed":true,"type":"email"}]}`},
				Identity{Subject: "{c7e5b3f0-1a2b-4c3d-9e8f-0123456789ab}", Email: "arthur@camelot.bt", EmailVerified: true, Name: "Arthur", AvatarURL: "https://avatar-management.services.atlassian.com/a.png"}},
			{"unconfirmed", map[string]string{"/2.0/user": bitbucketUser, "/2.0/user/emails": `{"values":[{"email":"arthur@camelot.bt","is_primary":true,"is_confirmed":false}]}`},
				Identity{Subject: "{c7e5b3f0-1a2b-4c3d-9e8f-0123456789ab}", Email: "arthur@camelot.bt", Name: "Arthur", AvatarURL: "https://avatar-management.services.atlassian.com/a.png"}},
		}},
		{"facebook", func(hc *http.Client) (userAPIClient, error) { return NewFacebook("CID", "SEC", WithHTTPClient(hc)) }, []userAPICase{
			{"email never verified", map[string]string{"/v23.0/me": `{"id":"10224242","name":"Arthur","email":"arthur@camelot.bt","picture":{"data":{"height":50,"is_silhouette":false,"url":"https://platform-lookaside.fbsbx.com/p.jpg","width":50}}}`},
				Identity{Subject: "10224242", Email: "arthur@camelot.bt", Name: "Arthur", AvatarURL: "https://platform-lookaside.fbsbx.com/p.jpg"}},
			{"silhouette is no avatar", map[string]string{"/v23.0/me": `{"id":"10224242","name":"Arthur","picture":{"data":{"is_silhouette":true,"url":"https://platform-lookaside.fbsbx.com/s.jpg"}}}`},
				Identity{Subject: "10224242", Name: "Arthur"}},
		}},
		{"reddit", func(hc *http.Client) (userAPIClient, error) { return NewReddit("CID", "SEC", WithHTTPClient(hc)) }, []userAPICase{
			{"no email", map[string]string{"/api/v1/me": `{"id":"8fuj3ayk","name":"spez","icon_img":"https://styles.redditmedia.com/t5_1/styles/profileIcon_x.png?width=256&amp;height=256&amp;s=abc"}`},
				Identity{Subject: "t2_8fuj3ayk", Name: "spez", AvatarURL: "https://styles.redditmedia.com/t5_1/styles/profileIcon_x.png?width=256&height=256&s=abc"}},
		}},
		{"kakao", func(hc *http.Client) (userAPIClient, error) { return NewKakao("CID", "SEC", WithHTTPClient(hc)) }, []userAPICase{
			{"valid and verified", map[string]string{"/v2/user/me": `{"id":4242424242,"kakao_account":{"profile":{"nickname":"Arthur","profile_image_url":"http://k.kakaocdn.net/img_640x640.jpg"},"email":"arthur@camelot.bt","is_email_valid":true,"is_email_verified":true}}`},
				Identity{Subject: "4242424242", Email: "arthur@camelot.bt", EmailVerified: true, Name: "Arthur", AvatarURL: "http://k.kakaocdn.net/img_640x640.jpg"}},
			{"verified but no longer valid", map[string]string{"/v2/user/me": `{"id":4242424242,"kakao_account":{"email":"arthur@camelot.bt","is_email_valid":false,"is_email_verified":true}}`},
				Identity{Subject: "4242424242", Email: "arthur@camelot.bt"}},
		}},
		{"naver", func(hc *http.Client) (userAPIClient, error) { return NewNaver("CID", "SEC", WithHTTPClient(hc)) }, []userAPICase{
			{"email never verified", map[string]string{"/v1/nid/me": `{"resultcode":"00","message":"success","response":{"id":"32742776","nickname":"OpenAPI","name":"Arthur","email":"openapi@naver.com","profile_image":"https://ssl.pstatic.net/static/pwe/address/nodata_33x33.gif"}}`},
				Identity{Subject: "32742776", Email: "openapi@naver.com", Name: "Arthur", AvatarURL: "https://ssl.pstatic.net/static/pwe/address/nodata_33x33.gif"}},
			{"nickname only", map[string]string{"/v1/nid/me": `{"resultcode":"00","message":"success","response":{"id":"32742776","nickname":"OpenAPI"}}`},
				Identity{Subject: "32742776", Name: "OpenAPI"}},
		}},
		{"twitch", func(hc *http.Client) (userAPIClient, error) { return NewTwitch("CID", "SEC", WithHTTPClient(hc)) }, []userAPICase{
			{"email is the verified one", map[string]string{"/helix/users": `{"data":[{"id":"141981764","login":"twitchdev","display_name":"TwitchDev","profile_image_url":"https://static-cdn.jtvnw.net/jtv_user_pictures/p.png","email":"not-real@email.com","created_at":"2016-12-14T20:32:28Z"}]}`},
				Identity{Subject: "141981764", Email: "not-real@email.com", EmailVerified: true, Name: "TwitchDev", AvatarURL: "https://static-cdn.jtvnw.net/jtv_user_pictures/p.png"}},
			{"no email scope", map[string]string{"/helix/users": `{"data":[{"id":"141981764","login":"twitchdev","display_name":""}]}`},
				Identity{Subject: "141981764", Name: "twitchdev"}},
		}},
		{"shopify", func(hc *http.Client) (userAPIClient, error) {
			return NewShopify("my-shop", "CID", "SEC", WithHTTPClient(hc))
		}, []userAPICase{
			{"contact email never verified", map[string]string{"/admin/api/" + ShopifyDefaultAPIVersion + "/shop.json": `{"shop":{"id":548380009,"name":"John Smith Test Store","email":"j.smith@example.com","domain":"shop.apple.com"}}`},
				Identity{Subject: "548380009", Email: "j.smith@example.com", Name: "John Smith Test Store"}},
		}},
	}
	for _, p := range providers {
		for _, tc := range p.cases {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				f, hc := newFakeServer(t)
				for path, body := range tc.routes {
					f.json(path, 200, body)
				}
				c, err := p.ctor(hc)
				require.NoError(t, err)
				got, err := c.Identify(context.Background(), &Token{AccessToken: "TOKEN"}, "")
				require.NoError(t, err)
				assert.Equal(t, tc.want, *got)
				for path := range tc.routes {
					assert.Len(t, f.requests(path), 1, "one call to %s", path)
				}
				// IDEmail reads the same answers: same subject, and an
				// address only where the provider always returned one.
				id, email, err := c.IDEmail(context.Background(), "TOKEN")
				require.NoError(t, err)
				assert.Equal(t, tc.want.Subject, id)
				if tc.want.EmailVerified {
					assert.Equal(t, tc.want.Email, email)
				}
			})
		}
	}
}

func TestIdentifyErrors(t *testing.T) {
	t.Run("generic client has no user API", func(t *testing.T) {
		c, err := newOAuth2(config{ClientID: "CID", ClientSecret: "CSECRET", AuthorizeEndpoint: "https://as.example/a", AccessTokenEndpoint: "https://as.example/t", Name: "generic"})
		require.NoError(t, err)
		_, err = c.Identify(context.Background(), &Token{AccessToken: "AT"}, "")
		assert.ErrorIs(t, err, ErrIDEmailNotSupported)
	})
	t.Run("authorization server has no user API", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/oauth-authorization-server", 200, map[string]any{
			"issuer": testIssuer, "authorization_endpoint": testIssuer + "/a", "token_endpoint": testIssuer + "/t",
		})
		a, err := DiscoverAuthorizationServer(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		_, err = a.Identify(context.Background(), &Token{AccessToken: "AT"}, "")
		assert.ErrorIs(t, err, ErrIDEmailNotSupported)
	})
	t.Run("no token", func(t *testing.T) {
		f, hc := newFakeServer(t)
		g, err := NewGitHub("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		for _, tok := range []*Token{nil, {}} {
			_, err = g.Identify(context.Background(), tok, "")
			assert.ErrorIs(t, err, ErrGetIDEmail)
			assert.ErrorIs(t, err, ErrMissingAccessToken)
		}
		assert.Empty(t, f.requests("/user"), "no request without a token")
	})
	t.Run("missing id", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/api/v10/users/@me", 200, `{"id":"","email":"a@x","verified":true}`)
		d, err := NewDiscord("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		_, err = d.Identify(context.Background(), &Token{AccessToken: "AT"}, "")
		assert.ErrorIs(t, err, ErrGetIDEmail)
		assert.ErrorIs(t, err, ErrMissingID)
	})
	t.Run("avatar must be an http URL", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/api/v4/user", 200, `{"id":1,"username":"x","avatar_url":"javascript:alert(1)"}`)
		g, err := NewGitLab("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		got, err := g.Identify(context.Background(), &Token{AccessToken: "AT"}, "")
		require.NoError(t, err)
		assert.Empty(t, got.AvatarURL)
	})
}

// withoutClaims asserts that got carries the claims of the ID token issued
// by iss and returns a copy without them, for comparing the rest.
func withoutClaims(t *testing.T, got *Identity, iss string) Identity {
	t.Helper()
	require.NotNil(t, got.Claims, "Identify verified an ID token: its claims are kept")
	assert.Equal(t, iss, got.Claims["iss"])
	c := *got
	c.Claims = nil
	return c
}

func TestIdentifyOpenID(t *testing.T) {
	key := newRSAKey(t, "k1")
	now := time.Now()
	signed := func(mod func(map[string]any)) *Token {
		c := idTokenClaims(testIssuer, "CID", "N", now)
		c["name"] = "Token Name"
		c["picture"] = "https://id.example.com/token.png"
		if mod != nil {
			mod(c)
		}
		return &Token{AccessToken: "AT", IDToken: key.sign(t, c)}
	}
	t.Run("verified", func(t *testing.T) {
		o, f := newTestOpenID(t, key)
		f.json("/userinfo", 200, `{"sub":"user-42","email":"arthur@camelot.bt","email_verified":true,"name":"Arthur","picture":"https://id.example.com/a.png"}`)
		got, err := o.Identify(context.Background(), signed(func(c map[string]any) { c["sid"] = "S1" }), "N")
		require.NoError(t, err)
		assert.Equal(t, Identity{Subject: "user-42", Email: "arthur@camelot.bt", EmailVerified: true, Name: "Arthur", AvatarURL: "https://id.example.com/a.png", Issuer: testIssuer, SessionID: "S1"}, withoutClaims(t, got, testIssuer))
		assert.Equal(t, "Bearer AT", f.requests("/userinfo")[0].Header.Get("Authorization"))
	})
	t.Run("email_verified false is returned flagged", func(t *testing.T) {
		o, f := newTestOpenID(t, key)
		f.json("/userinfo", 200, `{"sub":"user-42","email":"arthur@camelot.bt","email_verified":false}`)
		got, err := o.Identify(context.Background(), signed(nil), "N")
		require.NoError(t, err)
		assert.Equal(t, Identity{Subject: "user-42", Email: "arthur@camelot.bt", Name: "Token Name", AvatarURL: "https://id.example.com/token.png", Issuer: testIssuer}, withoutClaims(t, got, testIssuer))
	})
	t.Run("claims are the verified ID token's, never UserInfo's", func(t *testing.T) {
		o, f := newTestOpenID(t, key)
		f.json("/userinfo", 200, `{"sub":"user-42","hd":"evil.example","tid":"userinfo-tid","email":"arthur@camelot.bt","email_verified":true}`)
		got, err := o.Identify(context.Background(), signed(func(c map[string]any) { c["hd"] = "camelot.bt" }), "N")
		require.NoError(t, err)
		assert.Equal(t, "camelot.bt", got.Claims["hd"])
		assert.NotContains(t, got.Claims, "tid")
		assert.Equal(t, "user-42", got.Claims["sub"])
	})
	t.Run("userinfo without email falls back to the ID token", func(t *testing.T) {
		o, f := newTestOpenID(t, key)
		f.json("/userinfo", 200, `{"sub":"user-42"}`)
		got, err := o.Identify(context.Background(), signed(nil), "N")
		require.NoError(t, err)
		assert.Equal(t, "arthur@camelot.bt", got.Email)
		assert.True(t, got.EmailVerified)
	})
	t.Run("userinfo sub differs from the ID token's", func(t *testing.T) {
		o, f := newTestOpenID(t, key)
		f.json("/userinfo", 200, `{"sub":"someone-else","email":"arthur@camelot.bt","email_verified":true}`)
		_, err := o.Identify(context.Background(), signed(nil), "N")
		assert.ErrorIs(t, err, ErrIDToken)
		assert.ErrorIs(t, err, ErrIDTokenSubject)
	})
	t.Run("wrong nonce, before any userinfo call", func(t *testing.T) {
		o, f := newTestOpenID(t, key)
		f.json("/userinfo", 200, `{"sub":"user-42"}`)
		_, err := o.Identify(context.Background(), signed(nil), "other")
		assert.ErrorIs(t, err, ErrIDTokenNonce)
		assert.Empty(t, f.requests("/userinfo"))
	})
	t.Run("missing ID token", func(t *testing.T) {
		o, _ := newTestOpenID(t, key)
		_, err := o.Identify(context.Background(), &Token{AccessToken: "AT"}, "N")
		assert.ErrorIs(t, err, ErrIDTokenMissing)
	})
	t.Run("userinfo failure", func(t *testing.T) {
		o, f := newTestOpenID(t, key)
		f.json("/userinfo", 401, `{"error":"invalid_token"}`)
		_, err := o.Identify(context.Background(), signed(nil), "N")
		assert.ErrorIs(t, err, ErrGetIDEmail)
		assert.Equal(t, 401, StatusCode(err))
	})
	t.Run("no userinfo endpoint: the ID token is the identity", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/.well-known/openid-configuration", 200, discoveryDoc(testIssuer, func(d map[string]any) { delete(d, "userinfo_endpoint") }))
		f.json("/jwks", 200, jwksBody(t, key))
		o, err := DiscoverOpenID(context.Background(), testIssuer, "CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		got, err := o.Identify(context.Background(), signed(func(c map[string]any) { c["email_verified"] = "false"; c["sid"] = "S2" }), "N")
		require.NoError(t, err)
		assert.Equal(t, Identity{Subject: "user-42", Email: "arthur@camelot.bt", Name: "Token Name", AvatarURL: "https://id.example.com/token.png", Issuer: testIssuer, SessionID: "S2"}, withoutClaims(t, got, testIssuer))
	})
}

func TestIdentifyOIDCProviders(t *testing.T) {
	key := newRSAKey(t, "k")
	now := time.Now()
	t.Run("linkedin", func(t *testing.T) {
		for _, verified := range []bool{true, false} {
			f, hc := newFakeServer(t)
			f.json("/oauth/openid/jwks", 200, jwksBody(t, key))
			f.json("/v2/userinfo", 200, map[string]any{"sub": "user-42", "email": "arthur@camelot.bt", "email_verified": verified,
				"name": "Arthur Pendragon", "picture": "https://media.licdn.com/dms/image/p.jpg"})
			l, err := NewLinkedIn("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			got, err := l.Identify(context.Background(), &Token{AccessToken: "AT", IDToken: key.sign(t, idTokenClaims("https://www.linkedin.com/oauth", "CID", "N", now))}, "N")
			require.NoError(t, err)
			assert.Equal(t, Identity{Subject: "user-42", Email: "arthur@camelot.bt", EmailVerified: verified, Name: "Arthur Pendragon", AvatarURL: "https://media.licdn.com/dms/image/p.jpg", Issuer: "https://www.linkedin.com/oauth"}, withoutClaims(t, got, "https://www.linkedin.com/oauth"))
		}
	})
	t.Run("slack", func(t *testing.T) {
		for _, verified := range []bool{true, false} {
			f, hc := newFakeServer(t)
			f.json("/openid/connect/keys", 200, jwksBody(t, key))
			f.json("/api/openid.connect.userInfo", 200, map[string]any{"ok": true, "sub": "user-42", "email": "krane@slack-corp.com", "email_verified": verified,
				"name": "krane", "picture": "https://secure.gravatar.com/avatar/x.jpg"})
			s, err := NewSlack("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			got, err := s.Identify(context.Background(), &Token{AccessToken: "AT", IDToken: key.sign(t, idTokenClaims("https://slack.com", "CID", "N", now))}, "N")
			require.NoError(t, err)
			assert.Equal(t, Identity{Subject: "user-42", Email: "krane@slack-corp.com", EmailVerified: verified, Name: "krane", AvatarURL: "https://secure.gravatar.com/avatar/x.jpg", Issuer: "https://slack.com"}, withoutClaims(t, got, "https://slack.com"))
		}
		f, hc := newFakeServer(t)
		f.json("/openid/connect/keys", 200, jwksBody(t, key))
		f.json("/api/openid.connect.userInfo", 200, `{"ok":false,"error":"invalid_auth"}`)
		s, err := NewSlack("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		_, err = s.Identify(context.Background(), &Token{AccessToken: "AT", IDToken: key.sign(t, idTokenClaims("https://slack.com", "CID", "N", now))}, "N")
		assert.ErrorIs(t, err, ErrGetIDEmail)
		var oe *OAuthError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, "invalid_auth", oe.Code)
	})
	t.Run("apple", func(t *testing.T) {
		_, p8 := appleKeyPEM(t)
		for _, verified := range []any{"true", false} {
			f, hc := newFakeServer(t)
			f.json("/auth/keys", 200, jwksBody(t, key))
			a, err := NewApple("com.example.web", "TEAM123456", "KEY1234567", p8, WithHTTPClient(hc))
			require.NoError(t, err)
			c := idTokenClaims("https://appleid.apple.com", "com.example.web", "N", now)
			c["email"] = "x@privaterelay.appleid.com"
			c["email_verified"] = verified
			got, err := a.Identify(context.Background(), &Token{AccessToken: "AT", IDToken: key.sign(t, c)}, "N")
			require.NoError(t, err)
			assert.Equal(t, Identity{Subject: "user-42", Email: "x@privaterelay.appleid.com", EmailVerified: verified == "true", Issuer: "https://appleid.apple.com"}, withoutClaims(t, got, "https://appleid.apple.com"))
		}
	})
	t.Run("franceconnect email is not verified", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/api/v1/userinfo", 200, `{"sub":"user-42","email":"arthur@camelot.bt","given_name":"Arthur","family_name":"Pendragon","birthdate":"1970-01-01"}`)
		fc, err := NewFranceConnect("CID", fcSecret, WithHTTPClient(hc))
		require.NoError(t, err)
		c := idTokenClaims("https://app.franceconnect.gouv.fr", "CID", "N", now)
		delete(c, "email")
		delete(c, "email_verified")
		got, err := fc.Identify(context.Background(), &Token{AccessToken: "AT", IDToken: hs256(t, fcSecret, c)}, "N")
		require.NoError(t, err)
		assert.Equal(t, Identity{Subject: "user-42", Email: "arthur@camelot.bt", Name: "Arthur Pendragon", Issuer: "https://app.franceconnect.gouv.fr"}, withoutClaims(t, got, "https://app.franceconnect.gouv.fr"))
		_, email, err := fc.IDEmail(context.Background(), "AT")
		require.NoError(t, err)
		assert.Equal(t, "arthur@camelot.bt", email, "IDEmail keeps returning it, as upstream")
	})
	t.Run("google ID token subject must match the person", func(t *testing.T) {
		const person = `{"resourceName":"people/user-42","emailAddresses":[{"metadata":{"primary":true,"verified":true},"value":"arthur@camelot.bt"}]}`
		f, hc := newFakeServer(t)
		f.json("/oauth2/v3/certs", 200, jwksBody(t, key))
		f.json("/v1/people/me", 200, person)
		g, err := NewGoogle("CID", "SEC", WithHTTPClient(hc), WithScopes("openid", "email", "profile"))
		require.NoError(t, err)
		c := idTokenClaims(googleIssuer, "CID", "N", now)
		c["picture"] = "https://lh3.googleusercontent.com/a/tok"
		got, err := g.Identify(context.Background(), &Token{AccessToken: "AT", IDToken: key.sign(t, c)}, "N")
		require.NoError(t, err)
		assert.Equal(t, Identity{Subject: "people/user-42", Email: "arthur@camelot.bt", EmailVerified: true, AvatarURL: "https://lh3.googleusercontent.com/a/tok", Issuer: googleIssuer}, withoutClaims(t, got, googleIssuer))

		c["sub"] = "someone-else"
		_, err = g.Identify(context.Background(), &Token{AccessToken: "AT", IDToken: key.sign(t, c)}, "N")
		assert.ErrorIs(t, err, ErrIDTokenSubject)
		_, err = g.Identify(context.Background(), &Token{AccessToken: "AT"}, "N")
		assert.ErrorIs(t, err, ErrIDTokenMissing, "openid requested, no ID token")
	})
}

func TestIdentifyMicrosoft(t *testing.T) {
	const (
		tidA = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		tidB = "11111111-2222-3333-4444-555555555555"
		oid  = "00000000-0000-0000-66f3-3332eca7ea81"
	)
	key := newRSAKey(t, "mskey")
	now := time.Now()
	token := func(tid string, mod func(map[string]any)) *Token {
		c := idTokenClaims("https://login.microsoftonline.com/"+tid+"/v2.0", "CID", "N", now)
		c["tid"] = tid
		c["oid"] = oid
		c["sub"] = "pairwise-sub"
		c["name"] = "Token Name"
		delete(c, "email_verified")
		if mod != nil {
			mod(c)
		}
		return &Token{AccessToken: "AT", IDToken: key.sign(t, c)}
	}
	const me = `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users/$entity","id":"` + oid + `","displayName":"Arthur","mail":"arthur@camelot.bt","userPrincipalName":"arthur@camelot.onmicrosoft.com"}`
	identify := func(t *testing.T, graph string, tok *Token) (*Identity, error) {
		f, hc := newFakeServer(t)
		f.json("/common/discovery/v2.0/keys", 200, jwksBody(t, key))
		f.json("/v1.0/me", 200, graph)
		m, err := NewMicrosoft("common", "CID", "SEC", WithHTTPClient(hc), WithMicrosoftAnyTenant())
		require.NoError(t, err)
		return m.Identify(context.Background(), tok, "N")
	}
	t.Run("mail without xms_edov is not verified", func(t *testing.T) {
		got, err := identify(t, me, token(tidA, nil))
		require.NoError(t, err)
		assert.Equal(t, Identity{Subject: tidA + "/" + oid, Email: "arthur@camelot.bt", Name: "Arthur"}, withoutClaims(t, got, "https://login.microsoftonline.com/"+tidA+"/v2.0"))
		assert.Equal(t, tidA, got.Claims["tid"], "the verified tid, for tenant policies")
	})
	t.Run("xms_edov true verifies the token's email", func(t *testing.T) {
		got, err := identify(t, me, token(tidA, func(c map[string]any) { c["xms_edov"] = true }))
		require.NoError(t, err)
		assert.True(t, got.EmailVerified)
		assert.Equal(t, "arthur@camelot.bt", got.Email)
	})
	t.Run("xms_edov for another address than mail", func(t *testing.T) {
		got, err := identify(t, me, token(tidA, func(c map[string]any) { c["xms_edov"] = true; c["email"] = "other@camelot.bt" }))
		require.NoError(t, err)
		assert.False(t, got.EmailVerified)
	})
	t.Run("xms_edov as a string does not count", func(t *testing.T) {
		got, err := identify(t, me, token(tidA, func(c map[string]any) { c["xms_edov"] = "1" }))
		require.NoError(t, err)
		assert.False(t, got.EmailVerified)
	})
	t.Run("UPN when there is no mail, never verified", func(t *testing.T) {
		got, err := identify(t, `{"id":"`+oid+`","mail":null,"userPrincipalName":"arthur@camelot.onmicrosoft.com"}`, token(tidA, nil))
		require.NoError(t, err)
		assert.Equal(t, "arthur@camelot.onmicrosoft.com", got.Email)
		assert.False(t, got.EmailVerified)
		assert.Equal(t, "Token Name", got.Name)
	})
	t.Run("same oid in two tenants is two users", func(t *testing.T) {
		a, err := identify(t, me, token(tidA, nil))
		require.NoError(t, err)
		b, err := identify(t, me, token(tidB, nil))
		require.NoError(t, err)
		assert.NotEqual(t, a.Subject, b.Subject)
		assert.Equal(t, tidB+"/"+oid, b.Subject)
	})
	t.Run("Graph id must be the token's oid", func(t *testing.T) {
		_, err := identify(t, `{"id":"99999999-0000-0000-66f3-3332eca7ea81","mail":"arthur@camelot.bt"}`, token(tidA, nil))
		assert.ErrorIs(t, err, ErrIDToken)
		assert.ErrorIs(t, err, ErrIDTokenSubject)
	})
	t.Run("personal account Graph id form", func(t *testing.T) {
		got, err := identify(t, `{"id":"66f33332eca7ea81","userPrincipalName":"arthur@outlook.com"}`, token(microsoftMSATenant, func(c map[string]any) {
			c["iss"] = "https://login.microsoftonline.com/" + microsoftMSATenant + "/v2.0"
		}))
		require.NoError(t, err)
		assert.Equal(t, microsoftMSATenant+"/"+oid, got.Subject)
	})
	t.Run("an ID token is required", func(t *testing.T) {
		_, err := identify(t, me, &Token{AccessToken: "AT"})
		assert.ErrorIs(t, err, ErrIDTokenMissing)
	})
	t.Run("wrong nonce", func(t *testing.T) {
		_, err := identify(t, me, token(tidA, func(c map[string]any) { c["nonce"] = "X" }))
		assert.ErrorIs(t, err, ErrIDTokenNonce)
	})
}
