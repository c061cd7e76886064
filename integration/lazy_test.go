package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// lazyClock is the clock of a client.Lazy's backoff, moved by the test.
type lazyClock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *lazyClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.d) }
func (c *lazyClock) Add(d time.Duration) { c.mu.Lock(); c.d += d; c.mu.Unlock() }

// The kit starts before oidc-provider does, the provider is stopped and
// started again (with new signing keys) mid-test: 503 while it is down,
// logins once it is up, without rebuilding the kit.
func TestLazyOIDCProviderOutage(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	issuer := fmt.Sprintf("http://127.0.0.1:%d", port)
	const redirect = "http://127.0.0.1:9/callback"
	reg := opClient{ID: "kit-lazy", Secret: randomString(), RedirectURIs: []string{redirect}}
	clk := &lazyClock{}
	c, err := client.LazyOpenID(issuer, reg.ID, reg.Secret, client.WithName("op"),
		client.WithLazy(client.WithLazyClock(clk.Now)),
		// The restarted provider signs with a new key at once; the
		// refetch limit is the rate-limit test's business.
		client.WithJWKSRefetchInterval(time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	s := newKitSite(t, oauthkit.Provider{Client: c, RedirectURL: redirect, LocalLogout: true}, nil)
	b := browserClient(t)

	if res := s.do(t, b, http.MethodGet, "/login", nil); res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Location") != "" {
		t.Fatalf("login with the issuer down: %s to %q", res.Status, res.Header.Get("Location"))
	}
	if errs := s.errors(); len(errs) != 1 || !errors.Is(errs[0], oauthkit.ErrProviderUnavailable) {
		t.Fatalf("kit errors %v, want one ErrProviderUnavailable", errs)
	}

	op := startOIDCProviderOn(t, port, reg)
	if op.Issuer != issuer {
		t.Fatalf("oidc-provider at %s, want %s", op.Issuer, issuer)
	}
	clk.Add(time.Hour) // past the backoff
	authorize := func(op *nodeOP) func(string) *url.URL {
		return func(authURL string) *url.URL { return op.Login(t, b, authURL, "alice") }
	}
	if id := s.login(t, b, authorize(op)); id != "alice" {
		t.Fatalf("login once the issuer is up: %q", id)
	}

	op.Stop()
	s.logout(t, b)
	b = browserClient(t)
	op2 := startOIDCProviderOn(t, port, reg)
	if id := s.login(t, b, authorize(op2)); id != "alice" {
		t.Fatalf("login after the restart with new keys: %q", id)
	}
}

// Two tenants whose IdPs are two oidc-provider instances (two issuers)
// log in concurrently through one resolver; an authorization response of
// tenant a carried to tenant b's callback is refused (that no token
// request follows is counted in the root package's tests).
func TestResolverOIDCProviderTenants(t *testing.T) {
	const redirect = "http://127.0.0.1:9/callback"
	regs := map[string]opClient{}
	ops := map[string]*nodeOP{}
	for _, tenant := range []string{"a", "b"} {
		regs[tenant] = opClient{ID: "kit-tenant-" + tenant, Secret: randomString(), RedirectURIs: []string{redirect}}
		ops[tenant] = startOIDCProvider(t, regs[tenant])
	}
	var mu sync.Mutex
	calls := map[string]int{}
	resolver := oauthkit.ProviderResolver{
		Name:   "sso",
		Tenant: func(r *http.Request) (string, error) { return r.PathValue("tenant"), nil },
		Provider: func(ctx context.Context, tenant string) (oauthkit.Provider, error) {
			mu.Lock()
			defer mu.Unlock()
			calls[tenant]++
			op, ok := ops[tenant]
			if !ok {
				return oauthkit.Provider{}, oauthkit.ErrUnknownProvider
			}
			c, err := client.LazyOpenID(op.Issuer, regs[tenant].ID, regs[tenant].Secret, client.WithName("corp"))
			return oauthkit.Provider{Client: c, RedirectURL: redirect}, err
		},
	}
	s := newKitSite(t, oauthkit.Provider{},
		func(cfg *oauthkit.Config) { cfg.Resolvers = []oauthkit.ProviderResolver{resolver} })
	s.mux.Handle("/t/{tenant}/login", s.kit.LoginHandler("sso"))
	s.mux.Handle("/t/{tenant}/callback", s.kit.CallbackHandler("sso"))
	s.mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		if u, ok := s.kit.User(r.Context()); ok {
			fmt.Fprint(w, u.UserID)
		}
	})

	login := func(tenant string) (string, error) {
		b := browserClient(t)
		res := s.do(t, b, http.MethodGet, "/t/"+tenant+"/login", nil)
		if res.StatusCode != http.StatusFound {
			return "", fmt.Errorf("login start: %s", res.Status)
		}
		resp := ops[tenant].Login(t, b, res.Header.Get("Location"), "alice")
		if res := s.do(t, b, http.MethodGet, "/t/"+tenant+"/callback?"+resp.RawQuery, nil); res.StatusCode != http.StatusFound {
			return "", fmt.Errorf("callback: %s", res.Status)
		}
		body, err := io.ReadAll(s.do(t, b, http.MethodGet, "/whoami", nil).Body)
		return string(body), err
	}
	var wg sync.WaitGroup
	results := make(chan string, 6)
	for _, tenant := range []string{"a", "b", "a", "b", "a", "b"} {
		wg.Go(func() {
			id, err := login(tenant)
			if err != nil {
				id = err.Error()
			}
			results <- tenant + "=" + id
		})
	}
	wg.Wait()
	close(results)
	for r := range results {
		tenant, id, _ := strings.Cut(r, "=")
		if id != "sso:"+tenant+":alice" {
			t.Errorf("tenant %s login: %q", tenant, id)
		}
	}
	if calls["a"] != 1 || calls["b"] != 1 {
		t.Errorf("resolver calls %v, want one per tenant", calls)
	}

	// Mix-up: tenant a's authorization response on tenant b's callback.
	b := browserClient(t)
	res := s.do(t, b, http.MethodGet, "/t/a/login", nil)
	authURL, _ := url.Parse(res.Header.Get("Location"))
	resp := ops["a"].Login(t, b, authURL.String(), "alice")
	before := len(s.errors())
	if res := s.do(t, b, http.MethodGet, "/t/b/callback?"+resp.RawQuery, nil); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("tenant a's code on tenant b's callback: %s", res.Status)
	}
	if errs := s.errors()[before:]; len(errs) != 1 || !errors.Is(errs[0], oauthkit.ErrProviderMismatch) {
		t.Fatalf("kit errors %v, want one ErrProviderMismatch", errs)
	}
}
