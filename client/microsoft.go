package client

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

const (
	microsoftLogin     = "https://login.microsoftonline.com/"
	microsoftGraph     = "https://graph.microsoft.com/"
	microsoftMSATenant = "9188040d-6c67-4c5b-b112-36a304b66dad" // personal accounts
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// MicrosoftParams are the authorization parameters Microsoft documents.
// ResponseMode defaults to "query" (as upstream) but a caller's value, such
// as "form_post", is kept.
type MicrosoftParams struct {
	// ResponseMode is "query" when empty; "form_post" is kept.
	ResponseMode string
	// Prompt is login, none, consent or select_account.
	Prompt string
	// LoginHint pre-fills the user's sign-in name.
	LoginHint string
	// DomainHint is consumers, organizations or a tenant domain.
	DomainHint string
}

// AuthParams implements Params.
func (p MicrosoftParams) AuthParams() url.Values {
	v := url.Values{"response_mode": {"query"}}
	if p.ResponseMode != "" {
		v.Set("response_mode", p.ResponseMode)
	}
	for k, s := range map[string]string{"prompt": p.Prompt, "login_hint": p.LoginHint, "domain_hint": p.DomainHint} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// Microsoft is the Microsoft identity platform client.
//
// Identify: Subject is tenant-scoped, "<tid>/<oid>" from the verified ID
// token (lowercase tenant GUID, object id), because an object id is only
// unique within its tenant; it is never the oid or Graph id alone. The ID
// token is therefore required (keep the openid scope), and the Graph /me
// id must be the token's oid. Email is Graph "mail", else the user
// principal name (not for guests, "#EXT#"); Name is Graph "displayName".
// There is no AvatarURL (Graph serves the photo as bytes).
//
// Warning (nOAuth, CVE-2023-36871): Microsoft does not verify mail or the
// UPN. Any tenant administrator can set them to any address, including one
// of another organisation, so EmailVerified is false unless the ID token
// carries the Entra optional claim xms_edov ("email domain owner
// verified") as the JSON value true and its "email" claim is that same
// address (add the email and xms_edov optional claims to the app
// registration to get them). Even then the tenant only proved it owns the
// domain, not the mailbox. Never link accounts by a Microsoft email that is
// not verified.
//
// Microsoft client: Microsoft identity platform (Entra ID, personal
// accounts) v2.0 endpoints and Microsoft Graph.
//
// Follows https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow,
// https://learn.microsoft.com/en-us/entra/identity-platform/id-tokens,
// https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference and
// https://learn.microsoft.com/en-us/graph/api/user-get.
//
// Default scopes: "openid email profile User.Read". Upstream asks for
// User.Read only; openid and profile add an ID token with the tid and oid
// claims, so the token can be verified and tied to the Graph user. Add
// "offline_access" (WithScopes) to get refresh tokens. Refresh: yes (token
// URL). Revoke: no (Microsoft has no RFC 7009 endpoint).
//
// IDEmail: the Graph user "id" (the object id, equal to the ID token's
// "oid") and Graph "mail", else "userPrincipalName" unless it is a guest UPN
// ("#EXT#"). Neither is verified by Microsoft: a tenant admin can set any
// value ("nOAuth"), so never link accounts by this email; Identify's
// Subject and EmailVerified rules above apply instead.
//
// ID tokens: the multi-tenant endpoints (common, organizations, consumers)
// issue tokens whose iss is https://login.microsoftonline.com/{tid}/v2.0 for
// the user's tenant, which go-oidc's exact issuer match cannot express. The
// issuer is therefore checked here: tid must be a GUID and iss must be that
// template; a GUID tenant pins tid, "consumers" requires the personal-account
// tenant, "organizations" refuses it. A domain tenant ("contoso.com") cannot
// be mapped to its tid offline, so only the template is checked: configure
// the tenant GUID to pin it. IDClaims.Subject is the "oid" claim (the Graph
// id) rather than the pairwise "sub", so the subject check against Graph
// works. Microsoft does not send the RFC 9207 iss parameter, so
// [Microsoft.Capabilities] reports no Issuer.
//
// Personal accounts: Graph reports their id as 16 hex digits, while the ID
// token's oid is the same value as a GUID "00000000-0000-0000-xxxx-
// xxxxxxxxxxxx"; Identify treats the two forms as one user.
type Microsoft struct {
	*OAuth2
	oidcCore
	tenant string
	// allowed are the tenant ids WithMicrosoftTenants lists; nil allows
	// every tenant the endpoint serves.
	allowed []string
	graphMe string
}

var _ Provider = (*Microsoft)(nil)

// MicrosoftGraphVersion is the Microsoft Graph version used by default.
const MicrosoftGraphVersion = "v1.0"

// WithMicrosoftGraphVersion selects the Microsoft Graph version of the /me
// lookup: "v1.0" (the default, also for "") or "beta"; anything else is
// ErrInvalidConfig. Other constructors refuse the option. The identity
// platform endpoints stay v2.0: v1.0 is another protocol.
func WithMicrosoftGraphVersion(version string) Option {
	return scoped("WithMicrosoftGraphVersion", "microsoft", func(c *config) { c.microsoftGraphVersion = version })
}

// WithMicrosoftTenants limits a multi-tenant Microsoft client ("common",
// "organizations" or a domain tenant) to the tenants whose ids (GUIDs)
// are listed: an ID token of any other tenant is refused (ErrIDTokenIssuer),
// before any user data is read. A multi-tenant app that serves known
// customer tenants lists them here; one open to every Entra tenant says so
// with WithMicrosoftAnyTenant. A malformed id, an empty list, the option on
// a GUID or "consumers" tenant (already pinned) or together with
// WithMicrosoftAnyTenant is ErrInvalidConfig. Other constructors refuse the
// option.
func WithMicrosoftTenants(tenantIDs ...string) Option {
	ids := append([]string(nil), tenantIDs...)
	return scoped("WithMicrosoftTenants", "microsoft", func(c *config) {
		c.microsoftTenants = append(c.microsoftTenants, ids...)
		if len(ids) == 0 {
			c.microsoftTenants = append(c.microsoftTenants, "") // refused: an empty list allows no one
		}
	})
}

// WithMicrosoftAnyTenant accepts ID tokens of every Entra tenant (and, for
// "common", personal accounts) at the multi-tenant endpoints: the explicit
// choice of an app open to any organization. Without it, or
// WithMicrosoftTenants, NewMicrosoft refuses "common" and "organizations"
// (ErrInvalidConfig), because accepting any tenant's tokens is the
// mistake behind most multi-tenant account takeovers. Other constructors
// refuse the option.
func WithMicrosoftAnyTenant() Option {
	return scoped("WithMicrosoftAnyTenant", "microsoft", func(c *config) { c.microsoftAnyTenant = true })
}

// NewMicrosoft returns a client for tenant: a tenant GUID, a verified
// domain ("contoso.onmicrosoft.com"), or "common" (the default when empty),
// "organizations" or "consumers". Anything else is ErrInvalidConfig.
// "common" and "organizations" accept tokens from many tenants and need
// WithMicrosoftTenants or WithMicrosoftAnyTenant.
func NewMicrosoft(tenant, clientID, clientSecret string, opts ...Option) (*Microsoft, error) {
	if tenant == "" {
		tenant = "common"
	}
	switch {
	case tenant == "common" || tenant == "organizations" || tenant == "consumers":
	case guidRE.MatchString(tenant):
		tenant = strings.ToLower(tenant)
	case hostnameRE.MatchString(tenant):
	default:
		return nil, fmt.Errorf("%w: Microsoft tenant %q must be a GUID, a domain, common, organizations or consumers", ErrInvalidConfig, sanitize(tenant, 100))
	}
	base := microsoftLogin + tenant + "/oauth2/v2.0/"
	b, err := newClient("microsoft", config{
		ClientID:             clientID,
		ClientSecret:         clientSecret,
		AuthorizeEndpoint:    base + "authorize",
		AccessTokenEndpoint:  base + "token",
		RefreshTokenEndpoint: base + "token",
		Name:                 "microsoft",
		DisplayName:          "Microsoft",
		BaseScopes:           []string{"openid", "email", "profile", "User.Read"},
	}, opts)
	if err != nil {
		return nil, err
	}
	graph := b.cfg.microsoftGraphVersion
	if graph == "" {
		graph = MicrosoftGraphVersion
	}
	if graph != "v1.0" && graph != "beta" {
		return nil, fmt.Errorf("%w: Microsoft Graph version %q must be v1.0 or beta", ErrInvalidConfig, sanitize(graph, 64))
	}
	allowed, err := microsoftAllowList(tenant, b.cfg.microsoftTenants, b.cfg.microsoftAnyTenant)
	if err != nil {
		return nil, err
	}
	m := &Microsoft{OAuth2: b, tenant: tenant, allowed: allowed, graphMe: microsoftGraph + graph + "/me"}
	m.oidcCore = newOIDCCoreAlgs(&b.cfg, microsoftLogin+"{tenantid}/v2.0", "",
		remoteKeySet(&b.cfg, microsoftLogin+tenant+"/discovery/v2.0/keys"), []string{"RS256"}, true)
	m.checkIssuer = m.checkTenant
	m.subjectClaim = "oid"
	return m, nil
}

// AuthCodeURL adds response_mode=query unless params set a response_mode
// (MicrosoftParams.ResponseMode).
func (m *Microsoft) AuthCodeURL(redirectURI string, opts AuthURLOptions, params Params) (string, error) {
	return m.authCodeURL(redirectURI, opts, withDefault(paramValues(params), "response_mode", "query"))
}

// Capabilities reports a nonce and refresh. No issuer: Microsoft does not
// send the RFC 9207 iss parameter, and multi-tenant issuers vary per user.
func (m *Microsoft) Capabilities() Capabilities { return m.oidcCore.capabilities(&m.cfg, false) }

// checkTenant is the issuer check of Microsoft ID tokens (see the file
// comment).
func (m *Microsoft) checkTenant(iss string, claims map[string]any) error {
	tid, _ := claims["tid"].(string)
	if !guidRE.MatchString(tid) {
		return errors.New("tid claim is missing or not a GUID")
	}
	tid = strings.ToLower(tid)
	if iss != microsoftLogin+tid+"/v2.0" {
		return fmt.Errorf("iss %q does not match tenant %q", iss, tid)
	}
	switch {
	case m.tenant == "consumers" && tid != microsoftMSATenant,
		m.tenant == "organizations" && tid == microsoftMSATenant,
		guidRE.MatchString(m.tenant) && tid != m.tenant,
		m.allowed != nil && !slices.Contains(m.allowed, tid):
		return fmt.Errorf("tenant %q is not allowed for this client", tid)
	}
	return nil
}

// microsoftAllowList checks the tenant options against tenant and returns
// the allowed tenant ids (nil: every tenant the endpoint serves).
func microsoftAllowList(tenant string, ids []string, anyTenant bool) ([]string, error) {
	multi := tenant == "common" || tenant == "organizations"
	switch {
	case len(ids) > 0 && anyTenant:
		return nil, fmt.Errorf("%w: WithMicrosoftTenants and WithMicrosoftAnyTenant contradict each other", ErrInvalidConfig)
	case len(ids) > 0 && (tenant == "consumers" || guidRE.MatchString(tenant)):
		return nil, fmt.Errorf("%w: WithMicrosoftTenants is for multi-tenant endpoints; tenant %q is already pinned", ErrInvalidConfig, tenant)
	case multi && len(ids) == 0 && !anyTenant:
		return nil, fmt.Errorf("%w: Microsoft tenant %q accepts any tenant's tokens: list the allowed ones with WithMicrosoftTenants, or choose WithMicrosoftAnyTenant", ErrInvalidConfig, tenant)
	}
	var allowed []string
	for _, id := range ids {
		if !guidRE.MatchString(id) {
			return nil, fmt.Errorf("%w: Microsoft tenant id %q must be a GUID", ErrInvalidConfig, sanitize(id, 100))
		}
		allowed = append(allowed, strings.ToLower(id))
	}
	return allowed, nil
}

// Profile returns the Graph /me document.
func (m *Microsoft) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := m.apiJSON(ctx, ErrGetProfile, apiRequest{url: m.graphMe, header: bearer(accessToken)}, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// IDEmail returns the Graph user id and mail (else the user principal name).
// Neither is tenant-scoped or verified: prefer Identify.
func (m *Microsoft) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	g, err := m.graphUser(ctx, accessToken)
	if err != nil {
		return "", "", err
	}
	return g.id, g.email, nil
}

// Identify verifies t's ID token with nonce and reads Graph /me; see
// Microsoft.
func (m *Microsoft) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	claims, c, err := m.verifyClaims(ctx, t, nonce)
	if err != nil {
		return nil, err
	}
	if claims == nil {
		return nil, idTokenError(ErrIDTokenMissing, "Microsoft subjects need the ID token's tid: keep the openid scope")
	}
	tid, _ := c["tid"].(string) // a GUID: checkTenant verified it
	at, err := accessToken(t)
	if err != nil {
		return nil, err
	}
	g, err := m.graphUser(ctx, at)
	if err != nil {
		return nil, err
	}
	if !microsoftSameObject(claims.Subject, g.id) {
		return nil, &RequestError{Op: ErrIDToken, Err: fmt.Errorf("%w: Graph id differs from the id token oid", ErrIDTokenSubject)}
	}
	id := &Identity{
		Subject: strings.ToLower(tid) + "/" + claims.Subject,
		Email:   g.email,
		Name:    firstNonEmpty(g.name, str(c["name"])),
		Claims:  c,
	}
	id.EmailVerified = socialTrue(c["xms_edov"]) && id.Email != "" && strings.EqualFold(id.Email, str(c["email"]))
	return id.checked()
}

// microsoftSameObject compares, in constant time, the ID token's oid with
// the Graph id, accepting the 16-hex-digit Graph form of personal accounts.
func microsoftSameObject(oid, graphID string) bool {
	want := graphID
	if len(graphID) == 16 && !strings.Contains(graphID, "-") {
		want = "00000000-0000-0000-" + graphID[:4] + "-" + graphID[4:]
		oid = strings.ToLower(oid)
		want = strings.ToLower(want)
	}
	return oid != "" && subtle.ConstantTimeCompare([]byte(oid), []byte(want)) == 1
}

type microsoftUser struct{ id, email, name string }

func (m *Microsoft) graphUser(ctx context.Context, accessToken string) (*microsoftUser, error) {
	raw, err := m.Profile(ctx, accessToken)
	if err != nil {
		return nil, asIDEmailError(err)
	}
	p, err := decodeBody("application/json", raw)
	if err != nil {
		return nil, &RequestError{Op: ErrGetIDEmail, Err: err}
	}
	id, ok := idString(p["id"])
	if !ok {
		return nil, identityError(ErrGetIDEmail, "Graph user id")
	}
	email, _ := p["mail"].(string)
	if email == "" {
		if upn, _ := p["userPrincipalName"].(string); !strings.Contains(upn, "#EXT#") {
			email = upn
		}
	}
	return &microsoftUser{id: id, email: email, name: str(p["displayName"])}, nil
}
