// Package oauthkit adds "Log in with <provider>" to any net/http server.
//
// A [Kit] gives plain handlers and a middleware that mount on any router
// (http.ServeMux, chi, gorilla/mux):
//
//	kit.LoginHandler("github")     GET: new state + PKCE, pending login saved, 302 to the provider
//	kit.CallbackHandler("github")  GET: checks state, exchanges the code, signs the user in
//	kit.RequireAuth(next)          signed-in users reach next; others are sent to log in (or get 401)
//	kit.RequireRecentAuth(d)(next) as RequireAuth, and a login older than d is stepped up (max_age)
//	kit.LogoutHandler()            POST: optional revocation, session ended, then 303 or the
//	                               provider's end_session_endpoint (RP-initiated logout)
//	kit.PostLogoutHandler()        GET: the provider's redirect back after its logout
//	kit.BackChannelLogoutHandler   POST from the provider: a logout token ends that login's sessions
//	kit.FrontChannelLogoutHandler  GET in the provider's iframe: the same, by iss and sid
//
// [Kit.User] gives the signed-in user, behind RequireAuth or not, and
// [Kit.Token] a valid provider access token, refreshed when needed;
// [Kit.TokenFor] gives one by user id, outside any request (with a
// [TokenStore]). [Kit.LogoutEverywhere] ends every session of a user.
//
// Everything lives in a server-side session managed by
// github.com/alexedwards/scs/v2, so every handler must run inside the
// session manager's LoadAndSave middleware; outside it they answer 500 with
// [ErrNoSession]. Any scs store and any scs codec work: the kit stores only
// strings. The protocol work is done by package
// github.com/oauthkit/oauthkit/client.
//
// # Security
//
// A 256-bit state and a PKCE S256 verifier are created for every login and
// kept server-side, keyed by state, at most MaxPending per session, each
// valid for PendingTTL and consumed before the code is exchanged. A pending
// login records its provider, so a callback on another provider's route is
// refused (mix-up defence); an RFC 9207 iss parameter is checked when the
// provider knows its issuer. The session token is renewed at login and the
// session ended at logout, for good (see [EndedSessions]). Return-to values
// are kept only when they are local paths (see [SafeReturnTo]). Tokens never
// reach the browser.
//
// # Session cookie
//
// The provider redirects back with a cross-site top-level GET, which carries
// only SameSite=Lax (or None) cookies: New refuses SameSite=Strict, and
// SameSite=None or a Domain unless opted in. The cookie must be HttpOnly,
// and Secure whenever a redirect URL is https.
//
// # Dependencies
//
// scs holds the sessions; package client (with go-oidc and go-jose for ID
// and logout tokens, and golang.org/x/oauth2 for token interop) speaks the
// protocol; golang.org/x/sync's singleflight collapses a process's
// concurrent refreshes of one stored grant.
package oauthkit

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/oauthkit/oauthkit/client"
	"golang.org/x/sync/singleflight"
)

// Defaults used when the Config field is zero.
const (
	DefaultPendingTTL      = 10 * time.Minute
	DefaultMaxPending      = 5
	DefaultProviderTimeout = 10 * time.Second
	DefaultRefreshLease    = 15 * time.Second
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
	// client.GoogleParams{AccessType: "offline"}; nil for none.
	AuthParams client.Params
	// LoginParams names the authorization parameters LoginHandler forwards
	// from its own query, each checked against its grammar: any of prompt,
	// login_hint, max_age, acr_values, ui_locales, hd and domain_hint. A
	// forwarded value replaces the AuthParams one; every other query
	// parameter is dropped, and a listed one with a bad value is
	// ErrInvalidLoginParam (400).
	LoginParams []string
	// LoginPath is the path this provider's LoginHandler is mounted at,
	// where RequireRecentAuth sends a signed-in user of this provider to
	// log in again (default Config.LoginPath, right with one provider; with
	// several, set it, or the step-up lands on the page of buttons).
	LoginPath string
	// Issuer is compared with the RFC 9207 iss parameter of the callback.
	// Default: the client's Capabilities().Issuer.
	Issuer string
	// RequireIssuer rejects callbacks without iss. It is turned on for
	// clients whose metadata advertises
	// authorization_response_iss_parameter_supported (RFC 9207); set it for
	// others that send iss.
	RequireIssuer bool
	// FormPost makes the callback accept the provider's response_mode=form_post
	// POST (Sign in with Apple) by turning it into a GET of itself (303), on
	// which the SameSite=Lax session cookie is sent. Default: true for
	// clients whose Capabilities report FormPost.
	FormPost bool
	// PostLogoutRedirectURL is where the provider sends the browser back
	// after an RP-initiated logout (mount PostLogoutHandler there), absolute
	// and exactly as registered at the provider. Empty, the provider keeps
	// the browser on its own signed-out page.
	PostLogoutRedirectURL string
	// LocalLogout makes LogoutHandler end only the application's session,
	// even when the provider advertises an end_session_endpoint; by default
	// the provider's session ends too (RP-Initiated Logout).
	LocalLogout bool
	// LoginPolicies must all pass for a login with this provider, after
	// Config.LoginPolicies (see LoginPolicy): the place for policies that
	// read one provider's claims or API, such as GoogleHostedDomain,
	// EntraTenant and GitHubOrganization.
	LoginPolicies []LoginPolicy
}

