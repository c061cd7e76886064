package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// app is one instance of the example site. Several instances sharing a
// Redis or PostgreSQL session store serve one user interchangeably.
type app struct {
	cfg      Config
	baseURL  string
	logger   *slog.Logger
	now      func() time.Time
	sessions *scs.SessionManager
	kit      *oauthkit.Kit
	// clients by provider name, for the user API page.
	clients map[string]profileClient
	dev     *devProvider // nil unless the embedded provider runs
	store   string       // "memory", "redis" or "postgres"
	// mux holds the session-aware routes (inside LoadAndSave).
	mux     *http.ServeMux
	handler http.Handler
	pages   map[string]*template.Template
	closers []func()
}

// newApp builds an instance from cfg: session store, embedded provider
// (when no real one is configured), provider clients (discovery happens
// here, with ctx), the kit and the routes. cfg.BaseURL must be set. Close
// releases what it started.
func newApp(ctx context.Context, cfg Config, logger *slog.Logger) (_ *app, err error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("BASE_URL is required")
	}
	if logger == nil {
		logger = slog.Default()
	}
	a := &app{cfg: cfg, baseURL: strings.TrimSuffix(cfg.BaseURL, "/"), logger: logger, now: cfg.now}
	if a.now == nil {
		a.now = time.Now
	}
	defer func() {
		if err != nil {
			a.Close() // whatever was started before the failure
		}
	}()
	if a.pages, err = parsePages(); err != nil {
		return nil, err
	}

	store, storeName, closeStore, err := newStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, closeStore)
	a.store = storeName
	a.sessions = scs.New()
	a.sessions.Store = store
	a.sessions.Lifetime = 24 * time.Hour
	a.sessions.IdleTimeout = 2 * time.Hour
	a.sessions.Cookie.Name = "example_session"
	a.sessions.Cookie.HttpOnly = true
	a.sessions.Cookie.SameSite = http.SameSiteLaxMode // Strict would drop the cookie on the provider's redirect back
	a.sessions.Cookie.Secure = cfg.SecureCookies()
	a.sessions.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		a.logger.ErrorContext(r.Context(), "session store failed", "error", err)
		// The session could not be loaded: render without looking it up.
		a.errorPage(w, r, fmt.Errorf("%w: %w", oauthkit.ErrSession, err), false)
	}

	providers, err := a.providers(ctx)
	if err != nil {
		return nil, err
	}
	a.kit, err = oauthkit.New(oauthkit.Config{
		Sessions:        a.sessions,
		Providers:       providers,
		LoginPath:       "/login",
		AfterLoginPath:  "/profile",
		AfterLogoutPath: "/",
		RevokeOnLogout:  true,
		ErrorHandler:    a.renderError,
		Logger:          logger.With("component", "oauthkit"),
		Now:             a.now,
		OnTokenRefresh: func(ctx context.Context, u *oauthkit.User, t *client.Token) {
			if f, ok := ctx.Value(refreshedKey{}).(*atomic.Bool); ok {
				f.Store(true)
			}
			logger.InfoContext(ctx, "provider token refreshed", "provider", u.Provider, "user", u.UserID)
		},
	})
	if err != nil {
		return nil, err
	}
	a.routes()
	return a, nil
}

// Close stops the embedded provider and releases the session store.
func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// profileClient is a provider client with a user API: every client of
// package client has Profile, which is not part of client.Provider.
type profileClient interface {
	client.Provider
	Profile(ctx context.Context, accessToken string) (json.RawMessage, error)
}

// Handler is the whole site.
func (a *app) Handler() http.Handler { return a.handler }

// callbackURL is the redirect URL registered for provider name.
func (a *app) callbackURL(name string) string { return a.baseURL + "/auth/" + name + "/callback" }

