package oauthkittest_test

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

	"github.com/alexedwards/scs/v2"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/oauthkittest"
)

// newApp is the application under test, wired as its main function would
// wire it against a real provider: a kit with one OpenID Connect provider
// found by discovery, and an /account page behind RequireAuth. Only the
// issuer and the client registration come from the test provider.
func newApp(p *oauthkittest.Provider) (appURL string, closeApp func()) {
	srv := httptest.NewUnstartedServer(nil)
	appURL = "http://" + srv.Listener.Addr().String()
	if err := p.AddClient(oauthkittest.Client{
		ID: "my-app", Secret: "my-secret", RedirectURIs: []string{appURL + "/auth/callback"},
	}); err != nil {
		log.Fatal(err)
	}

	idp, err := client.DiscoverOpenID(context.Background(), p.Issuer(), "my-app", "my-secret",
		client.WithName("idp"), client.WithScopes("openid", "email", "offline_access"))
	if err != nil {
		log.Fatal(err)
	}
	sessions := scs.New()
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:  sessions,
		Providers: []oauthkit.Provider{{Client: idp, RedirectURL: appURL + "/auth/callback"}},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/login", kit.LoginHandler("idp"))
	mux.Handle("/auth/callback", kit.CallbackHandler("idp"))
	mux.Handle("/account", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := kit.User(r.Context())
		fmt.Fprintf(w, "account of %s", u.Email)
	})))
	srv.Config.Handler = sessions.LoadAndSave(mux)
	srv.Start()
	return appURL, srv.Close
}

// visit is the status and body of a page, as the browser sees it.
func visit(browser *http.Client, u string) string {
	res, err := browser.Get(u)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return fmt.Sprint(res.StatusCode, " ", string(body))
}

// A test of the application's own pages signs a user in through the real
// login flow (the application's login and callback handlers, the
// provider's authorize and code exchange) without a browser: afterwards
// the test's cookie jar holds the application's session.
func ExampleProvider_LoginAs() {
	p, err := oauthkittest.Start(oauthkittest.WithUser(oauthkittest.User{
		Subject: "ada", Email: "ada@example.com", EmailVerified: true,
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	appURL, closeApp := newApp(p)
	defer closeApp()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fmt.Println(visit(browser, appURL+"/account")[:3]) // anonymous: sent to log in

	if err := p.LoginAs(context.Background(), browser, appURL+"/auth/login", "ada"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(visit(browser, appURL+"/account"))
	fmt.Println("token requests:", p.Requests(oauthkittest.Token))
	// Output:
	// 302
	// 200 account of ada@example.com
	// token requests: 1
}

// A test of how the application lives with a failing provider: the code
// exchange answers 503 once. The login fails at the application's
// callback and leaves the user signed out; the next attempt succeeds; a
// signed-in page then makes no further request to the provider.
func ExampleProvider_FailNext() {
	p, err := oauthkittest.Start(oauthkittest.WithUser(oauthkittest.User{
		Subject: "ada", Email: "ada@example.com", EmailVerified: true,
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	appURL, closeApp := newApp(p)
	defer closeApp()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	p.FailNext(oauthkittest.Token, oauthkittest.ServerError(http.StatusServiceUnavailable))
	err = p.LoginAs(context.Background(), browser, appURL+"/auth/login", "ada")
	var failed *oauthkittest.LoginError
	if errors.As(err, &failed) {
		fmt.Println("login failed: the callback answered", failed.Status)
	}
	fmt.Println(visit(browser, appURL+"/account")[:3])

	if err := p.LoginAs(context.Background(), browser, appURL+"/auth/login", "ada"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(visit(browser, appURL+"/account"))
	fmt.Println(visit(browser, appURL+"/account"))
	fmt.Println("token requests:", p.Requests(oauthkittest.Token), "userinfo requests:", p.Requests(oauthkittest.UserInfo))
	// Output:
	// login failed: the callback answered 502
	// 302
	// 200 account of ada@example.com
	// 200 account of ada@example.com
	// token requests: 2 userinfo requests: 1
}
