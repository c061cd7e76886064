package oauthkit_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// stepUpProvider is the behaviour of the OpenID fake AS of a step-up test:
// whether it honours max_age (re-authenticating the user now, by the kit's
// clock) or ignores it (auth_time stays the real time of the request, old
// once the kit's clock has moved on), and the acr it reports.
type stepUpProvider struct {
	honour atomic.Bool
	acr    atomic.Pointer[string]
	edit   atomic.Pointer[func(map[string]any)]
	clock  atomic.Pointer[clock]
}

func (p *stepUpProvider) setACR(acr string) { p.acr.Store(&acr) }

// newStepUpApp is an app whose "test" provider is an OpenID fake AS shaped
// by the returned stepUpProvider, with /recent behind
// RequireRecentAuth(5 min) and /mfa behind RequireRecentAuth(1 h, "urn:mfa",
// "urn:hwk").
func newStepUpApp(t *testing.T, opts ...appOption) (*app, *stepUpProvider) {
	t.Helper()
	sp := &stepUpProvider{}
	as := newFakeAS(t)
	as.IDTokenClaims = func(m map[string]any) {
		if sp.honour.Load() {
			m["auth_time"] = sp.clock.Load().Now().Unix()
		}
		if acr := sp.acr.Load(); acr != nil {
			m["acr"] = *acr
		}
		if edit := sp.edit.Load(); edit != nil {
			(*edit)(m)
		}
	}
	as.EnableOpenID()
	c, err := as.OpenIDClient(context.Background(), "test", nil)
	require.NoError(t, err)
	a := newApp(t, append([]appOption{func(cfg *oauthkit.Config) { cfg.Providers[0].Client = c }}, opts...)...)
	sp.clock.Store(a.clock)
	mountStepUp(a)
	return a, sp
}

func mountStepUp(a *app) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := a.kit.User(r.Context())
		_, _ = io.WriteString(w, "recent "+u.ID)
	})
	a.mux.Handle("/recent", a.kit.RequireRecentAuth(5*time.Minute)(page))
	a.mux.Handle("/mfa", a.kit.RequireRecentAuth(time.Hour, "urn:mfa", "urn:hwk")(page))
}

// stepUp follows a RequireRecentAuth redirect through the login and the
// provider, returning the authorization URL and the callback's response.
func (a *app) stepUp(b *http.Client, res *http.Response) (*url.URL, *http.Response) {
	a.t.Helper()
	require.Equal(a.t, http.StatusFound, res.StatusCode)
	authURL := a.startLogin(b, res.Header.Get("Location"))
	return authURL, a.get(b, a.approve(authURL))
}

func TestRequireRecentAuthFreshLogin(t *testing.T) {
	t.Parallel()
	a, _ := newStepUpApp(t)
	b := a.browser()
	a.login(b, "/auth/test/login")
	u := a.sessionUser(b)
	require.NotNil(t, u)
	assert.False(t, u.AuthTime.IsZero(), "auth_time of the verified ID token")
	res, body := a.do(b, http.MethodGet, "/recent", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "recent "+u.ID, body)
}

// A login older than maxAge is sent back to the provider with max_age; a
// provider that ignores it (the auth_time it reports is still old) fails
// the step-up and leaves the session as it was; one that honours it passes.
func TestRequireRecentAuthStale(t *testing.T) {
	t.Parallel()
	a, sp := newStepUpApp(t)
	b := a.browser()
	a.login(b, "/auth/test/login")
	before, token := a.sessionUser(b), a.sessionCookie(b)
	a.clock.Add(10 * time.Minute)

	res := a.get(b, "/recent?x=1")
	require.Equal(t, http.StatusFound, res.StatusCode)
	assert.Equal(t, "/auth/test/login?step_up_max_age=300&next=%2Frecent%3Fx%3D1", res.Header.Get("Location"))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))

	authURL, cb := a.stepUp(b, res)
	assert.Equal(t, "300", authURL.Query().Get("max_age"))
	assert.False(t, authURL.Query().Has("step_up_max_age"))
	assert.Equal(t, http.StatusForbidden, cb.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStepUpFailed)
	assert.Equal(t, token, a.sessionCookie(b), "no new session")
	assert.Equal(t, before, a.sessionUser(b), "the earlier login stays")
	assert.Equal(t, http.StatusFound, a.get(b, "/recent").StatusCode)

	// Editing the step-up away gives a login, not a recent one.
	a.login(b, "/auth/test/login")
	assert.Equal(t, http.StatusFound, a.get(b, "/recent").StatusCode)

	sp.honour.Store(true)
	_, cb = a.stepUp(b, a.get(b, "/recent?x=1"))
	require.Equal(t, http.StatusFound, cb.StatusCode)
	assert.Equal(t, "/recent?x=1", cb.Header.Get("Location"))
	assert.True(t, a.sessionUser(b).AuthTime.Equal(a.clock.Now().Truncate(time.Second)))
	assert.Equal(t, http.StatusOK, a.get(b, "/recent?x=1").StatusCode)
}

