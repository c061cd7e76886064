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
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// ErrIDToken is the Op of the *RequestError returned when an ID token cannot
// be trusted; the cause is one of the ErrIDToken* values below, so both
// errors.Is(err, ErrIDToken) and errors.Is(err, ErrIDTokenNonce) work. It
// belongs to the ErrOAuth2 family.
var ErrIDToken = newKind("id token verification", true)

// Causes of an ErrIDToken failure. They are distinct so the kit can log which
// check failed; none of them may be treated as a soft failure.
var (
	// ErrIDTokenMissing: the token response has no id_token although the
	// client asked for one (its scopes include "openid").
	ErrIDTokenMissing = errors.New("token response has no id_token")
	// ErrIDTokenSignature: the token is malformed, unsigned, signed with an
	// algorithm the issuer does not advertise, signed by a key absent from the
	// issuer's JWKS (unknown kid included), or the JWKS cannot be fetched.
	ErrIDTokenSignature = errors.New("id token signature cannot be verified")
	// ErrIDTokenIssuer: "iss" is not the client's issuer.
	ErrIDTokenIssuer = errors.New("id token issued by another issuer")
	// ErrIDTokenAudience: "aud" does not contain the client id, or "azp" is
	// not the client id (it is required when "aud" has several values).
	ErrIDTokenAudience = errors.New("id token issued for another client")
	// ErrIDTokenExpired: "exp" is past, or "nbf" or "iat" is more than 5
	// minutes ahead of the client's clock.
	ErrIDTokenExpired = errors.New("id token expired or not yet valid")
	// ErrIDTokenNonce: "nonce" differs from the one sent in the authorization
	// request (a replayed or injected token).
	ErrIDTokenNonce = errors.New("id token nonce mismatch")
	// ErrIDTokenSubject: "sub" is empty, or differs from the id the user API
	// returned (Identify compares them).
	ErrIDTokenSubject = errors.New("id token subject missing or mismatched")
	// ErrIDTokenInvalid: any other invalid claim (claims that are not JSON,
	// a Microsoft token without tid/oid).
	ErrIDTokenInvalid = errors.New("id token is invalid")
)

// Discovery and nonce errors.
var (
	// ErrDiscoveryIssuerMismatch is the cause of an ErrOpenIDConfiguration failure when
	// the metadata names another issuer than the one it was fetched for: such
	// metadata "MUST NOT be used" (RFC 8414 §3.3, OIDC Discovery §4.3).
	ErrDiscoveryIssuerMismatch = errors.New("metadata issuer does not match the expected issuer")
	// ErrNonceRequired is returned by AuthCodeURL of providers that need a
	// nonce (FranceConnect) when AuthURLOptions.Nonce is empty: a nonce the
	// caller does not know cannot be verified, so none is invented.
	ErrNonceRequired = newKind("this provider requires AuthURLOptions.Nonce", true)
)

const (
	openIDWellKnown = "/.well-known/openid-configuration"
	oauthWellKnown  = "/.well-known/oauth-authorization-server"
)

// OpenIDParams are the OpenID Connect authorization parameters (OIDC Core
// §3.1.2.1) a caller may add; zero fields are omitted.
type OpenIDParams struct {
	// Prompt is "none", "login", "consent" or "select_account" (space-separated
	// for several).
	Prompt string
	// LoginHint pre-fills the user's identifier.
	LoginHint string
	// MaxAge asks for re-authentication when the last one is older; it is
	// sent in whole seconds. Use Prompt "login" to force it.
	MaxAge time.Duration
	// ACRValues is the space-separated list of requested authentication
	// context classes (FranceConnect: "eidas1").
	ACRValues string
	// Display is "page", "popup", "touch" or "wap".
	Display string
	// UILocales is a space-separated list of BCP 47 language tags.
	UILocales string
}

// AuthParams implements Params.
func (p OpenIDParams) AuthParams() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{
		"prompt":     p.Prompt,
		"login_hint": p.LoginHint,
		"acr_values": p.ACRValues,
		"display":    p.Display,
		"ui_locales": p.UILocales,
	} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if secs := int64(p.MaxAge / time.Second); secs > 0 {
		v.Set("max_age", fmt.Sprint(secs))
	}
	return v
}

