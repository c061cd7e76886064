package oauthkit_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// The issue "Provider clients" is done when every provider client is usable
// as a provider of the kit. These tests mount each constructor of package
// client in a kit, with its production URLs sent to one loopback fake, and
// run the whole flow through the kit's handlers: login (the provider's real
// authorization URL with S256 PKCE, state, and a nonce for OIDC clients),
// the provider's callback (Apple's form_post included), the code exchange
// with the client authentication the provider documents (the fake checks
// the PKCE verifier against the challenge), the ID token for OIDC clients
// (signed with keys made in the test, carrying the kit's nonce), the user
// API with its documented payload, the protected page, kit.Token refreshing
// at the provider's refresh endpoint once the injected clock passes the
// expiry, and logout with RevokeOnLogout at the provider's revocation
// endpoint.

const (
	kpTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	kpOID    = "00000000-0000-0000-66f3-3332eca7ea81"
)

// kpRevokeRFC7009 is an RFC 7009 revocation of the refresh token, the one
// the kit revokes when the session has one.
func kpRevokeRFC7009(endpoint string, auth kpAuth) *kpRevoke {
	return &kpRevoke{endpoint: endpoint, auth: auth, form: map[string]string{"token": "$RT", "token_type_hint": "refresh_token"}}
}

// kpOktaDoc is the discovery document of an Okta authorization server
// (client/okta_test.go's shape).
func kpOktaDoc(issuer, base string) map[string]any {
	return map[string]any{
		"issuer":                                     issuer,
		"authorization_endpoint":                     base + "/v1/authorize",
		"token_endpoint":                             base + "/v1/token",
		"userinfo_endpoint":                          base + "/v1/userinfo",
		"revocation_endpoint":                        base + "/v1/revoke",
		"jwks_uri":                                   base + "/v1/keys",
		"response_types_supported":                   []string{"code", "id_token", "code id_token"},
		"subject_types_supported":                    []string{"public"},
		"grant_types_supported":                      []string{"authorization_code", "implicit", "refresh_token", "password"},
		"token_endpoint_auth_methods_supported":      []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
		"revocation_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
		"id_token_signing_alg_values_supported":      []string{"RS256"},
	}
}

const kpOktaUserinfo = `{"sub":"00uid4BxXw6I6TV4m0g3","name":"John Doe","preferred_username":"john.doe@example.com","email":"john.doe@example.com","email_verified":true}`

func kpShopifyRow(name, shop, version string, ctor func(e *kpEnv) (client.Provider, error)) *kpRow {
	host := shop + ".myshopify.com"
	return &kpRow{
		name: name, client: ctor,
		authorize: host + "/admin/oauth/authorize", authQuery: map[string]string{"scope": "read_orders"},
		callbackExtra: url.Values{"shop": {host}, "hmac": {"da9d83c171400a41f8db91a950508985"}, "host": {"YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvbXktc2hvcA"}, "timestamp": {"1409617544"}},
		token:         host + "/admin/oauth/access_token", auth: kpPost,
		tokenBody: func(m map[string]any) { // offline token: no type, no expiry
			delete(m, "token_type")
			delete(m, "expires_in")
			m["scope"] = "read_orders"
		},
		routes: map[string]kpRoute{
			host + "/admin/api/" + version + "/shop.json": kpUser(http.MethodGet,
				`{"shop":{"id":548380009,"name":"John Smith Test Store","email":"j.smith@example.com","domain":"shop.apple.com","myshopify_domain":"`+host+`"}}`,
				kpCred("X-Shopify-Access-Token")),
		},
		wantID: "548380009", wantEmail: "j.smith@example.com",
	}
}

func kpGitLabRow(name, base string, ctor func(e *kpEnv) (client.Provider, error)) *kpRow {
	return &kpRow{
		name: name, client: ctor,
		authorize: base + "/oauth/authorize", authQuery: map[string]string{"scope": "read_user"},
		token: base + "/oauth/token", auth: kpPost,
		tokenBody: func(m map[string]any) { m["scope"] = "read_user"; m["created_at"] = 1607635748 },
		routes: map[string]kpRoute{
			base + "/api/v4/user": kpUser(http.MethodGet, `{"id":1,"username":"john_smith","email":"john@example.com","name":"John Smith","state":"active","confirmed_at":"2012-05-23T09:05:22Z","public_email":"","commit_email":"john@example.com"}`),
		},
		wantID: "1", wantEmail: "john@example.com",
		refresh: true, revoke: kpRevokeRFC7009(base+"/oauth/revoke", kpPost),
	}
}

