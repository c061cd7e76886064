package main

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"time"

	"github.com/oauthkit/oauthkit"
)

// The site's URL scheme, spelled once: the route table below, the redirect
// URLs registered at the providers (callbackURL in config.go), the kit's
// LoginPath and landing pages (server.go) and the templates' links all
// come from here.
//
//	GET  /auth/<provider>/login                 kit.LoginHandler
//	GET  /auth/<provider>/callback              kit.CallbackHandler (POST too, for form_post providers)
//	POST /auth/<provider>/backchannel-logout    kit.BackChannelLogoutHandler (OpenID Connect providers; no session)
//	GET  /auth/<provider>/frontchannel-logout   kit.FrontChannelLogoutHandler (OpenID Connect providers)
//	POST /logout                                kit.LogoutHandler (and the provider's logout, when it has one)
//	GET  /logged-out                            kit.PostLogoutHandler (the post-logout redirect URL)
//	POST /account/logout-everywhere             kit.LogoutEverywhere, behind kit.RequireAuth
//	GET  /profile, /api-demo                    behind kit.RequireAuth
var paths = sitePaths{
	Home:             "/",
	Login:            "/login", // the buttons page, the kit's LoginPath
	Logout:           "/logout",
	LoggedOut:        "/logged-out",
	LogoutEverywhere: "/account/logout-everywhere",
	Profile:          "/profile",
	APIDemo:          "/api-demo",
}

// sitePaths are the site's own pages; templates reach them as .Paths.
type sitePaths struct {
	Home, Login, Logout, LoggedOut, LogoutEverywhere, Profile, APIDemo string
}

// authPath is a provider's route for step ("login" or "callback"):
// /auth/<provider>/<step>.
func authPath(provider, step string) string {
	return "/auth/" + url.PathEscape(provider) + "/" + step
}

// loginPath is where a "Log in with <provider>" button points.
func loginPath(provider string) string { return authPath(provider, "login") }

// callbackPath is where the provider sends the user back; the redirect URL
// registered at the provider is BASE_URL + callbackPath.
func callbackPath(provider string) string { return authPath(provider, "callback") }

// backChannelPath is the provider's backchannel_logout_uri, BASE_URL +
// backChannelPath, registered at the provider.
func backChannelPath(provider string) string { return authPath(provider, "backchannel-logout") }

// frontChannelPath is the provider's frontchannel_logout_uri, BASE_URL +
// frontChannelPath, registered at the provider.
func frontChannelPath(provider string) string { return authPath(provider, "frontchannel-logout") }

// routes wires the site. Static files, the health check and the
// back-channel logout routes are served outside the session middleware;
// everything else runs inside it, as the kit's handlers require.
func (a *app) routes() {
	m := http.NewServeMux()
	top := http.NewServeMux()
	a.mux = m
	for _, p := range a.kit.Providers() {
		// No method in these patterns: the kit answers other methods with
		// ErrMethodNotAllowed through the app's error page, and a form_post
		// provider's callback is a POST.
		m.Handle(loginPath(p.Name), a.kit.LoginHandler(p.Name))
		m.Handle(callbackPath(p.Name), a.kit.CallbackHandler(p.Name))
		if p.LogoutNotifications {
			// The provider's server POSTs here, with no cookie: no session
			// to load, and outside CrossOriginProtection (which would let a
			// request without Origin or Sec-Fetch-Site through anyway). The
			// kit answers other methods with a JSON 405.
			top.Handle(backChannelPath(p.Name), a.kit.BackChannelLogoutHandler(p.Name))
			// Loaded in a hidden iframe of the provider's logout page: the
			// kit sets frame-ancestors to the provider's origin, replacing
			// securityHeaders' framing headers (which run before it).
			m.Handle(frontChannelPath(p.Name), a.kit.FrontChannelLogoutHandler(p.Name))
		}
	}
	m.Handle(paths.Logout, a.kit.LogoutHandler())        // POST only, enforced by the kit
	m.Handle(paths.LoggedOut, a.kit.PostLogoutHandler()) // GET only, enforced by the kit
	m.Handle("POST "+paths.LogoutEverywhere, a.kit.RequireAuth(http.HandlerFunc(a.logoutEverywhere)))
	m.HandleFunc("GET "+paths.Home+"{$}", a.home)
	m.HandleFunc("GET "+paths.Login, a.login)
	m.Handle("GET "+paths.Profile, a.kit.RequireAuth(http.HandlerFunc(a.profile)))
	m.Handle("GET "+paths.APIDemo, a.kit.RequireAuth(http.HandlerFunc(a.apiDemo)))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { a.renderError(w, r, errNotFound) })

	static, _ := fs.Sub(staticFS, "static")
	top.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	top.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	// Cross-origin POSTs (a form on another site submitting to /logout) are
	// refused for the whole site; safe methods pass.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.renderError(w, r, oauthkit.ErrCrossOrigin)
	}))
	top.Handle("/", a.sessions.LoadAndSave(cop.Handler(m)))
	a.handler = a.logRequests(securityHeaders(a.cfg.SecureCookies(), top))
}