// Config configures a Kit. Sessions and at least one Provider are required.
type Config struct {
	// Sessions is the session manager every handler runs inside (its
	// LoadAndSave); New guards its Store (see EndedSessions).
	Sessions *scs.SessionManager
	// Providers are the login options; their client names are the names
	// the handlers take.
	Providers []Provider
	// Resolvers supply providers per request, for a provider per tenant
	// (see ProviderResolver); their names are the names the handlers take.
	Resolvers []ProviderResolver

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

	// LoginPolicies must all pass for every login, before the provider's
	// own Provider.LoginPolicies and before OnLogin, which never sees a
	// refused user; a refusal is ErrPolicyDenied (see LoginPolicy).
	LoginPolicies []LoginPolicy
	// OnLogin runs after the provider identity is established and the
	// login policies passed, before the user is signed in. It may fill
	// u.UserID (the application's own id) or other fields, or return an
	// error to refuse the login (the error is wrapped in ErrLoginRefused).
	OnLogin func(ctx context.Context, u *User) error
	// OnTokenRefresh observes every refreshed provider token.
	OnTokenRefresh func(ctx context.Context, u *User, t *client.Token)
	// RevokeOnLogout revokes the provider token at logout: the refresh token
	// if there is one, the access token otherwise or when the provider can
	// revoke only access tokens (Kakao, Naver). A failure is logged and never
	// blocks the local logout.
	RevokeOnLogout bool

	// StateClaimer makes states single-use across concurrent callbacks; the
	// default works within one process (see StateClaimer). A configured one
	// is taken to be shared by every instance sharing the session store: its
	// claim is then what stops a replay on another instance, so the callback
	// does not also save the consumed state before the code exchange (one
	// store round trip fewer per login).
	StateClaimer StateClaimer
	// EndedSessions records the session tokens ended by logout and login, so
	// a request that loaded a session before it ended cannot write it back;
	// the default works within one process (see EndedSessions). Instances
	// sharing a session store must share it too.
	EndedSessions EndedSessions
	// SessionIndex finds the sessions of a provider session, a provider
	// subject or a user, for back-channel and front-channel logout and
	// LogoutEverywhere; the default works within one process (see
	// SessionIndex). Instances sharing a session store must share it too.
	SessionIndex SessionIndex
	// TokenStore keeps each user's current provider grant by user id, for
	// Kit.TokenFor and for refreshes shared by every instance (see
	// TokenStore). Nil keeps tokens in the session only, refreshed once per
	// process.
	TokenStore TokenStore
	// RefreshLocks serialise refreshes of one grant across instances
	// sharing TokenStore (see RefreshLocks); the default works within one
	// process. Used only with a TokenStore.
	RefreshLocks RefreshLocks
	// TokenKeys encrypt the provider tokens stored in sessions and in the
	// TokenStore (see TokenKeys); nil stores them as JSON in the clear.
	TokenKeys *TokenKeys
	// RefreshLease is how long a refresh lock is held before it must be
	// renewed (15 s); the kit renews it while the provider answers.
	RefreshLease time.Duration

	// AllowSameSiteNone accepts a session cookie with SameSite=None, which
	// browsers send on cross-site requests of every kind. Leave it off unless
	// the site is embedded cross-site and has its own CSRF defences.
	AllowSameSiteNone bool
	// AllowCookieDomain accepts a session cookie with a Domain, which every
	// subdomain then receives (and can set): one compromised or
	// user-controlled subdomain can read or fix the session.
	AllowCookieDomain bool

	// ErrorHandler renders failures; the default shows a short, safe page
	// with HTTPStatus(err). It receives the full error.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives one record per failure, without secrets or query
	// strings (default: slog.Default(), as net/http logs to the standard
	// logger). Use slog.New(slog.DiscardHandler) to silence it.
	Logger *slog.Logger
	// Observer is told of every login, callback, code exchange, user API
	// call, refresh and revocation, for tracing and metrics (package
	// otelkit is an OpenTelemetry one); nil observes nothing, at no cost.
	Observer Observer
	// Now is the clock (default time.Now); tests inject one. It is the only
	// clock to set: the kit stamps provider token expiry (from expires_in)
	// by it too, whatever clock the client has.
	Now func() time.Time
}