func kpOktaRow(name, issuerPath string, ctor func(e *kpEnv) (client.Provider, error)) *kpRow {
	const host = "dev-123.okta.com"
	issuer := "https://" + host + issuerPath
	base := host + "/oauth2" // org server: /oauth2/v1/..., custom: /oauth2/{id}/v1/...
	if issuerPath != "" {
		base = host + issuerPath
	}
	return &kpRow{
		name: name, client: ctor,
		authorize: base + "/v1/authorize", authQuery: map[string]string{"scope": "openid email"},
		token: base + "/v1/token", auth: kpBasic,
		oidc: &kpOIDC{issuer: issuer, sub: "00uid4BxXw6I6TV4m0g3", email: "john.doe@example.com", verified: true},
		routes: map[string]kpRoute{
			host + issuerPath + "/.well-known/openid-configuration": kpStatic(kpOktaDoc(issuer, "https://"+base)),
			base + "/v1/keys":     kpJWKS(),
			base + "/v1/userinfo": kpUser(http.MethodGet, kpOktaUserinfo),
		},
		wantID: "00uid4BxXw6I6TV4m0g3", wantEmail: "john.doe@example.com",
		refresh: true, revoke: kpRevokeRFC7009(base+"/v1/revoke", kpBasic),
	}
}