// acr values are asked for with acr_values and verified on return.
func TestRequireRecentAuthACR(t *testing.T) {
	t.Parallel()
	a, sp := newStepUpApp(t)
	b := a.browser()
	sp.setACR("urn:pwd")
	a.login(b, "/auth/test/login")
	assert.Equal(t, "urn:pwd", a.sessionUser(b).ACR)

	res := a.get(b, "/mfa")
	require.Equal(t, http.StatusFound, res.StatusCode)
	assert.Equal(t, "/auth/test/login?step_up_max_age=3600&step_up_acr_values=urn%3Amfa+urn%3Ahwk&next=%2Fmfa", res.Header.Get("Location"))
	authURL, cb := a.stepUp(b, res)
	assert.Equal(t, "urn:mfa urn:hwk", authURL.Query().Get("acr_values"))
	assert.Equal(t, "3600", authURL.Query().Get("max_age"))
	assert.Equal(t, http.StatusForbidden, cb.StatusCode, "the provider reports another acr")
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStepUpFailed)
	assert.Equal(t, "urn:pwd", a.sessionUser(b).ACR)

	sp.edit.Store(&[]func(map[string]any){func(m map[string]any) { delete(m, "acr") }}[0])
	_, cb = a.stepUp(b, a.get(b, "/mfa"))
	assert.Equal(t, http.StatusForbidden, cb.StatusCode, "no acr at all")
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStepUpFailed)

	sp.edit.Store(nil)
	sp.setACR("urn:hwk")
	_, cb = a.stepUp(b, a.get(b, "/mfa"))
	require.Equal(t, http.StatusFound, cb.StatusCode)
	assert.Equal(t, "urn:hwk", a.sessionUser(b).ACR)
	assert.Equal(t, http.StatusOK, a.get(b, "/mfa").StatusCode)
}

// An ID token whose auth_time is missing, malformed or in the future does
// not prove a recent login.
func TestStepUpBadAuthTime(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(map[string]any){
		"missing":    func(m map[string]any) { delete(m, "auth_time") },
		"string":     func(m map[string]any) { m["auth_time"] = "1700000000" },
		"fractional": func(m map[string]any) { m["auth_time"] = 1700000000.5 },
		"future":     func(m map[string]any) { m["auth_time"] = time.Now().Add(time.Hour).Unix() },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, sp := newStepUpApp(t)
			sp.edit.Store(&edit)
			b := a.browser()
			authURL := a.startLogin(b, "/auth/test/login?step_up_max_age=0")
			assert.Equal(t, "0", authURL.Query().Get("max_age"))
			res := a.get(b, a.approve(authURL))
			assert.Equal(t, http.StatusForbidden, res.StatusCode)
			assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStepUpFailed)
			assert.Nil(t, a.sessionUser(b), "no session")
		})
	}
}

// A provider without ID tokens cannot prove a recent login: the step-up
// fails with ErrStepUpFailed rather than passing on LoginAt.
func TestStepUpWithoutIDToken(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	mountStepUp(a)
	b := a.browser()
	a.login(b, "/auth/test/login")
	assert.True(t, a.sessionUser(b).AuthTime.IsZero())
	_, cb := a.stepUp(b, a.get(b, "/recent"))
	assert.Equal(t, http.StatusForbidden, cb.StatusCode)
	err := a.takeErr()
	assert.ErrorIs(t, err, oauthkit.ErrStepUpFailed)
	assert.Equal(t, http.StatusForbidden, oauthkit.HTTPStatus(err))
	assert.True(t, a.signedIn(b), "still signed in with the earlier login")
}

