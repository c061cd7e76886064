package oauthkit_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// Every refusal of New is a typed configuration error; the cookie settings
// that expose the session cross-site or to subdomains need an explicit
// opt-in.
func TestNewRefusals(t *testing.T) {
	t.Parallel()
	as := newFakeAS(t)
	base := func() oauthkit.Config {
		sm := scs.New()
		sm.Cookie.Secure = true
		return oauthkit.Config{Sessions: sm, Providers: []oauthkit.Provider{
			{Client: provider(t, as, "test"), RedirectURL: "https://app.example/auth/test/callback"}}}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*oauthkit.Config)
		ok     bool
	}{
		{"valid", func(*oauthkit.Config) {}, true},
		{"no sessions", func(c *oauthkit.Config) { c.Sessions = nil }, false},
		{"no providers", func(c *oauthkit.Config) { c.Providers = nil }, false},
		{"SameSite=None refused", func(c *oauthkit.Config) { c.Sessions.Cookie.SameSite = http.SameSiteNoneMode }, false},
		{"SameSite=None with opt-in", func(c *oauthkit.Config) {
			c.Sessions.Cookie.SameSite = http.SameSiteNoneMode
			c.AllowSameSiteNone = true
		}, true},
		{"Domain refused", func(c *oauthkit.Config) { c.Sessions.Cookie.Domain = "app.example" }, false},
		{"Domain with opt-in", func(c *oauthkit.Config) {
			c.Sessions.Cookie.Domain = "app.example"
			c.AllowCookieDomain = true
		}, true},
		{"SameSite=Strict", func(c *oauthkit.Config) { c.Sessions.Cookie.SameSite = http.SameSiteStrictMode }, false},
		{"not HttpOnly", func(c *oauthkit.Config) { c.Sessions.Cookie.HttpOnly = false }, false},
		{"plain-http redirect URL", func(c *oauthkit.Config) { c.Providers[0].RedirectURL = "http://app.example/cb" }, false},
		{"colon in provider name", func(c *oauthkit.Config) { c.Providers[0].Client = provider(t, as, "openid:x") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mutate(&cfg)
			_, err := oauthkit.New(cfg)
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, oauthkit.ErrInvalidConfig)
		})
	}
}

// The default UserID is provider + ":" + id and cannot collide: a provider
// name cannot hold ":", so ("openid", "x:1") is the only pair that gives
// "openid:x:1".
func TestDefaultUserIDIsUnambiguous(t *testing.T) {
	t.Parallel()
	a := newApp(t, withOpenIDNamedProvider(t))
	b := a.browser()
	res := a.get(b, a.approveAs(a.startLogin(b, "/auth/openid/login"), fakeUser{ID: "1", Email: "x@example.com"}))
	require.Equal(t, http.StatusFound, res.StatusCode, "%v", a.lastErr())
	u := a.sessionUser(b)
	assert.Equal(t, "openid:1", u.UserID)

	_, err := oauthkit.New(oauthkit.Config{Sessions: a.sm, Providers: []oauthkit.Provider{
		{Client: provider(t, a.as, "openid:x"), RedirectURL: a.srv.URL + "/cb"}}})
	assert.ErrorIs(t, err, oauthkit.ErrInvalidConfig, "a name that would make openid:x + 1 equal openid + x:1")
}

// With no Logger configured, failures go to slog.Default(), without the
// query string that carries the state and code.
func TestDefaultLoggerIsSlogDefault(t *testing.T) {
	var buf syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	a := newApp(t, func(c *oauthkit.Config) { c.Logger = nil })
	res, _ := a.do(a.browser(), http.MethodGet, "/auth/test/callback?state=SECRETSTATE123&code=SECRETCODE456", nil)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	out := buf.String()
	assert.Contains(t, out, "level=WARN")
	assert.Contains(t, out, "status=400")
	assert.NotContains(t, out, "SECRETSTATE123")
	assert.NotContains(t, out, "SECRETCODE456")
}

// A handler for a provider the kit does not have fails when it is built,
// as http.ServeMux does on a bad pattern.
func TestUnknownProviderPanicsAtBuild(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	assert.PanicsWithValue(t, `oauthkit: LoginHandler("nope"): no such provider (configured: test)`, func() { a.kit.LoginHandler("nope") })
	assert.Panics(t, func() { a.kit.CallbackHandler("nope") })
}

