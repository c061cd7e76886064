package oauthkittest

import (
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// AuthMethod is how a client authenticates at the token and revocation
// endpoints (the token_endpoint_auth_method of its registration).
type AuthMethod string

// The client authentication methods a Client can be registered with. The
// provider accepts only the registered one: a client registered for
// client_secret_basic that sends its secret in the form is refused with
// invalid_client, as strict production servers do.
const (
	AuthMethodBasic         AuthMethod = "client_secret_basic"
	AuthMethodPost          AuthMethod = "client_secret_post"
	AuthMethodPrivateKeyJWT AuthMethod = "private_key_jwt"
	// AuthMethodNone is a public client (no secret), protected by PKCE only.
	AuthMethodNone AuthMethod = "none"
)

// Client is a client registration: what an administrator enters at a
// real provider for the application under test.
type Client struct {
	// ID is the client_id.
	ID string
	// Secret is the client secret of client_secret_basic and
	// client_secret_post clients.
	Secret string
	// RedirectURIs are matched exactly (for AuthMethodNone clients, a
	// loopback URI matches on any port, RFC 8252 §7.3), so register the
	// application's callback on the port it listens on: start it with
	// httptest.NewUnstartedServer to know the address first.
	RedirectURIs []string
	// PostLogoutRedirectURIs are where end-session may send the browser.
	PostLogoutRedirectURIs []string
	// AnyLoopbackRedirect accepts, besides RedirectURIs and
	// PostLogoutRedirectURIs, any http or https URI on localhost or a
	// loopback IP address (127.0.0.1, [::1]), on any port and path, as a
	// redirect and as a post-logout redirect: for a development client
	// that applications on any local port sign in with, without
	// registering each. URIs with user information or a fragment are
	// refused, so "http://localhost@evil.example" never qualifies.
	AnyLoopbackRedirect bool
	// AuthMethod is the one method the client may use; the zero value is
	// AuthMethodBasic.
	AuthMethod AuthMethod
	// BackChannelLogoutURI receives logout tokens when LogoutUser logs a
	// user out (OpenID Connect Back-Channel Logout 1.0).
	BackChannelLogoutURI string
	// PublicKey verifies the assertions of a private_key_jwt client (an
	// *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey).
	PublicKey crypto.PublicKey

	// internalSecret is what the client-authentication middleware
	// presents to the op for a private_key_jwt client it has verified.
	internalSecret string
}

// User is a user of the provider and the claims it asserts about them.
type User struct {
	// Subject is the "sub" claim, unique at this provider.
	Subject string
	// Email and EmailVerified are released with scope email.
	Email         string
	EmailVerified bool
	// Name is released with scope profile.
	Name string
	// Groups, when set, is the "groups" claim of ID tokens and UserInfo.
	Groups []string
	// ACR is the "acr" of ID tokens from this user's logins.
	ACR string
	// AMR is the "amr" of ID tokens; default ["pwd"].
	AMR []string
	// AuthTime is the "auth_time" of this user's logins; zero means the
	// time of each login.
	AuthTime time.Time
	// Claims are extra claims of ID tokens and UserInfo.
	Claims map[string]any
	// Password, when set, lets the user sign in with the password form of
	// the provider's login page (typing the Subject or the Email); users
	// without one sign in only with a click, LoginAs or SetNextLogin.
	Password string
}

// Errors of registration and of LoginAs, for errors.Is.
var (
	// ErrRegistration is a Client or User the provider cannot register
	// (no id, a duplicate, an unknown auth method, a missing secret).
	ErrRegistration = errors.New("oauthkittest: invalid registration")
	// ErrUnknownUser is a LoginAs for a user no AddUser registered.
	ErrUnknownUser = errors.New("oauthkittest: unknown user")
	// ErrLogin is a LoginAs whose flow did not complete: see LoginError.
	ErrLogin = errors.New("oauthkittest: login did not complete")
)

// Option configures a Provider at Start.
type Option func(*options)

type options struct {
	addr                 string
	accessTokenLifetime  time.Duration
	refreshTokenLifetime time.Duration
	idTokenLifetime      time.Duration
	clients              []Client
	users                []User
}

// WithAddr listens on addr instead of a free loopback port, for a fixed
// issuer across runs.
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithAccessTokenLifetime sets how long access tokens live (default one
// hour): expires_in, and when UserInfo starts refusing them.
func WithAccessTokenLifetime(d time.Duration) Option {
	return func(o *options) { o.accessTokenLifetime = d }
}

// WithRefreshTokenLifetime sets how long refresh tokens live (default a day).
func WithRefreshTokenLifetime(d time.Duration) Option {
	return func(o *options) { o.refreshTokenLifetime = d }
}

// WithIDTokenLifetime sets the exp of ID tokens (default one hour).
func WithIDTokenLifetime(d time.Duration) Option {
	return func(o *options) { o.idTokenLifetime = d }
}

// WithClient registers c at start, as AddClient does.
func WithClient(c Client) Option { return func(o *options) { o.clients = append(o.clients, c) } }

// WithUser registers u at start, as AddUser does.
func WithUser(u User) Option { return func(o *options) { o.users = append(o.users, u) } }

// Provider is an OpenID Connect provider on loopback, built on
// zitadel/oidc's op package: discovery, authorize (PKCE S256 required),
// token (authorization_code and refresh_token, refresh tokens rotating
// with reuse detection), revocation, introspection, UserInfo, JWKS and
// end-session. Its users log in without a form through LoginAs, the next
// login set by SetNextLogin, or a login_hint naming them.
type Provider struct {
	opts   options
	issuer string
	host   string // host:port of the loopback listener
	// hosts are the hosts of the provider's URLs: the listener's, or for a
	// provider-shaped fake the real provider's names, which route reaches.
	hosts []string
	route func(base http.RoundTripper) http.RoundTripper
	extra map[string]Endpoint // paths of shape routes
	op    *op.Provider
	st    *storage
	ln    net.Listener
	srv   server
	fb    faultBox

	mu      sync.Mutex
	tickets map[string]*loginTicket // LoginAs tickets
	next    []string                // subjects of SetNextLogin
	jtis    map[string]time.Time    // private_key_jwt assertion ids seen
}

// NewProvider starts a Provider for a test and closes it when the test
// ends; a failure to start fails the test.
func NewProvider(t testing.TB, opts ...Option) *Provider {
	t.Helper()
	p, err := Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// Start starts a Provider; Close stops it. Outside tests (an Example, a
// TestMain, a development server) this is the constructor to use.
//
// zitadel/oidc logs failed requests through slog's default logger; tests
// that want quiet output set slog.SetDefault to a discarding logger.
func Start(opts ...Option) (*Provider, error) { return start(opts, shape{}) }

// shape makes a Provider answer as a particular provider: its issuer, the
// hosts of its URLs (reached through routeTransport) and a front handler
// mapping its paths to the op's.
type shape struct {
	issuer string
	hosts  []string
	front  func(p *Provider, next http.Handler) http.Handler
	// routes are extra handlers (a user API) and the endpoints they count as.
	routes map[string]shapeRoute
}

type shapeRoute struct {
	endpoint Endpoint
	handler  func(p *Provider) http.HandlerFunc
}

func start(opts []Option, sh shape) (*Provider, error) {
	o := options{
		addr:                 "127.0.0.1:0",
		accessTokenLifetime:  time.Hour,
		refreshTokenLifetime: 24 * time.Hour,
		idTokenLifetime:      time.Hour,
	}
	for _, opt := range opts {
		opt(&o)
	}
	p := &Provider{
		opts:    o,
		fb:      newFaultBox(),
		tickets: map[string]*loginTicket{},
		jtis:    map[string]time.Time{},
	}
	st, err := newStorage(p)
	if err != nil {
		return nil, err
	}
	p.st = st
	p.fb.rewriteIDToken = p.rewriteIDToken
	for _, c := range o.clients {
		if err := p.AddClient(c); err != nil {
			return nil, err
		}
	}
	for _, u := range o.users {
		if err := p.AddUser(u); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("oauthkittest: %w", err)
	}
	p.ln = ln
	p.host = ln.Addr().String()
	p.issuer, p.hosts = "http://"+p.host, []string{p.host}
	if sh.issuer != "" {
		p.issuer, p.hosts = sh.issuer, sh.hosts
		p.route = func(base http.RoundTripper) http.RoundTripper {
			if base == nil {
				base = http.DefaultTransport
			}
			return routeTransport{base: base, hosts: sh.hosts, to: p.host}
		}
	}
	var key [32]byte
	_, _ = rand.Read(key[:])
	cfg := &op.Config{
		CryptoKey:                key,
		DefaultLogoutRedirectURI: p.issuer + loggedOutPath,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		AuthMethodPrivateKeyJWT:  true, // advertised; assertions are verified by authenticateClients
		GrantTypeRefreshToken:    true,
		// Sent by LogoutUser; ID tokens carry the sid logout tokens name.
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
		SupportedClaims:                   append(append([]string(nil), op.DefaultSupportedClaims...), "groups"),
		SupportedScopes:                   []string{"openid", "profile", "email", "offline_access", "groups"},
	}
	p.op, err = op.NewProvider(cfg, st, op.StaticIssuer(p.issuer), op.WithAllowInsecure())
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("oauthkittest: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(loginPath, p.serveLogin)
	mux.HandleFunc(loggedOutPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "signed out\n")
	})
	mux.Handle("/", p.op)
	p.extra = map[string]Endpoint{}
	for path, rt := range sh.routes {
		mux.HandleFunc(path, rt.handler(p))
		p.extra[path] = rt.endpoint
	}
	var h http.Handler = p.fb.middleware(p.endpointOf, p.authenticateClients(p.loopbackRedirects(mux)))
	if sh.front != nil {
		h = sh.front(p, h)
	}
	p.srv.serve(ln, h, p.fb.closing)
	return p, nil
}

// Close stops the provider: hanging answers return, connections close,
// and Close waits for every handler to finish. It is safe to call twice.
func (p *Provider) Close() { p.srv.close() }

// Issuer is the provider's issuer URL (http://127.0.0.1:port, no trailing
// slash): what an application passes to discovery.
func (p *Provider) Issuer() string { return p.issuer }

// TokenURL is the token endpoint, for assertions whose audience it is.
func (p *Provider) TokenURL() string { return p.op.TokenEndpoint().Absolute(p.issuer) }

// AddClient registers c. The zero AuthMethod is client_secret_basic;
// secret methods need a Secret, private_key_jwt a PublicKey.
func (p *Provider) AddClient(c Client) error {
	if c.ID == "" {
		return fmt.Errorf("%w: client without ID", ErrRegistration)
	}
	if c.AuthMethod == "" {
		c.AuthMethod = AuthMethodBasic
	}
	switch c.AuthMethod {
	case AuthMethodBasic, AuthMethodPost:
		if c.Secret == "" {
			return fmt.Errorf("%w: client %q (%s) without Secret", ErrRegistration, c.ID, c.AuthMethod)
		}
	case AuthMethodPrivateKeyJWT:
		if c.PublicKey == nil {
			return fmt.Errorf("%w: client %q (private_key_jwt) without PublicKey", ErrRegistration, c.ID)
		}
		c.internalSecret = rand.Text()
	case AuthMethodNone:
	default:
		return fmt.Errorf("%w: client %q: unknown auth method %q", ErrRegistration, c.ID, c.AuthMethod)
	}
	c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
	c.PostLogoutRedirectURIs = append([]string(nil), c.PostLogoutRedirectURIs...)
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	if _, dup := p.st.clients[c.ID]; dup {
		return fmt.Errorf("%w: client %q registered twice", ErrRegistration, c.ID)
	}
	p.st.clients[c.ID] = &registeredClient{c}
	return nil
}

// AddUser registers u (or replaces the user of the same Subject, so a
// test can change claims between logins).
func (p *Provider) AddUser(u User) error {
	if u.Subject == "" {
		return fmt.Errorf("%w: user without Subject", ErrRegistration)
	}
	u.Groups = append([]string(nil), u.Groups...)
	claims := make(map[string]any, len(u.Claims))
	for k, v := range u.Claims {
		claims[k] = v
	}
	u.Claims = claims
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.users[u.Subject] = &u
	return nil
}

// user finds a user by subject, or else by email.
func (p *Provider) user(name string) (*User, bool) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	if u, ok := p.st.users[name]; ok {
		return u, true
	}
	for _, u := range p.st.users {
		if u.Email != "" && strings.EqualFold(u.Email, name) {
			return u, true
		}
	}
	return nil, false
}

// RotateSigningKey makes a new key sign every later token. With keepOld
// the JWKS still lists the previous keys (a graceful rotation); without,
// it lists only the new one (tokens already issued no longer verify). An
// application that cached the key set must fetch it again to verify the
// next ID token.
func (p *Provider) RotateSigningKey(keepOld bool) error {
	k, err := newSigningKey()
	if err != nil {
		return err
	}
	p.st.keys.rotate(k, keepOld)
	return nil
}
