package client

import (
	"crypto"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// AuthMethod is how the client authenticates at the token and revocation
// endpoints (RFC 6749 §2.3.1).
type AuthMethod string

const (
	// ClientSecretBasic sends the credentials in an HTTP Basic header,
	// form-encoded first (RFC 6749 §2.3.1).
	ClientSecretBasic AuthMethod = "client_secret_basic"
	// ClientSecretPost sends client_id and client_secret in the form body.
	ClientSecretPost AuthMethod = "client_secret_post"
	// None sends the client id in the form and no secret (RFC 7591 §2),
	// for revocation endpoints that only accept public clients. It is
	// refused for the token endpoint: a server-side client is confidential
	// and must prove its identity when it redeems a code (RFC 6749 §3.2.1).
	None AuthMethod = "none"
	// PrivateKeyJWT sends a JWT signed with the client's private key
	// (RFC 7523 §2.2, OpenID Connect Core §9), so no shared secret exists:
	// give the key with WithClientAssertionKey, or an assertion made
	// elsewhere with WithClientAssertion. It must be chosen explicitly with
	// WithTokenEndpointAuthMethod.
	PrivateKeyJWT AuthMethod = "private_key_jwt"
	// ClientSecretJWT sends a JWT signed with HS256 under the client secret
	// (OpenID Connect Core §9), for servers that require it: the secret
	// never crosses the wire, but the server still holds it. The secret
	// must be at least 32 bytes. It must be chosen explicitly with
	// WithTokenEndpointAuthMethod.
	ClientSecretJWT AuthMethod = "client_secret_jwt"
)

// DefaultUserAgent is sent on every request unless [WithUserAgent] replaces
// it. Some APIs (Reddit, GitHub) reject requests without a descriptive one.
const DefaultUserAgent = "oauthkit/1 (+https://github.com/oauthkit/oauthkit)"

// Config says where the provider is and who the client is: the seed's
// constructor arguments. Everything about how to talk to the provider
// (HTTP client, scopes, names, clock, auth methods) is an [Option].
type Config struct {
	// ClientID is the id the provider registered the client under. It must
	// not be blank: that is ErrInvalidConfig, reported by the constructor
	// rather than by the provider at the first login.
	ClientID string
	// ClientSecret must not be empty when an auth method sends it
	// (client_secret_basic, client_secret_post): ErrInvalidConfig.
	ClientSecret string

	// The endpoints must be absolute https URLs without a fragment; plain
	// http is accepted only on loopback hosts (127.0.0.0/8, ::1,
	// localhost), for local development servers. Anything else is
	// ErrInvalidConfig.

	// AuthorizeEndpoint is where the user is sent to log in.
	AuthorizeEndpoint string
	// AccessTokenEndpoint is where codes are exchanged for tokens.
	AccessTokenEndpoint string
	// RefreshTokenEndpoint is empty when the provider cannot refresh.
	RefreshTokenEndpoint string
	// RevokeTokenEndpoint is empty when the provider cannot revoke; when set,
	// [WithRevocationEndpointAuthMethod] must be given too
	// (ErrMissingRevokeTokenAuthMethod otherwise).
	RevokeTokenEndpoint string
	// PushedAuthorizationEndpoint is the RFC 9126 endpoint authorization
	// requests are pushed to; it is used only with
	// [WithPushedAuthorization], and empty when the provider has none.
	PushedAuthorizationEndpoint string
}

// config is a client's validated configuration: the caller's Config and
// what the options and the provider's defaults set.
type config struct {
	ClientID, ClientSecret                    string
	AuthorizeEndpoint, AccessTokenEndpoint    string
	RefreshTokenEndpoint, RevokeTokenEndpoint string
	PushedAuthorizationEndpoint               string
	// pushed: authorization requests go through the PAR endpoint
	// (WithPushedAuthorization, or metadata that requires it).
	pushed bool

	// Name identifies the client (default "oauth2").
	Name string
	// DisplayName is the human label for login buttons (default Name).
	DisplayName string
	// BaseScopes are requested when AuthURLOptions.Scopes is nil.
	BaseScopes []string

	// TokenEndpointAuthMethod defaults to ClientSecretPost, as upstream.
	TokenEndpointAuthMethod AuthMethod
	// RevocationEndpointAuthMethod may be None, unlike the token
	// endpoint's.
	RevocationEndpointAuthMethod AuthMethod

	// HTTPClient is used through a shallow copy that never follows
	// redirects.
	HTTPClient *http.Client
	// UserAgent defaults to DefaultUserAgent.
	UserAgent string
	// Now is the clock for token expiry and ID-token iat; default time.Now.
	Now func() time.Time
	// jwksRefetch is WithJWKSRefetchInterval's (0: the default).
	jwksRefetch time.Duration
	// lazy are WithLazy's options, read by LazyOpenID only.
	lazy []LazyOption

	// client assertions (private_key_jwt): a key, or a source of
	// assertions made elsewhere; the *Set fields record that the option
	// was given, so a nil value is reported rather than ignored.
	assertionKey                        crypto.Signer
	assertionKeyID                      string
	assertionAlg                        jose.SignatureAlgorithm
	assertionSource                     AssertionSource
	assertionKeySet, assertionSourceSet bool

	// dpop is WithDPoP's setting and the servers' nonces.
	dpop dpopConfig

	// secretFromKey: the client secret is signed for each request from a
	// private key (Apple), so ClientSecret is empty by design.
	secretFromKey bool

	// provider-specific options, read by one constructor only.
	shopifyAPIVersion        string
	githubAPIVersion         string
	discordAPIVersion        int
	microsoftGraphVersion    string
	microsoftTenants         []string
	microsoftAnyTenant       bool
	franceConnectIntegration bool
	// scoped records the provider-specific options given, so another
	// provider's constructor can refuse them.
	scoped []scopedOption
}

// fromConfig starts a config from the caller's Config.
func fromConfig(c Config) config {
	return config{
		ClientID:                    c.ClientID,
		ClientSecret:                c.ClientSecret,
		AuthorizeEndpoint:           c.AuthorizeEndpoint,
		AccessTokenEndpoint:         c.AccessTokenEndpoint,
		RefreshTokenEndpoint:        c.RefreshTokenEndpoint,
		RevokeTokenEndpoint:         c.RevokeTokenEndpoint,
		PushedAuthorizationEndpoint: c.PushedAuthorizationEndpoint,
	}
}

// public returns the Config part of c.
func (c *config) public() Config {
	return Config{
		ClientID:                    c.ClientID,
		ClientSecret:                c.ClientSecret,
		AuthorizeEndpoint:           c.AuthorizeEndpoint,
		AccessTokenEndpoint:         c.AccessTokenEndpoint,
		RefreshTokenEndpoint:        c.RefreshTokenEndpoint,
		RevokeTokenEndpoint:         c.RevokeTokenEndpoint,
		PushedAuthorizationEndpoint: c.PushedAuthorizationEndpoint,
	}
}

// scopedOption names a provider-specific option and the provider it is for.
type scopedOption struct{ option, provider string }

// String describes the configuration with the client secret redacted, so a
// logged or printed Config never leaks it.
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

// MarshalJSON encodes the configuration with the client secret redacted,
// so a Config logged by a JSON handler (log/slog) never leaks it.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config // no methods, so no recursion
	p := plain(c)
	if p.ClientSecret != "" {
		p.ClientSecret = "REDACTED"
	}
	return json.Marshal(p)
}

