package oauthkit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// policyCallback runs a login as u up to the kit's answer to the callback.
func (a *app) policyCallback(b *http.Client, u fakeUser) (*http.Response, string) {
	a.t.Helper()
	return a.do(b, http.MethodGet, a.approveAs(a.startLogin(b, "/auth/test/login"), u), nil)
}

// A refused login is a 403 with ErrPolicyDenied wrapping the policy's
// error, a page that shows neither, and nothing kept: the pending login is
// consumed, the session has no user and no token, and neither the
// TokenStore nor the SessionIndex received anything.
func TestLoginPolicyDenied(t *testing.T) {
	t.Parallel()
	refused := errors.New("POLICY-DETAIL-7 not on the list")
	store := oauthkit.NewMemoryTokenStore()
	idx := oauthkit.NewMemoryIndex()
	onLogin := 0
	a := newApp(t, func(c *oauthkit.Config) {
		c.TokenStore = store
		c.SessionIndex = idx
		c.LoginPolicies = []oauthkit.LoginPolicy{oauthkit.LoginPolicyFunc(func(context.Context, *oauthkit.LoginAttempt) error {
			return refused
		})}
		c.OnLogin = func(context.Context, *oauthkit.User) error { onLogin++; return nil }
	})
	b := a.browser()
	authURL := a.startLogin(b, "/auth/test/login")
	cb := a.approve(authURL)
	res, body := a.do(b, http.MethodGet, cb, nil)
	err := a.rejected(res, body, http.StatusForbidden, oauthkit.ErrPolicyDenied, "POLICY-DETAIL-7", "not on the list")
	assert.ErrorIs(t, err, refused)
	assert.NotErrorIs(t, err, oauthkit.ErrLoginRefused, "a policy denial is not OnLogin's refusal")
	assert.Contains(t, body, "Login refused")
	assert.Zero(t, onLogin, "OnLogin never sees a refused user")
	assert.EqualValues(t, 1, a.as.TokenOK.Load(), "the code was exchanged once")

	assert.Nil(t, a.sessionUser(b))
	assert.NotContains(t, a.session(b), "oauthkit.token")
	assert.NotContains(t, a.session(b), "oauthkit.user")
	assert.Zero(t, a.pending(b), "the pending login is consumed")
	assert.Zero(t, oauthkit.MemoryTokenCount(store), "no grant stored")
	assert.Zero(t, oauthkit.MemoryIndexKeys(idx), "no session indexed")
	assert.False(t, a.signedIn(b))

	res, body = a.do(b, http.MethodGet, cb, nil)
	a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateNotFound)
	assert.EqualValues(t, 1, a.as.TokenOK.Load(), "a replay exchanges nothing")
}

