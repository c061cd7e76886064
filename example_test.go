package oauthkit_test

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"

	"github.com/alexedwards/scs/v2"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// Log in with GitHub on a plain ServeMux. Every kit handler runs inside the
// session manager's LoadAndSave; an anonymous visit to a protected page is
// sent to the login route with the page as return-to.
func Example() {
	sm := scs.New()
	sm.Cookie.Secure = true // the redirect URL is https

	// The OAuth app's credentials; read them from the environment or a
	// secret store (an empty id or secret is refused with ErrInvalidConfig).
	github, err := client.NewGitHub("Iv1.example-id", "example-secret")
	if err != nil {
		log.Fatal(err)
	}
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:  sm,
		Providers: []oauthkit.Provider{{Client: github, RedirectURL: "https://app.example/auth/github/callback"}},
		LoginPath: "/auth/github/login",
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /auth/github/login", kit.LoginHandler("github"))
	mux.Handle("GET /auth/github/callback", kit.CallbackHandler("github"))
	mux.Handle("POST /logout", kit.LogoutHandler())
	mux.Handle("GET /settings", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := kit.User(r.Context())
		fmt.Fprintf(w, "Hello %s", u.Email)
	})))
	handler := sm.LoadAndSave(mux) // http.ListenAndServe(":8080", handler)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/settings?tab=keys", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output: 302 /auth/github/login?next=%2Fsettings%3Ftab%3Dkeys
}

// SafeReturnTo keeps local paths (re-serialised, fragment dropped) and
// refuses anything a browser could turn into a redirect off the site.
func ExampleSafeReturnTo() {
	for _, next := range []string{
		"/settings?tab=keys#top",
		"/caf%C3%A9",
		"//evil.example",
		`/\evil.example`,
		"/%2F%2Fevil.example",
		"https://evil.example/",
		"/?url=//evil.example",
	} {
		p, ok := oauthkit.SafeReturnTo(next)
		fmt.Printf("%-24q %v %q\n", next, ok, p)
	}
	// Output:
	// "/settings?tab=keys#top" true "/settings?tab=keys"
	// "/caf%C3%A9"             true "/caf%C3%A9"
	// "//evil.example"         false ""
	// "/\\evil.example"        false ""
	// "/%2F%2Fevil.example"    false ""
	// "https://evil.example/"  false ""
	// "/?url=//evil.example"   false ""
}

// Several providers: one login and one callback route each, and a page of
// buttons built from Kit.Providers, which is RequireAuth's LoginPath.
func ExampleKit_Providers() {
	sm := scs.New()
	sm.Cookie.Secure = true
	github, err := client.NewGitHub("Iv1.example-id", "example-secret")
	if err != nil {
		log.Fatal(err)
	}
	google, err := client.NewGoogle("example-id.apps.googleusercontent.com", "example-secret")
	if err != nil {
		log.Fatal(err)
	}
	var providers []oauthkit.Provider
	for _, c := range []client.Provider{github, google} {
		providers = append(providers, oauthkit.Provider{
			Client: c, RedirectURL: "https://app.example/auth/" + c.Name() + "/callback"})
	}
	kit, err := oauthkit.New(oauthkit.Config{Sessions: sm, Providers: providers, LoginPath: "/login"})
	if err != nil {
		log.Fatal(err)
	}

	buttons := template.Must(template.New("login").Parse(
		`{{range .}}<a href="/auth/{{.Name}}/login">Log in with {{.DisplayName}}</a>{{"\n"}}{{end}}`))
	mux := http.NewServeMux()
	for _, p := range kit.Providers() {
		mux.Handle("GET /auth/"+p.Name+"/login", kit.LoginHandler(p.Name))
		mux.Handle("GET /auth/"+p.Name+"/callback", kit.CallbackHandler(p.Name))
	}
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		_ = buttons.Execute(w, kit.Providers())
	})
	handler := sm.LoadAndSave(mux)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	fmt.Print(rec.Body.String())
	// Output:
	// <a href="/auth/github/login">Log in with GitHub</a>
	// <a href="/auth/google/login">Log in with Google</a>
}

