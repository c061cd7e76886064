package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// Config is the app's configuration, read from the environment by
// configFromEnv. The zero value (no provider) runs the embedded development
// provider with in-memory sessions.
type Config struct {
	// Addr is the listen address (ADDR, default ":8080").
	Addr string
	// BaseURL is the public URL of the site (BASE_URL), used to build the
	// redirect URLs registered at the providers. Empty means
	// "http://localhost:<port of the listener>", which is
	// http://localhost:8080 with the default ADDR.
	BaseURL string

	GitHub *Credentials // GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET
	Google *Credentials // GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET
	OIDC   *OIDCConfig  // OIDC_ISSUER / OIDC_CLIENT_ID / OIDC_CLIENT_SECRET

	// RedisURL (REDIS_URL, redis://host:port/db) selects the Redis session
	// store, DatabaseURL (DATABASE_URL) the PostgreSQL one; neither means
	// in-memory sessions. At most one may be set.
	RedisURL    string
	DatabaseURL string

	// TokenKeys (TOKEN_KEYS, "id:base64key,id:base64key", the first is
	// current) encrypt the provider tokens in the session and token stores;
	// nil stores them in the clear.
	TokenKeys *oauthkit.TokenKeys

	// OTel (OAUTHKIT_OTEL) exports the kit's OpenTelemetry spans and
	// counters (package otelkit): "stdout" prints them as JSON; empty
	// exports nothing.
	OTel string

	// now is the clock of the kit and the provider clients (tests move it).
	now func() time.Time
	// otelOut is where OTel=stdout writes (nil: os.Stdout); tests read it.
	otelOut io.Writer
}

// Credentials are an OAuth client's id and secret.
type Credentials struct {
	ClientID     string
	ClientSecret string
}

// OIDCConfig is any OpenID Connect issuer, configured through discovery.
type OIDCConfig struct {
	Issuer string
	Credentials
}

// DevProvider reports whether the embedded development provider runs:
// exactly when no real provider is configured.
func (c Config) DevProvider() bool {
	return c.GitHub == nil && c.Google == nil && c.OIDC == nil
}

// SecureCookies reports whether the session cookie is Secure: whenever the
// site is served over https.
func (c Config) SecureCookies() bool {
	return strings.HasPrefix(strings.ToLower(c.BaseURL), "https://")
}

// configFromEnv reads and validates the configuration. Every problem is
// reported at once, each naming the variable to fix.
func configFromEnv(getenv func(string) string) (Config, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	cfg := Config{
		Addr:        env("ADDR"),
		BaseURL:     strings.TrimSuffix(env("BASE_URL"), "/"),
		RedisURL:    env("REDIS_URL"),
		DatabaseURL: env("DATABASE_URL"),
		OTel:        env("OAUTHKIT_OTEL"),
	}
	if cfg.Addr == "" {
		cfg.Addr = ":8080"
	}
	var errs []error
	pair := func(name string) *Credentials {
		id, secret := env(name+"_CLIENT_ID"), env(name+"_CLIENT_SECRET")
		switch {
		case id == "" && secret == "":
			return nil
		case id == "":
			errs = append(errs, fmt.Errorf("%s_CLIENT_SECRET is set but %s_CLIENT_ID is empty: set both or neither", name, name))
		case secret == "":
			errs = append(errs, fmt.Errorf("%s_CLIENT_ID is set but %s_CLIENT_SECRET is empty: set both or neither", name, name))
		}
		return &Credentials{ClientID: id, ClientSecret: secret}
	}
	cfg.GitHub = pair("GITHUB")
	cfg.Google = pair("GOOGLE")

	issuer := env("OIDC_ISSUER")
	id, secret := env("OIDC_CLIENT_ID"), env("OIDC_CLIENT_SECRET")
	if issuer != "" || id != "" || secret != "" {
		var missing []string
		for _, v := range []struct{ name, val string }{
			{"OIDC_ISSUER", issuer}, {"OIDC_CLIENT_ID", id}, {"OIDC_CLIENT_SECRET", secret},
		} {
			if v.val == "" {
				missing = append(missing, v.name)
			}
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("OpenID Connect needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET together; missing: %s", strings.Join(missing, ", ")))
		} else if err := checkIssuer(issuer); err != nil {
			errs = append(errs, err)
		}
		cfg.OIDC = &OIDCConfig{Issuer: issuer, Credentials: Credentials{ClientID: id, ClientSecret: secret}}
	}

	if cfg.BaseURL != "" {
		if err := checkBaseURL(cfg.BaseURL); err != nil {
			errs = append(errs, err)
		}
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		errs = append(errs, fmt.Errorf("ADDR %q is not a host:port listen address (for example :8080 or 127.0.0.1:8080)", cfg.Addr))
	}
	if raw := env("TOKEN_KEYS"); raw != "" {
		tk, err := parseTokenKeys(raw)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.TokenKeys = tk
	}
	if cfg.OTel != "" && cfg.OTel != otelStdout {
		errs = append(errs, fmt.Errorf("OAUTHKIT_OTEL %q: the only exporter is %q (or leave it empty)", cfg.OTel, otelStdout))
	}
	if cfg.RedisURL != "" && cfg.DatabaseURL != "" {
		errs = append(errs, errors.New("REDIS_URL and DATABASE_URL are both set: choose one session store"))
	}
	if cfg.RedisURL != "" {
		if u, err := url.Parse(cfg.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			errs = append(errs, errors.New("REDIS_URL must look like redis://host:port/db (or rediss:// for TLS)"))
		}
	}
	if cfg.DatabaseURL != "" {
		if u, err := url.Parse(cfg.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			errs = append(errs, errors.New("DATABASE_URL must look like postgres://user:password@host:port/dbname?sslmode=disable"))
		}
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid configuration:\n  %w", joinLines(errs))
	}
	return cfg, nil
}

