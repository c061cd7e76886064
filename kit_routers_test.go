package oauthkit_test

// The handlers are plain http.Handlers: the whole flow (anonymous page →
// login → provider → callback → page → logout) on the routers users have:
// http.ServeMux with Go 1.22 patterns, chi and gorilla/mux.

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
			opt, other := withProvider(t, "other")
			a := newApp(t, opt)
			a.srv.Config.Handler = a.sm.LoadAndSave(build(a.kit))

			for _, provider := range []string{"test", "other"} {
				b := a.browser()
				res := a.get(b, "/profile?tab=2")
				require.Equal(t, http.StatusFound, res.StatusCode)
				assert.Equal(t, "/auth/test/login?next=%2Fprofile%3Ftab%3D2", res.Header.Get("Location"))

				res = a.login(b, "/auth/"+provider+"/login?next=%2Fprofile%3Ftab%3D2")
				require.Equal(t, http.StatusFound, res.StatusCode, "%v", a.lastErr())
				assert.Equal(t, "/profile?tab=2", res.Header.Get("Location"))

				res, body := a.do(b, http.MethodGet, "/profile?tab=2", nil)
				require.Equal(t, http.StatusOK, res.StatusCode)
				assert.Equal(t, provider+"|1234567890123456789|ada@example.com", body)

				res, _ = a.do(b, http.MethodPost, "/logout", nil)
				assert.Equal(t, http.StatusSeeOther, res.StatusCode)
				assert.False(t, a.signedIn(b))
			}
			assert.EqualValues(t, 1, a.as.TokenHits.Load())
			assert.EqualValues(t, 1, other.TokenHits.Load())

			// A provider the kit does not know has no route: the router's 404.
			res, _ := a.do(a.browser(), http.MethodGet, "/auth/nope/login", nil)
			assert.Equal(t, http.StatusNotFound, res.StatusCode)
		})
	}
}