// kpRows returns one row per provider constructor of package client.
func kpRows() []*kpRow {
	fbVersion := client.FacebookGraphVersion
	return []*kpRow{
		{
			name: "github",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewGitHub("cid-github", kpSecret, e.opts()...)
			},
			authorize: "github.com/login/oauth/authorize", authQuery: map[string]string{"scope": "read:user user:email"},
			token: "github.com/login/oauth/access_token", auth: kpPost,
			// A GitHub App user token: expiring, with a refresh token.
			tokenBody: func(m map[string]any) {
				m["token_type"] = "bearer"
				m["scope"] = ""
				m["expires_in"] = 28800
				m["refresh_token_expires_in"] = 15897600
			},
			routes: map[string]kpRoute{
				"api.github.com/user": kpUser(http.MethodGet, `{"login":"arthur","id":42,"email":null}`, kpCheck(kpGitHubHeaders)),
				"api.github.com/user/emails": kpUser(http.MethodGet,
					`[{"email":"old@camelot.bt","primary":false,"verified":true,"visibility":null},{"email":"arthur@camelot.bt","primary":true,"verified":true,"visibility":"public"}]`,
					kpCheck(kpGitHubHeaders)),
			},
			wantID: "42", wantEmail: "arthur@camelot.bt",
			refresh: true,
		},
		{
			name: "google",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewGoogle("cid-google", kpSecret, e.opts()...)
			},
			kit: func(p *oauthkit.Provider) {
				p.AuthParams = client.GoogleParams{AccessType: "offline", Prompt: "consent"}
			},
			authorize: "accounts.google.com/o/oauth2/v2/auth",
			authQuery: map[string]string{"access_type": "offline", "prompt": "consent",
				"scope": "https://www.googleapis.com/auth/userinfo.profile https://www.googleapis.com/auth/userinfo.email"},
			token: "oauth2.googleapis.com/token", auth: kpPost,
			tokenBody: func(m map[string]any) {
				m["expires_in"] = 3920
				m["scope"] = "https://www.googleapis.com/auth/userinfo.email"
			},
			// Google answers with an ID token when asked for openid; the
			// kit sends a nonce and the client verifies the token against
			// Google's keys, its subject in the People API's form.
			oidc: &kpOIDC{issuer: "https://accounts.google.com", sub: "424242424242", email: "arthur@camelot.bt", verified: true},
			routes: map[string]kpRoute{
				"www.googleapis.com/oauth2/v3/certs": kpJWKS(),
				"people.googleapis.com/v1/people/me": kpUser(http.MethodGet,
					`{"resourceName":"people/424242424242","etag":"e","emailAddresses":[{"metadata":{"primary":true,"verified":true,"source":{"type":"ACCOUNT","id":"424242424242"}},"value":"arthur@camelot.bt"}]}`,
					kpCheck(func(_ *kpEnv, r *http.Request, _ string) error {
						return kpWant("personFields", "emailAddresses,names,photos", r.URL.Query().Get("personFields"))
					})),
			},
			wantID: "people/424242424242", wantEmail: "arthur@camelot.bt",
			refresh: true, revoke: kpRevokeRFC7009("oauth2.googleapis.com/revoke", kpPost),
		},
		{
			name: "discord",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewDiscord("cid-discord", kpSecret, e.opts()...)
			},
			authorize: "discord.com/oauth2/authorize", authQuery: map[string]string{"scope": "identify email"},
			token: "discord.com/api/oauth2/token", auth: kpBasic,
			tokenBody: func(m map[string]any) { m["expires_in"] = 604800; m["scope"] = "identify email" },
			routes: map[string]kpRoute{
				"discord.com/api/v10/users/@me": kpUser(http.MethodGet, `{"id":"80351110224678912","username":"Nelly","discriminator":"0","email":"nelly@discord.com","verified":true,"mfa_enabled":false}`),
			},
			wantID: "80351110224678912", wantEmail: "nelly@discord.com",
			refresh: true, revoke: kpRevokeRFC7009("discord.com/api/oauth2/token/revoke", kpBasic),
		},
		{
			name: "facebook",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewFacebook("cid-facebook", kpSecret, e.opts()...)
			},
			authorize: "www.facebook.com/" + fbVersion + "/dialog/oauth", authQuery: map[string]string{"scope": "email public_profile"},
			token: "graph.facebook.com/" + fbVersion + "/oauth/access_token", auth: kpPost,
			tokenBody: func(m map[string]any) { m["token_type"] = "bearer"; m["expires_in"] = 5183944 },
			routes: map[string]kpRoute{
				"graph.facebook.com/" + fbVersion + "/me": kpUser(http.MethodGet, `{"id":"424242","email":"arthur@camelot.bt"}`,
					kpCheck(func(_ *kpEnv, r *http.Request, at string) error {
						m := hmac.New(sha256.New, []byte(kpSecret))
						m.Write([]byte(at))
						q := r.URL.Query()
						if err := kpWant("fields", "id,name,email,picture", q.Get("fields")); err != nil {
							return err
						}
						return kpWant("appsecret_proof", hex.EncodeToString(m.Sum(nil)), q.Get("appsecret_proof"))
					})),
			},
			wantID: "424242", wantEmail: "arthur@camelot.bt",
		},
		{
			name: "reddit",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewReddit("cid-reddit", kpSecret, e.opts()...)
			},
			kit: func(p *oauthkit.Provider) {
				p.AuthParams = client.RedditParams{Duration: "permanent"}
			},
			authorize: "www.reddit.com/api/v1/authorize", authQuery: map[string]string{"scope": "identity", "duration": "permanent"},
			token: "www.reddit.com/api/v1/access_token", auth: kpBasic,
			tokenBody: func(m map[string]any) { m["token_type"] = "bearer"; m["expires_in"] = 86400; m["scope"] = "identity" },
			routes: map[string]kpRoute{
				"oauth.reddit.com/api/v1/me": kpUser(http.MethodGet,
					`{"is_employee":false,"name":"TheQuickBrownCatJumpsOverTheLazyDog","id":"8fuj3ayk","created_utc":1605475012.0,"verified":true,"has_verified_email":true}`,
					kpCheck(func(_ *kpEnv, r *http.Request, _ string) error {
						return kpWant("User-Agent", "oauthkit:cid-reddit:v1 (by oauthkit)", r.UserAgent())
					})),
			},
			wantID: "t2_8fuj3ayk", wantEmail: "",
			refresh: true, revoke: kpRevokeRFC7009("www.reddit.com/api/v1/revoke_token", kpBasic),
		},
		{
			name: "bitbucket",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewBitbucket("cid-bitbucket", kpSecret, e.opts()...)
			},
			authorize: "bitbucket.org/site/oauth2/authorize", authQuery: map[string]string{"scope": ""},
			token: "bitbucket.org/site/oauth2/access_token", auth: kpBasic,
			tokenBody: func(m map[string]any) {
				m["token_type"] = "bearer"
				m["expires_in"] = 7200
				m["scopes"] = "account email"
				m["state"] = "authorization_code"
			},
			routes: map[string]kpRoute{
				"api.bitbucket.org/2.0/user": kpUser(http.MethodGet, `{"type":"user","uuid":"{c7e5b3f0-1a2b-4c3d-9e8f-0123456789ab}","account_id":"557058:abc","username":"arthur","display_name":"Arthur"}`),
				"api.bitbucket.org/2.0/user/emails": kpUser(http.MethodGet,
					`{"pagelen":10,"page":1,"size":2,"values":[{"type":"email","email":"old@camelot.bt","is_primary":false,"is_confirmed":true},{"type":"email","email":"arthur@camelot.bt","is_primary":true,"is_confirmed":true}]}`),
			},
			wantID: "{c7e5b3f0-1a2b-4c3d-9e8f-0123456789ab}", wantEmail: "arthur@camelot.bt",
			refresh: true,
		},
		{
			name: "twitch",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewTwitch("cid-twitch", kpSecret, e.opts()...)
			},
			authorize: "id.twitch.tv/oauth2/authorize", authQuery: map[string]string{"scope": "user:read:email"},
			token: "id.twitch.tv/oauth2/token", auth: kpPost,
			tokenBody: func(m map[string]any) {
				m["token_type"] = "bearer"
				m["expires_in"] = 14124
				m["scope"] = []string{"user:read:email"}
			},
			routes: map[string]kpRoute{
				"api.twitch.tv/helix/users": kpUser(http.MethodGet,
					`{"data":[{"id":"141981764","login":"twitchdev","display_name":"TwitchDev","type":"","broadcaster_type":"partner","view_count":5980557,"email":"not-real@email.com","created_at":"2016-12-14T20:32:28Z"}]}`,
					kpCheck(func(_ *kpEnv, r *http.Request, _ string) error {
						return kpWant("Client-Id", "cid-twitch", r.Header.Get("Client-Id"))
					})),
			},
			wantID: "141981764", wantEmail: "not-real@email.com",
			refresh: true,
			// Twitch documents the revocation of access tokens only: the
			// client refuses the refresh token, so the kit revokes the
			// access token.
			revoke: &kpRevoke{endpoint: "id.twitch.tv/oauth2/revoke", auth: kpClientIDOnly, form: map[string]string{"token": "$AT", "token_type_hint": "access_token"}},
		},
		{
			name: "kakao",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewKakao("cid-kakao", kpSecret, e.opts()...)
			},
			authorize: "kauth.kakao.com/oauth/authorize", authQuery: map[string]string{"scope": "profile_nickname account_email"},
			token: "kauth.kakao.com/oauth/token", auth: kpPost,
			tokenBody: func(m map[string]any) {
				m["token_type"] = "bearer"
				m["expires_in"] = 43199
				m["refresh_token_expires_in"] = 5183999
				m["scope"] = "account_email profile_nickname"
			},
			routes: map[string]kpRoute{
				"kapi.kakao.com/v2/user/me": kpUser(http.MethodPost,
					`{"id":4242424242,"connected_at":"2022-04-11T01:45:28Z","kakao_account":{"email_needs_agreement":false,"is_email_valid":true,"is_email_verified":true,"email":"arthur@camelot.bt"}}`,
					kpCheck(func(_ *kpEnv, r *http.Request, _ string) error {
						return kpWant("property_keys", `["kakao_account.email","kakao_account.profile"]`, r.URL.Query().Get("property_keys"))
					})),
			},
			wantID: "4242424242", wantEmail: "arthur@camelot.bt",
			refresh: true,
			// Kakao can only unlink with the access token, as Bearer.
			revoke: &kpRevoke{endpoint: "kapi.kakao.com/v1/user/unlink", auth: kpBearerAT, form: map[string]string{}, reply: `{"id":4242424242}`},
		},
		{
			name: "naver",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewNaver("cid-naver", kpSecret, e.opts()...)
			},
			authorize: "nid.naver.com/oauth2.0/authorize", authQuery: map[string]string{"scope": ""},
			token: "nid.naver.com/oauth2.0/token", auth: kpPost,
			tokenBody: func(m map[string]any) { m["token_type"] = "bearer"; m["expires_in"] = "3600" }, // a string, as Naver sends it
			routes: map[string]kpRoute{
				"openapi.naver.com/v1/nid/me": kpUser(http.MethodPost, `{"resultcode":"00","message":"success","response":{"email":"arthur@camelot.bt","nickname":"Arthur","id":"32742776","name":"Arthur"}}`),
			},
			wantID: "32742776", wantEmail: "arthur@camelot.bt",
			refresh: true,
			// Naver deletes access tokens only, at its token endpoint.
			revoke: &kpRevoke{endpoint: "nid.naver.com/oauth2.0/token", auth: kpPost,
				form:  map[string]string{"grant_type": "delete", "access_token": "$AT", "service_provider": "NAVER", "token_type_hint": "access_token"},
				reply: `{"access_token":"$AT","result":"success"}`},
		},
		kpShopifyRow("shopify", "my-shop", client.ShopifyDefaultAPIVersion, func(e *kpEnv) (client.Provider, error) {
			return client.NewShopify("my-shop", "cid-shopify", kpSecret, e.opts()...)
		}),
		kpShopifyRow("shopify-unstable", "other-shop", "unstable", func(e *kpEnv) (client.Provider, error) {
			return client.NewShopify("Other-Shop.myshopify.com", "cid-shopify-unstable", kpSecret, e.opts(client.WithName("shopify-unstable"), client.WithShopifyAPIVersion("unstable"))...)
		}),
		kpGitLabRow("gitlab", "gitlab.com", func(e *kpEnv) (client.Provider, error) {
			return client.NewGitLab("cid-gitlab", kpSecret, e.opts()...)
		}),
		kpGitLabRow("gitlab-self", "git.example.com/gitlab", func(e *kpEnv) (client.Provider, error) {
			return client.NewGitLabAt("https://git.example.com/gitlab/", "cid-gitlab-self", kpSecret, e.opts(client.WithName("gitlab-self"))...)
		}),
		{
			name: "microsoft",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewMicrosoft(strings.ToUpper(kpTenant), "cid-microsoft", kpSecret, e.opts()...)
			},
			kit: func(p *oauthkit.Provider) {
				p.Scopes = []string{"openid", "email", "profile", "User.Read", "offline_access"}
			},
			authorize: "login.microsoftonline.com/" + kpTenant + "/oauth2/v2.0/authorize",
			authQuery: map[string]string{"response_mode": "query", "scope": "openid email profile User.Read offline_access"},
			token:     "login.microsoftonline.com/" + kpTenant + "/oauth2/v2.0/token", auth: kpPost,
			tokenBody: func(m map[string]any) { m["ext_expires_in"] = 3600; m["scope"] = "openid email profile User.Read" },
			oidc: &kpOIDC{issuer: "https://login.microsoftonline.com/" + kpTenant + "/v2.0", sub: "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", email: "arthur@camelot.bt",
				mod: func(c map[string]any) {
					c["tid"] = kpTenant
					c["oid"] = kpOID
					c["ver"] = "2.0"
					c["preferred_username"] = "arthur@camelot.bt"
				}},
			routes: map[string]kpRoute{
				"login.microsoftonline.com/" + kpTenant + "/discovery/v2.0/keys": kpJWKS(),
				"graph.microsoft.com/v1.0/me": kpUser(http.MethodGet,
					`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users/$entity","id":"`+kpOID+`","displayName":"Arthur","mail":"arthur@camelot.bt","userPrincipalName":"arthur@camelot.bt"}`),
			},
			wantID: kpTenant + "/" + kpOID, wantEmail: "arthur@camelot.bt",
			refresh: true,
		},
		{
			name: "franceconnect",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewFranceConnect("cid-franceconnect", kpSecret, e.opts()...)
			},
			kit: func(p *oauthkit.Provider) {
				p.AuthParams = client.OpenIDParams{ACRValues: "eidas1"}
			},
			authorize: "app.franceconnect.gouv.fr/api/v1/authorize", authQuery: map[string]string{"scope": "openid email", "acr_values": "eidas1"},
			token: "app.franceconnect.gouv.fr/api/v1/token", auth: kpPost,
			oidc: &kpOIDC{issuer: "https://app.franceconnect.gouv.fr", hs256: true, sub: "42",
				mod: func(c map[string]any) { c["acr"] = "eidas1"; c["idp"] = "FC" }},
			routes: map[string]kpRoute{
				"app.franceconnect.gouv.fr/api/v1/userinfo": kpUser(http.MethodGet, `{"sub":42,"email":"arthur@camelot.bt","given_name":"Arthur"}`),
			},
			wantID: "42", wantEmail: "arthur@camelot.bt",
		},
		{
			name: "linkedin",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewLinkedIn("cid-linkedin", kpSecret, e.opts()...)
			},
			authorize: "www.linkedin.com/oauth/v2/authorization", authQuery: map[string]string{"scope": "openid profile email"},
			token: "www.linkedin.com/oauth/v2/accessToken", auth: kpPost,
			tokenBody: func(m map[string]any) { m["expires_in"] = 5183999; m["scope"] = "email,openid,profile" },
			oidc:      &kpOIDC{issuer: "https://www.linkedin.com/oauth", sub: "424242", email: "arthur@camelot.bt", verified: true},
			routes: map[string]kpRoute{
				"www.linkedin.com/oauth/openid/jwks": kpJWKS(),
				"api.linkedin.com/v2/userinfo":       kpUser(http.MethodGet, `{"sub":"424242","email":"arthur@camelot.bt","email_verified":true,"name":"Arthur","locale":{"country":"US","language":"en"}}`),
			},
			wantID: "424242", wantEmail: "arthur@camelot.bt",
			refresh: true,
		},
		{
			name: "slack",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewSlack("cid-slack", kpSecret, e.opts()...)
			},
			authorize: "slack.com/openid/connect/authorize", authQuery: map[string]string{"scope": "openid email profile"},
			token: "slack.com/api/openid.connect.token", auth: kpPost,
			tokenBody: func(m map[string]any) { m["ok"] = true },
			oidc: &kpOIDC{issuer: "https://slack.com", sub: "U0R7JM", email: "krane@slack-corp.com", verified: true,
				mod: func(c map[string]any) { c["https://slack.com/team_id"] = "T0R7GR" }},
			routes: map[string]kpRoute{
				"slack.com/openid/connect/keys": kpJWKS(),
				"slack.com/api/openid.connect.userInfo": kpUser(http.MethodGet,
					`{"ok":true,"sub":"U0R7JM","https://slack.com/user_id":"U0R7JM","https://slack.com/team_id":"T0R7GR","email":"krane@slack-corp.com","email_verified":true,"name":"krane"}`),
			},
			wantID: "U0R7JM", wantEmail: "krane@slack-corp.com",
			refresh: true,
		},
		{
			name: "apple", clientID: "com.example.web",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.NewApple("com.example.web", "TEAM123456", "KEY1234567", e.appleP8, e.opts()...)
			},
			authorize: "appleid.apple.com/auth/authorize", authQuery: map[string]string{"scope": "name email", "response_mode": "form_post"},
			formPost: true,
			token:    "appleid.apple.com/auth/token", auth: kpAppleJWT,
			oidc: &kpOIDC{issuer: "https://appleid.apple.com", sub: "001234.5a1b2c3d4e5f60718293a4b5c6d7e8f9.1234", email: "arthur@privaterelay.appleid.com", verified: "true",
				mod: func(c map[string]any) {
					c["is_private_email"] = "true"
					c["auth_time"] = c["iat"]
					c["nonce_supported"] = true
				}},
			routes: map[string]kpRoute{
				"appleid.apple.com/auth/keys": kpJWKS(),
			},
			wantID: "001234.5a1b2c3d4e5f60718293a4b5c6d7e8f9.1234", wantEmail: "arthur@privaterelay.appleid.com",
			refresh: true, revoke: kpRevokeRFC7009("appleid.apple.com/auth/revoke", kpAppleJWT),
		},
		kpOktaRow("okta", "", func(e *kpEnv) (client.Provider, error) {
			return client.DiscoverOkta(e.t.Context(), "dev-123.okta.com", "cid-okta", kpSecret, e.opts()...)
		}),
		kpOktaRow("okta-api", "/oauth2/default", func(e *kpEnv) (client.Provider, error) {
			return client.DiscoverOktaAuthServer(e.t.Context(), "dev-123.okta.com", "default", "cid-okta-api", kpSecret, e.opts(client.WithName("okta-api"))...)
		}),
		{
			name: "openid",
			client: func(e *kpEnv) (client.Provider, error) {
				return client.DiscoverOpenID(e.t.Context(), "https://id.example.com", "cid-openid", kpSecret, e.opts()...)
			},
			// The provider sends RFC 9207 iss, so the kit can require it.
			kit:         func(p *oauthkit.Provider) { p.RequireIssuer = true },
			callbackIss: "https://id.example.com",
			authorize:   "id.example.com/oauth/authorize", authQuery: map[string]string{"scope": "openid email"},
			token: "id.example.com/oauth/token", auth: kpPost,
			oidc: &kpOIDC{issuer: "https://id.example.com", sub: "248289761001", email: "janedoe@example.com", verified: true},
			routes: map[string]kpRoute{
				"id.example.com/.well-known/openid-configuration": kpStatic(map[string]any{
					"issuer":                                         "https://id.example.com",
					"authorization_endpoint":                         "https://id.example.com/oauth/authorize",
					"token_endpoint":                                 "https://id.example.com/oauth/token",
					"userinfo_endpoint":                              "https://id.example.com/oauth/userinfo",
					"revocation_endpoint":                            "https://id.example.com/oauth/revoke",
					"jwks_uri":                                       "https://id.example.com/oauth/jwks",
					"response_types_supported":                       []string{"code"},
					"subject_types_supported":                        []string{"public"},
					"grant_types_supported":                          []string{"authorization_code", "refresh_token"},
					"code_challenge_methods_supported":               []string{"S256"},
					"token_endpoint_auth_methods_supported":          []string{"private_key_jwt", "client_secret_post"},
					"revocation_endpoint_auth_methods_supported":     []string{"client_secret_post"},
					"id_token_signing_alg_values_supported":          []string{"RS256", "HS256"},
					"authorization_response_iss_parameter_supported": true,
				}),
				"id.example.com/oauth/jwks":     kpJWKS(),
				"id.example.com/oauth/userinfo": kpUser(http.MethodGet, `{"sub":"248289761001","name":"Jane Doe","email":"janedoe@example.com","email_verified":true}`),
			},
			wantID: "248289761001", wantEmail: "janedoe@example.com",
			refresh: true, revoke: kpRevokeRFC7009("id.example.com/oauth/revoke", kpPost),
		},
	}
}

