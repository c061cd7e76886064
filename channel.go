package oauthkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"

	"github.com/oauthkit/oauthkit/client"
)

// maxLogoutBody bounds a back-channel logout request body; a logout token
// is a few KiB at most.
const maxLogoutBody = 64 << 10

// BackChannelLogoutHandler is the named provider's backchannel_logout_uri
// (OpenID Connect Back-Channel Logout 1.0): the provider POSTs a signed
// logout_token, form-encoded, server to server, when a user logged out
// there. The token is verified by the client (signature by the issuer's
// keys, iss, aud, iat, exp, jti, the back-channel event, sub or sid, and no
// nonce; see client.Logout), a jti seen before is refused, and then every
// session of that provider session (sid), or of that user at the provider
// when the token names no sid, ends on every instance sharing the
// SessionIndex, session store and EndedSessions.
//
// It answers 200 when the token was valid, whether or not a session was
// still live (the spec's success: nothing of that login is left), 400 with
// a JSON error for a bad token (ErrLogoutToken, ErrLogoutReplay; nothing is
// ended), 405 for other methods, and 500 when a store fails (ErrSession):
// the jti is then not recorded, so the provider's retry ends the rest. It
// needs no session and no cookie, so it may be mounted outside LoadAndSave.
//
// It panics when the kit has no such provider, or when the provider's
// client cannot verify logout tokens or has no issuer.
func (k *Kit) BackChannelLogoutHandler(provider string) http.Handler {
	p := k.mustProvider("BackChannelLogoutHandler", provider)
	if _, ok := p.Client.(client.Logout); p.lazy == nil && (!ok || p.Issuer == "") {
		panic(fmt.Sprintf("oauthkit: BackChannelLogoutHandler(%q): the provider is not an OpenID Connect provider with an issuer", provider))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			k.logoutError(w, r, provider, ErrMethodNotAllowed)
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
			k.logoutError(w, r, provider, wrap(ErrLogoutToken, errors.New("body is not application/x-www-form-urlencoded")))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxLogoutBody)
		if err := r.ParseForm(); err != nil {
			k.logoutError(w, r, provider, wrap(ErrLogoutToken, errors.New("malformed or oversized body")))
			return
		}
		raws := r.PostForm["logout_token"]
		if len(raws) != 1 || raws[0] == "" {
			k.logoutError(w, r, provider, wrap(ErrLogoutToken, errors.New("exactly one logout_token is required")))
			return
		}
		ctx := r.Context()
		pctx, cancel := context.WithTimeout(ctx, k.cfg.ProviderTimeout)
		defer cancel()
		p, err := k.live(pctx, p)
		if err != nil {
			k.logoutError(w, r, provider, err)
			return
		}
		// Static clients were checked above; a discovered one only now.
		lo, ok := p.Client.(client.Logout)
		if !ok || p.Issuer == "" {
			k.logoutError(w, r, provider, wrap(ErrLogoutToken, errors.New("the provider cannot verify logout tokens")))
			return
		}
		lt, err := lo.VerifyLogoutToken(pctx, raws[0])
		if err != nil {
			k.logoutError(w, r, provider, wrap(ErrLogoutToken, err))
			return
		}
		if lt.Issuer != p.Issuer {
			k.logoutError(w, r, provider, wrap(ErrLogoutToken, client.ErrIDTokenIssuer))
			return
		}
		// The jti is recorded like an ended session token, in the record
		// every instance shares; the key cannot be a session token (spaces).
		jti := "logout-jti " + lt.Issuer + " " + lt.ID
		replayed, err := k.store.shared.Ended(ctx, jti)
		if err != nil {
			k.logoutError(w, r, provider, wrap(ErrSession, err))
			return
		}
		if replayed {
			k.logoutError(w, r, provider, ErrLogoutReplay)
			return
		}
		// A token with a sid ends that provider session only, even when it
		// names the subject too (§2.4): the user's other sessions stay.
		key := indexKey(indexSub, lt.Issuer, lt.Subject)
		if lt.SessionID != "" {
			key = indexKey(indexSID, lt.Issuer, lt.SessionID)
		}
		n, err := k.endIndexed(ctx, key)
		if err == nil {
			// Recorded only once every session ended, so a retry after a
			// store failure is not refused as a replay.
			err = k.store.end(ctx, jti)
		}
		if err != nil {
			k.logoutError(w, r, provider, wrap(ErrSession, err))
			return
		}
		k.cfg.Logger.InfoContext(ctx, "oauthkit: back-channel logout", "provider", provider, "sessions_ended", n)
		w.WriteHeader(http.StatusOK)
	})
}

