package oauthkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/oauthkit/oauthkit/client"
	"golang.org/x/sync/singleflight"
)

// DefaultResolverTTL is how long a ProviderResolver's provider is reused
// when ProviderResolver.TTL is zero.
const DefaultResolverTTL = 5 * time.Minute

// maxTenantLen bounds a tenant key: it is part of every user id, session
// binding and pending login of the tenant.
const maxTenantLen = 128

// ProviderResolver supplies a provider per request, for sites where the
// identity provider depends on who is asking: "log in with your company's
// IdP", keyed by the tenant in the host or the path. One resolver is one
// route name: LoginHandler(Name) and CallbackHandler(Name) serve every
// tenant, mounted where Tenant finds the tenant (for example
// "/t/{tenant}/login" with r.PathValue("tenant")).
//
// A tenant's provider is named Name + ":" + tenant: that is the
// User.Provider of its logins (so the default UserID, provider + ":" + id,
// is scoped to the tenant: two tenants' IdPs issuing the same subject are
// two users) and the provider Kit.TokenFor takes. A pending login records
// the tenant's provider, issuer and client id; a callback that resolves to
// another tenant, or to a provider that changed since, is refused with
// ErrProviderMismatch before any token request.
type ProviderResolver struct {
	// Name is the name the handlers take; the rules of client names apply
	// (no ":"), and it must differ from every provider's.
	Name string
	// DisplayName is the label Kit.Providers reports for login buttons.
	DisplayName string
	// Tenant returns the tenant of r, for example from r.Host or
	// r.PathValue. It must not trust r beyond picking a key: the key is
	// only looked up. An error matching ErrUnknownProvider answers 404; a
	// key that is empty, longer than 128 bytes, or has ":" or control
	// characters is refused the same way.
	Tenant func(r *http.Request) (string, error)
	// Provider returns the tenant's provider: its Client (a client.Lazy
	// makes it discover its issuer on first use, without blocking here),
	// its RedirectURL (the tenant's own callback URL) and the rest, checked
	// as New checks Config.Providers. It is called once per tenant per TTL
	// however many requests arrive together, with a context bounded by
	// Config.ProviderTimeout. An error matching ErrUnknownProvider answers
	// 404; any other, and a slow answer, ErrProviderUnavailable (503).
	// Errors are not cached. Return the same Client while the tenant's
	// registration is unchanged (keep them in a map of your own): a new
	// client.Lazy each TTL means a new discovery and key-set fetch.
	Provider func(ctx context.Context, tenant string) (Provider, error)
	// TTL is how long a tenant's provider is reused before Provider is
	// asked again (default DefaultResolverTTL). A tenant whose provider
	// cannot be resolved any more signs out its users at their next
	// request.
	TTL time.Duration
}

// resolverState is a ProviderResolver with its cache of tenants.
type resolverState struct {
	ProviderResolver
	mu      sync.Mutex
	tenants map[string]tenantEntry
	flights singleflight.Group
}

type tenantEntry struct {
	p       *providerState
	expires time.Time
}

// addResolvers validates rs and adds them to k.
func (k *Kit) addResolvers(rs []ProviderResolver) error {
	for i, r := range rs {
		if err := checkName(r.Name); err != nil {
			return configError("resolver %d: %v", i, err)
		}
		if _, dup := k.providers[r.Name]; dup {
			return configError("a provider and a resolver are named %q", r.Name)
		}
		if _, dup := k.resolvers[r.Name]; dup {
			return configError("two resolvers are named %q", r.Name)
		}
		if r.Tenant == nil || r.Provider == nil {
			return configError("resolver %q needs Tenant and Provider", r.Name)
		}
		if r.TTL <= 0 {
			r.TTL = DefaultResolverTTL
		}
		if r.DisplayName == "" {
			r.DisplayName = r.Name
		}
		if k.resolvers == nil {
			k.resolvers = map[string]*resolverState{}
		}
		k.resolvers[r.Name] = &resolverState{ProviderResolver: r, tenants: map[string]tenantEntry{}}
	}
	return nil
}

// route is what a handler is mounted for: a provider, or a resolver whose
// provider each request picks.
type route struct {
	p   *providerState
	res *resolverState
}

// provider returns the provider to serve r with, resolved (see live).
func (k *Kit) provider(r *http.Request, rt route) (*providerState, error) {
	p := rt.p
	if rt.res != nil {
		tenant, err := rt.res.Tenant(r)
		if err != nil {
			return nil, tenantError(err)
		}
		if p, err = k.tenant(r.Context(), rt.res, tenant); err != nil {
			return nil, err
		}
	}
	return k.live(r.Context(), p)
}