// A custom error page in the site's own layout: the kit hands every
// failure to Config.ErrorHandler, with its status (HTTPStatus) and a safe
// message (ErrorMessage) ready to show. Here a forged callback, whose state
// this browser never started, is refused.
func ExampleConfig_errorHandler() {
	sm := scs.New()
	sm.Cookie.Secure = true
	github, err := client.NewGitHub("Iv1.example-id", "example-secret")
	if err != nil {
		log.Fatal(err)
	}
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:  sm,
		Providers: []oauthkit.Provider{{Client: github, RedirectURL: "https://app.example/auth/github/callback"}},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			title, message := oauthkit.ErrorMessage(err)
			w.WriteHeader(oauthkit.HTTPStatus(err))
			fmt.Fprintf(w, "<main class=site><h1>%s</h1><p>%s</p></main>", html.EscapeString(title), html.EscapeString(message))
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	handler := sm.LoadAndSave(kit.CallbackHandler("github"))

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/github/callback?state=forged-state&code=x", nil))
	fmt.Println(rec.Code)
	fmt.Println(rec.Body.String())
	// Output:
	// 400
	// <main class=site><h1>Login not recognised</h1><p>This login was not started here or was already used. Please start again.</p></main>
}

// Login policies run before OnLogin: here only verified addresses at
// example.com may sign in, and OnLogin maps those who passed to the site's
// accounts. The same login against a site that allows only acme.com is
// refused with a 403 page, and its OnLogin never runs.
func ExampleAllowEmailDomains() {
	for _, domain := range []string{"example.com", "acme.com"} {
		var onLogin atomic.Int32
		cfg := oauthkit.Config{
			LoginPolicies: []oauthkit.LoginPolicy{oauthkit.AllowEmailDomains(domain)},
			OnLogin: func(ctx context.Context, u *oauthkit.User) error {
				onLogin.Add(1)
				u.UserID = "acct-" + u.ID
				return nil
			},
		}
		browser, base, done := exampleSite(cfg, 3600, func(w http.ResponseWriter, r *http.Request) {
			kit := r.Context().Value(exampleKitKey{}).(*oauthkit.Kit)
			u, _ := kit.User(r.Context())
			fmt.Fprintf(w, "%s (%s)", u.UserID, u.Email)
		})
		page := get(browser, base+"/auth/fake/login?next=/account")
		done()
		if status, _, _ := strings.Cut(page, " "); status != "200" {
			page = status
		}
		fmt.Printf("%s: %s, OnLogin ran %d time(s)\n", domain, page, onLogin.Load())
	}
	// Output:
	// example.com: 200 acct-1234567890123456789 (ada@example.com), OnLogin ran 1 time(s)
	// acme.com: 403, OnLogin ran 0 time(s)
}

// One route name serves every tenant: the resolver picks the tenant from
// the path and returns its IdP, cached for TTL. An unknown tenant is 404.
func ExampleProviderResolver() {
	sm := scs.New()
	sm.Cookie.Secure = true
	// The customers' IdPs, as a database would hold them.
	idps := map[string]client.Config{
		"acme": {ClientID: "app-at-acme", ClientSecret: "s3cret",
			AuthorizeEndpoint:   "https://login.acme.example/authorize",
			AccessTokenEndpoint: "https://login.acme.example/token"},
	}
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions: sm,
		Resolvers: []oauthkit.ProviderResolver{{
			Name:   "sso",
			Tenant: func(r *http.Request) (string, error) { return r.PathValue("tenant"), nil },
			Provider: func(ctx context.Context, tenant string) (oauthkit.Provider, error) {
				cfg, ok := idps[tenant]
				if !ok {
					return oauthkit.Provider{}, oauthkit.ErrUnknownProvider
				}
				c, err := client.New(cfg, client.WithName("corp"))
				return oauthkit.Provider{Client: c, RedirectURL: "https://app.example/t/" + tenant + "/callback"}, err
			},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /t/{tenant}/login", kit.LoginHandler("sso"))
	mux.Handle("GET /t/{tenant}/callback", kit.CallbackHandler("sso"))
	handler := sm.LoadAndSave(mux)

	for _, tenant := range []string{"acme", "nobody"} {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest("GET", "/t/"+tenant+"/login", nil))
		loc, _, _ := strings.Cut(rec.Header().Get("Location"), "?")
		fmt.Println(tenant, rec.Code, loc)
	}
	// Output:
	// acme 302 https://login.acme.example/authorize
	// nobody 404
}
