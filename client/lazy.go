package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Lazy is a client whose provider is discovered on first use instead of at
// start-up, so a server whose identity provider is down (or slow, or
// serving broken metadata) still starts, serves its other pages, and
// starts offering the login once the provider is back, without a restart.
// It implements Resolver: the kit calls Resolve with the request's context
// and uses the Provider it returns.
//
// The first Resolve fetches; concurrent callers share that one fetch,
// which runs detached from any one caller's context (bounded by the fetch
// timeout, see WithLazyFetchTimeout), while each caller still returns when
// its own context ends. A failure with nothing cached is an error matching
// both ErrProviderUnavailable and its cause; for a backoff window after it
// (see WithLazyBackoff) Resolve returns that error at once, without a
// request, so an outage does not turn every page view into a discovery
// attempt. A provider once resolved is kept: when it is older than the
// refresh interval (WithLazyRefresh) Resolve still returns it at once and
// refreshes it in the background; a failed refresh keeps it.
//
// Lazy also implements Provider by delegating to the resolved provider, for
// code that is handed a Provider: Name is fixed at construction (it keys
// routes and sessions, so the discovered provider must have the same name),
// the context-taking methods call Resolve first, and the others use the
// provider resolved so far (see each method). It is safe for concurrent use.
type Lazy struct {
	name, displayName string
	// source describes where the provider is discovered, for String.
	source   string
	discover func(ctx context.Context) (Provider, error)
	set      lazySettings
	group    singleflight.Group
	// refreshed, when set (by tests), is called after each background
	// refresh has stored its outcome.
	refreshed func()

	mu         sync.Mutex
	p          Provider
	fetchedAt  time.Time
	err        error
	failures   int
	retryAt    time.Time
	refreshing bool
}

var _ Resolver = (*Lazy)(nil)

// LazyOption configures a Lazy: how often it refreshes, how it backs off
// after failures, how long one fetch may take, and its clock.
type LazyOption func(*lazySettings)

type lazySettings struct {
	refresh, backoffMin, backoffMax, fetchTimeout time.Duration
	now                                           func() time.Time
}

// Defaults of the LazyOption settings.
const (
	defaultLazyRefresh      = time.Hour
	defaultLazyBackoffMin   = time.Second
	defaultLazyBackoffMax   = 5 * time.Minute
	defaultLazyFetchTimeout = 10 * time.Second
)

// WithLazyRefresh sets how old a resolved provider may get before Resolve
// refreshes it in the background (default 1 hour), so changed metadata
// (new endpoints, a new JWKS location) is picked up without a restart.
// Zero or less means the default.
func WithLazyRefresh(d time.Duration) LazyOption {
	return func(s *lazySettings) { s.refresh = d }
}

// WithLazyBackoff sets the window after a failed fetch during which
// Resolve does not try again (default 1 s, doubling with each consecutive
// failure up to 5 min), so an outage costs the provider a few requests
// rather than one per page view. Zero or less means the default; a max
// below min is raised to min.
func WithLazyBackoff(minWait, maxWait time.Duration) LazyOption {
	return func(s *lazySettings) { s.backoffMin, s.backoffMax = minWait, maxWait }
}

// WithLazyFetchTimeout bounds one fetch (default 10 s). The fetch is shared
// by every caller waiting for it and runs detached from their contexts, so
// this timeout is what ends a fetch from a provider that hangs. Zero or
// less means the default.
func WithLazyFetchTimeout(d time.Duration) LazyOption {
	return func(s *lazySettings) { s.fetchTimeout = d }
}

// WithLazyClock sets the clock the refresh interval and the backoff are
// measured with (default time.Now), so tests move time instead of sleeping.
func WithLazyClock(now func() time.Time) LazyOption {
	return func(s *lazySettings) { s.now = now }
}

// WithLazy passes LazyOptions through LazyOpenID, whose other options are
// the client's. Other constructors refuse it with ErrInvalidConfig.
func WithLazy(opts ...LazyOption) Option {
	return scoped("WithLazy", lazyScope, func(c *config) { c.lazy = append(c.lazy, opts...) })
}

// lazyScope is the provider name WithLazy is scoped to.
const lazyScope = "LazyOpenID"

