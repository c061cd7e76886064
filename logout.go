package oauthkit

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/oauthkit/oauthkit/client"
)

// LogoutHandler signs the user out: POST only, refused when cross-origin
// (http.CrossOriginProtection, and, for browsers that send no
// Sec-Fetch-Site, an Origin whose scheme and host are not those of the
// redirect URLs). With RevokeOnLogout it first revokes the provider token; a
// revocation failure is logged, counted in Stats, and never blocks the local
// logout. The session token is recorded as ended (see EndedSessions) and the
// session destroyed. From then on every request carrying the old session
// cookie is anonymous, even one that loaded the session earlier and writes
// it back later.
//
// Then, when the user's provider advertises an end_session_endpoint (an
// OpenID Connect provider, see client.Logout) and Provider.LocalLogout is
// off, the provider's session ends too (RP-Initiated Logout 1.0): the
// response is a page that POSTs id_token_hint (the login's ID token, kept
// server-side), client_id and, with Provider.PostLogoutRedirectURL,
// post_logout_redirect_uri and a state to the provider. A form POST keeps the
// ID token out of URLs, logs and Referer headers. The state is kept in a
// fresh session and checked by PostLogoutHandler when the provider sends the
// browser back. Other providers (GitHub, Google) end only the local session
// and the user is sent (303) to AfterLogoutPath.
func (k *Kit) LogoutHandler() http.Handler {
	logout := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			k.fail(w, r, "", ErrMethodNotAllowed)
			return
		}
		ctx := r.Context()
		if !k.hasSession(ctx) {
			k.fail(w, r, "", ErrNoSession)
			return
		}
		es, state := k.endSessionRequest(ctx)
		if k.cfg.RevokeOnLogout {
			k.revoke(ctx)
		}
		// Record first, delete second (see guardedStore).
		endErr := k.store.end(ctx, k.sm.Token(ctx))
		if err := k.sm.Destroy(ctx); err != nil {
			k.fail(w, r, "", wrap(ErrSession, err))
			return
		}
		if endErr != nil {
			// The session is gone, but a late write of it by another instance
			// would not be undone: visible, not silent.
			k.fail(w, r, "", wrap(ErrSession, endErr))
			return
		}
		if es == nil {
			http.Redirect(w, r, k.cfg.AfterLogoutPath, http.StatusSeeOther)
			return
		}
		if state != "" {
			// A new, anonymous session (scs gives a destroyed session a new
			// token) that holds only the state, for as long as a login may take.
			now := k.cfg.Now()
			k.putJSON(ctx, keyLogout, pendingLogout{State: state, Created: now})
			k.sm.SetDeadline(ctx, now.Add(k.cfg.PendingTTL))
		}
		writeEndSessionPage(w, es)
	})
	protected := k.cop.Handler(logout)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// http.CrossOriginProtection compares Origin with the Host header
		// only, and without the scheme, when Sec-Fetch-Site is absent
		// (older browsers): compare it with the site's configured origins.
		if r.Header.Get("Sec-Fetch-Site") == "" {
			if o := r.Header.Get("Origin"); o != "" && !k.siteOrigin(o) {
				noStore(w)
				k.fail(w, r, "", ErrCrossOrigin)
				return
			}
		}
		protected.ServeHTTP(w, r)
	})
}

// pendingLogout is an RP-initiated logout awaiting the provider's redirect
// back to PostLogoutHandler.
type pendingLogout struct {
	State   string    `json:"s"`
	Created time.Time `json:"t"`
}

// endSessionRequest is the RP-initiated logout of the signed-in user, and
// its state, or nil when the user's provider has no end_session_endpoint
// (or Provider.LocalLogout is set, or nobody is signed in).
func (k *Kit) endSessionRequest(ctx context.Context) (*client.EndSessionRequest, string) {
	u, p, err := k.signedIn(ctx)
	if err != nil || p.LocalLogout {
		return nil, ""
	}
	// A provider that cannot be reached now ends only the local session:
	// a logout must never fail because of it.
	if p, err = k.live(ctx, p); err != nil {
		return nil, ""
	}
	lo, ok := p.Client.(client.Logout)
	if !ok {
		return nil, ""
	}
	hint := ""
	if t, err := k.storedToken(ctx, u); err == nil {
		hint = t.IDToken
	}
	state := ""
	if p.PostLogoutRedirectURL != "" {
		state = client.GenerateState()
	}
	es, err := lo.EndSession(hint, p.PostLogoutRedirectURL, state)
	if err != nil {
		return nil, ""
	}
	return es, state
}