// providers builds one kit provider per configured provider, or the
// embedded development provider when there is none.
func (a *app) providers(ctx context.Context) ([]oauthkit.Provider, error) {
	clock := client.WithClock(a.now)
	var out []oauthkit.Provider
	add := func(c client.Provider, p oauthkit.Provider) {
		p.Client = c
		p.RedirectURL = a.callbackURL(c.Name())
		out = append(out, p)
	}
	a.clients = map[string]profileClient{}
	defer func() {
		for _, p := range out {
			if c, ok := p.Client.(profileClient); ok {
				a.clients[p.Client.Name()] = c
			}
		}
	}()

	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if a.cfg.DevProvider() {
		dev, err := startDevProvider(a.logger, "127.0.0.1:0", a.callbackURL("dev"))
		if err != nil {
			return nil, err
		}
		a.dev = dev
		a.closers = append(a.closers, dev.Close)
		c, err := client.DiscoverOpenID(dctx, dev.Issuer, dev.ClientID, dev.ClientSecret,
			client.WithName("dev"), client.WithDisplayName("Development provider"), clock,
			// offline_access: the example OP issues refresh tokens only then.
			client.WithScopes("openid", "profile", "email", "offline_access"))
		if err != nil {
			return nil, fmt.Errorf("embedded provider: %w", err)
		}
		add(c, oauthkit.Provider{})
		a.logger.Info("embedded development provider (no provider configured)",
			"issuer", dev.Issuer, "users", strings.Join(dev.Users, ", "), "password", devPassword)
		if u, err := url.Parse(a.baseURL); err == nil && !isLoopback(u.Hostname()) {
			a.logger.Warn("the embedded provider listens on loopback only: just a browser on this machine can sign in; configure a real provider for " + a.baseURL)
		}
		return out, nil
	}
	if g := a.cfg.GitHub; g != nil {
		c, err := client.NewGitHub(g.ClientID, g.ClientSecret, clock)
		if err != nil {
			return nil, fmt.Errorf("github client: %w", err)
		}
		add(c, oauthkit.Provider{})
	}
	if g := a.cfg.Google; g != nil {
		c, err := client.NewGoogle(g.ClientID, g.ClientSecret, clock)
		if err != nil {
			return nil, fmt.Errorf("google client: %w", err)
		}
		// access_type=offline: Google issues a refresh token only then.
		add(c, oauthkit.Provider{AuthParams: client.GoogleParams{AccessType: "offline"}})
	}
	if o := a.cfg.OIDC; o != nil {
		c, err := client.DiscoverOpenID(dctx, o.Issuer, o.ClientID, o.ClientSecret,
			client.WithDisplayName(issuerLabel(o.Issuer)), clock)
		if err != nil {
			return nil, fmt.Errorf("OIDC_ISSUER %s: discovery failed: %w", o.Issuer, err)
		}
		add(c, oauthkit.Provider{Scopes: openIDScopes(c.Metadata())})
	}
	return out, nil
}

// issuerLabel is the button label of a generic issuer: its host.
func issuerLabel(issuer string) string {
	if u, err := url.Parse(issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return "OpenID Connect"
}

// openIDScopes asks for profile and email, and for a refresh token
// (offline_access) when the issuer advertises that scope.
func openIDScopes(metadata json.RawMessage) []string {
	scopes := []string{"openid", "profile", "email"}
	var md struct {
		ScopesSupported []string `json:"scopes_supported"`
	}
	if json.Unmarshal(metadata, &md) == nil && slices.Contains(md.ScopesSupported, "offline_access") {
		scopes = append(scopes, "offline_access")
	}
	return scopes
}

// routes wires the site. Static files are served outside the session
// middleware; everything else runs inside it.
func (a *app) routes() {
	m := http.NewServeMux()
	a.mux = m
	for _, p := range a.kit.Providers() {
		m.Handle("/auth/"+p.Name+"/login", a.kit.LoginHandler(p.Name))
		m.Handle("/auth/"+p.Name+"/callback", a.kit.CallbackHandler(p.Name))
	}
	m.Handle("/logout", a.kit.LogoutHandler())
	m.HandleFunc("GET /{$}", a.home)
	m.HandleFunc("GET /login", a.login)
	m.Handle("GET /profile", a.kit.RequireAuth(http.HandlerFunc(a.profile)))
	m.Handle("GET /api-demo", a.kit.RequireAuth(http.HandlerFunc(a.apiDemo)))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { a.renderError(w, r, errNotFound) })

	top := http.NewServeMux()
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

var errNotFound = errors.New("page not found")

type refreshedKey struct{}

// --- pages -------------------------------------------------------------

// pageData is what every page template receives.
type pageData struct {
	Title     string
	User      *oauthkit.User
	Provider  string // display name of the user's provider
	Providers []oauthkit.ProviderInfo
	Next      string // return-to path for the login buttons
	Notice    string
	Dev       *devProvider
	DevPass   string
	Store     string

	// profile and api-demo
	TokenExpiry  string
	TokenState   string
	Refreshed    bool
	Profile      string
	ProfileError string

	// error page
	Status  int
	Message string
}

// page is the data every page starts from; it must run inside the session
// middleware (it reads the signed-in user).
func (a *app) page(r *http.Request, title string) pageData {
	d := a.anonymousPage(title)
	if u, ok := a.kit.CurrentUser(r.Context()); ok {
		d.User = u
		d.Provider = a.displayName(u.Provider)
	}
	return d
}

func (a *app) anonymousPage(title string) pageData {
	return pageData{Title: title, Providers: a.kit.Providers(), Dev: a.dev, DevPass: devPassword, Store: a.store}
}

func (a *app) displayName(name string) string {
	if c, ok := a.clients[name]; ok {
		return c.DisplayName()
	}
	return name
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "home", a.page(r, "Home"))
}