// OpenID is a client for any OpenID Connect provider, configured from its
// discovery document by [DiscoverOpenID]. It verifies ID tokens
// ([OpenID.VerifyIDToken]) and reads the user from UserInfo.
//
// Identify: Subject is the verified ID token's "sub", which the UserInfo
// "sub" must equal; Email and EmailVerified are UserInfo's "email" and
// "email_verified" (JSON true or "true"; anything else is not verified),
// else the ID token's; Name is "name" (else given_name and family_name),
// AvatarURL "picture". Without a userinfo_endpoint the ID token alone is
// the identity.
//
// OpenID Connect support: discovery (OpenID Connect Discovery 1.0 and RFC
// 8414 Authorization Server Metadata), ID-token verification, UserInfo, and
// the generic OpenID client, upstream's OpenID.
//
// Follows https://openid.net/specs/openid-connect-discovery-1_0.html,
// https://openid.net/specs/openid-connect-core-1_0.html (§3.1.3.7 ID token
// validation, §5.3 UserInfo) and RFC 8414. Default scopes: "openid email".
// The id is the UserInfo "sub"; IDEmail returns the UserInfo "email" only
// when "email_verified" is true, Identify returns it with that flag.
//
// ID tokens are verified with github.com/coreos/go-oidc (iss, aud, exp,
// nbf) and go-jose (the signature) rather than hand-written JWT code; this
// file adds the nonce and subject checks and maps the failures to the
// typed errors below. The issuer's JWKS is fetched on the first
// verification and cached; a token signed by a key it does not know
// refetches it, at most once per WithJWKSRefetchInterval, and keys the
// client cannot use (unknown types, encryption keys) are skipped rather
// than failing the whole set.
type OpenID struct {
	*OAuth2
	oidcCore
	metadata json.RawMessage
	issParam bool
}

var (
	_ Provider = (*OpenID)(nil)
	_ Logout   = (*OpenID)(nil)
)

// DiscoverOpenID fetches the provider's discovery document with ctx and
// returns a client configured from it. issuerOrConfigURL is either the
// issuer ("https://id.example.com") or the full configuration URL
// ("https://id.example.com/.well-known/openid-configuration"); either way
// the document's "issuer" must equal the issuer exactly (a trailing slash
// counts), or the document is rejected with ErrDiscoveryIssuerMismatch.
//
// Defaults: name "openid", scopes "openid email".
//
// Token endpoint auth method: servers check the method the client was
// registered for, whatever order token_endpoint_auth_methods_supported
// lists, so pass WithTokenEndpointAuthMethod when you know it. That method
// wins if the server lists it (or lists nothing); otherwise discovery fails
// with a *NotSupportedAuthMethodError (errors.Is ErrNotSupportedAuthMethod)
// and no token request is ever made. PrivateKeyJWT and ClientSecretJWT are
// used only when given so, and only if the server lists them (an absent
// list means client_secret_basic). Without it, the method is the first
// of client_secret_basic/client_secret_post in the list (absent:
// client_secret_basic, the spec default); a list with neither fails the
// same way.
//
// Revocation is enabled iff revocation_endpoint is advertised. Its method
// is the token endpoint's when revocation_endpoint_auth_methods_supported
// is absent (servers check the registered method there too) or lists it;
// otherwise the first listed secret method; otherwise, if the list has
// "none", None: the endpoint is called as a public client, with client_id
// and no secret. An endpoint that only accepts methods this client cannot
// use (private_key_jwt without a key, upstream #346) leaves revocation
// disabled instead of failing, since login still works.
//
// Refresh is enabled iff grant_types_supported lists refresh_token (absent:
// the spec default, which does not). Generic OpenID Connect servers usually
// issue a refresh token only for the offline_access scope: when
// scopes_supported (see Metadata) lists it, request it with
// WithScopes("openid", "email", "offline_access"). A token response without
// a refresh token is not an error; the login simply cannot be refreshed.
//
// Capabilities().IssParameter reports the metadata's
// authorization_response_iss_parameter_supported (RFC 9207).
//
// Every failure (HTTP, transport, JSON, missing or invalid member) is a
// *RequestError with Op ErrOpenIDConfiguration; an unusable issuer argument
// is ErrInvalidConfig.
func DiscoverOpenID(ctx context.Context, issuerOrConfigURL, clientID, clientSecret string, opts ...Option) (*OpenID, error) {
	issuer, configURL, err := openIDLocation(issuerOrConfigURL)
	if err != nil {
		return nil, err
	}
	return discoverOpenID(ctx, issuer, configURL, config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Name:         "openid",
		DisplayName:  "OpenID",
		BaseScopes:   []string{"openid", "email"},
	}, opts)
}