// logoutError logs err and answers with its status and an OAuth-style JSON
// error (Back-Channel Logout 1.0 §2.8) whose description names the failed
// check, never the token.
func (k *Kit) logoutError(w http.ResponseWriter, r *http.Request, provider string, err error) {
	status := k.logFailure(r, "oauthkit: logout notification refused", provider, err)
	code := "invalid_request"
	if status >= 500 {
		code = "server_error"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": logoutDescription(err)})
}

// logoutDescription names the check err failed, in words of our own: the
// error's text may quote claims of an unverified token.
func logoutDescription(err error) string {
	for _, d := range []struct {
		err  error
		text string
	}{
		{ErrMethodNotAllowed, "POST only"},
		{ErrLogoutReplay, "logout token already processed (jti)"},
		{ErrSession, "the session store failed; retry"},
		{client.ErrLogoutTokenClaims, "logout token claims are invalid"},
		{client.ErrIDTokenIssuer, "logout token issued by another issuer"},
		{client.ErrIDTokenAudience, "logout token issued for another client"},
		{client.ErrIDTokenExpired, "logout token expired or not yet valid"},
		{client.ErrIDTokenSignature, "logout token signature cannot be verified"},
	} {
		if errors.Is(err, d.err) {
			return d.text
		}
	}
	return "a form-encoded body with one logout_token is required"
}

// FrontChannelLogoutHandler is the named provider's frontchannel_logout_uri
// (OpenID Connect Front-Channel Logout 1.0): GET only, loaded by the
// provider's logout page in a hidden iframe. With iss and sid (the
// provider's frontchannel_logout_session_required), iss must be the
// provider's issuer and every session of that provider session ends, on
// every instance; without either, the session of the request itself ends
// if this provider signed it in (a cross-site iframe carries the session
// cookie only when it is SameSite=None, so prefer iss and sid).
//
// The response may be framed by the provider's origin only
// (Content-Security-Policy frame-ancestors) and is never cached. Errors:
// 405, 400 for a partial or foreign iss/sid (ErrIssuerMismatch,
// ErrInvalidCallback), 500 for a store failure (ErrSession); nothing is
// ended on any of them.
//
// It panics when the kit has no such provider, or the provider has no issuer.
func (k *Kit) FrontChannelLogoutHandler(provider string) http.Handler {
	p := k.mustProvider("FrontChannelLogoutHandler", provider)
	frame, ok := frameAncestors(p.Issuer)
	if !ok && p.lazy == nil {
		panic(fmt.Sprintf("oauthkit: FrontChannelLogoutHandler(%q): the provider has no issuer", provider))
	}
	static, staticFrame := p, frame
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, frame := static, staticFrame
		if p.lazy != nil {
			// A discovered client's issuer is known once it resolves.
			lp, err := k.live(r.Context(), p)
			if err != nil {
				k.fail(w, r, provider, err)
				return
			}
			f, ok := frameAncestors(lp.Issuer)
			if !ok {
				k.fail(w, r, provider, wrap(ErrInvalidCallback, errors.New("the provider has no issuer")))
				return
			}
			p, frame = lp, f
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache, no-store")
		h.Set("Content-Security-Policy", frame)
		h.Del("X-Frame-Options") // superseded by frame-ancestors; a DENY set earlier would block the provider
		if r.Method != http.MethodGet {
			h.Set("Allow", http.MethodGet)
			k.fail(w, r, provider, ErrMethodNotAllowed)
			return
		}
		if len(r.URL.RawQuery) > maxQueryLen {
			k.fail(w, r, provider, wrap(ErrInvalidCallback, errors.New("query too long")))
			return
		}
		q := r.URL.Query()
		iss, sid := q.Get("iss"), q.Get("sid")
		ctx := r.Context()
		switch {
		case iss != "" && sid != "":
			if iss != p.Issuer {
				k.fail(w, r, provider, ErrIssuerMismatch)
				return
			}
			if _, err := k.endIndexed(ctx, indexKey(indexSID, iss, sid)); err != nil {
				k.fail(w, r, provider, wrap(ErrSession, err))
				return
			}
		case iss != "" || sid != "":
			k.fail(w, r, provider, wrap(ErrInvalidCallback, errors.New("iss and sid come together")))
			return
		default:
			if _, sp, err := k.signedIn(ctx); err == nil && sp.name == p.name {
				if _, err := k.endSession(ctx, k.sm.Token(ctx)); err != nil {
					k.fail(w, r, provider, wrap(ErrSession, err))
					return
				}
			}
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>Signed out</title>\n"))
	})
}

// frameAncestors is the CSP directive that lets only issuer's origin frame
// the front-channel logout page.
func frameAncestors(issuer string) (string, bool) {
	iu, err := url.Parse(issuer)
	if issuer == "" || err != nil || iu.Host == "" {
		return "", false
	}
	return "frame-ancestors " + iu.Scheme + "://" + iu.Host, true
}
