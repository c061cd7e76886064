// Package oauthkit adds "Log in with <provider>" to any net/http server.
//
// A Kit gives three plain handlers and a middleware that mount on any router
// (http.ServeMux, chi, gorilla/mux):
//
//	kit.LoginHandler("github")     GET: new state + PKCE, pending login saved, 302 to the provider
//	kit.CallbackHandler("github")  GET: checks state, exchanges the code, signs the user in
//	kit.RequireAuth(next)          signed-in users reach next; others are sent to log in (or get 401)
//	kit.LogoutHandler()            POST: optional revocation, session destroyed, 303
//
// The signed-in user is read with UserFrom(ctx) or UserFromRequest(r), and a
// valid provider access token (refreshed when needed) with Kit.Token.
//
// Everything lives in a server-side session managed by
// github.com/alexedwards/scs/v2, so every handler must run inside the
// session manager's LoadAndSave middleware; any scs store works. The kit
// stores Go values in the session and registers their types with
// encoding/gob, which is scs's default codec: a custom codec must round-trip
// Go types the same way.
//
// # Security
//
// State (128 bits) and a PKCE S256 verifier are created for every login and
// kept server-side, keyed by state, at most MaxPending per session, each
// valid for PendingTTL and consumed before the code is exchanged. A pending
// login records its provider, so a callback on another provider's route is
// refused (mix-up defence); an RFC 9207 iss parameter is checked when the
// provider knows its issuer. The session token is renewed at login and the
// session destroyed at logout. Return-to values are kept only when they are
// local paths (see SafeReturnTo). Tokens never reach the browser.
//
// # Session cookie
//
// The provider redirects back with a cross-site top-level GET, which carries
// only SameSite=Lax (or None) cookies: New refuses SameSite=Strict. The
// cookie must be HttpOnly, and Secure whenever a redirect URL is https.
package oauthkit

import (
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/oauthkit/oauthkit/client"
)

// Defaults used when the Config field is zero.
const (
	DefaultPendingTTL      = 10 * time.Minute
	DefaultMaxPending      = 5
	DefaultProviderTimeout = 10 * time.Second
)

// Provider is one login option of a Kit.
type Provider struct {
	// Client does the protocol work; any client of package client works.
	Client client.Provider
	// RedirectURL is the absolute URL of this provider's callback route,
	// exactly as registered at the provider. It is never derived from the
	// request (Host headers are attacker-controlled). https is required
	// except on loopback.
	RedirectURL string
	// Scopes replaces the client's default scopes when non-nil.
	Scopes []string
	// AuthParams are extra authorization parameters, for example
	// client.GoogleParams{AccessType: "offline"}.AuthParams().
	AuthParams url.Values
	// Issuer is compared with the RFC 9207 iss parameter of the callback.
	// Default: the client's Issuer() when it has one.
	Issuer string
	// RequireIssuer rejects callbacks without iss (set it when the provider
	// advertises authorization_response_iss_parameter_supported).
	RequireIssuer bool
	// FormPost makes the callback accept the provider's response_mode=form_post
	// POST (Sign in with Apple) by turning it into a GET of itself (303), on
	// which the SameSite=Lax session cookie is sent. Default: true for
	// clients that report UsesFormPost.
	FormPost bool
}

// Config configures a Kit. Sessions and at least one Provider are required.
type Config struct {
	Sessions  *scs.SessionManager
	Providers []Provider

	// AfterLoginPath is where a login without a valid return-to lands ("/").
	AfterLoginPath string
	// AfterLogoutPath is where LogoutHandler sends the user ("/").
	AfterLogoutPath string
	// LoginPath is where RequireAuth sends anonymous page requests, with the
	// requested path in the "next" parameter ("/login"). With one provider it
	// can be that provider's login route; with several, a page of buttons.
	LoginPath string

	// PendingTTL bounds how long a started login may take (10 min).
	PendingTTL time.Duration
	// MaxPending is how many logins (tabs) may be pending in one session (5);
	// the oldest is evicted beyond it.
	MaxPending int
	// ProviderTimeout bounds each call to a provider (10 s).
	ProviderTimeout time.Duration

	// OnLogin runs after the provider identity is established and before the
	// user is signed in. It may fill u.UserID (the application's own id) or
	// other fields, or return an error to refuse the login (the error is
	// wrapped in ErrLoginRefused).
	OnLogin func(ctx context.Context, u *User) error
	// OnTokenRefresh observes every refreshed provider token.
	OnTokenRefresh func(ctx context.Context, u *User, t *client.Token)
	// RevokeOnLogout revokes the provider token at logout: the refresh token
	// if there is one, the access token otherwise or when the provider can
	// revoke only access tokens (Kakao, Naver). A failure is logged and never
	// blocks the local logout.
	RevokeOnLogout bool

	// StateClaimer makes states single-use across concurrent callbacks; the
	// default works within one process (see StateClaimer).
	StateClaimer StateClaimer

	// ErrorHandler renders failures; the default shows a short, safe page
	// with HTTPStatus(err). It receives the full error.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives one record per failure (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests inject one. Token expiry is
	// stamped by the client's clock (client.WithClock): inject the same one.
	Now func() time.Time
}