// Capabilities reports the issuer the discovery document was validated
// against, whether the metadata promises the RFC 9207 iss parameter, that
// a nonce is sent and verified, and refresh and revocation as discovered.
func (o *OpenID) Capabilities() Capabilities {
	c := o.cfg.capabilities()
	c.Issuer, c.IssParameter, c.Nonce = o.issuer, o.issParam, true
	return c
}

// Metadata returns a copy of the raw discovery document, for members this
// type does not use.
func (o *OpenID) Metadata() json.RawMessage { return append(json.RawMessage(nil), o.metadata...) }

// Profile returns the UserInfo document. A provider without
// userinfo_endpoint gives ErrProfileNotSupported.
func (o *OpenID) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	raw, _, err := o.userinfo(ctx, &o.cfg, accessToken)
	return raw, err
}

// IDEmail returns the UserInfo "sub" and the email when it is verified.
func (o *OpenID) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	return o.idEmail(ctx, &o.cfg, accessToken)
}

// Identify verifies t's ID token with nonce and reads UserInfo; see OpenID.
func (o *OpenID) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return o.identify(ctx, o.cfg.Name, t, nonce, o.verifyClaims, o.userinfoUser(&o.cfg))
}

// AuthorizationServer is a plain OAuth 2.0 client configured from RFC 8414
// metadata: it knows its issuer (for RFC 9207 iss checks) but has no user
// API, so IDEmail and Profile return ErrIDEmailNotSupported and
// ErrProfileNotSupported unless the caller wraps it.
type AuthorizationServer struct {
	*OAuth2
	issuer   string
	metadata json.RawMessage
	issParam bool
}

var _ Provider = (*AuthorizationServer)(nil)

// DiscoverAuthorizationServer fetches RFC 8414 metadata for issuer from
// /.well-known/oauth-authorization-server, inserted before the issuer's path
// as §3 requires (https://as.example/t1 is described at
// https://as.example/.well-known/oauth-authorization-server/t1). Endpoint,
// auth-method, refresh and revocation rules are those of DiscoverOpenID;
// jwks_uri is not required. Default name "oauth2", no default scopes.
func DiscoverAuthorizationServer(ctx context.Context, issuer, clientID, clientSecret string, opts ...Option) (*AuthorizationServer, error) {
	u, err := parseIssuer(issuer)
	if err != nil {
		return nil, err
	}
	mu := *u
	mu.Path = oauthWellKnown + strings.TrimSuffix(u.Path, "/")
	mu.RawPath = ""
	cfg := config{ClientID: clientID, ClientSecret: clientSecret}
	md, raw, err := fetchMetadata(ctx, &cfg, opts, mu.String(), issuer, false)
	if err != nil {
		return nil, err
	}
	b, err := newClient("", cfg, nil)
	if err != nil {
		return nil, &RequestError{Op: ErrOpenIDConfiguration, Err: err}
	}
	return &AuthorizationServer{OAuth2: b, issuer: issuer, metadata: raw,
		issParam: md.AuthorizationResponseIssParameterSupported}, nil
}

// Capabilities reports the issuer the metadata was validated against,
// whether it promises the RFC 9207 iss parameter, and refresh and
// revocation as discovered; no nonce (there is no ID token).
func (a *AuthorizationServer) Capabilities() Capabilities {
	c := a.cfg.capabilities()
	c.Issuer, c.IssParameter = a.issuer, a.issParam
	return c
}