// login is RequireAuth's LoginPath: the provider buttons, carrying "next".
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	d := a.page(r, "Sign in")
	if next, ok := oauthkit.SafeReturnTo(r.URL.Query().Get("next")); ok && next != "/" {
		d.Next = next
		d.Notice = "Please sign in to see that page."
	}
	a.render(w, r, http.StatusOK, "home", d)
}

func (a *app) profile(w http.ResponseWriter, r *http.Request) {
	d := a.page(r, "Your profile")
	u, _ := oauthkit.UserFromRequest(r)
	d.User, d.Provider = u, a.displayName(u.Provider)
	if !a.tokenInfo(w, r, &d) {
		return
	}
	a.render(w, r, http.StatusOK, "profile", d)
}

// apiDemo calls the provider's user API with a valid access token, which
// kit.Token refreshes first when it has expired.
func (a *app) apiDemo(w http.ResponseWriter, r *http.Request) {
	d := a.page(r, "Provider API")
	u, _ := oauthkit.UserFromRequest(r)
	d.User, d.Provider = u, a.displayName(u.Provider)
	refreshed := new(atomic.Bool)
	r = r.WithContext(context.WithValue(r.Context(), refreshedKey{}, refreshed))
	tok, ok := a.token(w, r)
	if !ok {
		return
	}
	d.Refreshed = refreshed.Load()
	d.TokenExpiry, d.TokenState = a.expiry(tok)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var raw json.RawMessage
	err := client.ErrProfileNotSupported
	if c, ok := a.clients[u.Provider]; ok {
		raw, err = c.Profile(ctx, tok.AccessToken)
	}
	switch {
	case errors.Is(err, client.ErrProfileNotSupported):
		d.ProfileError = "This provider has no user API."
	case err != nil:
		a.logger.WarnContext(r.Context(), "provider user API failed", "provider", u.Provider, "error", err)
		d.ProfileError = "The provider's user API did not answer. Please try again later."
	default:
		var buf bytes.Buffer
		if json.Indent(&buf, raw, "", "  ") != nil {
			buf.Reset()
			buf.Write(raw)
		}
		d.Profile = buf.String()
	}
	a.render(w, r, http.StatusOK, "api", d)
}

// tokenInfo fills the token fields of d; false means an error page was
// written.
func (a *app) tokenInfo(w http.ResponseWriter, r *http.Request, d *pageData) bool {
	tok, ok := a.token(w, r)
	if ok {
		d.TokenExpiry, d.TokenState = a.expiry(tok)
	}
	return ok
}

// token is kit.Token with the failures turned into pages: a grant that
// cannot be refreshed signs the user out and asks to sign in again.
func (a *app) token(w http.ResponseWriter, r *http.Request) (*client.Token, bool) {
	tok, err := a.kit.Token(r.Context())
	if err != nil {
		a.logger.WarnContext(r.Context(), "provider token unavailable", "error", err)
		a.renderError(w, r, err)
		return nil, false
	}
	return tok, true
}

func (a *app) expiry(t *client.Token) (string, string) {
	if t.Expiry.IsZero() {
		return "does not expire", "valid"
	}
	now := a.now()
	left := t.Expiry.Sub(now).Round(time.Second)
	state := "valid for " + left.String()
	if left <= 0 {
		state = "expired"
	}
	return t.Expiry.UTC().Format("2006-01-02 15:04:05 UTC"), state
}

