package oauthkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/oauthkit/oauthkit/client"
)

// maxQueryLen bounds the callback query, checked before any session
// lookup; client.ParseAuthorizationResponse bounds state and code.
const maxQueryLen = 16 << 10

// LoginHandler starts a login with the named provider: GET only. It creates a
// state, a PKCE verifier (and a nonce for OpenID Connect clients), saves them
// as a pending login with the "next" return-to (kept only if SafeReturnTo
// accepts it), commits the session, and redirects (302) to the provider.
// A login that sends max_age or acr_values (configured in AuthParams,
// forwarded through LoginParams, or a RequireRecentAuth step-up) has them
// recorded, and its callback verifies the ID token against them (see
// ErrStepUpFailed).
// For a client whose Capabilities report PushedAuthorization, the
// authorization parameters are pushed to the provider first (RFC 9126) and
// the redirect carries only the request_uri; a failed push is an error
// page (ErrPushAuthorization), never a redirect.
//
// It panics when the kit has no such provider, as http.ServeMux does on a
// bad pattern: a route that could only ever answer 404 is a configuration
// mistake to find at start-up.
func (k *Kit) LoginHandler(provider string) http.Handler {
	rt := k.mustRoute("LoginHandler", provider)
	return k.observed(OpLogin, provider, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		status, loaded := k.sessionStatus(r.Context())
		if !loaded {
			k.fail(w, r, provider, ErrNoSession)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			k.fail(w, r, provider, ErrMethodNotAllowed)
			return
		}
		if len(r.URL.RawQuery) > maxQueryLen {
			k.fail(w, r, provider, wrap(ErrInvalidLoginParam, errors.New("query too long")))
			return
		}
		p, err := k.provider(r, rt)
		if err != nil {
			k.fail(w, r, provider, err)
			return
		}
		params, returnTo, err := p.loginQuery(r.URL.RawQuery)
		if err == nil {
			params, err = stepUpParams(params, r.URL.RawQuery)
		}
		if err != nil {
			k.fail(w, r, provider, err)
			return
		}
		now := k.cfg.Now()
		pl := newPendingLogin(p.pendingKey, p.nonce, returnTo, now)
		pl.MaxAge, pl.ACR = requested(params)
		authURL, err := k.authorizationURL(r.Context(), p, client.AuthURLOptions{
			State:               pl.State,
			Scopes:              p.Scopes,
			CodeChallenge:       client.S256Challenge(pl.Verifier),
			CodeChallengeMethod: "S256",
			Nonce:               pl.Nonce,
		}, params)
		if err != nil {
			k.fail(w, r, provider, err)
			return
		}
		// Saved before any Location is set, so a failing store means an
		// error page, never a trip to the provider that can only end in
		// "no pending login".
		if err := k.savePending(r.Context(), w, status, pl); err != nil {
			k.fail(w, r, provider, wrap(ErrSession, err))
			return
		}
		// http.Redirect without its HTML body: browsers follow a 302 from
		// the header alone, and the body would cost an escaped copy of the
		// URL on every login.
		w.Header().Set("Location", authURL)
		w.WriteHeader(http.StatusFound)
	}))
}

// CallbackHandler completes a login with the named provider: GET only. It
// validates the callback before anything else (state present, sane, pending
// in this session for this provider, not expired), consumes the pending
// login (saving the session before the code exchange unless
// Config.StateClaimer is set, see there), then handles provider errors,
// checks iss, exchanges the code with the PKCE verifier, reads the
// identity, runs the login policies and OnLogin, renews the session token,
// stores the user and tokens, and redirects (302) to the return-to.
//
// Like LoginHandler, it panics when the kit has no such provider.
func (k *Kit) CallbackHandler(provider string) http.Handler {
	rt := k.mustRoute("CallbackHandler", provider)
	return k.observed(OpCallback, provider, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		w.Header().Set("Referrer-Policy", "no-referrer")
		if !k.hasSession(r.Context()) {
			k.fail(w, r, provider, ErrNoSession)
			return
		}
		// Resolved before the pending login is read, so a provider that
		// is unavailable leaves the login in flight for a retry.
		p, err := k.provider(r, rt)
		if err != nil {
			k.fail(w, r, provider, err)
			return
		}
		if r.Method == http.MethodPost && p.FormPost {
			k.formPostToGet(w, r, p)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			k.fail(w, r, provider, ErrMethodNotAllowed)
			return
		}
		dest, err := k.callback(r.Context(), p, r.URL.RawQuery)
		if err != nil {
			k.fail(w, r, provider, err)
			return
		}
		found(w, r, dest)
	}))
}