// Anonymous requests get what RequireAuth gives; signed-in requests that
// are not page loads get 401 rather than a redirect.
func TestRequireRecentAuthNotPage(t *testing.T) {
	t.Parallel()
	a, _ := newStepUpApp(t)
	b := a.browser()
	res := a.get(b, "/recent")
	assert.Equal(t, http.StatusFound, res.StatusCode)
	assert.Equal(t, "/auth/test/login?next=%2Frecent", res.Header.Get("Location"))
	res, _ = a.do(b, http.MethodPost, "/recent", nil)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)

	a.login(b, "/auth/test/login")
	a.clock.Add(time.Hour)
	res, _ = a.do(b, http.MethodGet, "/recent", http.Header{"Accept": {"application/json"}})
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res, _ = a.do(b, http.MethodPost, "/recent", nil)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, http.StatusFound, a.get(b, "/recent").StatusCode)
}

// With several providers, the step-up goes to the user's provider's
// Provider.LoginPath.
func TestRequireRecentAuthProviderLoginPath(t *testing.T) {
	t.Parallel()
	a, _ := newStepUpApp(t, func(cfg *oauthkit.Config) {
		cfg.LoginPath = "/choose"
		cfg.Providers[0].LoginPath = "/auth/test/login?from=stepup"
	})
	b := a.browser()
	a.login(b, "/auth/test/login")
	a.clock.Add(time.Hour)
	res := a.get(b, "/recent")
	assert.Equal(t, "/auth/test/login?from=stepup&step_up_max_age=300&next=%2Frecent", res.Header.Get("Location"))

	_, err := oauthkit.New(oauthkit.Config{Sessions: a.sm, Providers: []oauthkit.Provider{{
		Client: provider(t, a.as, "x"), RedirectURL: a.srv.URL + "/cb", LoginPath: "//evil.example/login",
	}}})
	assert.ErrorIs(t, err, oauthkit.ErrInvalidConfig)
}

// The step-up parameters are checked against the grammar of the
// parameters they become.
func TestStepUpParamsInvalid(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	for _, q := range []string{
		"step_up_max_age=-1", "step_up_max_age=1e3", "step_up_max_age=0300",
		"step_up_acr_values=" + url.QueryEscape("a\tb"), "step_up_acr_values=" + url.QueryEscape(" a"),
	} {
		res := a.get(b, "/auth/test/login?"+q)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, q)
		assert.ErrorIs(t, a.takeErr(), oauthkit.ErrInvalidLoginParam, q)
	}
	assert.Equal(t, 0, a.pending(b))
	assert.Panics(t, func() { a.kit.RequireRecentAuth(-time.Second) })
	assert.Panics(t, func() { a.kit.RequireRecentAuth(time.Minute, "a b") })
	assert.Panics(t, func() { a.kit.RequireRecentAuth(time.Minute, "") })
	assert.True(t, strings.HasPrefix(a.startLogin(b, "/auth/test/login?step_up_acr_values=urn%3Ax").Query().Get("acr_values"), "urn:x"))
}

// A max_age configured in AuthParams is verified as a step-up's is.
func TestStepUpConfiguredMaxAge(t *testing.T) {
	t.Parallel()
	a, _ := newStepUpApp(t, func(cfg *oauthkit.Config) {
		cfg.Providers[0].AuthParams = client.Values{"max_age": {"60"}}
	})
	b := a.browser()
	assert.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	assert.True(t, a.signedIn(b))

	// With the kit's clock ten minutes ahead, the auth_time the provider
	// reports (it ignores max_age) is ten minutes old.
	a.clock.Add(10 * time.Minute)
	other := a.browser()
	assert.Equal(t, http.StatusForbidden, a.login(other, "/auth/test/login").StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStepUpFailed)
	assert.False(t, a.signedIn(other))
}