// Identify fails with an error matching ErrIDEmailNotSupported: an RFC 8414
// server has no user API. Wrap the client and implement Identify with the
// provider's user API.
func (a *AuthorizationServer) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return nil, notSupported(a.cfg.Name)
}

// Metadata returns a copy of the raw RFC 8414 document.
func (a *AuthorizationServer) Metadata() json.RawMessage {
	return append(json.RawMessage(nil), a.metadata...)
}

// --- discovery ---------------------------------------------------------

// providerMetadata holds the members of OIDC Discovery / RFC 8414 metadata
// this package uses. Absent and null members are nil/"".
type providerMetadata struct {
	Issuer                                 string   `json:"issuer"`
	AuthorizationEndpoint                  string   `json:"authorization_endpoint"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	UserinfoEndpoint                       string   `json:"userinfo_endpoint"`
	JWKSURI                                string   `json:"jwks_uri"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	GrantTypesSupported                    []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported"`
	IDTokenSigningAlgValuesSupported       []string `json:"id_token_signing_alg_values_supported"`
	// RFC 9207 §3; absent means false.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
	// RP-Initiated Logout 1.0 §2.1.
	EndSessionEndpoint string `json:"end_session_endpoint"`
	// RFC 9126 §5; an absent require member means false.
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorizationRequests bool   `json:"require_pushed_authorization_requests"`
}

// openIDLocation splits DiscoverOpenID's argument into the expected issuer
// and the configuration URL (OIDC Discovery §4.1).
func openIDLocation(s string) (issuer, configURL string, err error) {
	if strings.HasSuffix(strings.SplitN(s, "?", 2)[0], openIDWellKnown) {
		issuer = strings.TrimSuffix(s, openIDWellKnown)
		if _, err := parseIssuer(issuer); err != nil {
			return "", "", err
		}
		return issuer, s, nil
	}
	if _, err := parseIssuer(s); err != nil {
		return "", "", err
	}
	return s, strings.TrimSuffix(s, "/") + openIDWellKnown, nil
}

// parseIssuer checks an issuer identifier (RFC 8414 §2): https, no query,
// fragment or userinfo. Plain http is allowed for loopback hosts only, for
// local development servers.
func parseIssuer(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: issuer %q is not an absolute URL", ErrInvalidConfig, sanitize(s, 200))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("%w: issuer %q must use https", ErrInvalidConfig, sanitize(s, 200))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(s, "?#") {
		return nil, fmt.Errorf("%w: issuer must not have a query, fragment or userinfo", ErrInvalidConfig)
	}
	return u, nil
}

