package oauthkittest_test

import (
	"net/http"
	"testing"

	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/oauthkittest"
)

// googleSite is a kit site with the kit's own Google client, whose HTTP
// client reaches the fake.
func googleSite(t *testing.T, g *oauthkittest.Google, opts ...client.Option) *kitSite {
	t.Helper()
	return newSite(t, func(callback string) client.Provider {
		if err := g.AddClient(oauthkittest.Client{ID: "g-app", Secret: "g-secret", AuthMethod: oauthkittest.AuthMethodPost,
			RedirectURIs: []string{callback}}); err != nil {
			t.Fatal(err)
		}
		c, err := client.NewGoogle("g-app", "g-secret", append([]client.Option{client.WithHTTPClient(g.HTTPClient())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// The kit's Google client signs in through the fake's Google URLs: the
// People API gives the id and the verified email; with openid, the kit
// also verifies the ID token of issuer https://accounts.google.com
// against the keys at www.googleapis.com.
func TestGoogleLoginAsKitSite(t *testing.T) {
	for name, opts := range map[string][]client.Option{
		"default scopes": nil,
		"openid":         {client.WithScopes("openid", "email", "profile")},
	} {
		t.Run(name, func(t *testing.T) {
			g := oauthkittest.NewGoogle(t, oauthkittest.WithUser(ada))
			s := googleSite(t, g, opts...)
			b := browser(t)
			if err := g.LoginAs(t.Context(), b, s.url+"/login", "ada"); err != nil {
				t.Fatal(err)
			}
			if code, body := get(t, b, s.url+"/me"); code != http.StatusOK || body != "people/ada ada@example.com true" {
				t.Fatalf("/me: %d %q", code, body)
			}
			if g.Requests(oauthkittest.UserInfo) != 1 {
				t.Fatalf("Requests(UserInfo) = %d, want 1 (the People API)", g.Requests(oauthkittest.UserInfo))
			}
			if name == "openid" && g.Requests(oauthkittest.JWKS) != 1 {
				t.Fatalf("Requests(JWKS) = %d: the kit did not verify the ID token", g.Requests(oauthkittest.JWKS))
			}
		})
	}
}

// An ID token for another audience fails the kit's Google login.
func TestGoogleWrongAudience(t *testing.T) {
	g := oauthkittest.NewGoogle(t, oauthkittest.WithUser(ada))
	s := googleSite(t, g, client.WithScopes("openid", "email"))
	g.FailNext(oauthkittest.Token, oauthkittest.WrongAudience())
	b := browser(t)
	if err := g.LoginAs(t.Context(), b, s.url+"/login", "ada"); err == nil {
		t.Fatal("signed in with an ID token for another client")
	}
	if code, _ := get(t, b, s.url+"/me"); code != http.StatusUnauthorized {
		t.Fatalf("/me: %d", code)
	}
}