// Items 30, 56 and 15: configurations New refuses.
func TestNewRefusesUnsafeConfig(t *testing.T) {
	t.Parallel()
	as := newFakeAS(t)
	sessions := func(mod func(*scs.SessionManager)) *scs.SessionManager {
		sm := scs.New()
		sm.Store = memstore.New()
		sm.Cookie.Secure = true
		if mod != nil {
			mod(sm)
		}
		return sm
	}
	prov := func(name, redirect string) oauthkit.Provider {
		return oauthkit.Provider{Client: provider(t, as, name), RedirectURL: redirect}
	}
	const https = "https://app.example/auth/test/callback"
	cases := map[string]oauthkit.Config{
		"SameSite=Strict": {Sessions: sessions(func(sm *scs.SessionManager) { sm.Cookie.SameSite = http.SameSiteStrictMode }),
			Providers: []oauthkit.Provider{prov("test", https)}},
		"not HttpOnly": {Sessions: sessions(func(sm *scs.SessionManager) { sm.Cookie.HttpOnly = false }),
			Providers: []oauthkit.Provider{prov("test", https)}},
		"https redirect, cookie not Secure": {Sessions: sessions(func(sm *scs.SessionManager) { sm.Cookie.Secure = false }),
			Providers: []oauthkit.Provider{prov("test", https)}},
		"http non-loopback redirect": {Sessions: sessions(nil),
			Providers: []oauthkit.Provider{prov("test", "http://app.example/auth/test/callback")}},
		"relative redirect": {Sessions: sessions(nil),
			Providers: []oauthkit.Provider{prov("test", "/auth/test/callback")}},
		"duplicate provider names": {Sessions: sessions(nil),
			Providers: []oauthkit.Provider{prov("test", https), prov("test", "https://app.example/auth/test2/callback")}},
		"no sessions":  {Providers: []oauthkit.Provider{prov("test", https)}},
		"no providers": {Sessions: sessions(nil)},
	}
	for name, cfg := range cases {
		kit, err := oauthkit.New(cfg)
		assert.Error(t, err, name)
		assert.Nil(t, kit, name)
	}

	// Plain http is fine on loopback, with a non-Secure cookie (development).
	for _, u := range []string{"http://127.0.0.1:8080/cb", "http://localhost:8080/cb", "http://[::1]:8080/cb"} {
		_, err := oauthkit.New(oauthkit.Config{
			Sessions:  sessions(func(sm *scs.SessionManager) { sm.Cookie.Secure = false }),
			Providers: []oauthkit.Provider{prov("test", u)},
		})
		assert.NoError(t, err, u)
	}
}

// TestSecretsConfigOutput: printing or logging a client configuration, a
// client or a kit configuration never shows the client secret.
func TestSecretsConfigOutput(t *testing.T) {
	t.Parallel()
	cc := client.Config{
		ClientID: "cid", ClientSecret: markCS,
		AuthorizeEndpoint:   "https://as.example/authorize",
		AccessTokenEndpoint: "https://as.example/token",
	}
	c, err := client.New(cc)
	require.NoError(t, err)
	gh, err := client.NewGitHub("cid", markCS)
	require.NoError(t, err)
	google, err := client.NewGoogle("cid", markCS)
	require.NoError(t, err)
	kitCfg := oauthkit.Config{Providers: []oauthkit.Provider{{Client: gh}, {Client: google}, {Client: c}}}

	var out strings.Builder
	for _, v := range []any{cc, &cc, c, gh, google, c.Config(), kitCfg, &kitCfg} {
		fmt.Fprintf(&out, "%v\n%+v\n%#v\n%s\n", v, v, v, v)
	}
	for _, h := range []slog.Handler{
		slog.NewTextHandler(&out, nil),
		slog.NewJSONHandler(&out, nil),
	} {
		l := slog.New(h)
		l.Info("config", "cfg", cc, "validated", c.Config(), "client", c, "kit", kitCfg)
		l.Info("config", slog.Any("cfg", &cc))
	}
	require.Contains(t, out.String(), "cid", "the output is not empty")
	assert.NotContains(t, out.String(), markCS)
}
