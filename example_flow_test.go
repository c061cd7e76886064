package oauthkit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
)

// exampleSite serves the kit's routes plus page on loopback, signed in
// through a fake provider on loopback, and returns a browser (cookie jar,
// redirects followed) that has logged in through the real flow.
// Its access tokens live expiresIn seconds.
func exampleSite(cfg oauthkit.Config, expiresIn int, page http.HandlerFunc) (browser *http.Client, base string, closeAll func()) {
	as := fakeas.Start()
	as.ExpiresIn = expiresIn
	srv := httptest.NewUnstartedServer(nil)
	provider, err := as.Client("fake", nil)
	if err != nil {
		log.Fatal(err)
	}
	cfg.Sessions = scs.New()
	cfg.Providers = []oauthkit.Provider{{Client: provider, RedirectURL: "http://" + srv.Listener.Addr().String() + "/auth/fake/callback"}}
	cfg.Logger = slog.New(slog.DiscardHandler)
	kit, err := oauthkit.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/fake/login", kit.LoginHandler("fake"))
	mux.Handle("/auth/fake/callback", kit.CallbackHandler("fake"))
	mux.Handle("/", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page(w, r.WithContext(context.WithValue(r.Context(), exampleKitKey{}, kit)))
	})))
	srv.Config.Handler = cfg.Sessions.LoadAndSave(mux)
	srv.Start()
	jar, _ := cookiejar.New(nil)
	browser = &http.Client{Jar: jar}
	return browser, srv.URL, func() { srv.Close(); as.Srv.Close() }
}

type exampleKitKey struct{}

func get(c *http.Client, u string) string {
	res, err := c.Get(u)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return fmt.Sprint(res.StatusCode, " ", string(b))
}

// OnLogin maps the provider's identity to the application's own account
// before the user is signed in, or refuses the login. The mapping lands in
// User.UserID, which the rest of the site keys its data by.
func ExampleConfig_onLogin() {
	accounts := map[string]string{"fake:1234567890123456789": "acct-ada"} // the site's database
	cfg := oauthkit.Config{
		OnLogin: func(ctx context.Context, u *oauthkit.User) error {
			if !u.EmailVerified {
				return errors.New("verify your email at the provider first")
			}
			acct, ok := accounts[u.Provider+":"+u.ID]
			if !ok {
				return errors.New("no account for this login")
			}
			u.UserID = acct
			return nil
		},
	}
	browser, base, done := exampleSite(cfg, 3600, func(w http.ResponseWriter, r *http.Request) {
		kit := r.Context().Value(exampleKitKey{}).(*oauthkit.Kit)
		u, _ := kit.User(r.Context())
		fmt.Fprintf(w, "%s (%s, verified %v)", u.UserID, u.Email, u.EmailVerified)
	})
	defer done()

	fmt.Println(get(browser, base+"/auth/fake/login?next=/account"))
	// Output: 200 acct-ada (ada@example.com, verified true)
}

// Kit.Token returns a valid provider access token, refreshing it first when
// it has expired, and saves the refreshed token in the session; concurrent
// calls of one session share one refresh. The example's clock jumps two
// hours, past the provider token's one-hour lifetime.
func ExampleKit_Token() {
	var later atomic.Int64 // how far the example's clock has jumped
	refreshes := 0
	cfg := oauthkit.Config{
		Now:            func() time.Time { return time.Now().Add(time.Duration(later.Load())) },
		OnTokenRefresh: func(context.Context, *oauthkit.User, *client.Token) { refreshes++ },
	}
	browser, base, done := exampleSite(cfg, 3600, func(w http.ResponseWriter, r *http.Request) {
		kit := r.Context().Value(exampleKitKey{}).(*oauthkit.Kit)
		tok, err := kit.Token(r.Context())
		switch {
		case errors.Is(err, oauthkit.ErrReauthRequired):
			http.Redirect(w, r, "/auth/fake/login?next=/api", http.StatusFound) // the grant has ended
		case err != nil:
			http.Error(w, "provider unavailable", oauthkit.HTTPStatus(err))
		default:
			fmt.Fprintf(w, "token valid for %.0f min", time.Until(tok.Expiry.Add(-time.Duration(later.Load()))).Minutes())
		}
	})
	defer done()

	fmt.Println(get(browser, base+"/auth/fake/login?next=/api"))
	later.Store(int64(2 * time.Hour))
	fmt.Println(get(browser, base+"/api"))
	fmt.Println("refreshes:", refreshes)
	// Output:
	// 200 token valid for 60 min
	// 200 token valid for 60 min
	// refreshes: 1
}