// fetchMetadata applies opts to cfg (so discovery uses the caller's HTTP
// client and User-Agent), fetches and validates the metadata, and fills the
// endpoints and auth methods of cfg from it.
func fetchMetadata(ctx context.Context, cfg *config, opts []Option, metadataURL, issuer string, openID bool) (*providerMetadata, json.RawMessage, error) {
	if err := cfg.apply("", opts); err != nil {
		return nil, nil, err
	}
	// An empty id fails before any request; the secret is checked once the
	// metadata has chosen the auth method.
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, nil, fmt.Errorf("%w: client id is empty", ErrInvalidConfig)
	}
	cfg.HTTPClient = withoutRedirects(cfg.HTTPClient)
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	var raw json.RawMessage
	if err := getJSON(ctx, cfg, ErrOpenIDConfiguration, apiRequest{url: metadataURL}, &raw); err != nil {
		return nil, nil, err
	}
	var md providerMetadata
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, nil, &RequestError{Op: ErrOpenIDConfiguration, Err: fmt.Errorf("%w: %v", ErrInvalidResponse, err)}
	}
	if md.Issuer != issuer {
		return nil, nil, &RequestError{Op: ErrOpenIDConfiguration, Err: fmt.Errorf("%w: expected %q, got %q",
			ErrDiscoveryIssuerMismatch, sanitize(issuer, 200), sanitize(md.Issuer, 200))}
	}
	required := []struct{ name, v string }{
		{"authorization_endpoint", md.AuthorizationEndpoint},
		{"token_endpoint", md.TokenEndpoint},
	}
	if openID {
		required = append(required, struct{ name, v string }{"jwks_uri", md.JWKSURI})
	}
	for _, r := range required {
		if r.v == "" {
			return nil, nil, &RequestError{Op: ErrOpenIDConfiguration, Err: fmt.Errorf("%w: metadata has no %s", ErrInvalidResponse, r.name)}
		}
	}
	// Every endpoint the client may call, the ones it will not use included,
	// must pass the Config rules: metadata that names a plain-http endpoint
	// is refused rather than partly used.
	for _, e := range []struct{ name, v string }{
		{"authorization_endpoint", md.AuthorizationEndpoint},
		{"token_endpoint", md.TokenEndpoint},
		{"userinfo_endpoint", md.UserinfoEndpoint},
		{"jwks_uri", md.JWKSURI},
		{"revocation_endpoint", md.RevocationEndpoint},
		{"end_session_endpoint", md.EndSessionEndpoint},
		{"pushed_authorization_request_endpoint", md.PushedAuthorizationRequestEndpoint},
	} {
		if e.v == "" {
			continue
		}
		if err := checkEndpoint("metadata "+e.name, e.v); err != nil {
			return nil, nil, &RequestError{Op: ErrOpenIDConfiguration, Err: err}
		}
	}
	if err := md.apply(cfg); err != nil {
		return nil, nil, &RequestError{Op: ErrOpenIDConfiguration, Err: err}
	}
	if err := checkDPoPMetadata(raw, cfg); err != nil {
		return nil, nil, &RequestError{Op: ErrOpenIDConfiguration, Err: err}
	}
	return &md, raw, nil
}

// apply sets cfg's endpoints and auth methods from the metadata. A token
// endpoint method already in cfg was chosen by the caller (the one the
// client is registered for) and is kept if the server allows it.
func (md *providerMetadata) apply(cfg *config) error {
	cfg.AuthorizeEndpoint = md.AuthorizationEndpoint
	cfg.AccessTokenEndpoint = md.TokenEndpoint
	cfg.RefreshTokenEndpoint = ""
	cfg.RevokeTokenEndpoint = ""
	cfg.RevocationEndpointAuthMethod = ""
	if err := md.applyPushed(cfg); err != nil {
		return err
	}

	methods := md.TokenEndpointAuthMethodsSupported
	if explicit := cfg.TokenEndpointAuthMethod; explicit != "" {
		// An absent list says nothing about the client's registration,
		// which the caller knows better than the spec default.
		// The JWT methods are used only with a server that lists them.
		listed := slices.Contains(methods, string(explicit))
		if !explicit.supported() || (len(methods) > 0 && !listed) || (!explicit.sendsSecret() && !listed) {
			return &NotSupportedAuthMethodError{Method: explicit}
		}
	} else {
		if len(methods) == 0 {
			methods = []string{string(ClientSecretBasic)}
		}
		m, ok := firstSupported(methods)
		if !ok {
			return &NotSupportedAuthMethodError{Method: AuthMethod(methods[0])}
		}
		cfg.TokenEndpointAuthMethod = m
	}

	// OIDC Discovery §3: the default grant types are authorization_code and
	// implicit, so a missing member (upstream #295) means no refresh.
	if slices.Contains(md.GrantTypesSupported, "refresh_token") {
		cfg.RefreshTokenEndpoint = md.TokenEndpoint
	}
	if md.RevocationEndpoint != "" {
		if m, ok := revocationMethod(md.RevocationEndpointAuthMethodsSupported, cfg.TokenEndpointAuthMethod, cfg.ClientSecret != ""); ok {
			cfg.RevokeTokenEndpoint = md.RevocationEndpoint
			cfg.RevocationEndpointAuthMethod = m
		}
	}
	return nil
}

