package client

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// AuthMethod is how the client authenticates at the token and revocation
// endpoints (RFC 6749 §2.3.1).
type AuthMethod string

const (
	ClientSecretBasic AuthMethod = "client_secret_basic"
	ClientSecretPost  AuthMethod = "client_secret_post"
	// None sends the client id in the form and no secret (RFC 7591 §2),
	// for revocation endpoints that only accept public clients. It is
	// refused for the token endpoint: a server-side client is confidential
	// and must prove its identity when it redeems a code (RFC 6749 §3.2.1).
	None AuthMethod = "none"
)

// DefaultUserAgent is sent on every request unless Config.UserAgent is set.
// Some APIs (Reddit, GitHub) reject requests without a descriptive one.
const DefaultUserAgent = "oauthkit/1 (+https://github.com/oauthkit/oauthkit)"

// Config holds the seed's constructor arguments plus the Go extras. The zero
// values of the optional fields select upstream's defaults.
type Config struct {
	// ClientID must not be blank, and ClientSecret must not be empty when an
	// auth method sends it (client_secret_basic, client_secret_post):
	// either is ErrInvalidConfig, reported by the constructor rather than by
	// the provider at the first login.
	ClientID     string
	ClientSecret string

	// The endpoints must be absolute https URLs without a fragment; plain
	// http is accepted only on loopback hosts (127.0.0.0/8, ::1,
	// localhost), for local development servers. Anything else is
	// ErrInvalidConfig.
	AuthorizeEndpoint   string
	AccessTokenEndpoint string
	// RefreshTokenEndpoint is empty when the provider cannot refresh.
	RefreshTokenEndpoint string
	// RevokeTokenEndpoint is empty when the provider cannot revoke; when set,
	// RevocationEndpointAuthMethod must be set too.
	RevokeTokenEndpoint string

	// Name identifies the client (default "oauth2"); the kit uses it in routes
	// and sessions, so it should be unique among the providers of one site.
	Name string
	// DisplayName is the human label for login buttons (default Name).
	DisplayName string
	// BaseScopes are requested when AuthURLOptions.Scopes is nil.
	BaseScopes []string

	// TokenEndpointAuthMethod defaults to ClientSecretPost, as upstream.
	TokenEndpointAuthMethod AuthMethod
	// RevocationEndpointAuthMethod is used for revocation requests; unlike
	// the token endpoint's, it may be None.
	RevocationEndpointAuthMethod AuthMethod

	// HTTPClient is used for every request (so connections are pooled); the
	// default has a 30 s timeout. Redirects are never followed, whatever its
	// CheckRedirect: a 307 would re-send a POST body that holds the client
	// secret to another host. The client is used through a shallow copy
	// whose CheckRedirect stops at the first redirect (ErrRedirect), so the
	// caller's client is not modified.
	HTTPClient *http.Client
	// UserAgent defaults to DefaultUserAgent.
	UserAgent string
	// Now is the clock used to compute token expiry; default time.Now.
	Now func() time.Time

	// secretFromKey: the client secret is signed for each request from a
	// private key (Apple), so ClientSecret is empty by design.
	secretFromKey bool
}

// String describes the configuration with the client secret redacted, so a
// logged or printed Config never leaks it (security.md item 65).
func (c Config) String() string {
	type plain Config // no methods, so no recursion
	p := plain(c)
	if p.ClientSecret != "" {
		p.ClientSecret = "REDACTED"
	}
	return fmt.Sprintf("%+v", p)
}

// GoString redacts the secret from %#v output too.
func (c Config) GoString() string { return "client.Config" + c.String() }

// Option adjusts a provider's Config before it is validated.
type Option func(*Config)

// WithHTTPClient sets the HTTP client used for every request.
func WithHTTPClient(hc *http.Client) Option { return func(c *Config) { c.HTTPClient = hc } }

// WithScopes replaces the provider's default scopes.
func WithScopes(scopes ...string) Option {
	return func(c *Config) { c.BaseScopes = append([]string(nil), scopes...) }
}

// WithTokenEndpointAuthMethod sets the method the client is registered for
// at the token endpoint. It overrides a provider's default, and discovery
// keeps it instead of choosing from the server's list (a server that lists
// client_secret_post first may still refuse it from a client registered for
// client_secret_basic).
func WithTokenEndpointAuthMethod(m AuthMethod) Option {
	return func(c *Config) { c.TokenEndpointAuthMethod = m }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option { return func(c *Config) { c.UserAgent = ua } }

// WithName replaces the client's name (for two clients of one provider).
func WithName(name string) Option { return func(c *Config) { c.Name = name } }

// WithDisplayName sets the label of login buttons.
func WithDisplayName(name string) Option { return func(c *Config) { c.DisplayName = name } }

// WithClock sets the clock used for token expiry. The kit checks expiry with
// its own Config.Now: give both the same clock.
func WithClock(now func() time.Time) Option { return func(c *Config) { c.Now = now } }

// defaultHTTPClient is built per client rather than shared as a global.
func defaultHTTPClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, CheckRedirect: stopRedirects}
}