// found answers 302 to dest. An ASCII path from the site's root, which the
// return-to and the default AfterLoginPath are, goes out as it is, without
// http.Redirect's HTML body (a link for user agents that do not follow
// redirects, which none in use is): no Content-Type, no body, nothing to
// escape. Anything else (a relative or absolute AfterLoginPath, non-ASCII
// bytes) is http.Redirect's to resolve and escape.
func found(w http.ResponseWriter, r *http.Request, dest string) {
	if dest == "" || dest[0] != '/' || strings.ContainsFunc(dest, func(c rune) bool { return c >= 0x80 }) {
		http.Redirect(w, r, dest, http.StatusFound)
		return
	}
	w.Header().Set("Location", dest)
	w.WriteHeader(http.StatusFound)
}

// formPostParams are the authorization-response parameters carried over
// from a form_post body; anything else in the body is dropped.
var formPostParams = []string{"code", "state", "iss", "error", "error_description", "error_uri"}

// formPostToGet answers a response_mode=form_post callback (Sign in with
// Apple) with a 303 to the same callback as a GET. The provider's cross-site
// POST does not carry a SameSite=Lax session cookie, the top-level GET that
// follows does; all validation then happens on the GET as usual.
func (k *Kit) formPostToGet(w http.ResponseWriter, r *http.Request, p *providerState) {
	r.Body = http.MaxBytesReader(w, r.Body, maxQueryLen)
	if err := r.ParseForm(); err != nil {
		k.fail(w, r, p.name, wrap(ErrInvalidCallback, errors.New("malformed form_post body")))
		return
	}
	q := url.Values{}
	for _, key := range formPostParams {
		if vs, ok := r.PostForm[key]; ok {
			q[key] = vs
		}
	}
	u, _ := url.Parse(p.RedirectURL) // validated by New
	http.Redirect(w, r, u.EscapedPath()+"?"+q.Encode(), http.StatusSeeOther)
}

// callback is the callback logic; it returns where to send the user.
func (k *Kit) callback(ctx context.Context, p *providerState, rawQuery string) (string, error) {
	if len(rawQuery) > maxQueryLen {
		return "", wrap(ErrInvalidCallback, errors.New("query too long"))
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", wrap(ErrInvalidCallback, errors.New("malformed query"))
	}
	// State and code are checked before the state lookup, so an oversized,
	// repeated or malformed code cannot consume the pending login. A bad iss
	// is reported after the lookup, as the iss checks are: the state is well
	// formed then (the client checks it first).
	ar, issErr := client.ParseAuthorizationResponse(q)
	var are *client.AuthorizationResponseError
	if issErr != nil && !(errors.As(issErr, &are) && are.Param == "iss") {
		return "", wrap(ErrInvalidCallback, issErr)
	}
	state := q.Get("state")
	now := k.cfg.Now()
	pl, ok, err := k.takePending(ctx, state)
	if err != nil {
		return "", wrap(ErrSession, err)
	}
	if !ok {
		return "", ErrStateNotFound
	}
	// Without a shared StateClaimer, persist the consumption before talking
	// to the provider, so a replay reaching another instance sharing the
	// store after this point finds no pending login and cannot exchange the
	// code again. A shared claimer has refused such a replay already: the
	// commit would only cost a round trip.
	if !k.claimsShared {
		if _, _, err := k.sm.Commit(ctx); err != nil {
			return "", wrap(ErrSession, err)
		}
	}
	if pl.Provider != p.pendingKey {
		return "", ErrProviderMismatch
	}
	if now.Sub(pl.Created) > k.cfg.PendingTTL {
		return "", ErrStateExpired
	}
	if issErr != nil {
		return "", wrap(ErrInvalidCallback, issErr)
	}
	if err := checkIssuer(p, ar); err != nil {
		return "", err
	}
	if ar.Error != "" {
		if ar.Error == "access_denied" {
			return "", ErrAccessDenied
		}
		return "", &ProviderError{Provider: p.name, Code: ar.Error, Description: ar.ErrorDescription}
	}
	code := ar.Code
	if code == "" {
		return "", ErrMissingCode
	}

	pctx, cancel := context.WithTimeout(ctx, k.cfg.ProviderTimeout)
	defer cancel()
	xctx, end := k.observe(pctx, OpTokenExchange, p.name)
	tok, err := p.Client.AccessToken(xctx, code, p.RedirectURL, pl.Verifier)
	end(err)
	if err != nil {
		return "", wrap(ErrExchange, err)
	}
	k.stampExpiry(tok)
	u, ref, claims, err := k.identify(pctx, p, pl, tok)
	if err != nil {
		return "", err
	}
	u.LoginAt = now
	if err := checkStepUp(pl, claims, now); err != nil {
		return "", err
	}
	if at, ok := authTime(claims); ok {
		u.AuthTime = at
	}
	u.ACR = loginACR(claims)
	if err := k.checkLogin(pctx, p, u, tok, claims); err != nil {
		return "", err
	}
	if k.cfg.OnLogin != nil {
		if err := k.cfg.OnLogin(ctx, u); err != nil {
			return "", wrap(ErrLoginRefused, err)
		}
	}
	if u.UserID == "" {
		// Unambiguous: provider names cannot contain ":" (New).
		u.UserID = u.Provider + ":" + u.ID
	}
	// New session token at every privilege change (session fixation). The
	// old token is recorded as ended before scs deletes it, so a request
	// still holding it cannot write the pre-login session back. The data
	// moves to the new token, so the pending logins of other tabs can still
	// complete; a different user signing in takes none of the previous
	// user's data with them.
	if prev, ok := k.sessionUser(ctx); ok && prev.UserID != u.UserID {
		pending := k.sm.Get(ctx, keyPending)
		if err := k.sm.Clear(ctx); err != nil {
			return "", wrap(ErrSession, err)
		}
		if pending != nil {
			k.sm.Put(ctx, keyPending, pending)
		}
	}
	inSession := tok
	if k.tokens != nil {
		// The grant goes to the TokenStore, its refresh token only there;
		// a store that cannot take it fails the login rather than leave a
		// session whose token can never be refreshed.
		if err := k.saveGrant(ctx, grantKey(u.UserID, p.name), tok); err != nil {
			return "", err
		}
		inSession = sessionCopy(tok)
	}
	if err := k.store.end(ctx, k.sm.Token(ctx)); err != nil {
		return "", wrap(ErrSession, err)
	}
	if err := k.sm.RenewToken(ctx); err != nil {
		return "", wrap(ErrSession, err)
	}
	k.signIn(ctx, p, u, inSession, ref)
	if dest, ok := SafeReturnTo(pl.ReturnTo); ok {
		return dest, nil
	}
	return k.cfg.AfterLoginPath, nil
}