// revocationMethod picks the revocation auth method from the advertised
// list given the token endpoint's method. RFC 8414 §2 makes an absent list
// mean client_secret_basic, but servers that omit it (Hydra) check the
// client's registered method, which is the token endpoint's: a client
// registered for client_secret_post would otherwise fail to revoke.
//
// A private_key_jwt client has no secret to fall back on: when the list
// lacks private_key_jwt, only "none" remains.
func revocationMethod(listed []string, token AuthMethod, hasSecret bool) (AuthMethod, bool) {
	if len(listed) == 0 || slices.Contains(listed, string(token)) {
		return token, true
	}
	if m, ok := firstSupported(listed); ok && hasSecret {
		return m, true
	}
	if slices.Contains(listed, string(None)) {
		return None, true
	}
	return "", false
}

// firstSupported returns the first secret method, in the provider's order,
// that this package implements (upstream #333). None is never chosen here:
// a confidential client does not give up authenticating by itself, and
// neither are the JWT methods, which need the caller's key or choice.
func firstSupported(methods []string) (AuthMethod, bool) {
	for _, m := range methods {
		if am := AuthMethod(m); am.sendsSecret() {
			return am, true
		}
	}
	return "", false
}

// discoverOpenID is DiscoverOpenID with the expected issuer, the
// configuration URL and the provider defaults already chosen (Okta).
func discoverOpenID(ctx context.Context, issuer, configURL string, cfg config, opts []Option) (*OpenID, error) {
	md, raw, err := fetchMetadata(ctx, &cfg, opts, configURL, issuer, true)
	if err != nil {
		return nil, err
	}
	b, err := newClient("", cfg, nil)
	if err != nil {
		return nil, &RequestError{Op: ErrOpenIDConfiguration, Err: err}
	}
	o := &OpenID{OAuth2: b, metadata: raw, issParam: md.AuthorizationResponseIssParameterSupported}
	o.oidcCore = newOIDCCore(&b.cfg, issuer, md.UserinfoEndpoint,
		remoteKeySet(&b.cfg, md.JWKSURI), md.IDTokenSigningAlgValuesSupported)
	o.endSession = md.EndSessionEndpoint
	return o, nil
}

// --- ID tokens and UserInfo shared by the OIDC providers -----------------

// oidcCore is what every OpenID Connect provider client shares: ID-token
// verification and UserInfo parsing. Embedded, it gives its owner
// VerifyIDToken.
type oidcCore struct {
	issuer      string
	userinfoURL string
	verifier    *oidc.IDTokenVerifier
	clientID    string
	// requireIDToken is true when the client asks for one (scope openid, or
	// a provider that always sends one).
	requireIDToken bool
	// checkIssuer replaces go-oidc's exact iss match (Microsoft's
	// multi-tenant template); nil keeps the exact match.
	checkIssuer func(iss string, claims map[string]any) error
	// subjectClaim names the claim IDClaims.Subject is read from ("sub"
	// unless the provider's user API keys users by another claim).
	subjectClaim string
	// unverifiedEmail accepts an email without email_verified (FranceConnect,
	// which defines no such claim).
	unverifiedEmail bool
	// now is the client's clock (WithClock), for the iat check.
	now func() time.Time
	// endSession is the end_session_endpoint, "" when there is none.
	endSession string
}

// capabilities are cfg's with the nonce every OIDC client here verifies,
// and the issuer when withIssuer (the provider is known to send iss, or
// the issuer is fixed).
func (o *oidcCore) capabilities(cfg *config, withIssuer bool) Capabilities {
	c := cfg.capabilities()
	c.Nonce = true
	if withIssuer {
		c.Issuer = o.issuer
	}
	return c
}

// newOIDCCore builds the verifier for issuer with keys. algs are the
// advertised signing algorithms; only those go-oidc implements are kept,
// and none at all means RS256, the OIDC default.
func newOIDCCore(cfg *config, issuer, userinfoURL string, keys oidc.KeySet, algs []string) oidcCore {
	var keep []string
	for _, a := range algs {
		switch a {
		case oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
			oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA:
			keep = append(keep, a)
		}
	}
	return newOIDCCoreAlgs(cfg, issuer, userinfoURL, keys, keep, false)
}