// Kit is a configured set of login handlers. It is safe for concurrent use.
type Kit struct {
	cfg       Config
	sm        *scs.SessionManager
	providers map[string]*providerState
	claimer   StateClaimer
	// claimsShared: Config.StateClaimer was set (see its doc), so the
	// callback skips its commit before the code exchange.
	claimsShared bool
	refreshes    refreshGroup
	cop          *http.CrossOriginProtection
	store        *guardedStore
	index        SessionIndex
	tokens       TokenStore         // nil: tokens live in the session only
	locks        RefreshLocks       // with tokens
	flights      singleflight.Group // one refresh per stored grant in this process (grant.go)
	users        userCache          // decoded session users (usercache.go)
	origins      map[string]bool    // scheme://host of the redirect URLs: the site
	resolvers    map[string]*resolverState
	// tenantOrigins are the origins of resolved tenants' redirect URLs,
	// also the site's.
	tenantOrigins sync.Map
	stats         stats
}

type providerState struct {
	Provider
	name  string
	nonce bool // the client verifies ID tokens with a nonce
	// binding ties a signed-in session to this provider of this kit: a
	// session made by another kit sharing the session manager, or through a
	// provider since removed, has another (or no) binding.
	binding string
	// pusher pushes the authorization requests (RFC 9126) of a client
	// whose Capabilities say so; nil otherwise.
	pusher client.AuthorizationPusher
	// pendingKey is what a pending login records of the provider it was
	// started with, compared at the callback: the name, and for a
	// resolver's provider also the issuer and client id (mix-up defence
	// across tenants).
	pendingKey string
	origin     string // scheme://host of RedirectURL
	tenant     bool   // a ProviderResolver's provider, named resolver:tenant
	// lazy is the client when it is a client.Resolver: Client and the
	// fields derived from its Capabilities are set on the states live
	// returns, not on this one.
	lazy    client.Resolver
	current *atomic.Pointer[providerState] // lazy: the state of the last resolved client
}