// checkBaseURL accepts an absolute http(s) URL without path, query or
// fragment; plain http only for loopback hosts, because the kit refuses
// plain-http redirect URLs anywhere else.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("BASE_URL %q must be an absolute http(s) URL such as https://app.example.com", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("BASE_URL %q must not have a path, query, fragment or user info", raw)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("BASE_URL %q must use https (plain http only on localhost)", raw)
	}
	return nil
}

func checkIssuer(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return fmt.Errorf("OIDC_ISSUER %q must be an https URL (http only on localhost), exactly as the issuer names itself", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// joinLines is errors.Join with each error on its own indented line.
type lineErrors []error

func joinLines(errs []error) error { return lineErrors(errs) }

func (e lineErrors) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "\n  ")
}

func (e lineErrors) Unwrap() []error { return e }

// callbackURL is the redirect URL registered for provider name.
func (a *app) callbackURL(name string) string { return a.baseURL + callbackPath(name) }

// postLogoutURL is the post-logout redirect URL registered at the OpenID
// Connect providers: where they send the browser back after ending their
// session (kit.PostLogoutHandler).
func (a *app) postLogoutURL() string { return a.baseURL + paths.LoggedOut }

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
		dev, err := startDevProvider("127.0.0.1:0", a.callbackURL("dev"), a.postLogoutURL())
		if err != nil {
			return nil, err
		}
		a.dev = dev
		a.closers = append(a.closers, dev.Close)
		c, err := client.DiscoverOpenID(dctx, dev.Issuer, dev.ClientID, dev.ClientSecret,
			client.WithName("dev"), client.WithDisplayName("Development provider"), clock,
			// offline_access: the provider issues refresh tokens only then.
			client.WithScopes("openid", "profile", "email", "offline_access"))
		if err != nil {
			return nil, fmt.Errorf("embedded provider: %w", err)
		}
		add(c, oauthkit.Provider{PostLogoutRedirectURL: a.postLogoutURL()})
		a.logger.Info("embedded development provider (no provider configured)",
			"issuer", dev.Issuer, "users", strings.Join(dev.userNames(), ", "), "password", devPassword)
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
		// The issuer's end_session_endpoint (when it advertises one) sends
		// the browser back to BASE_URL/logged-out after logout: register
		// that URL at the provider as a post-logout redirect URI.
		add(c, oauthkit.Provider{Scopes: openIDScopes(c.Metadata()), PostLogoutRedirectURL: a.postLogoutURL()})
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

// parseTokenKeys reads TOKEN_KEYS: comma-separated id:key pairs, each key
// 32 bytes in standard base64 (openssl rand -base64 32); the first pair's
// key encrypts, all decrypt.
func parseTokenKeys(raw string) (*oauthkit.TokenKeys, error) {
	keys := map[string][]byte{}
	current := ""
	for i, pair := range strings.Split(raw, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(pair), ":")
		key, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil {
			return nil, fmt.Errorf("TOKEN_KEYS entry %d must be id:base64key (a key from openssl rand -base64 32)", i+1)
		}
		if i == 0 {
			current = id
		}
		keys[id] = key
	}
	tk, err := oauthkit.NewTokenKeys(current, keys)
	if err != nil {
		return nil, fmt.Errorf("TOKEN_KEYS: %w", err)
	}
	return tk, nil
}