// renderError is the kit's ErrorHandler and the app's: a friendly page with
// oauthkit.HTTPStatus(err). It never shows err's text.
func (a *app) renderError(w http.ResponseWriter, r *http.Request, err error) {
	a.errorPage(w, r, err, true)
}

func (a *app) errorPage(w http.ResponseWriter, r *http.Request, err error, inSession bool) {
	d := a.anonymousPage("")
	if inSession {
		d = a.page(r, "")
	}
	d.Status = oauthkit.HTTPStatus(err)
	if errors.Is(err, errNotFound) {
		d.Status = http.StatusNotFound
	}
	d.Title, d.Message = friendly(err)
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, r, d.Status, "error", d)
}

// friendly explains an error to a person.
func friendly(err error) (title, message string) {
	switch {
	case errors.Is(err, errNotFound):
		return "Page not found", "There is nothing at this address."
	case errors.Is(err, oauthkit.ErrAccessDenied):
		return "Sign-in cancelled", "You declined to share your account with this site, so you are not signed in. You can try again whenever you like."
	case errors.Is(err, oauthkit.ErrStateExpired):
		return "Sign-in expired", "The sign-in took too long and has expired. Please start again."
	case errors.Is(err, oauthkit.ErrStateNotFound), errors.Is(err, oauthkit.ErrProviderMismatch):
		return "Sign-in expired", "This sign-in was already completed, has expired, or was started in another browser. Please start again."
	case errors.Is(err, oauthkit.ErrReauthRequired), errors.Is(err, oauthkit.ErrNotSignedIn):
		return "Please sign in again", "Your sign-in with the provider has ended, so you were signed out."
	case errors.Is(err, oauthkit.ErrLoginRefused):
		return "Sign-in refused", "This account cannot sign in to this site."
	case errors.Is(err, oauthkit.ErrProvider):
		return "Sign-in failed", "The provider refused the sign-in. Please try again later."
	case errors.Is(err, oauthkit.ErrCrossOrigin):
		return "Request refused", "This form can only be sent from this site."
	case errors.Is(err, oauthkit.ErrMethodNotAllowed):
		return "Not allowed", "This address does not accept that kind of request."
	case errors.Is(err, oauthkit.ErrUnknownProvider):
		return "Unknown provider", "This sign-in provider is not configured here."
	case errors.Is(err, oauthkit.ErrSession):
		return "Something went wrong", "Your session could not be saved. Please try again in a moment."
	case errors.Is(err, oauthkit.ErrExchange), errors.Is(err, oauthkit.ErrIdentity):
		if oauthkit.HTTPStatus(err) == http.StatusBadRequest {
			return "Sign-in expired", "The provider no longer accepts this sign-in. Please start again."
		}
		return "Provider unavailable", "The sign-in provider did not answer properly. Please try again later."
	case oauthkit.HTTPStatus(err) == http.StatusBadRequest:
		return "Sign-in failed", "The sign-in could not be completed. Please start again."
	}
	return "Something went wrong", "Please try again later."
}

// --- templates and middleware -------------------------------------------

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"loginURL": func(provider, next string) string {
			u := "/auth/" + url.PathEscape(provider) + "/login"
			if next != "" {
				u += "?next=" + url.QueryEscape(next)
			}
			return u
		},
		"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"home", "profile", "api", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render executes a page into a buffer first, so a template error never
// leaves half a page behind a 200.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, page string, d pageData) {
	var buf bytes.Buffer
	if err := a.pages[page].ExecuteTemplate(&buf, "layout", d); err != nil {
		a.logger.ErrorContext(r.Context(), "template failed", "page", page, "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if d.User != nil {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// securityHeaders: no scripts at all, styles from this site only, forms
// post only here, no framing.
func securityHeaders(https bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if https {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

func cacheFor(d time.Duration, next http.Handler) http.Handler {
	v := fmt.Sprintf("public, max-age=%d", int(d.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", v)
		next.ServeHTTP(w, r)
	})
}

// logRequests writes one record per request: method, path (never the
// query, which carries codes and states), status and duration.
func (a *app) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		a.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