// Option sets how a client talks to its provider. Every constructor takes
// options: [New], the provider constructors and discovery. Options apply
// after the provider's defaults, so they override them.
//
// Provider-specific options (WithFacebookGraphVersion, WithShopifyAPIVersion,
// ...) are refused with ErrInvalidConfig by the constructors of other
// providers, so a misplaced option is a start-up error rather than a
// setting silently ignored.
type Option func(*config)

// WithHTTPClient sets the HTTP client used for every request (so
// connections are pooled); the default has a 30 s timeout. Redirects are
// never followed, whatever its CheckRedirect: a 307 would re-send a POST
// body that holds the client secret to another host. The client is used
// through a shallow copy whose CheckRedirect stops at the first redirect
// (ErrRedirect), so the caller's client is not modified.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.HTTPClient = hc } }

// WithScopes replaces the provider's default scopes: they are requested
// when AuthURLOptions.Scopes is nil. No arguments means no scope parameter.
func WithScopes(scopes ...string) Option {
	return func(c *config) { c.BaseScopes = append([]string{}, scopes...) }
}

// WithTokenEndpointAuthMethod sets the method the client is registered for
// at the token endpoint (default ClientSecretPost, as upstream). It
// overrides a provider's default, and discovery keeps it instead of
// choosing from the server's list (a server that lists client_secret_post
// first may still refuse it from a client registered for
// client_secret_basic). None is refused here: a server-side client is
// confidential. PrivateKeyJWT and ClientSecretJWT are used only when
// given here (with WithClientAssertionKey or WithClientAssertion for
// PrivateKeyJWT): discovery never picks them from the server's list.
func WithTokenEndpointAuthMethod(m AuthMethod) Option {
	return func(c *config) { c.TokenEndpointAuthMethod = m }
}

