package integration_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

func exampleKit() (*scs.SessionManager, *oauthkit.Kit) {
	sm := scs.New()
	sm.Cookie.Secure = true
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
	return sm, kit
}

// Mounting on chi: the kit's handlers are plain http.Handlers and
// RequireAuth is chi middleware as it is.
func Example_chi() {
	sm, kit := exampleKit()
	r := chi.NewRouter()
	r.Use(sm.LoadAndSave)
	for _, p := range kit.Providers() {
		r.Method(http.MethodGet, "/auth/"+p.Name+"/login", kit.LoginHandler(p.Name))
		r.Method(http.MethodGet, "/auth/"+p.Name+"/callback", kit.CallbackHandler(p.Name))
	}
	r.Method(http.MethodPost, "/logout", kit.LogoutHandler())
	r.Group(func(r chi.Router) {
		r.Use(kit.RequireAuth)
		r.Get("/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
			u, _ := kit.User(r.Context())
			fmt.Fprintf(w, "order %s of %s", chi.URLParam(r, "id"), u.UserID)
		})
	})

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/orders/7", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output: 302 /auth/github/login?next=%2Forders%2F7
}

// Mounting on gorilla/mux: RequireAuth is a mux.MiddlewareFunc on a
// subrouter.
func Example_gorillaMux() {
	sm, kit := exampleKit()
	r := mux.NewRouter()
	r.Use(sm.LoadAndSave)
	for _, p := range kit.Providers() {
		r.Handle("/auth/"+p.Name+"/login", kit.LoginHandler(p.Name)).Methods(http.MethodGet)
		r.Handle("/auth/"+p.Name+"/callback", kit.CallbackHandler(p.Name)).Methods(http.MethodGet)
	}
	r.Handle("/logout", kit.LogoutHandler()).Methods(http.MethodPost)
	orders := r.PathPrefix("/orders").Subrouter()
	orders.Use(kit.RequireAuth)
	orders.HandleFunc("/{id}", func(w http.ResponseWriter, r *http.Request) {
		u, _ := kit.User(r.Context())
		fmt.Fprintf(w, "order %s of %s", mux.Vars(r)["id"], u.UserID)
	})

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/orders/7", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output: 302 /auth/github/login?next=%2Forders%2F7
}
