package integration

// The handlers are plain http.Handlers: the whole flow (anonymous page →
// login → provider → callback → page → logout) on the routers users have:
// http.ServeMux with Go 1.22 patterns, chi and gorilla/mux. The test lives
// here, not in the library's module, so the library does not require the
// routers.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"

	"github.com/oauthkit/oauthkit"
)

func profilePage(k *oauthkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := k.User(r.Context())
		if !ok {
			http.Error(w, "no user in context", http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprintf(w, "%s|%s|%s", u.Provider, u.ID, u.Email)
	}
}

func TestRouters(t *testing.T) {
	t.Parallel()
	routers := map[string]func(k *oauthkit.Kit) http.Handler{
		"ServeMux": func(k *oauthkit.Kit) http.Handler {
			m := http.NewServeMux()
			for _, p := range k.Providers() {
				m.Handle("GET /auth/"+p.Name+"/login", k.LoginHandler(p.Name))
				m.Handle("GET /auth/"+p.Name+"/callback", k.CallbackHandler(p.Name))
			}
			m.Handle("POST /logout", k.LogoutHandler())
			m.Handle("GET /profile", k.RequireAuth(profilePage(k)))
			return m
		},
		"chi": func(k *oauthkit.Kit) http.Handler {
			r := chi.NewRouter()
			for _, p := range k.Providers() {
				r.Method(http.MethodGet, "/auth/"+p.Name+"/login", k.LoginHandler(p.Name))
				r.Method(http.MethodGet, "/auth/"+p.Name+"/callback", k.CallbackHandler(p.Name))
			}
			r.Method(http.MethodPost, "/logout", k.LogoutHandler())
			r.Group(func(r chi.Router) {
				r.Use(k.RequireAuth)
				r.Get("/profile", profilePage(k))
			})
			return r
		},
		"gorilla/mux": func(k *oauthkit.Kit) http.Handler {
			r := mux.NewRouter()
			for _, p := range k.Providers() {
				r.Handle("/auth/"+p.Name+"/login", k.LoginHandler(p.Name)).Methods(http.MethodGet)
				r.Handle("/auth/"+p.Name+"/callback", k.CallbackHandler(p.Name)).Methods(http.MethodGet)
			}
			r.Handle("/logout", k.LogoutHandler()).Methods(http.MethodPost)
			s := r.PathPrefix("/profile").Subrouter()
			s.Use(k.RequireAuth)
			s.HandleFunc("", profilePage(k))
			return r
		},
	}
	for name, build := range routers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ases := map[string]*fakeAS{"test": newFakeAS(t), "other": newFakeAS(t)}
			srv := httptest.NewUnstartedServer(nil)
			base := "http://" + srv.Listener.Addr().String()
			var providers []oauthkit.Provider
			for _, p := range []string{"test", "other"} {
				c, err := ases[p].Client(p, nil)
				if err != nil {
					t.Fatal(err)
				}
				providers = append(providers, oauthkit.Provider{Client: c, RedirectURL: base + "/auth/" + p + "/callback"})
			}
			sm := scs.New()
			kit, err := oauthkit.New(oauthkit.Config{Sessions: sm, Providers: providers, LoginPath: "/auth/test/login"})
			if err != nil {
				t.Fatal(err)
			}
			srv.Config.Handler = sm.LoadAndSave(build(kit))
			srv.Start()
			t.Cleanup(srv.Close)

			do := func(b *http.Client, method, path string) (*http.Response, string) {
				t.Helper()
				req, err := http.NewRequest(method, base+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				res, err := b.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				body, err := io.ReadAll(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				return res, string(body)
			}
			want := func(what string, got, want any) {
				t.Helper()
				if got != want {
					t.Errorf("%s: got %v, want %v", what, got, want)
				}
			}
			for _, provider := range []string{"test", "other"} {
				jar, _ := cookiejar.New(nil)
				b := &http.Client{Jar: jar, CheckRedirect: noRedirect}
				res, _ := do(b, http.MethodGet, "/profile?tab=2")
				want("anonymous page status", res.StatusCode, http.StatusFound)
				want("anonymous page redirect", res.Header.Get("Location"), "/auth/test/login?next=%2Fprofile%3Ftab%3D2")

				res, _ = do(b, http.MethodGet, "/auth/"+provider+"/login?next=%2Fprofile%3Ftab%3D2")
				if res.StatusCode != http.StatusFound {
					t.Fatalf("login: status %d", res.StatusCode)
				}
				cb, err := ases[provider].Approve(res.Header.Get("Location"), fakeUser{})
				if err != nil {
					t.Fatal(err)
				}
				res, _ = do(b, http.MethodGet, cb.RequestURI())
				if res.StatusCode != http.StatusFound {
					t.Fatalf("callback: status %d", res.StatusCode)
				}
				want("callback redirect", res.Header.Get("Location"), "/profile?tab=2")

				res, body := do(b, http.MethodGet, "/profile?tab=2")
				if res.StatusCode != http.StatusOK {
					t.Fatalf("profile: status %d", res.StatusCode)
				}
				want("profile", body, provider+"|1234567890123456789|ada@example.com")

				res, _ = do(b, http.MethodPost, "/logout")
				want("logout status", res.StatusCode, http.StatusSeeOther)
				res, _ = do(b, http.MethodGet, "/profile")
				want("profile after logout", res.StatusCode, http.StatusFound)
			}
			want("code exchanges at test", ases["test"].TokenHits.Load(), int64(1))
			want("code exchanges at other", ases["other"].TokenHits.Load(), int64(1))

			// A provider the kit does not know has no route: the router's 404.
			res, _ := do(&http.Client{CheckRedirect: noRedirect}, http.MethodGet, "/auth/nope/login")
			want("unknown provider", res.StatusCode, http.StatusNotFound)
		})
	}
}