func kpWant(what, want, got string) error {
	if got != want {
		return fmt.Errorf("%s: want %q, got %q", what, want, got)
	}
	return nil
}

func kpGitHubHeaders(_ *kpEnv, r *http.Request, _ string) error {
	if err := kpWant("Accept", "application/vnd.github+json", r.Header.Get("Accept")); err != nil {
		return err
	}
	return kpWant("X-GitHub-Api-Version", "2022-11-28", r.Header.Get("X-GitHub-Api-Version"))
}

// TestKitProviders runs the whole flow for each provider constructor, each
// in its own kit.
func TestKitProviders(t *testing.T) {
	rows := kpRows()
	if len(rows) < 20 {
		t.Fatalf("%d rows, want one per provider constructor", len(rows))
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			e := newKPEnv(t, row)
			e.run(t, row)
		})
	}
}

// TestKitProvidersTogether mounts every provider in one kit (distinct names
// and issuers, one session store, one clock) and runs the flows one after
// the other.
func TestKitProvidersTogether(t *testing.T) {
	rows := kpRows()
	e := newKPEnv(t, rows...)
	if got := len(e.a.kit.Providers()); got != len(rows) {
		t.Fatalf("kit has %d providers, want %d", got, len(rows))
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) { e.run(t, row) })
	}
}