// Kit is a configured set of login handlers. It is safe for concurrent use.
type Kit struct {
	cfg       Config
	sm        *scs.SessionManager
	providers map[string]*providerState
	claimer   StateClaimer
	refreshes refreshGroup
	cop       *http.CrossOriginProtection
}

type providerState struct {
	Provider
	name  string
	nonce bool // the client verifies ID tokens with a nonce
}

// New validates cfg and returns a Kit. It fails on configurations that
// cannot work safely: no providers, duplicate names or issuers, relative or
// plain-http (non-loopback) redirect URLs, a SameSite=Strict or non-HttpOnly
// session cookie, or a non-Secure cookie with https redirect URLs.
func New(cfg Config) (*Kit, error) {
	if cfg.Sessions == nil {
		return nil, fmt.Errorf("oauthkit: Config.Sessions is required")
	}
	if len(cfg.Providers) == 0 {
		return nil, fmt.Errorf("oauthkit: at least one provider is required")
	}
	setDefaults(&cfg)
	ck := cfg.Sessions.Cookie
	if ck.SameSite == http.SameSiteStrictMode {
		return nil, fmt.Errorf("oauthkit: session cookie SameSite=Strict is not sent on the provider's redirect back; use SameSite=Lax")
	}
	if !ck.HttpOnly {
		return nil, fmt.Errorf("oauthkit: session cookie must be HttpOnly")
	}
	k := &Kit{
		cfg:       cfg,
		sm:        cfg.Sessions,
		providers: make(map[string]*providerState, len(cfg.Providers)),
		cop:       http.NewCrossOriginProtection(),
		claimer:   cfg.StateClaimer,
	}
	if k.claimer == nil {
		k.claimer = &memoryClaims{now: cfg.Now}
	}
	issuers := map[string]bool{}
	for i, p := range cfg.Providers {
		if p.Client == nil {
			return nil, fmt.Errorf("oauthkit: provider %d has no Client", i)
		}
		name := p.Client.Name()
		if name == "" || strings.ContainsFunc(name, isControl) {
			return nil, fmt.Errorf("oauthkit: provider %d has an empty name or one with control characters", i)
		}
		if _, dup := k.providers[name]; dup {
			return nil, fmt.Errorf("oauthkit: two providers are named %q", name)
		}
		secure, err := checkRedirectURL(p.RedirectURL)
		if err != nil {
			return nil, fmt.Errorf("oauthkit: provider %q: %w", name, err)
		}
		if secure && !ck.Secure {
			return nil, fmt.Errorf("oauthkit: provider %q has an https redirect URL but the session cookie is not Secure", name)
		}
		if p.Issuer == "" {
			if ip, ok := p.Client.(client.IssuerProvider); ok {
				p.Issuer = ip.Issuer()
			}
		}
		if p.Issuer != "" {
			if issuers[p.Issuer] {
				return nil, fmt.Errorf("oauthkit: two providers have issuer %q", p.Issuer)
			}
			issuers[p.Issuer] = true
		}
		if p.RequireIssuer && p.Issuer == "" {
			return nil, fmt.Errorf("oauthkit: provider %q requires iss but has no issuer", name)
		}
		if fp, ok := p.Client.(interface{ UsesFormPost() bool }); ok && fp.UsesFormPost() {
			p.FormPost = true
		}
		ps := &providerState{Provider: p, name: name}
		if v, ok := p.Client.(client.IDTokenVerifier); ok {
			ps.nonce = v.UsesNonce()
		}
		k.providers[name] = ps
	}
	k.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.fail(w, r, "", ErrCrossOrigin)
	}))
	registerGobTypes()
	return k, nil
}

func setDefaults(cfg *Config) {
	if cfg.AfterLoginPath == "" {
		cfg.AfterLoginPath = "/"
	}
	if cfg.AfterLogoutPath == "" {
		cfg.AfterLogoutPath = "/"
	}
	if cfg.LoginPath == "" {
		cfg.LoginPath = "/login"
	}
	if cfg.PendingTTL <= 0 {
		cfg.PendingTTL = DefaultPendingTTL
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.ProviderTimeout <= 0 {
		cfg.ProviderTimeout = DefaultProviderTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

// checkRedirectURL requires an absolute URL, https unless the host is
// loopback (RFC 8252 §7.3 / OAuth 2.1), and reports whether it is https.
func checkRedirectURL(raw string) (bool, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" {
		return false, fmt.Errorf("redirect URL %q must be absolute, without fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return true, nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			return false, nil
		}
		return false, fmt.Errorf("redirect URL %q must be https (http only on loopback)", raw)
	}
	return false, fmt.Errorf("redirect URL %q must be http(s)", raw)
}

// registerGobTypes tells encoding/gob (scs's default codec) about the values
// the kit stores. gob's registry is process-wide by design; registering the
// same types again is harmless.
func registerGobTypes() {
	gob.Register(&User{})
}

// Providers returns the configured providers' names and display names, in
// configuration order, for rendering login buttons.
func (k *Kit) Providers() []ProviderInfo {
	out := make([]ProviderInfo, 0, len(k.cfg.Providers))
	for _, p := range k.cfg.Providers {
		out = append(out, ProviderInfo{Name: p.Client.Name(), DisplayName: p.Client.DisplayName()})
	}
	return out
}

// ProviderInfo names a provider for templates.
type ProviderInfo struct {
	Name        string
	DisplayName string
}