func newLazySettings(opts []LazyOption) lazySettings {
	var s lazySettings
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if s.refresh <= 0 {
		s.refresh = defaultLazyRefresh
	}
	if s.backoffMin <= 0 {
		s.backoffMin = defaultLazyBackoffMin
	}
	if s.backoffMax <= 0 {
		s.backoffMax = defaultLazyBackoffMax
	}
	s.backoffMax = max(s.backoffMax, s.backoffMin)
	if s.fetchTimeout <= 0 {
		s.fetchTimeout = defaultLazyFetchTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// NewLazy returns a client named name whose provider discover returns. It
// does no I/O: discover is first called by Resolve. discover gets a context
// bounded by the fetch timeout and detached from the callers waiting for
// it; the provider it returns must be named name (a mismatch is an error
// matching ErrInvalidConfig, reported through Resolve), since the kit keys
// routes and sessions by Lazy's Name before anything is resolved.
func NewLazy(name string, discover func(ctx context.Context) (Provider, error), opts ...LazyOption) *Lazy {
	return &Lazy{name: name, displayName: name, discover: discover, set: newLazySettings(opts)}
}

// LazyOpenID is DiscoverOpenID on first use: it checks now what it can
// without I/O (the issuer or configuration URL, the client id, the secret
// the auth method needs, the options, and the name, from WithName or
// "openid"), returning an error matching ErrInvalidConfig for a bad
// configuration, and discovers the provider with DiscoverOpenID when
// Resolve is first called. Errors of the metadata (see DiscoverOpenID)
// are reported by Resolve, matching ErrProviderUnavailable and
// ErrOpenIDConfiguration.
//
// WithLazy passes LazyOptions; the clock defaults to WithClock's.
func LazyOpenID(issuerOrConfigURL, clientID, clientSecret string, opts ...Option) (*Lazy, error) {
	issuer, _, err := openIDLocation(issuerOrConfigURL)
	if err != nil {
		return nil, err
	}
	cfg := config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Name:         "openid",
		DisplayName:  "OpenID",
		BaseScopes:   []string{"openid", "email"},
	}
	if err := cfg.apply(lazyScope, opts); err != nil {
		return nil, err
	}
	// Validate as DiscoverOpenID will once the metadata has named the
	// endpoints, with stand-ins of the issuer's for them; the revocation
	// method is chosen from the metadata, so it is not checked here.
	check := cfg
	base := strings.TrimSuffix(issuer, "/")
	check.AuthorizeEndpoint, check.AccessTokenEndpoint = base+"/authorize", base+"/token"
	check.RevocationEndpointAuthMethod = ""
	if check.pushed {
		check.PushedAuthorizationEndpoint = base + "/par"
	}
	check.BaseScopes = slices.Clone(cfg.BaseScopes)
	if err := check.validate(); err != nil {
		if !errors.Is(err, ErrInvalidConfig) {
			err = fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		return nil, err
	}
	lazyOpts := slices.Clone(cfg.lazy)
	if cfg.Now != nil {
		lazyOpts = append([]LazyOption{WithLazyClock(cfg.Now)}, lazyOpts...)
	}
	// DiscoverOpenID refuses WithLazy: drop it from the options it runs.
	discoverOpts := append(slices.Clone(opts), func(c *config) {
		c.lazy = nil
		c.scoped = slices.DeleteFunc(c.scoped, func(s scopedOption) bool { return s.provider == lazyScope })
	})
	l := NewLazy(check.Name, func(ctx context.Context) (Provider, error) {
		o, err := DiscoverOpenID(ctx, issuerOrConfigURL, clientID, clientSecret, discoverOpts...)
		if err != nil {
			return nil, err
		}
		return o, nil
	}, lazyOpts...)
	l.displayName, l.source = check.DisplayName, issuer
	return l, nil
}

// Resolve returns the provider, fetching it when none is cached (see Lazy).
// Its errors match ErrProviderUnavailable and the cause: the discovery
// error, or ctx's error when ctx ended before the shared fetch did.
func (l *Lazy) Resolve(ctx context.Context) (Provider, error) {
	l.mu.Lock()
	now := l.set.now()
	if p := l.p; p != nil {
		if !l.refreshing && now.Sub(l.fetchedAt) >= l.set.refresh && !now.Before(l.retryAt) {
			l.refreshing = true
			go l.refresh(ctx)
		}
		l.mu.Unlock()
		return p, nil
	}
	if now.Before(l.retryAt) {
		err := l.err
		l.mu.Unlock()
		return nil, err
	}
	ch := l.group.DoChan("resolve", func() (any, error) { return l.fetch(ctx) })
	l.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, l.unavailable(ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(Provider), nil
	}
}

// refresh replaces the cached provider in the background.
func (l *Lazy) refresh(ctx context.Context) {
	_, _, _ = l.group.Do("resolve", func() (any, error) { return l.fetch(ctx) })
	l.mu.Lock()
	l.refreshing = false
	l.mu.Unlock()
	if l.refreshed != nil {
		l.refreshed()
	}
}

// fetch runs discover on a context detached from ctx and stores the
// outcome: the provider, or the error and the end of the backoff window.
func (l *Lazy) fetch(ctx context.Context) (Provider, error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.set.fetchTimeout)
	defer cancel()
	p, err := l.callDiscover(fctx)
	if err == nil && p.Name() != l.name {
		err = fmt.Errorf("%w: discovered provider is named %q, not %q", ErrInvalidConfig, sanitize(p.Name(), 64), sanitize(l.name, 64))
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.set.now()
	if err != nil {
		l.failures++
		l.retryAt = now.Add(l.backoff())
		l.err = l.unavailable(err)
		return nil, l.err
	}
	l.p, l.fetchedAt = p, now
	l.failures, l.retryAt, l.err = 0, time.Time{}, nil
	return p, nil
}

// callDiscover calls discover, turning a panic into an error: the fetch
// runs on its own goroutine, where a panic would end the whole server.
func (l *Lazy) callDiscover(ctx context.Context) (p Provider, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("discovery panicked: %v", r)
		}
	}()
	p, err = l.discover(ctx)
	if err == nil && p == nil {
		err = errors.New("discovery returned no provider")
	}
	return p, err
}

