package client

import (
	"fmt"
	"net/http"
	"net/url"
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
	ClientID     string
	ClientSecret string

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

	// HTTPClient is used for every request (so connections are pooled). The
	// default has a 30 s timeout and does not follow redirects: a 307 would
	// re-send a POST body that holds the client secret.
	HTTPClient *http.Client
	// UserAgent defaults to DefaultUserAgent.
	UserAgent string
	// Now is the clock used to compute token expiry; default time.Now.
	Now func() time.Time
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
	return &http.Client{
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
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
	if c.Name == "" {
		c.Name = "oauth2"
	}
	if c.DisplayName == "" {
		c.DisplayName = c.Name
	}
	if c.HTTPClient == nil {
		c.HTTPClient = defaultHTTPClient()
	}
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

func checkEndpoint(name, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: %s %q is not an absolute http(s) URL", ErrInvalidConfig, name, v)
	}
	if u.Fragment != "" {
		return fmt.Errorf("%w: %s must not have a fragment", ErrInvalidConfig, name)
	}
	return nil
}