// New validates cfg and returns a Kit. It fails, with an error matching
// ErrInvalidConfig, on configurations that cannot work safely: no providers,
// duplicate names or issuers, provider names with ":" or control characters,
// relative or plain-http (non-loopback) redirect URLs, a SameSite=Strict or
// non-HttpOnly session cookie, a SameSite=None or Domain cookie without the
// matching opt-in, a non-Secure cookie with https redirect URLs, a
// client whose Capabilities report PushedAuthorization but that is no
// client.AuthorizationPusher, or a nil or badly built login policy.
//
// New installs a guard in front of Sessions.Store (see EndedSessions); kits
// sharing one session manager share the guard.
func New(cfg Config) (*Kit, error) {
	if cfg.Sessions == nil {
		return nil, configError("Config.Sessions is required")
	}
	if len(cfg.Providers) == 0 && len(cfg.Resolvers) == 0 {
		return nil, configError("at least one provider or resolver is required")
	}
	setDefaults(&cfg)
	ck := cfg.Sessions.Cookie
	switch {
	case ck.SameSite == http.SameSiteStrictMode:
		return nil, configError("session cookie SameSite=Strict is not sent on the provider's redirect back; use SameSite=Lax")
	case ck.SameSite == http.SameSiteNoneMode && !cfg.AllowSameSiteNone:
		return nil, configError("session cookie SameSite=None is sent on cross-site requests; use SameSite=Lax or set AllowSameSiteNone")
	case ck.Domain != "" && !cfg.AllowCookieDomain:
		return nil, configError("session cookie Domain %q shares the session with every subdomain; leave it empty or set AllowCookieDomain", ck.Domain)
	case !ck.HttpOnly:
		return nil, configError("session cookie must be HttpOnly")
	}
	k := &Kit{
		cfg:       cfg,
		sm:        cfg.Sessions,
		providers: make(map[string]*providerState, len(cfg.Providers)),
		cop:       http.NewCrossOriginProtection(),
		claimer:   cfg.StateClaimer,
		origins:   map[string]bool{},
	}
	k.claimsShared = k.claimer != nil
	if k.claimer == nil {
		k.claimer = &memoryClaims{now: cfg.Now}
	}
	k.index = cfg.SessionIndex
	if k.index == nil {
		k.index = newMemoryIndex()
	}
	if cfg.RefreshLocks != nil && cfg.TokenStore == nil {
		return nil, configError("Config.RefreshLocks needs a Config.TokenStore, where the refreshed grant is shared")
	}
	k.tokens, k.locks = cfg.TokenStore, cfg.RefreshLocks
	if k.tokens != nil && k.locks == nil {
		k.locks = newMemoryLocks()
	}
	if err := checkPolicies("Config.LoginPolicies", cfg.LoginPolicies); err != nil {
		return nil, err
	}
	issuers := map[string]bool{}
	for i, p := range cfg.Providers {
		if p.Client == nil {
			return nil, configError("provider %d has no Client", i)
		}
		name := p.Client.Name()
		if err := checkName(name); err != nil {
			return nil, configError("provider %d: %v", i, err)
		}
		if _, dup := k.providers[name]; dup {
			return nil, configError("two providers are named %q", name)
		}
		ps, err := k.newProviderState(name, p)
		if err != nil {
			return nil, err
		}
		if ps.Issuer != "" {
			if issuers[ps.Issuer] {
				return nil, configError("two providers have issuer %q", ps.Issuer)
			}
			issuers[ps.Issuer] = true
		}
		k.origins[ps.origin] = true
		k.providers[name] = ps
	}
	if err := k.addResolvers(cfg.Resolvers); err != nil {
		return nil, err
	}
	store, err := guardStore(cfg.Sessions, cfg.EndedSessions)
	if err != nil {
		return nil, configError("%v", err)
	}
	k.store = store
	for o := range k.origins {
		// Same-site by configuration: the check below already compared the
		// Origin with the redirect URLs, not with the request's Host.
		if err := k.cop.AddTrustedOrigin(o); err != nil {
			return nil, configError("redirect URL origin %q: %v", o, err)
		}
	}
	k.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.fail(w, r, "", ErrCrossOrigin)
	}))
	return k, nil
}

// checkName refuses provider and resolver names that would make the
// default UserID ambiguous or break logs: ":" is refused so that
// name + ":" + id is unambiguous (("openid:x", "1") cannot pose as
// ("openid", "x:1")), and a resolver's providers are named name:tenant.
func checkName(name string) error {
	if name == "" || strings.ContainsFunc(name, isControl) || strings.Contains(name, ":") {
		return fmt.Errorf("name %q is empty or has ':' or control characters", name)
	}
	return nil
}

