package oauthkit_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

func withLoginParams(names ...string) appOption {
	return func(c *oauthkit.Config) {
		c.Providers[0].LoginParams = names
		c.Providers[0].AuthParams = client.Values{"prompt": {"consent"}, "access_type": {"offline"}}
	}
}

// The login route forwards the allowed parameters of its query, checked,
// over the configured ones; protocol parameters and unlisted ones never
// reach the provider.
func TestLoginParamsForwarded(t *testing.T) {
	t.Parallel()
	a := newApp(t, withLoginParams("prompt", "login_hint", "max_age", "ui_locales", "hd"))
	b := a.browser()
	q := url.Values{
		"prompt": {"login select_account"}, "login_hint": {"ada@example.com"}, "max_age": {"300"},
		"ui_locales": {"fr-CA fr"}, "hd": {"example.com"},
		"redirect_uri": {"https://evil.example/cb"}, "state": {"forged"}, "scope": {"admin"},
		"acr_values": {"urn:mace:incommon:iap:silver"}, "foo": {"bar"}, "next": {"/account"},
	}
	authURL := a.startLogin(b, "/auth/test/login?"+q.Encode())
	got := authURL.Query()
	assert.Equal(t, "login select_account", got.Get("prompt"), "the request's prompt replaces the configured one")
	assert.Equal(t, "ada@example.com", got.Get("login_hint"))
	assert.Equal(t, "300", got.Get("max_age"))
	assert.Equal(t, "fr-CA fr", got.Get("ui_locales"))
	assert.Equal(t, "example.com", got.Get("hd"))
	assert.Equal(t, "offline", got.Get("access_type"), "configured parameters stay")
	assert.Equal(t, a.srv.URL+"/auth/test/callback", got.Get("redirect_uri"))
	assert.NotEqual(t, "forged", got.Get("state"))
	assert.NotEqual(t, "admin", got.Get("scope"))
	for _, dropped := range []string{"acr_values", "foo", "next"} {
		assert.False(t, got.Has(dropped), dropped)
	}
	// A forwarded max_age is verified on return: this provider issues no
	// ID token, so it cannot prove the authentication is recent.
	res := a.get(b, a.approve(authURL))
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.ErrorIs(t, a.lastErr(), oauthkit.ErrStepUpFailed)
	// Without it, the login completes with the other forwarded parameters.
	q.Del("max_age")
	res = a.get(b, a.approve(a.startLogin(b, "/auth/test/login?"+q.Encode())))
	assert.Equal(t, http.StatusFound, res.StatusCode)
	assert.Equal(t, "/account", res.Header.Get("Location"))

	// Without LoginParams nothing of the query is forwarded.
	plain := newApp(t)
	got = plain.startLogin(plain.browser(), "/auth/test/login?prompt=login&login_hint=x").Query()
	assert.False(t, got.Has("prompt"))
	assert.False(t, got.Has("login_hint"))
}

// An allowed parameter with a value outside its grammar, or repeated, is
// ErrInvalidLoginParam (400): no pending login, no trip to the provider.
func TestLoginParamsRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t, withLoginParams("prompt", "login_hint", "max_age", "acr_values", "ui_locales", "hd", "domain_hint"))
	for _, q := range []string{
		"prompt=evil", "prompt=none+login", "prompt=", "prompt=login&prompt=consent", "prompt=%20login",
		"max_age=-1", "max_age=1e3", "max_age=0300", "max_age=99999999999",
		"login_hint=" + url.QueryEscape("ada\r\nX-Injected: 1"), "login_hint=" + strings.Repeat("a", 257),
		"acr_values=" + url.QueryEscape("a\tb"), "ui_locales=" + url.QueryEscape("fr\x00"),
		"hd=" + url.QueryEscape("evil.example/path"), "domain_hint=.example.com", "hd=" + strings.Repeat("a", 254),
	} {
		b := a.browser()
		res, _ := a.do(b, http.MethodGet, "/auth/test/login?"+q, nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, q)
		assert.Empty(t, res.Header.Get("Location"), q)
		assert.ErrorIs(t, a.takeErr(), oauthkit.ErrInvalidLoginParam, q)
		assert.Equal(t, 0, a.pending(b), q)
	}
	res, _ := a.do(a.browser(), http.MethodGet, "/auth/test/login?login_hint="+strings.Repeat("a", 17<<10), nil)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "an oversized query")
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrInvalidLoginParam)
	assert.Equal(t, int64(0), a.as.AuthorizeHits.Load())
	for _, ok := range []string{"prompt=none", "prompt=create", "max_age=0", "login_hint=" + url.QueryEscape("Zoë Ünïcode"), "domain_hint=contoso.com"} {
		res, _ := a.do(a.browser(), http.MethodGet, "/auth/test/login?"+ok, nil)
		assert.Equal(t, http.StatusFound, res.StatusCode, ok)
	}
}

// New refuses LoginParams that are protocol parameters or unknown.
func TestLoginParamsValidated(t *testing.T) {
	t.Parallel()
	for _, names := range [][]string{{"redirect_uri"}, {"state"}, {"scope"}, {"nonce"}, {"foo"}, {"prompt", "code_challenge"}} {
		_, err := oauthkit.New(oauthkit.Config{
			Sessions: secureSessions(),
			Providers: []oauthkit.Provider{{Client: provider(t, newFakeAS(t), "test"),
				RedirectURL: "https://app.example/cb", LoginParams: names}},
		})
		require.ErrorIs(t, err, oauthkit.ErrInvalidConfig, names)
	}
}

// The login route reads "next" without url.ParseQuery when the provider
// forwards no LoginParams; it finds what ParseQuery(...).Get finds.
func TestQueryValueMatchesParseQuery(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"", "next=/a", "next=%2Fa%3Fb%3D1", "x=1&next=/a&next=/b", "next", "next=", "&&next=/a&",
		"ne%78t=/a", "n+ext=/a", "next=%zz&next=/b", "ne%zzxt=/a&next=/c", "next=/a;b=1&next=/c",
		"a=1;next=/x", "next=a+b", "%6Eext=/first&next=/second", "next=/a=b", "=x&next=/a",
	} {
		want := ""
		if q, _ := url.ParseQuery(raw); q != nil {
			want = q.Get("next")
		}
		assert.Equal(t, want, oauthkit.QueryValue(raw, "next"), "%q", raw)
	}
}