// Config.LoginPolicies run first, then the provider's, then OnLogin; the
// first refusal stops the login there. Each policy sees the user about to
// be signed in, the provider, its client and the exchange's token, and
// cannot change what is signed in.
func TestLoginPolicyOrder(t *testing.T) {
	t.Parallel()
	type call struct {
		name string
		a    oauthkit.LoginAttempt
		user oauthkit.User // *a.User when called
	}
	setup := func(t *testing.T, failAt string) (*app, *[]call) {
		var mu sync.Mutex
		calls := &[]call{}
		pol := func(name string) oauthkit.LoginPolicy {
			return oauthkit.LoginPolicyFunc(func(_ context.Context, a *oauthkit.LoginAttempt) error {
				mu.Lock()
				*calls = append(*calls, call{name, *a, *a.User})
				mu.Unlock()
				a.User.ID, a.User.Email = "changed-by-"+name, "x@evil.example"
				if name == failAt {
					return errors.New("refused by " + name)
				}
				return nil
			})
		}
		a := newApp(t, func(c *oauthkit.Config) {
			c.LoginPolicies = []oauthkit.LoginPolicy{pol("config-1"), pol("config-2")}
			c.Providers[0].LoginPolicies = []oauthkit.LoginPolicy{pol("provider")}
			c.OnLogin = func(_ context.Context, u *oauthkit.User) error {
				mu.Lock()
				*calls = append(*calls, call{name: "OnLogin", user: *u})
				mu.Unlock()
				return nil
			}
		})
		return a, calls
	}
	names := func(cs []call) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.name)
		}
		return out
	}
	t.Run("all pass", func(t *testing.T) {
		a, calls := setup(t, "")
		b := a.browser()
		res, _ := a.policyCallback(b, fakeUser{ID: "77", Email: "ada@acme.com"})
		require.Equal(t, http.StatusFound, res.StatusCode, "%v", a.lastErr())
		require.Equal(t, []string{"config-1", "config-2", "provider", "OnLogin"}, names(*calls))
		first := (*calls)[0].a
		assert.Equal(t, "test", first.Provider)
		assert.Equal(t, "test", first.Client.Name())
		require.NotNil(t, first.Token)
		assert.NotEmpty(t, first.Token.AccessToken)
		assert.Nil(t, first.Claims, "an OAuth 2.0 provider verifies no ID token")
		for _, c := range *calls {
			assert.Equal(t, "77", c.user.ID, "%s sees the provider's user, not a policy's change", c.name)
			assert.Equal(t, "ada@acme.com", c.user.Email, c.name)
		}
		u := a.sessionUser(b)
		require.NotNil(t, u)
		assert.Equal(t, "77", u.ID)
		assert.Equal(t, "ada@acme.com", u.Email)
	})
	for _, tc := range []struct {
		failAt string
		want   []string
	}{
		{"config-1", []string{"config-1"}},
		{"config-2", []string{"config-1", "config-2"}},
		{"provider", []string{"config-1", "config-2", "provider"}},
	} {
		t.Run("refused by "+tc.failAt, func(t *testing.T) {
			a, calls := setup(t, tc.failAt)
			b := a.browser()
			res, body := a.policyCallback(b, fakeUser{ID: "77", Email: "ada@acme.com"})
			a.rejected(res, body, http.StatusForbidden, oauthkit.ErrPolicyDenied, "refused by")
			assert.Equal(t, tc.want, names(*calls))
			assert.False(t, a.signedIn(b))
		})
	}
}

// A policy that cannot decide because a provider failed (an ErrIdentity
// error) fails the login with 502, and a misconfigured one (ErrInvalidConfig,
// here a built-in with bad arguments called from the application's own
// policy, where New cannot see it) with 500: neither lets the user in, nor
// reads as a denial.
func TestLoginPolicyFailures(t *testing.T) {
	t.Parallel()
	bad := oauthkit.AllowEmailDomains("acme.com.")
	for _, tc := range []struct {
		name   string
		policy oauthkit.LoginPolicyFunc
		status int
		target error
	}{
		{"provider failure", func(context.Context, *oauthkit.LoginAttempt) error {
			return fmt.Errorf("%w: directory down", oauthkit.ErrIdentity)
		}, http.StatusBadGateway, oauthkit.ErrIdentity},
		{"misconfigured nested built-in", func(ctx context.Context, a *oauthkit.LoginAttempt) error {
			return bad.CheckLogin(ctx, a)
		}, http.StatusInternalServerError, oauthkit.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, func(c *oauthkit.Config) { c.LoginPolicies = []oauthkit.LoginPolicy{tc.policy} })
			b := a.browser()
			res, body := a.policyCallback(b, fakeUser{ID: "77", Email: "ada@acme.com"})
			err := a.rejected(res, body, tc.status, tc.target)
			assert.NotErrorIs(t, err, oauthkit.ErrPolicyDenied)
			assert.False(t, a.signedIn(b))
		})
	}
}