// tenantError keeps ErrUnknownProvider (404) and makes anything else from
// a resolver ErrProviderUnavailable (503).
func tenantError(err error) error {
	if errors.Is(err, ErrUnknownProvider) {
		return err
	}
	return wrap(ErrProviderUnavailable, err)
}

// tenant returns the tenant's provider state from res's cache, asking
// res.Provider once (for every concurrent caller) when it is missing or
// has expired.
func (k *Kit) tenant(ctx context.Context, res *resolverState, tenant string) (*providerState, error) {
	if tenant == "" || len(tenant) > maxTenantLen || strings.ContainsFunc(tenant, isControl) || strings.Contains(tenant, ":") {
		return nil, fmt.Errorf("%w: bad tenant key", ErrUnknownProvider)
	}
	if p, ok := res.cached(tenant, k.cfg.Now()); ok {
		return p, nil
	}
	ch := res.flights.DoChan(tenant, func() (any, error) {
		// A flight that ended just before this one began has filled
		// the cache: one call per tenant per TTL, however the callers
		// interleave.
		if p, ok := res.cached(tenant, k.cfg.Now()); ok {
			return p, nil
		}
		// Detached from the first caller, so its going away does not
		// fail the others; bounded like every provider call.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.ProviderTimeout)
		defer cancel()
		pv, err := res.Provider(rctx, tenant)
		if err != nil {
			if errors.Is(err, ErrUnknownProvider) {
				res.mu.Lock()
				delete(res.tenants, tenant)
				res.mu.Unlock()
			}
			return nil, tenantError(err)
		}
		if err := rctx.Err(); err != nil {
			return nil, wrap(ErrProviderUnavailable, err)
		}
		p, err := k.tenantState(res, tenant, pv)
		if err != nil {
			return nil, err
		}
		res.mu.Lock()
		res.tenants[tenant] = tenantEntry{p: p, expires: k.cfg.Now().Add(res.TTL)}
		res.mu.Unlock()
		return p, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*providerState), nil
	case <-ctx.Done():
		return nil, wrap(ErrProviderUnavailable, ctx.Err())
	}
}

// tenantState checks a resolved provider as New checks Config.Providers
// and names it res.Name + ":" + tenant.
func (k *Kit) tenantState(res *resolverState, tenant string, pv Provider) (*providerState, error) {
	if pv.Client == nil {
		return nil, configError("resolver %q gave tenant %q no Client", res.Name, tenant)
	}
	name := res.Name + ":" + tenant
	p, err := k.newProviderState(name, pv)
	if err != nil {
		return nil, err
	}
	p.tenant = true
	p.setPendingKey()
	if _, known := k.tenantOrigins.LoadOrStore(p.origin, true); !known {
		// The tenant's site is the site: its same-site logout POSTs
		// pass the cross-origin check (safe to add while serving).
		if err := k.cop.AddTrustedOrigin(p.origin); err != nil {
			return nil, configError("tenant %q redirect URL origin %q: %v", tenant, p.origin, err)
		}
	}
	return p, nil
}

// byName returns the provider a session or a TokenFor call names: a
// configured provider, or a resolver's tenant (name:tenant).
func (k *Kit) byName(ctx context.Context, name string) (*providerState, error) {
	if p, ok := k.providers[name]; ok {
		return p, nil
	}
	if rname, tenant, ok := strings.Cut(name, ":"); ok {
		if res, ok := k.resolvers[rname]; ok {
			return k.tenant(ctx, res, tenant)
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, name)
}

// setPendingKey sets what p's pending logins record (see
// providerState.pendingKey). A tenant's key changes with its redirect URL,
// issuer or client id, so a login started before the resolver changed them
// cannot complete against the new ones.
func (p *providerState) setPendingKey() {
	p.pendingKey = p.name
	if p.tenant {
		p.pendingKey = p.name + "\x00" + p.RedirectURL + "\x00" + p.Issuer + "\x00" + clientID(p.Client)
	}
}

// clientID is c's client id when c tells it (every client of package
// client does, through Config), "" otherwise.
func clientID(c client.Provider) string {
	if cc, ok := c.(interface{ Config() client.Config }); ok {
		return cc.Config().ClientID
	}
	return ""
}

// cached returns tenant's provider state when it has not expired at now.
func (res *resolverState) cached(tenant string, now time.Time) (*providerState, bool) {
	res.mu.Lock()
	e, ok := res.tenants[tenant]
	res.mu.Unlock()
	return e.p, ok && now.Before(e.expires)
}