// WithRevocationEndpointAuthMethod sets the method used at the revocation
// endpoint; it is required with Config.RevokeTokenEndpoint, and may be
// None for endpoints that only accept public clients. Discovery chooses it
// from the metadata and overrides this option.
func WithRevocationEndpointAuthMethod(m AuthMethod) Option {
	return func(c *config) { c.RevocationEndpointAuthMethod = m }
}

// WithUserAgent sets the User-Agent header of every request (default
// DefaultUserAgent).
func WithUserAgent(ua string) Option { return func(c *config) { c.UserAgent = ua } }

// WithName replaces the client's name: the kit uses it in routes and
// sessions, so two clients of one provider on one site need distinct names.
func WithName(name string) Option { return func(c *config) { c.Name = name } }

// WithDisplayName sets the label of login buttons (default the name).
func WithDisplayName(name string) Option { return func(c *config) { c.DisplayName = name } }

// WithClock sets the clock used for token expiry and ID-token checks; it is
// the client's only clock. The kit checks expiry with its own clock
// (oauthkit.Config.Now):
// give both the same clock.
func WithClock(now func() time.Time) Option { return func(c *config) { c.Now = now } }

// scoped returns an option of one provider: set applies it, and the
// constructors of other providers refuse it.
func scoped(option, provider string, set func(*config)) Option {
	return func(c *config) {
		c.scoped = append(c.scoped, scopedOption{option: option, provider: provider})
		set(c)
	}
}

// apply runs opts on c and refuses the options of providers other than
// provider.
func (c *config) apply(provider string, opts []Option) error {
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	for _, s := range c.scoped {
		if s.provider != provider {
			return fmt.Errorf("%w: %s applies to %s clients only", ErrInvalidConfig, s.option, s.provider)
		}
	}
	return nil
}

// build applies the caller's options over the provider's defaults and
// validates the result; provider is the constructor's provider ("" for
// New and discovery), whose scoped options alone are accepted.
func build(provider string, c config, opts []Option) (config, error) {
	if err := c.apply(provider, opts); err != nil {
		return config{}, err
	}
	if err := c.validate(); err != nil {
		return config{}, err
	}
	return c, nil
}

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
func (c *config) validate() error {
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
	if err := c.checkPushed(); err != nil {
		return err
	}
	if err := c.checkCredentials(); err != nil {
		return err
	}
	if err := c.checkAssertion(); err != nil {
		return err
	}
	if c.jwksRefetch < 0 {
		return fmt.Errorf("%w: JWKS refetch interval %v is negative", ErrInvalidConfig, c.jwksRefetch)
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
	c.dpop.init()
	return nil
}

// supported reports whether the package implements m at the token endpoint.
func (m AuthMethod) supported() bool { return m.usesSecret() || m == PrivateKeyJWT }

// usesSecret reports whether the method authenticates with ClientSecret.
func (m AuthMethod) usesSecret() bool {
	return m == ClientSecretBasic || m == ClientSecretPost || m == ClientSecretJWT
}

// sendsSecret reports whether the method sends ClientSecret itself, so
// discovery may choose it from the server's list: the JWT methods need
// the caller's explicit choice.
func (m AuthMethod) sendsSecret() bool { return m == ClientSecretBasic || m == ClientSecretPost }

// checkCredentials refuses a blank client id, which would send users to the
// provider with "client_id=", and an empty secret for a method that sends
// it, which no provider accepts: both are deployment mistakes (an unset
// environment variable) better reported at start-up than at the first login.
func (c *config) checkCredentials() error {
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