func newOIDCCoreAlgs(cfg *config, issuer, userinfoURL string, keys oidc.KeySet, algs []string, skipIssuer bool) oidcCore {
	return oidcCore{
		issuer:         issuer,
		userinfoURL:    userinfoURL,
		clientID:       cfg.ClientID,
		requireIDToken: slices.Contains(cfg.BaseScopes, "openid"),
		subjectClaim:   "sub",
		now:            cfg.Now,
		verifier: oidc.NewVerifier(issuer, keys, &oidc.Config{
			ClientID:             cfg.ClientID,
			SupportedSigningAlgs: algs,
			SkipIssuerCheck:      skipIssuer,
			Now:                  cfg.Now,
		}),
	}
}

// VerifyIDToken verifies t's ID token: signature against the issuer's keys,
// iss, aud (the client id), azp (OIDC Core §3.1.3.7 items 4-5: required
// when aud has several values, and the client id whenever present),
// exp/nbf, an iat at most 5 minutes ahead of the client's clock (the nbf
// leeway), a non-empty sub and nonce (exact, constant-time; an empty nonce
// only matches a token without one). A token
// without ID token gives nil claims and no error when the client did not
// ask for one (no "openid" scope), ErrIDTokenMissing otherwise.
//
// email_verified counts as true only for the JSON true or the string
// "true" (Apple and Cognito send strings); "false", absent or anything
// else is not verified.
func (o *oidcCore) VerifyIDToken(ctx context.Context, t *Token, nonce string) (*IDClaims, error) {
	c, _, err := o.verifyClaims(ctx, t, nonce)
	return c, err
}

// verifyClaims is VerifyIDToken that also returns all the verified claims,
// for Identify (name, picture, Microsoft's tid and xms_edov).
func (o *oidcCore) verifyClaims(ctx context.Context, t *Token, nonce string) (*IDClaims, map[string]any, error) {
	if t == nil || t.IDToken == "" {
		if !o.requireIDToken {
			return nil, nil, nil
		}
		return nil, nil, idTokenError(ErrIDTokenMissing, "")
	}
	idt, err := o.verifier.Verify(ctx, t.IDToken)
	if err != nil {
		return nil, nil, idTokenError(classifyVerifyError(err), err.Error())
	}
	var m map[string]any
	if err := idt.Claims(&m); err != nil {
		return nil, nil, idTokenError(ErrIDTokenInvalid, err.Error())
	}
	if o.checkIssuer != nil {
		if err := o.checkIssuer(idt.Issuer, m); err != nil {
			return nil, nil, idTokenError(ErrIDTokenIssuer, err.Error())
		}
	}
	if azp, present := m["azp"]; present || len(idt.Audience) > 1 {
		if s, _ := azp.(string); s != o.clientID {
			return nil, nil, idTokenError(ErrIDTokenAudience, "azp is not the client id")
		}
	}
	now := time.Now
	if o.now != nil {
		now = o.now
	}
	if idt.IssuedAt.After(now().Add(idTokenLeeway)) {
		return nil, nil, idTokenError(ErrIDTokenExpired, "iat is in the future")
	}
	sub := idt.Subject
	if o.subjectClaim != "sub" {
		sub, _ = m[o.subjectClaim].(string)
	}
	if strings.TrimSpace(sub) == "" {
		return nil, nil, idTokenError(ErrIDTokenSubject, o.subjectClaim+" claim is empty")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, nil, idTokenError(ErrIDTokenNonce, "")
	}
	email, _ := m["email"].(string)
	return &IDClaims{
		Issuer:        idt.Issuer,
		Subject:       sub,
		Email:         email,
		EmailVerified: verifiedFlag(m["email_verified"]),
		Nonce:         idt.Nonce,
	}, m, nil
}

// idTokenLeeway is the clock skew allowed for iat, the one go-oidc allows
// for nbf.
const idTokenLeeway = 5 * time.Minute

func idTokenError(cause error, detail string) error {
	if detail == "" {
		return &RequestError{Op: ErrIDToken, Err: cause}
	}
	return &RequestError{Op: ErrIDToken, Err: fmt.Errorf("%w: %s", cause, sanitize(detail, 200))}
}

