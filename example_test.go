package oauthkit_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

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