// identify asks the client who signed in: the client verifies the ID token
// with the nonce the kit sent and reads its user API. The loginRef names
// the provider session for the SessionIndex; the claims are the verified ID
// token's, for the login policies.
func (k *Kit) identify(ctx context.Context, p *providerState, pl pendingLogin, tok *client.Token) (*User, loginRef, map[string]any, error) {
	ictx, end := k.observe(ctx, OpUserAPI, p.name)
	id, err := p.Client.Identify(ictx, tok, pl.Nonce)
	end(err)
	if err != nil {
		return nil, loginRef{}, nil, wrap(ErrIdentity, err)
	}
	if id == nil || id.Subject == "" {
		return nil, loginRef{}, nil, wrap(ErrIdentity, client.ErrMissingID)
	}
	ref := loginRef{Issuer: id.Issuer, SID: id.SessionID}
	if ref.Issuer == "" {
		ref.Issuer = p.Issuer
	}
	return &User{
		Provider:      p.name,
		ID:            id.Subject,
		Email:         id.Email,
		EmailVerified: id.EmailVerified,
		Name:          id.Name,
		AvatarURL:     id.AvatarURL,
	}, ref, id.Claims, nil
}

// checkIssuer applies RFC 9207: a present iss must equal the provider's
// issuer exactly; a missing one is refused when the provider requires it.
func checkIssuer(p *providerState, ar *client.AuthorizationResponse) error {
	if !ar.HasIss {
		if p.RequireIssuer {
			return ErrIssuerMismatch
		}
		return nil
	}
	if p.Issuer != "" && ar.Iss != p.Issuer {
		return ErrIssuerMismatch
	}
	return nil
}

// mustRoute returns the named provider or resolver, or panics with a
// message naming the configured ones.
func (k *Kit) mustRoute(handler, name string) route {
	if res, ok := k.resolvers[name]; ok {
		return route{res: res}
	}
	p, ok := k.providers[name]
	if !ok {
		names := make([]string, 0, len(k.providers))
		for _, pi := range k.Providers() {
			names = append(names, pi.Name)
		}
		panic(fmt.Sprintf("oauthkit: %s(%q): no such provider (configured: %s)", handler, name, strings.Join(names, ", ")))
	}
	return route{p: p}
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}

// mustProvider returns the named configured provider (not a resolver) or
// panics, for the handlers a resolver's tenants cannot have.
func (k *Kit) mustProvider(handler, name string) *providerState {
	rt := k.mustRoute(handler, name)
	if rt.p == nil {
		panic(fmt.Sprintf("oauthkit: %s(%q): a resolver's providers are not supported here", handler, name))
	}
	return rt.p
}