// New refuses nil policies and built-ins with arguments that cannot mean
// what was intended, in Config.LoginPolicies and in a provider's, with
// ErrInvalidConfig.
func TestLoginPolicyConfig(t *testing.T) {
	t.Parallel()
	as := newFakeAS(t)
	build := func(global, perProvider []oauthkit.LoginPolicy) error {
		_, err := oauthkit.New(oauthkit.Config{
			Sessions:      scs.New(),
			LoginPolicies: global,
			Providers: []oauthkit.Provider{{Client: provider(t, as, "test"), RedirectURL: "http://127.0.0.1/cb",
				LoginPolicies: perProvider}},
		})
		return err
	}
	for _, tc := range []struct {
		name string
		p    oauthkit.LoginPolicy
	}{
		{"nil", nil},
		{"nil func", oauthkit.LoginPolicyFunc(nil)},
		{"no domains", oauthkit.AllowEmailDomains()},
		{"empty domain", oauthkit.AllowEmailDomains("")},
		{"trailing dot", oauthkit.AllowEmailDomains("acme.com.")},
		{"wildcard", oauthkit.AllowEmailDomains("*.acme.com")},
		{"URL", oauthkit.AllowEmailDomains("https://acme.com")},
		{"address", oauthkit.AllowEmailDomains("ada@acme.com")},
		{"at sign", oauthkit.AllowEmailDomains("@acme.com")},
		{"single label", oauthkit.AllowEmailDomains("acme")},
		{"space", oauthkit.AllowEmailDomains("acme .com")},
		{"U-label", oauthkit.AllowEmailDomains("bücher.example")},
		{"one bad among good", oauthkit.AllowEmailDomains("acme.com", "acme..com")},
		{"hd: none", oauthkit.GoogleHostedDomain()},
		{"hd: trailing dot", oauthkit.GoogleHostedDomain("acme.com.")},
		{"tenant: none", oauthkit.EntraTenant()},
		{"tenant: common", oauthkit.EntraTenant("common")},
		{"tenant: organizations", oauthkit.EntraTenant("organizations")},
		{"tenant: domain", oauthkit.EntraTenant("acme.onmicrosoft.com")},
		{"tenant: GUID with braces", oauthkit.EntraTenant("{72f988bf-86f1-41af-91ab-2d7cd011db47}")},
		{"org: none", oauthkit.GitHubOrganization()},
		{"org: path", oauthkit.GitHubOrganization("acme/../../user")},
		{"org: empty", oauthkit.GitHubOrganization("")},
		{"org: space", oauthkit.GitHubOrganization("acme corp")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorIs(t, build([]oauthkit.LoginPolicy{tc.p}, nil), oauthkit.ErrInvalidConfig, "Config.LoginPolicies")
			assert.ErrorIs(t, build(nil, []oauthkit.LoginPolicy{tc.p}), oauthkit.ErrInvalidConfig, "Provider.LoginPolicies")
		})
	}
	for _, p := range []oauthkit.LoginPolicy{
		oauthkit.AllowEmailDomains("Acme.COM", "xn--bcher-kva.example", "sub.acme.com"),
		oauthkit.GoogleHostedDomain("acme.com"),
		oauthkit.EntraTenant("72F988BF-86F1-41AF-91AB-2D7CD011DB47"),
		oauthkit.GitHubOrganization("acme-corp", "octo"),
	} {
		assert.NoError(t, build([]oauthkit.LoginPolicy{p}, []oauthkit.LoginPolicy{p}))
	}
}