// endSessionPage POSTs the logout request to the provider as soon as it
// loads; without JavaScript the user presses the button.
var endSessionPage = template.Must(template.New("end-session").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signing out</title></head>
<body><form method="post" action="{{.Endpoint}}">
{{- range $k, $vs := .Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
<p>Signing you out at your identity provider…</p><noscript><button type="submit">Continue</button></noscript>
</form><script>` + endSessionScript + `</script></body></html>
`))

const endSessionScript = `document.forms[0].submit()`

// endSessionCSP allows exactly the page's one script (by hash: no inline
// script an injection could add would run) and no framing.
var endSessionCSP = func() string {
	sum := sha256.Sum256([]byte(endSessionScript))
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; base-uri 'none'; frame-ancestors 'none'"
}()

func writeEndSessionPage(w http.ResponseWriter, es *client.EndSessionRequest) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", endSessionCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	// The Endpoint is the provider's metadata, checked https (or loopback)
	// by the client; html/template escapes it and every value.
	_ = endSessionPage.Execute(w, es)
}

// PostLogoutHandler is the route of Provider.PostLogoutRedirectURL: GET
// only. The provider sends the browser there after an RP-initiated logout;
// it checks the state LogoutHandler kept in the session (constant-time,
// single use, at most PendingTTL old) and sends the user (303) to
// AfterLogoutPath. A missing or unknown state is ErrStateNotFound, an old
// one ErrStateExpired: the local session ended at LogoutHandler either way,
// so nobody is left signed in.
func (k *Kit) PostLogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		w.Header().Set("Referrer-Policy", "no-referrer")
		ctx := r.Context()
		if !k.hasSession(ctx) {
			k.fail(w, r, "", ErrNoSession)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			k.fail(w, r, "", ErrMethodNotAllowed)
			return
		}
		if len(r.URL.RawQuery) > maxQueryLen {
			k.fail(w, r, "", wrap(ErrInvalidCallback, errors.New("query too long")))
			return
		}
		state := r.URL.Query().Get("state")
		var pl pendingLogout
		if state == "" || !k.getJSON(ctx, keyLogout, &pl) ||
			subtle.ConstantTimeCompare([]byte(pl.State), []byte(state)) != 1 {
			k.fail(w, r, "", ErrStateNotFound)
			return
		}
		k.sm.Remove(ctx, keyLogout)
		if k.cfg.Now().Sub(pl.Created) > k.cfg.PendingTTL {
			k.fail(w, r, "", ErrStateExpired)
			return
		}
		http.Redirect(w, r, k.cfg.AfterLogoutPath, http.StatusSeeOther)
	})
}

func (k *Kit) revoke(ctx context.Context) {
	u, p, err := k.signedIn(ctx)
	if err != nil {
		return
	}
	t, err := k.storedToken(ctx, u)
	var grant string
	if err == nil && k.tokens != nil {
		// The refresh token, which ends the grant, is in the TokenStore,
		// when the stored grant is this session's (the same access token).
		// A later login of the same user elsewhere replaced it: then only
		// this session's access token is revoked, and the other device's
		// grant lives on.
		key := grantKey(u.UserID, p.name)
		var g *client.Token
		if g, err = k.loadGrant(ctx, key); err == nil && g != nil && g.AccessToken == t.AccessToken {
			t, grant = g, key
		}
	}
	if err != nil {
		if !errors.Is(err, ErrNotSignedIn) {
			k.stats.revocationFailures.Add(1)
			k.cfg.Logger.WarnContext(ctx, "oauthkit: token revocation skipped, the stored token cannot be read; local logout continues",
				"provider", u.Provider, "error", err.Error())
		}
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.ProviderTimeout)
	defer cancel()
	// The client chooses the token that ends the grant (refresh token, or
	// the access token for providers that revoke only those).
	rctx, end := k.observe(rctx, OpRevoke, p.name)
	if lp, lerr := k.live(rctx, p); lerr != nil {
		err = lerr
	} else {
		err = lp.Client.Revoke(rctx, t)
	}
	end(revokeOutcome(err))
	if err == nil && grant != "" {
		// The grant has ended: no background job may find it.
		_ = k.tokens.Delete(rctx, grant)
	}
	if err != nil && !errors.Is(err, client.ErrRevokeNotSupported) {
		k.stats.revocationFailures.Add(1)
		code := ""
		var oe *client.OAuthError
		if errors.As(err, &oe) {
			code = oe.Code
		}
		k.cfg.Logger.WarnContext(ctx, "oauthkit: token revocation failed; local logout continues",
			"provider", u.Provider, "oauth_error", code, "error", err.Error())
	}
}

// siteOrigin reports whether o is the origin of a configured redirect URL
// or of a resolved tenant's.
func (k *Kit) siteOrigin(o string) bool {
	if k.origins[o] {
		return true
	}
	_, ok := k.tenantOrigins.Load(o)
	return ok
}
