package oauthkit

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// RequireAuth lets signed-in users through to next, with the user in the
// request context for [Kit.User]. Anonymous GET and HEAD page requests are
// redirected (302) to LoginPath with the requested local path in "next";
// other methods, and requests that ask for JSON, get 401. It writes nothing
// to an anonymous session, so anonymous traffic creates no session; for a
// signed-in one it repeats a failed SessionIndex write (see
// Stats.IndexFailures).
//
// Only sessions this kit signed in pass: a user signed in by another kit
// sharing the session manager, or through a provider since removed from
// the configuration, is anonymous here.
//
// It runs on every request, so it only reads the session already loaded by
// LoadAndSave: two map lookups and the session token, one JSON decode, and two allocations to
// carry the user in the context. Outside LoadAndSave it answers 500 with
// ErrNoSession, as every handler of the kit does.
func (k *Kit) RequireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, binding, err := k.signedInBinding(r.Context())
		if err == nil {
			k.ensureIndexed(r.Context(), p, u, binding)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{k}, u)))
			return
		}
		if err == ErrNoSession || errors.Is(err, ErrProviderUnavailable) {
			k.fail(w, r, "", err)
			return
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !wantsJSON(r) {
			target := k.cfg.LoginPath
			if rt, ok := SafeReturnTo(r.URL.RequestURI()); ok && rt != "/" {
				sep := "?"
				if strings.Contains(target, "?") {
					sep = "&"
				}
				target += sep + "next=" + url.QueryEscape(rt)
			}
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
		w.Header().Set("WWW-Authenticate", `Cookie realm="oauthkit", form-action="`+k.cfg.LoginPath+`"`)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
	})
}

// wantsJSON reports whether the client asked for JSON rather than a page:
// an Accept header naming JSON but not HTML, or an XMLHttpRequest.
func wantsJSON(r *http.Request) bool {
	if r.Header.Get("X-Requested-With") == "XMLHttpRequest" {
		return true
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "json") && !strings.Contains(accept, "text/html")
}
