package integration

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/pgclaim"
	"github.com/oauthkit/oauthkit/redisclaim"
)

// Logout everywhere, against panva's oidc-provider (an independent, OpenID
// Certified server), on three kit instances A, B and C sharing one session
// store, EndedSessions and SessionIndex (Redis, then PostgreSQL). The
// provider's back-channel logout URI is C's; the browsers use A and B.

// opSite is the base of the URLs registered at the provider, the same for
// every instance as behind a load balancer: Go's cookie jar, like browsers,
// does not separate cookies by port, so a browser moves between instances
// (127.0.0.1:<port>) with one session cookie.
const opSite = "http://127.0.0.1"

// shares is what the instances of an opCluster share besides the store.
type shares struct {
	store scs.Store
	ended oauthkit.EndedSessions
	index oauthkit.SessionIndex
}

type opCluster struct {
	op        *nodeOP
	instances []*opInstance
}

type opInstance struct {
	srv    *httptest.Server
	kit    *oauthkit.Kit
	client *client.OpenID
}

// newOPCluster starts three instances and an oidc-provider whose client
// "kit" sends back-channel logout tokens to C (with sid when withSID).
func newOPCluster(t *testing.T, sh shares, withSID bool) *opCluster {
	t.Helper()
	c := &opCluster{}
	for range 3 {
		inst := &opInstance{srv: httptest.NewUnstartedServer(nil)}
		inst.srv.Start()
		t.Cleanup(inst.srv.Close)
		c.instances = append(c.instances, inst)
	}
	secret := randomString()
	c.op = startOIDCProvider(t, opClient{
		ID: "kit", Secret: secret,
		RedirectURIs:                     []string{opSite + "/auth/op/callback"},
		PostLogoutRedirectURIs:           []string{opSite + "/logged-out"},
		BackchannelLogoutURI:             c.instances[2].srv.URL + "/auth/op/backchannel-logout",
		BackchannelLogoutSessionRequired: withSID,
	})
	for _, inst := range c.instances {
		ctx, cancel := context.WithTimeout(t.Context(), budget(t))
		oc, err := client.DiscoverOpenID(ctx, c.op.Issuer, "kit", secret, client.WithName("op"))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		sm := scs.New()
		sm.Store = sh.store
		kit, err := oauthkit.New(oauthkit.Config{
			Sessions: sm,
			Providers: []oauthkit.Provider{{Client: oc, RedirectURL: opSite + "/auth/op/callback",
				PostLogoutRedirectURL: opSite + "/logged-out"}},
			EndedSessions:   sh.ended,
			SessionIndex:    sh.index,
			ProviderTimeout: budget(t),
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				t.Logf("%s %s: %v", inst.srv.URL, r.URL.Path, err)
				oauthkit.DefaultErrorHandler(w, r, err)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		inst.kit, inst.client = kit, oc
		mux := http.NewServeMux()
		mux.Handle("/auth/op/login", kit.LoginHandler("op"))
		mux.Handle("/auth/op/callback", kit.CallbackHandler("op"))
		mux.Handle("/auth/op/backchannel-logout", kit.BackChannelLogoutHandler("op"))
		mux.Handle("/logout", kit.LogoutHandler())
		mux.Handle("/logged-out", kit.PostLogoutHandler())
		mux.Handle("/profile", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, _ := kit.User(r.Context())
			_, _ = io.WriteString(w, u.ID)
		})))
		inst.srv.Config.Handler = sm.LoadAndSave(mux)
	}
	return c
}

// url rewrites a URL of the site (opSite) to inst.
func (inst *opInstance) url(u *url.URL) string { return inst.srv.URL + u.RequestURI() }

// login signs account in with a new browser through inst (login and
// callback on inst) and returns the browser.
func (c *opCluster) login(t *testing.T, inst *opInstance, account string) *http.Client {
	t.Helper()
	b := browserClient(t)
	b.CheckRedirect = noRedirect
	res, err := b.Get(inst.srv.URL + "/auth/op/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("login start: %s", res.Status)
	}
	cb := c.op.Login(t, b, res.Header.Get("Location"), account)
	res, err = b.Get(inst.url(cb))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/" {
		t.Fatalf("callback on %s: %s to %q", inst.srv.URL, res.Status, res.Header.Get("Location"))
	}
	if got := c.whoOn(t, b, inst); got != account {
		t.Fatalf("after login on %s the profile shows %q, want %q", inst.srv.URL, got, account)
	}
	return b
}

// whoOn is the user b's session shows on inst, "" when anonymous.
func (c *opCluster) whoOn(t *testing.T, b *http.Client, inst *opInstance) string {
	t.Helper()
	res, err := b.Get(inst.srv.URL + "/profile")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	switch res.StatusCode {
	case http.StatusOK:
		return string(body)
	case http.StatusFound:
		return ""
	}
	t.Fatalf("profile on %s: %s", inst.srv.URL, res.Status)
	return ""
}