// Kit.LogoutEverywhere ends every session of one user, in every browser
// (and on every instance sharing the session store and SessionIndex): after
// a password change or an administrator's action. Here the user signs in
// from a laptop and a phone; the site then signs them out everywhere.
func ExampleKit_LogoutEverywhere() {
	var kit *oauthkit.Kit
	laptop, base, done := exampleSite(oauthkit.Config{}, 3600, func(w http.ResponseWriter, r *http.Request) {
		kit = r.Context().Value(exampleKitKey{}).(*oauthkit.Kit)
		u, _ := kit.User(r.Context())
		fmt.Fprint(w, "hello ", u.UserID)
	})
	defer done()
	jar, _ := cookiejar.New(nil)
	phone := &http.Client{Jar: jar}

	fmt.Println(get(laptop, base+"/auth/fake/login?next=/home"))
	fmt.Println(get(phone, base+"/auth/fake/login?next=/home"))
	n, err := kit.LogoutEverywhere(context.Background(), "fake:1234567890123456789")
	fmt.Println("sessions ended:", n, err)
	// Both browsers are anonymous now: RequireAuth sends them to log in,
	// which here (a fake provider that approves at once) signs them in anew.
	laptop.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	fmt.Println(get(laptop, base+"/home"))
	// Output:
	// 200 hello fake:1234567890123456789
	// 200 hello fake:1234567890123456789
	// sessions ended: 2 <nil>
	// 302 <a href="/login?next=%2Fhome">Found</a>.
}

// BackChannelLogoutHandler is the URL registered at an OpenID Connect
// provider as backchannel_logout_uri: when the user logs out there, the
// provider POSTs a signed logout token, and every app session of that
// provider session ends, on every instance sharing the SessionIndex. Here
// a fake provider signs the user in, then sends the logout token.
func ExampleKit_BackChannelLogoutHandler() {
	as := fakeas.Start()
	defer as.Srv.Close()
	as.EnableOpenID()
	oidc, err := as.OpenIDClient(context.Background(), "idp", nil)
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	sm := scs.New()
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:  sm,
		Providers: []oauthkit.Provider{{Client: oidc, RedirectURL: "http://" + srv.Listener.Addr().String() + "/auth/idp/callback"}},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/idp/login", kit.LoginHandler("idp"))
	mux.Handle("/auth/idp/callback", kit.CallbackHandler("idp"))
	mux.Handle("POST /auth/idp/backchannel-logout", kit.BackChannelLogoutHandler("idp"))
	mux.Handle("/", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := kit.User(r.Context())
		fmt.Fprint(w, "hello ", u.Email)
	})))
	srv.Config.Handler = sm.LoadAndSave(mux)
	srv.Start()
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}

	fmt.Println(get(browser, srv.URL+"/auth/idp/login?next=/home"))
	token := as.LogoutToken(fakeas.LogoutTokenOptions{SessionID: as.SessionID(fakeas.DefaultUser.ID)})
	res, err := as.BackChannelLogout(context.Background(), nil, srv.URL+"/auth/idp/backchannel-logout", token)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println("back-channel logout:", res.StatusCode)
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	fmt.Println(get(browser, srv.URL+"/home"))
	// Output:
	// 200 hello ada@example.com
	// back-channel logout: 200
	// 302 <a href="/login?next=%2Fhome">Found</a>.
}

// With a TokenStore, code that holds only a user id (a nightly job) gets
// a valid provider token with Kit.TokenFor, refreshed through the same
// single path as the users' own requests (across instances, with shared
// TokenStore and RefreshLocks such as redisclaim's).
func ExampleKit_TokenFor() {
	var kit *oauthkit.Kit
	browser, base, done := exampleSite(oauthkit.Config{TokenStore: oauthkit.NewMemoryTokenStore()}, 3600,
		func(w http.ResponseWriter, r *http.Request) {
			kit = r.Context().Value(exampleKitKey{}).(*oauthkit.Kit)
			u, _ := kit.User(r.Context())
			fmt.Fprint(w, "signed in as ", u.UserID)
		})
	defer done()
	fmt.Println(get(browser, base+"/auth/fake/login?next=/home"))

	// Later, outside any request:
	tok, err := kit.TokenFor(context.Background(), "fake:1234567890123456789", "fake")
	fmt.Println("job has a token:", err == nil && tok.AccessToken != "", "refresh token kept server-side:", tok.RefreshToken != "")
	_, err = kit.TokenFor(context.Background(), "fake:someone-who-never-logged-in", "fake")
	fmt.Println(errors.Is(err, oauthkit.ErrReauthRequired))
	// Output:
	// 200 signed in as fake:1234567890123456789
	// job has a token: true refresh token kept server-side: true
	// true
}
