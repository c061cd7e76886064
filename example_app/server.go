package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"os"
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

	st, err := newStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, st.close)
	a.store = st.name
	a.sessions = scs.New()
	a.sessions.Store = st.session
	a.sessions.Codec = oauthkit.SessionCodec{} // reads records written by scs's gob codec too
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
	otelOut := cfg.otelOut
	if otelOut == nil {
		otelOut = os.Stdout
	}
	observer, stopTelemetry, err := newTelemetry(cfg.OTel, otelOut)
	if err != nil {
		return nil, err
	}
	if stopTelemetry != nil {
		a.closers = append(a.closers, stopTelemetry)
	}
	a.kit, err = oauthkit.New(oauthkit.Config{
		Sessions:        a.sessions,
		Providers:       providers,
		LoginPath:       paths.Login,
		AfterLoginPath:  paths.Profile,
		AfterLogoutPath: paths.Home,
		RevokeOnLogout:  true,
		StateClaimer:    st.claimer,
		EndedSessions:   st.ended,
		SessionIndex:    st.index,
		TokenStore:      st.tokens,
		RefreshLocks:    st.locks,
		TokenKeys:       cfg.TokenKeys,
		ErrorHandler:    a.renderError,
		Logger:          logger.With("component", "oauthkit"),
		Now:             a.now,
		Observer:        observer,
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

// parsePages parses each page with the layout (which holds the shared
// "providers" buttons), once at start, so a template mistake stops the app
// there rather than on a user's request.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"loginURL": func(provider, next string) string {
			u := loginPath(provider)
			if next != "" {
				u += "?next=" + url.QueryEscape(next)
			}
			return u
		},
		"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"home", "profile", "api", "reauth", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}