// AllowEmailDomains admits only a verified email whose domain, as net/mail
// reads a bare address, is listed exactly; everything ambiguous is refused.
func TestAllowEmailDomains(t *testing.T) {
	t.Parallel()
	policy := oauthkit.AllowEmailDomains("acme.com", "Kit.Example")
	for _, tc := range []struct {
		email    string
		verified bool
		allowed  bool
	}{
		{"ada@acme.com", true, true},
		{"ADA@ACME.COM", true, true},
		{"ada@kit.example", true, true},
		{"evil.com@acme.com", true, true}, // a mailbox at acme.com, whatever its local part
		{"ada@acme.com", false, false},    // unverified, in an allowed domain
		{"", true, false},
		{"ada@acme.com.evil.com", true, false},
		{"ada@evilacme.com", true, false},
		{"ada@sub.acme.com", true, false},
		{"acme.com@evil.com", true, false},
		{"ada@acme.com.", true, false},
		{"ada@acme.com@evil.com", true, false},
		{"ada@evil.com@acme.com", true, false},
		{`"ada@evil.com"@acme.com`, true, false},
		{`"ada"@acme.com`, true, false},
		{`"a b"@acme.com`, true, false},
		{`ada\@evil.com@acme.com`, true, false},
		{"Ada <ada@acme.com>", true, false},
		{"<ada@acme.com>", true, false},
		{"ada@evil.com <ada@acme.com>", true, false},
		{"ada@acme.com (Ada)", true, false},
		{"ada@acme.com, eve@evil.com", true, false},
		{"=?utf-8?q?ada?= <ada@acme.com>", true, false},
		{" ada@acme.com", true, false},
		{"ada@acme.com\n", true, false},
		{"ada@[192.0.2.1]", true, false},
		{"@acme.com", true, false},
		{"ada", true, false},
		{"ada@\u212Ait.example", true, false}, // Kelvin sign: strings.ToLower makes it "k"
		{"ada@\u0430cme.com", true, false},    // Cyrillic a
		{"ada@acme\u3002com", true, false},    // ideographic full stop
	} {
		t.Run(fmt.Sprintf("%q verified=%v", tc.email, tc.verified), func(t *testing.T) {
			err := policy.CheckLogin(t.Context(), &oauthkit.LoginAttempt{
				User:     &oauthkit.User{Provider: "test", ID: "1", Email: tc.email, EmailVerified: tc.verified},
				Provider: "test",
			})
			if tc.allowed {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			if tc.email != "" {
				assert.NotContains(t, err.Error(), tc.email, "denials do not log the address")
			}
		})
	}

	// Through the kit: the fake provider vouches for every address except
	// those starting with "unverified".
	a := newApp(t, func(c *oauthkit.Config) {
		c.Providers[0].LoginPolicies = []oauthkit.LoginPolicy{oauthkit.AllowEmailDomains("acme.com")}
	})
	for _, tc := range []struct {
		email  string
		status int
	}{
		{"ada@acme.com", http.StatusFound},
		{"ADA@ACME.COM", http.StatusFound},
		{"unverified.ada@acme.com", http.StatusForbidden},
		{"ada@acme.com.evil.com", http.StatusForbidden},
		{"ada@sub.acme.com", http.StatusForbidden},
		{"Ada <ada@acme.com>", http.StatusForbidden},
	} {
		b := a.browser()
		res, body := a.policyCallback(b, fakeUser{ID: "7", Email: tc.email})
		if tc.status == http.StatusFound {
			require.Equal(t, tc.status, res.StatusCode, "%s: %v", tc.email, a.lastErr())
			assert.True(t, a.signedIn(b))
			continue
		}
		a.rejected(res, body, tc.status, oauthkit.ErrPolicyDenied)
		assert.False(t, a.signedIn(b), tc.email)
	}
}

// kpRowNamed is one of kpRows, changed by mod.
func kpRowNamed(t *testing.T, name string, mod func(r *kpRow)) *kpRow {
	t.Helper()
	for _, r := range kpRows() {
		if r.name == name {
			mod(r)
			return r
		}
	}
	t.Fatalf("no row %q", name)
	return nil
}

// withPolicies adds policies to a row's kit provider.
func withPolicies(r *kpRow, ps ...oauthkit.LoginPolicy) {
	prev := r.kit
	r.kit = func(p *oauthkit.Provider) {
		if prev != nil {
			prev(p)
		}
		p.LoginPolicies = ps
	}
}

// kpDenied runs row's login and asserts it was refused with target and
// status, with nobody signed in; it returns the error.
func kpDenied(t *testing.T, row *kpRow, status int, target error) error {
	t.Helper()
	e := newKPEnv(t, row)
	b, res, body := e.callback(t, row)
	err := e.a.rejected(res, body, status, target)
	assert.False(t, e.a.signedIn(b))
	return err
}

// GoogleHostedDomain reads the hd claim of a verified Google ID token
// (through the real Google client and its ID-token verification), never
// the email's domain: no hd, another hd, no ID token, or an hd in another
// issuer's verified token are refused.
func TestGoogleHostedDomain(t *testing.T) {
	t.Parallel()
	google := func(hd any, mod ...func(r *kpRow)) *kpRow {
		return kpRowNamed(t, "google", func(r *kpRow) {
			if hd != nil {
				r.oidc.mod = func(c map[string]any) { c["hd"] = hd }
			}
			withPolicies(r, oauthkit.GoogleHostedDomain("camelot.bt", "knights.example"))
			for _, m := range mod {
				m(r)
			}
		})
	}
	t.Run("hd listed", func(t *testing.T) {
		t.Parallel()
		row := google("camelot.bt")
		newKPEnv(t, row).login(t, row)
	})
	t.Run("hd listed, other case", func(t *testing.T) {
		t.Parallel()
		row := google("Camelot.BT")
		newKPEnv(t, row).login(t, row)
	})
	for _, tc := range []struct {
		name, why string
		row       *kpRow
	}{
		{"hd absent (consumer account, verified email at camelot.bt)", "no hosted domain", google(nil)},
		{"hd not listed", "not allowed", google("evil.example")},
		{"hd a subdomain", "not allowed", google("sub.camelot.bt")},
		{"hd not a string", "no hosted domain", google([]string{"camelot.bt"})},
		{"hd with a Kelvin sign, which strings.ToLower folds to k", "not allowed", google("\u212Anights.example")},
		{"no ID token returned", "no verified ID token", google("camelot.bt", func(r *kpRow) { r.tokenBody = func(m map[string]any) { delete(m, "id_token") } })},
		{"hd in another issuer's verified ID token", "not Google's", kpRowNamed(t, "openid", func(r *kpRow) {
			r.oidc.mod = func(c map[string]any) { c["hd"] = "camelot.bt" }
			withPolicies(r, oauthkit.GoogleHostedDomain("camelot.bt"))
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := kpDenied(t, tc.row, http.StatusForbidden, oauthkit.ErrPolicyDenied)
			assert.ErrorContains(t, err, tc.why)
		})
	}
	t.Run("hd in a Kelvin-free listed domain", func(t *testing.T) {
		t.Parallel()
		row := google("knights.example")
		newKPEnv(t, row).login(t, row)
	})
}

// EntraTenant reads the tid of the ID token the Microsoft client verified,
// bound to its tenant's issuer.
func TestEntraTenant(t *testing.T) {
	t.Parallel()
	const other = "11111111-2222-3333-4444-555555555555"
	microsoft := func(tenants ...string) *kpRow {
		return kpRowNamed(t, "microsoft", func(r *kpRow) { withPolicies(r, oauthkit.EntraTenant(tenants...)) })
	}
	t.Run("tenant listed", func(t *testing.T) {
		t.Parallel()
		row := microsoft(other, strings.ToUpper(kpTenant))
		newKPEnv(t, row).login(t, row)
	})
	t.Run("tenant not listed", func(t *testing.T) {
		t.Parallel()
		err := kpDenied(t, microsoft(other), http.StatusForbidden, oauthkit.ErrPolicyDenied)
		assert.ErrorContains(t, err, "tenant is not allowed")
	})
	t.Run("tid in another issuer's verified ID token", func(t *testing.T) {
		t.Parallel()
		row := kpRowNamed(t, "openid", func(r *kpRow) {
			r.oidc.mod = func(c map[string]any) { c["tid"] = kpTenant }
			withPolicies(r, oauthkit.EntraTenant(kpTenant))
		})
		err := kpDenied(t, row, http.StatusForbidden, oauthkit.ErrPolicyDenied)
		assert.ErrorContains(t, err, "not from its tenant's Microsoft issuer")
	})
	t.Run("provider without ID token", func(t *testing.T) {
		t.Parallel()
		row := kpRowNamed(t, "github", func(r *kpRow) { withPolicies(r, oauthkit.EntraTenant(kpTenant)) })
		err := kpDenied(t, row, http.StatusForbidden, oauthkit.ErrPolicyDenied)
		assert.ErrorContains(t, err, "no verified ID token")
	})
}

// kpAnswer is a route answering status and body, whoever asks.
func kpAnswer(status int, body string) kpRoute {
	return func(*kpEnv, *kpRow) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { kpWriteJSON(w, status, body) }
	}
}

// GitHubOrganization asks GitHub, with the login's token, whether the user
// is an active member: only "active" lets the user in, 404 and 403 refuse
// the login, and a GitHub failure or a hostile answer fails it (502) rather
// than let anyone through.
func TestGitHubOrganization(t *testing.T) {
	t.Parallel()
	const membership = "api.github.com/user/memberships/orgs/round-table"
	doc := func(state, org string) string {
		return `{"state":"` + state + `","role":"member","organization":{"login":"` + org + `"},"user":{"login":"arthur"}}`
	}
	github := func(route kpRoute) *kpRow {
		return kpRowNamed(t, "github", func(r *kpRow) {
			r.authQuery = map[string]string{"scope": "read:user user:email read:org"}
			r.routes[membership] = route
			withPolicies(r, oauthkit.GitHubOrganization("knights-who-say-ni", "round-table"))
			r.routes["api.github.com/user/memberships/orgs/knights-who-say-ni"] = kpAnswer(404, `{"message":"Not Found"}`)
			prev := r.kit
			r.kit = func(p *oauthkit.Provider) {
				prev(p)
				p.Scopes = []string{"read:user", "user:email", "read:org"}
			}
		})
	}
	t.Run("active member of the second organization", func(t *testing.T) {
		t.Parallel()
		// kpUser answers only the login's live access token, with the
		// GitHub API headers.
		row := github(kpUser(http.MethodGet, doc("active", "round-table"), kpCheck(kpGitHubHeaders)))
		newKPEnv(t, row).login(t, row)
	})
	for _, tc := range []struct {
		name   string
		route  kpRoute
		status int
		target error
	}{
		{"pending invitation", kpAnswer(200, doc("pending", "round-table")), http.StatusForbidden, oauthkit.ErrPolicyDenied},
		{"404", kpAnswer(404, `{"message":"Not Found"}`), http.StatusForbidden, oauthkit.ErrPolicyDenied},
		{"403", kpAnswer(403, `{"message":"Resource not accessible"}`), http.StatusForbidden, oauthkit.ErrPolicyDenied},
		{"500", kpAnswer(500, `{"message":"Server Error"}`), http.StatusBadGateway, client.ErrGetProfile},
		{"another organization's membership", kpAnswer(200, doc("active", "evil-corp")), http.StatusBadGateway, client.ErrInvalidResponse},
		{"hostile body", kpAnswer(200, `[{"state":"active"}]`), http.StatusBadGateway, client.ErrInvalidResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := kpDenied(t, github(tc.route), tc.status, tc.target)
			if tc.status == http.StatusBadGateway {
				assert.ErrorIs(t, err, oauthkit.ErrIdentity)
				assert.NotErrorIs(t, err, oauthkit.ErrPolicyDenied, "a provider failure is not a denial")
			}
		})
	}
	t.Run("provider that cannot check membership", func(t *testing.T) {
		t.Parallel()
		row := kpRowNamed(t, "gitlab", func(r *kpRow) { withPolicies(r, oauthkit.GitHubOrganization("round-table")) })
		kpDenied(t, row, http.StatusForbidden, oauthkit.ErrPolicyDenied)
	})
}