// stopRedirects makes an http.Client return a redirect response as it is,
// which doRequest turns into ErrRedirect.
func stopRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// withoutRedirects returns a shallow copy of hc (same transport, jar and
// timeout) that never follows a redirect, or the default client when hc is
// nil. The caller's client is not modified: it may be shared with code that
// wants redirects followed.
func withoutRedirects(hc *http.Client) *http.Client {
	if hc == nil {
		return defaultHTTPClient()
	}
	cp := *hc
	cp.CheckRedirect = stopRedirects
	return &cp
}

// validate checks the config in upstream's order, then the Go-only checks,
// and fills defaults. It never does I/O.
func (c *Config) validate() error {
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = ClientSecretPost
	}
	if !c.TokenEndpointAuthMethod.supported() {
		return &NotSupportedAuthMethodError{Method: c.TokenEndpointAuthMethod}
	}
	if m := c.RevocationEndpointAuthMethod; m != "" && m != None && !m.supported() {
		return &NotSupportedAuthMethodError{Method: c.RevocationEndpointAuthMethod}
	}
	if c.RevokeTokenEndpoint != "" && c.RevocationEndpointAuthMethod == "" {
		return ErrMissingRevokeTokenAuthMethod
	}
	for _, e := range []struct{ name, v string }{
		{"authorize endpoint", c.AuthorizeEndpoint},
		{"access token endpoint", c.AccessTokenEndpoint},
	} {
		if err := checkEndpoint(e.name, e.v); err != nil {
			return err
		}
	}
	for _, e := range []struct{ name, v string }{
		{"refresh token endpoint", c.RefreshTokenEndpoint},
		{"revoke token endpoint", c.RevokeTokenEndpoint},
	} {
		if e.v == "" {
			continue
		}
		if err := checkEndpoint(e.name, e.v); err != nil {
			return err
		}
	}
	if err := c.checkCredentials(); err != nil {
		return err
	}
	if c.Name == "" {
		c.Name = "oauth2"
	}
	if c.DisplayName == "" {
		c.DisplayName = c.Name
	}
	c.HTTPClient = withoutRedirects(c.HTTPClient)
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.BaseScopes = append([]string(nil), c.BaseScopes...)
	return nil
}

func (m AuthMethod) supported() bool { return m == ClientSecretBasic || m == ClientSecretPost }

// usesSecret reports whether the method authenticates with ClientSecret.
func (m AuthMethod) usesSecret() bool { return m == ClientSecretBasic || m == ClientSecretPost }

// checkCredentials refuses a blank client id, which would send users to the
// provider with "client_id=", and an empty secret for a method that sends
// it, which no provider accepts: both are deployment mistakes (an unset
// environment variable) better reported at start-up than at the first login.
func (c *Config) checkCredentials() error {
	if strings.TrimSpace(c.ClientID) == "" {
		return fmt.Errorf("%w: client id is empty", ErrInvalidConfig)
	}
	if c.ClientSecret != "" || c.secretFromKey {
		return nil
	}
	if c.TokenEndpointAuthMethod.usesSecret() ||
		(c.RevokeTokenEndpoint != "" && c.RevocationEndpointAuthMethod.usesSecret()) {
		return fmt.Errorf("%w: client secret is empty", ErrInvalidConfig)
	}
	return nil
}

// checkEndpoint accepts an absolute https URL, or plain http on a loopback
// host for local development servers: any other http endpoint would carry
// the client secret, codes or tokens in clear text across the network.
func checkEndpoint(name, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w: %s %q is not an absolute http(s) URL", ErrInvalidConfig, name, sanitize(v, 200))
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%w: %s %q must use https (plain http is for loopback hosts only)", ErrInvalidConfig, name, sanitize(v, 200))
	}
	if u.Fragment != "" {
		return fmt.Errorf("%w: %s must not have a fragment", ErrInvalidConfig, name)
	}
	return nil
}

// isLoopback reports whether host (without port or brackets) is
// "localhost" or an address of 127.0.0.0/8 or ::1, where plain http never
// leaves the machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