// newProviderState validates p, named name, and derives how the kit runs
// its flow. A client that is a client.Resolver is not asked for its
// Capabilities here: they are known after its first Resolve (see live).
func (k *Kit) newProviderState(name string, p Provider) (*providerState, error) {
	ck := k.cfg.Sessions.Cookie
	secure, origin, err := checkRedirectURL(p.RedirectURL)
	if err != nil {
		return nil, configError("provider %q: %v", name, err)
	}
	if secure && !ck.Secure {
		return nil, configError("provider %q has an https redirect URL but the session cookie is not Secure", name)
	}
	if err := checkLoginParams(p.LoginParams); err != nil {
		return nil, configError("provider %q: %v", name, err)
	}
	if _, ok := SafeReturnTo(p.LoginPath); p.LoginPath != "" && !ok {
		return nil, configError("provider %q: LoginPath %q is not a local path", name, p.LoginPath)
	}
	if err := checkPolicies(fmt.Sprintf("provider %q", name), p.LoginPolicies); err != nil {
		return nil, err
	}
	if p.PostLogoutRedirectURL != "" {
		if _, _, err := checkRedirectURL(p.PostLogoutRedirectURL); err != nil {
			return nil, configError("provider %q: post-logout %v", name, err)
		}
	}
	ps := &providerState{Provider: p, name: name, binding: name + " " + p.RedirectURL, pendingKey: name, origin: origin}
	if r, ok := p.Client.(client.Resolver); ok {
		ps.lazy, ps.current = r, new(atomic.Pointer[providerState])
		return ps, nil
	}
	if err := ps.useClient(p.Client); err != nil {
		return nil, err
	}
	return ps, nil
}

// useClient derives from c's Capabilities what the flow needs: the issuer
// to check, whether iss is required, form_post, the nonce and pushing.
func (ps *providerState) useClient(c client.Provider) error {
	caps := c.Capabilities()
	ps.Client = c
	if ps.Issuer == "" {
		ps.Issuer = caps.Issuer
	}
	if caps.IssParameter {
		// RFC 9207 §2.4: a client that knows the server sends iss must
		// refuse a response without it.
		ps.RequireIssuer = true
	}
	if ps.RequireIssuer && ps.Issuer == "" {
		return configError("provider %q requires iss but has no issuer", ps.name)
	}
	if caps.FormPost {
		ps.FormPost = true
	}
	ps.nonce = caps.Nonce
	var err error
	if ps.pusher, err = pusherOf(c, caps); err != nil {
		return configError("provider %q: %v", ps.name, err)
	}
	return nil
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
	if cfg.RefreshLease <= 0 {
		cfg.RefreshLease = DefaultRefreshLease
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

// checkRedirectURL requires an absolute URL, https unless the host is
// loopback (RFC 8252 §7.3 / OAuth 2.1), and reports whether it is https and
// its origin (scheme://host[:port]).
func checkRedirectURL(raw string) (secure bool, origin string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" {
		return false, "", fmt.Errorf("redirect URL %q must be absolute, without fragment", raw)
	}
	origin = u.Scheme + "://" + u.Host
	switch u.Scheme {
	case "https":
		return true, origin, nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			return false, origin, nil
		}
		return false, "", fmt.Errorf("redirect URL %q must be https (http only on loopback)", raw)
	}
	return false, "", fmt.Errorf("redirect URL %q must be http(s)", raw)
}

// Providers returns the configured providers' names and display names, in
// configuration order and then the resolvers', for rendering login buttons.
func (k *Kit) Providers() []ProviderInfo {
	out := make([]ProviderInfo, 0, len(k.cfg.Providers))
	for _, cp := range k.cfg.Providers {
		p := k.providers[cp.Client.Name()]
		_, lo := p.Client.(client.Logout)
		out = append(out, ProviderInfo{Name: p.name, DisplayName: p.Client.DisplayName(),
			LogoutNotifications: lo && p.Issuer != ""})
	}
	for _, r := range k.cfg.Resolvers {
		out = append(out, ProviderInfo{Name: r.Name, DisplayName: k.resolvers[r.Name].DisplayName, Resolver: true})
	}
	return out
}

// ProviderInfo names a provider for templates.
type ProviderInfo struct {
	// Name is the client's name, the one LoginHandler and CallbackHandler take.
	Name string
	// DisplayName is the label for the login button.
	DisplayName string
	// LogoutNotifications reports that BackChannelLogoutHandler and
	// FrontChannelLogoutHandler can serve this provider (an OpenID Connect
	// client with an issuer), so a loop over Providers can mount them. A
	// client discovered on first use (a client.Resolver such as
	// client.Lazy) is not known to be one before its first request, so it
	// reports false; its handlers, mounted by name, check at each request.
	LogoutNotifications bool
	// Resolver reports a ProviderResolver: its handlers serve the tenant
	// each request names, so its login link belongs on a tenant's pages.
	Resolver bool
}
