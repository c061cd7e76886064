package client

import (
	"context"
	"encoding/json"

	jose "github.com/go-jose/go-jose/v4"
)

// FranceConnect is the FranceConnect v1 client.
//
// Identify: Subject is the ID token's "sub" (FranceConnect's per-service
// pseudonym), which the UserInfo "sub" must equal. Email is the UserInfo
// "email" with EmailVerified false (true only for an email_verified claim,
// which FranceConnect v1 does not define): FranceConnect certifies the
// identity data (names, birth date and place, gender), not that the user
// controls the address its identity provider holds. Name is given_name and
// family_name.
//
// FranceConnect client (FranceConnect "v1" API, the endpoints upstream
// targets).
//
// Follows https://partenaires.franceconnect.gouv.fr/fcp/fournisseur-service
// (v1): endpoints https://app.franceconnect.gouv.fr/api/v1/{authorize,token,userinfo}
// (integration: https://fcp.integ01.dev-franceconnect.fr/api/v1/...), issuer
// the host URL, UserInfo as JSON, ID tokens signed with HS256 keyed by the
// client secret (v1 publishes no JWKS). The v2 API (signed JWT UserInfo,
// JWKS, other hosts) is not covered.
//
// Default scopes: "openid email". Refresh and revoke: no. PKCE is kept
// (upstream drops it). A nonce is required: AuthCodeURL without
// AuthURLOptions.Nonce fails with ErrNonceRequired instead of inventing one
// the caller could not verify (upstream generates and forgets it); the kit
// sends one because [FranceConnect.Capabilities] reports Nonce.
//
// id: the UserInfo "sub" (an integer sub becomes "42"). email: the UserInfo
// email. FranceConnect defines no email_verified claim; its email comes from
// the identity provider's account and is returned as is, so never link
// accounts by it.
type FranceConnect struct {
	*OAuth2
	oidcCore
}

var _ Provider = (*FranceConnect)(nil)

// FranceConnect v1 hosts: production and the integration (testing)
// platform.
const (
	franceConnectHost      = "https://app.franceconnect.gouv.fr"
	franceConnectIntegHost = "https://fcp.integ01.dev-franceconnect.fr"
)

// WithFranceConnectIntegration selects FranceConnect's integration
// (testing) platform instead of production. Other constructors refuse it.
func WithFranceConnectIntegration() Option {
	return scoped("WithFranceConnectIntegration", "franceconnect", func(c *config) {
		c.franceConnectIntegration = true
		c.AuthorizeEndpoint = franceConnectIntegHost + "/api/v1/authorize"
		c.AccessTokenEndpoint = franceConnectIntegHost + "/api/v1/token"
	})
}

// NewFranceConnect returns the production client, or the integration
// platform one with [WithFranceConnectIntegration]. It does no I/O.
func NewFranceConnect(clientID, clientSecret string, opts ...Option) (*FranceConnect, error) {
	b, err := newClient("franceconnect", config{
		ClientID:            clientID,
		ClientSecret:        clientSecret,
		AuthorizeEndpoint:   franceConnectHost + "/api/v1/authorize",
		AccessTokenEndpoint: franceConnectHost + "/api/v1/token",
		Name:                "franceconnect",
		DisplayName:         "FranceConnect",
		BaseScopes:          []string{"openid", "email"},
	}, opts)
	if err != nil {
		return nil, err
	}
	host := franceConnectHost
	if b.cfg.franceConnectIntegration {
		host = franceConnectIntegHost
	}
	core := newOIDCCoreAlgs(&b.cfg, host, host+"/api/v1/userinfo",
		hmacKeySet{secret: []byte(b.cfg.ClientSecret)}, []string{"HS256"}, false)
	core.unverifiedEmail = true
	return &FranceConnect{OAuth2: b, oidcCore: core}, nil
}

// Capabilities reports the FranceConnect host URL as issuer (the iss of its
// ID tokens) and a required nonce; no refresh or revocation.
func (f *FranceConnect) Capabilities() Capabilities { return f.oidcCore.capabilities(&f.cfg, true) }

// AuthCodeURL fails with ErrNonceRequired when opts.Nonce is empty.
func (f *FranceConnect) AuthCodeURL(redirectURI string, opts AuthURLOptions, params Params) (string, error) {
	if opts.Nonce == "" {
		return "", ErrNonceRequired
	}
	return f.OAuth2.AuthCodeURL(redirectURI, opts, params)
}

// Profile returns the UserInfo document.
func (f *FranceConnect) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	raw, _, err := f.userinfo(ctx, &f.cfg, accessToken)
	return raw, err
}

// IDEmail returns the UserInfo sub and email.
func (f *FranceConnect) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	return f.idEmail(ctx, &f.cfg, accessToken)
}

// Identify verifies t's ID token with nonce and reads UserInfo; see
// FranceConnect.
func (f *FranceConnect) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return f.identify(ctx, f.cfg.Name, t, nonce, f.verifyClaims, f.userinfoUser(&f.cfg))
}

// hmacKeySet verifies HS256 ID tokens with the client secret, as
// FranceConnect v1 signs them (go-oidc only ships asymmetric key sets). The
// algorithm allow-list is go-oidc's (HS256 only for this client).
type hmacKeySet struct{ secret []byte }

func (k hmacKeySet) VerifySignature(_ context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return nil, err
	}
	return jws.Verify(k.secret)
}
