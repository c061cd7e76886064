package oauthkittest_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/oauthkittest"
)

const (
	contoso  = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	fabrikam = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
)

var (
	alice = oauthkittest.User{Subject: "alice", Email: "alice@contoso.example", Name: "Alice",
		Claims: map[string]any{"tid": contoso, "oid": "11111111-2222-3333-4444-555555555555"}}
	mallory = oauthkittest.User{Subject: "mallory", Email: "alice@contoso.example", Name: "Mallory",
		Claims: map[string]any{"tid": fabrikam}}
)

// microsoftSite is a kit site with the kit's own Microsoft client for
// tenant, whose HTTP client reaches the fake.
func microsoftSite(t *testing.T, m *oauthkittest.Microsoft, tenant string, opts ...client.Option) *kitSite {
	t.Helper()
	return newSite(t, func(callback string) client.Provider {
		if err := m.AddClient(oauthkittest.Client{ID: "ms-app", Secret: "ms-secret", AuthMethod: oauthkittest.AuthMethodPost, RedirectURIs: []string{callback}}); err != nil {
			t.Fatal(err)
		}
		c, err := client.NewMicrosoft(tenant, "ms-app", "ms-secret", append([]client.Option{client.WithHTTPClient(m.HTTPClient())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// Through the multi-tenant endpoint, each user's ID token has the issuer
// of their own tenant: the kit's subject is tenant-scoped, and a tenant
// the site does not allow is refused, even with a look-alike email.
func TestMicrosoftTenantIssuers(t *testing.T) {
	m := oauthkittest.NewMicrosoft(t, oauthkittest.WithUser(alice), oauthkittest.WithUser(mallory))
	s := microsoftSite(t, m, "common", client.WithMicrosoftTenants(contoso))

	b := browser(t)
	if err := m.LoginAs(t.Context(), b, s.url+"/login", "alice"); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, b, s.url+"/me"); code != http.StatusOK || body != contoso+"/11111111-2222-3333-4444-555555555555 alice@contoso.example false" {
		t.Fatalf("/me: %d %q", code, body)
	}
	if m.Requests(oauthkittest.UserInfo) != 1 {
		t.Fatalf("Graph /me requests: %d", m.Requests(oauthkittest.UserInfo))
	}

	b = browser(t)
	var le *oauthkittest.LoginError
	if err := m.LoginAs(t.Context(), b, s.url+"/login", "mallory"); !errors.As(err, &le) || le.Status < 400 {
		t.Fatalf("user of another tenant: %v, want the callback's refusal", err)
	}
	if code, _ := get(t, b, s.url+"/me"); code != http.StatusUnauthorized {
		t.Fatalf("/me after a refused tenant: %d", code)
	}
}

// A site pinned to one tenant (its GUID) refuses another tenant's user.
func TestMicrosoftPinnedTenant(t *testing.T) {
	m := oauthkittest.NewMicrosoft(t, oauthkittest.WithUser(alice), oauthkittest.WithUser(mallory))
	s := microsoftSite(t, m, fabrikam)
	if err := m.LoginAs(t.Context(), browser(t), s.url+"/login", "mallory"); err != nil {
		t.Fatalf("user of the pinned tenant: %v", err)
	}
	if err := m.LoginAs(t.Context(), browser(t), s.url+"/login", "alice"); !errors.Is(err, oauthkittest.ErrLogin) {
		t.Fatalf("user of another tenant: %v", err)
	}
}
