package oauthkit_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// Every refusal of New is a typed configuration error; the cookie settings
// that expose the session cross-site or to subdomains need an explicit
// opt-in.
func TestNewRefusals(t *testing.T) {
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

func withOpenIDNamedProvider(t *testing.T) appOption {
	return func(c *oauthkit.Config) {
		c.Providers = append(c.Providers, oauthkit.Provider{
			Client: provider(t, newFakeAS(t), "openid"), RedirectURL: strings.Replace(c.Providers[0].RedirectURL, "/test/", "/openid/", 1)})
	}
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