// logoutEverywhere is the scenario: ada is signed in on A and B
// (two browsers), bob on B. Ada logs out on A: A ends her session and sends
// the browser to the provider (RP-initiated, a POSTed form), the provider
// sends a logout token naming her (sub, no sid) to C, which ends every one
// of her sessions; the provider returns the browser to the site with the
// state, checked on B. Her next request on A and on B is anonymous; bob's
// session is untouched.
func logoutEverywhere(t *testing.T, sh shares) {
	c := newOPCluster(t, sh, false)
	a, b, cInst := c.instances[0], c.instances[1], c.instances[2]
	ada1 := c.login(t, a, "ada")
	ada2 := c.login(t, b, "ada")
	bob := c.login(t, b, "bob")

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, a.srv.URL+"/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ada1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'sha256-") {
		t.Fatalf("logout on A: %s, want the end-session page", res.Status)
	}
	back := c.op.EndSessionResponse(t, ada1, res) // the provider POSTs the logout token to C before it answers
	if back.Scheme+"://"+back.Host+back.Path != opSite+"/logged-out" || back.Query().Get("state") == "" {
		t.Fatalf("the provider returned the browser to %s", back)
	}
	res, err = ada1.Get(b.url(back))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("post-logout on B: %s", res.Status)
	}

	for _, inst := range []*opInstance{a, b, cInst} {
		if who := c.whoOn(t, ada1, inst); who != "" {
			t.Errorf("the browser that logged out is %q on %s", who, inst.srv.URL)
		}
		if who := c.whoOn(t, ada2, inst); who != "" {
			t.Errorf("ada's other session is still %q on %s after the back-channel logout on C", who, inst.srv.URL)
		}
		if who := c.whoOn(t, bob, inst); who != "bob" {
			t.Errorf("bob's session is %q on %s, want untouched", who, inst.srv.URL)
		}
	}
}

// scopedBySID: with sid in the logout tokens, a provider logout ends the
// app sessions of that provider session only. Ada signs out at the
// provider in one browser (not through the app); C ends that browser's app
// session, her other browser stays signed in on every instance, until
// LogoutEverywhere on C ends it too.
func scopedBySID(t *testing.T, sh shares) {
	c := newOPCluster(t, sh, true)
	a, b, cInst := c.instances[0], c.instances[1], c.instances[2]
	ada1 := c.login(t, a, "ada")
	ada2 := c.login(t, b, "ada")

	es, err := cInst.client.EndSession("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	c.op.EndSession(t, ada1, es.Endpoint, es.Params)
	for _, inst := range []*opInstance{a, b, cInst} {
		if who := c.whoOn(t, ada1, inst); who != "" {
			t.Errorf("after the provider logout, that browser is %q on %s", who, inst.srv.URL)
		}
		if who := c.whoOn(t, ada2, inst); who != "ada" {
			t.Errorf("ada's other provider session's app session is %q on %s, want untouched", who, inst.srv.URL)
		}
	}

	n, err := cInst.kit.LogoutEverywhere(t.Context(), "op:ada")
	if err != nil || n != 1 {
		t.Fatalf("LogoutEverywhere = %d, %v; want 1 session", n, err)
	}
	for _, inst := range []*opInstance{a, b, cInst} {
		if who := c.whoOn(t, ada2, inst); who != "" {
			t.Errorf("after LogoutEverywhere ada is %q on %s", who, inst.srv.URL)
		}
	}
}

func redisShares(t *testing.T) shares {
	pool := redisPool(t)
	prefix := redisPrefix(t, pool)
	return shares{
		store: redisstore.NewWithPrefix(pool, prefix+"session:"),
		ended: &redisclaim.EndedSessions{Pool: pool, Prefix: prefix + "ended:"},
		index: &redisclaim.SessionIndex{Pool: pool, Prefix: prefix + "index:"},
	}
}

func postgresShares(t *testing.T) shares {
	db := postgres(t)
	return shares{
		store: postgresstore.NewWithCleanupInterval(db, time.Hour),
		ended: &pgclaim.EndedSessions{DB: db},
		index: &pgclaim.SessionIndex{DB: db},
	}
}

func TestRedisLogoutEverywhereOIDCProvider(t *testing.T)    { logoutEverywhere(t, redisShares(t)) }
func TestPostgresLogoutEverywhereOIDCProvider(t *testing.T) { logoutEverywhere(t, postgresShares(t)) }
func TestRedisLogoutScopedBySID(t *testing.T)               { scopedBySID(t, redisShares(t)) }
func TestPostgresLogoutScopedBySID(t *testing.T)            { scopedBySID(t, postgresShares(t)) }