// backoff is the window after l.failures consecutive failures.
func (l *Lazy) backoff() time.Duration {
	d := l.set.backoffMin
	for i := 1; i < l.failures && d < l.set.backoffMax; i++ {
		d *= 2
	}
	return min(d, l.set.backoffMax)
}

// unavailable wraps err so it matches ErrProviderUnavailable too.
func (l *Lazy) unavailable(err error) error {
	if errors.Is(err, ErrProviderUnavailable) {
		return err
	}
	return fmt.Errorf("%w (%s): %w", ErrProviderUnavailable, sanitize(l.name, 64), err)
}

// resolved returns the provider resolved so far, or nil.
func (l *Lazy) resolved() Provider {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p
}

// String describes the client without its credentials: its name, where it
// discovers its provider, and whether it has one.
func (l *Lazy) String() string {
	l.mu.Lock()
	state := "unresolved"
	switch {
	case l.p != nil:
		state = "resolved"
	case l.err != nil:
		state = "unavailable"
	}
	l.mu.Unlock()
	return fmt.Sprintf("client.Lazy{Name:%q Source:%q State:%s}", l.name, l.source, state)
}

// GoString redacts the same way for %#v.
func (l *Lazy) GoString() string { return l.String() }

// Name returns the name given at construction, known before any fetch:
// the kit keys routes and sessions by it.
func (l *Lazy) Name() string { return l.name }

// DisplayName returns the resolved provider's, else the one known at
// construction (LazyOpenID: WithDisplayName or "OpenID"; NewLazy: the
// name), so a login button can be labelled during an outage.
func (l *Lazy) DisplayName() string {
	if p := l.resolved(); p != nil {
		return p.DisplayName()
	}
	return l.displayName
}

// Capabilities returns the resolved provider's, else the zero value: they
// come from the metadata. The kit calls Resolve first and reads the
// resolved provider's.
func (l *Lazy) Capabilities() Capabilities {
	if p := l.resolved(); p != nil {
		return p.Capabilities()
	}
	return Capabilities{}
}

// AuthCodeURL is the resolved provider's; before one is resolved it fails
// with an error matching ErrProviderUnavailable (it takes no context to
// fetch with: call Resolve first).
func (l *Lazy) AuthCodeURL(redirectURI string, opts AuthURLOptions, params Params) (string, error) {
	l.mu.Lock()
	p, err := l.p, l.err
	l.mu.Unlock()
	if p == nil {
		if err == nil {
			err = l.unavailable(errors.New("provider not resolved yet"))
		}
		return "", err
	}
	return p.AuthCodeURL(redirectURI, opts, params)
}

// AccessToken resolves the provider with ctx and exchanges the code with it.
func (l *Lazy) AccessToken(ctx context.Context, code, redirectURI, codeVerifier string) (*Token, error) {
	p, err := l.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	return p.AccessToken(ctx, code, redirectURI, codeVerifier)
}

// RefreshToken resolves the provider with ctx and refreshes with it.
func (l *Lazy) RefreshToken(ctx context.Context, refreshToken string) (*Token, error) {
	p, err := l.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	return p.RefreshToken(ctx, refreshToken)
}

// Revoke resolves the provider with ctx and revokes t with it.
func (l *Lazy) Revoke(ctx context.Context, t *Token) error {
	p, err := l.Resolve(ctx)
	if err != nil {
		return err
	}
	return p.Revoke(ctx, t)
}

// Identify resolves the provider with ctx and identifies t's user with it.
func (l *Lazy) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	p, err := l.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	return p.Identify(ctx, t, nonce)
}