// classifyVerifyError maps go-oidc's verification errors to our causes.
// go-oidc types only the expiry error, so the others are recognised by the
// messages of the pinned version (the tests fail if they change).
func classifyVerifyError(err error) error {
	var exp *oidc.TokenExpiredError
	if errors.As(err, &exp) {
		return ErrIDTokenExpired
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "issued by a different provider"):
		return ErrIDTokenIssuer
	case strings.Contains(msg, "expected audience"):
		return ErrIDTokenAudience
	case strings.Contains(msg, "nbf (not before)"):
		return ErrIDTokenExpired
	case strings.Contains(msg, "failed to unmarshal claims"), strings.Contains(msg, "source does not exist"),
		strings.Contains(msg, "source from claim name"):
		return ErrIDTokenInvalid
	default:
		return ErrIDTokenSignature
	}
}

// verifiedFlag is email_verified as a boolean: JSON true or "true" only.
func verifiedFlag(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "true"
	default:
		return false
	}
}

// userinfo fetches the UserInfo document (OIDC Core §5.3) with a Bearer
// token, or a DPoP one when ctx carries a key (ContextWithDPoPKey), and
// returns it raw and decoded (numbers as json.Number).
func (o *oidcCore) userinfo(ctx context.Context, cfg *config, accessToken string) (json.RawMessage, map[string]any, error) {
	if o.userinfoURL == "" {
		return nil, nil, ErrProfileNotSupported
	}
	var raw json.RawMessage
	r := dpopAPI(ctx, apiRequest{url: o.userinfoURL, header: bearer(accessToken)}, accessToken)
	if err := getJSON(ctx, cfg, ErrGetProfile, r, &raw); err != nil {
		return nil, nil, err
	}
	m, err := decodeBody("application/json", raw)
	if err != nil {
		return nil, nil, &RequestError{Op: ErrGetProfile, Err: err}
	}
	return raw, m, nil
}

// idEmail reads sub and the verified email from UserInfo.
func (o *oidcCore) idEmail(ctx context.Context, cfg *config, accessToken string) (string, string, error) {
	_, m, err := o.userinfo(ctx, cfg, accessToken)
	if errors.Is(err, ErrProfileNotSupported) {
		return "", "", ErrIDEmailNotSupported
	}
	if err != nil {
		return "", "", asIDEmailError(err)
	}
	return o.idEmailFrom(m)
}

func (o *oidcCore) idEmailFrom(m map[string]any) (string, string, error) {
	id, ok := idString(m["sub"])
	if !ok {
		return "", "", identityError(ErrGetIDEmail, "userinfo sub")
	}
	email, _ := m["email"].(string)
	if _, present := m["email_verified"]; !(verifiedFlag(m["email_verified"]) || (o.unverifiedEmail && !present)) {
		email = ""
	}
	return id, email, nil
}

// newStaticOIDC builds an OIDC provider client whose endpoints and keys are
// documented rather than discovered (LinkedIn, Slack, FranceConnect, ...):
// defaults, then the caller's options, then validation, then the verifier.
func newStaticOIDC(provider string, cfg config, opts []Option, issuer, userinfoURL string, keys func(*config) oidc.KeySet, algs []string) (*OAuth2, oidcCore, error) {
	b, err := newClient(provider, cfg, opts)
	if err != nil {
		return nil, oidcCore{}, err
	}
	return b, newOIDCCoreAlgs(&b.cfg, issuer, userinfoURL, keys(&b.cfg), algs, false), nil
}

// jwksAt returns a key-set factory for newStaticOIDC.
func jwksAt(jwksURL string) func(*config) oidc.KeySet {
	return func(cfg *config) oidc.KeySet { return remoteKeySet(cfg, jwksURL) }
}

// hostnameRE matches a DNS host name of at least two labels, nothing else
// (no scheme, port, path, userinfo or "@"): the provider domains that are
// pasted into URLs (Okta domain, Microsoft tenant domain).
var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`)
