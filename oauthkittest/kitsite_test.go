package oauthkittest_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/oauthkittest"
)

// kitSite is an application built on the kit (oauthkit.New, a client from
// client.DiscoverOpenID, scs sessions in memory) signing in at p: /login,
// /callback, /logout, /me (the user, 401 when anonymous) and /token
// (Kit.Token's access token), and for discovered OpenID Connect clients POST
// /backchannel (the back-channel logout URI).
type kitSite struct {
	url   string
	kit   *oauthkit.Kit
	later atomic.Int64 // how far the site's clock is ahead, in nanoseconds
}

// advance moves the site's clock d ahead: its tokens expire.
func (s *kitSite) advance(d time.Duration) { s.later.Add(int64(d)) }

// newKitSite registers c at p with the site's callback and back-channel
// logout URI, and starts the site.
func newKitSite(t testing.TB, p *oauthkittest.Provider, c oauthkittest.Client, opts ...client.Option) *kitSite {
	t.Helper()
	return newSite(t, func(callback string) client.Provider {
		c.RedirectURIs = []string{callback}
		c.BackChannelLogoutURI = strings.TrimSuffix(callback, "/callback") + "/backchannel"
		if err := p.AddClient(c); err != nil {
			t.Fatal(err)
		}
		opts = append([]client.Option{client.WithName("test"), client.WithScopes("openid", "email", "profile", "offline_access")}, opts...)
		if c.AuthMethod != "" {
			opts = append(opts, client.WithTokenEndpointAuthMethod(client.AuthMethod(c.AuthMethod)))
		}
		oc, err := client.DiscoverOpenID(t.Context(), p.Issuer(), c.ID, c.Secret, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return oc
	})
}

// newSite starts a kit site signing in with the client mk makes for the
// site's callback URL.
func newSite(t testing.TB, mk func(callback string) client.Provider) *kitSite {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	oc := mk(base + "/callback")
	s := &kitSite{url: base}
	sm := scs.New()
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:       sm,
		Providers:      []oauthkit.Provider{{Client: oc, RedirectURL: base + "/callback"}},
		Logger:         slog.New(slog.DiscardHandler),
		RevokeOnLogout: true,
		Now:            func() time.Time { return time.Now().Add(time.Duration(s.later.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/login", kit.LoginHandler(oc.Name()))
	mux.Handle("/callback", kit.CallbackHandler(oc.Name()))
	mux.Handle("/logout", kit.LogoutHandler())
	if _, ok := oc.(*client.OpenID); ok {
		mux.Handle("POST /backchannel", kit.BackChannelLogoutHandler(oc.Name()))
	}
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		u, ok := kit.User(r.Context())
		if !ok {
			http.Error(w, "anonymous", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "%s %s %v", u.ID, u.Email, u.EmailVerified)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		tok, err := kit.Token(r.Context())
		if err != nil {
			http.Error(w, err.Error(), oauthkit.HTTPStatus(err))
			return
		}
		_, _ = io.WriteString(w, tok.AccessToken)
	})
	srv.Config.Handler = sm.LoadAndSave(mux)
	srv.Start()
	t.Cleanup(srv.Close)
	s.kit = kit
	return s
}

// browser is a test's browser: a cookie jar, no redirects followed.
func browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get is the status and body of a GET of u.
func get(t *testing.T, b *http.Client, u string) (int, string) {
	t.Helper()
	res, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}
