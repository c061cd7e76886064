package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"regexp"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	appleIssuer         = "https://appleid.apple.com"
	appleSecretLifetime = time.Hour
	appleSecretRenew    = 5 * time.Minute
)

var appleIDRE = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)

// AppleParams are Apple's extra authorization parameters.
type AppleParams struct {
	// ResponseMode overrides the default (form_post when scopes are
	// requested, Apple's query otherwise).
	ResponseMode string
}

// AuthParams implements Params.
func (p AppleParams) AuthParams() url.Values {
	v := url.Values{}
	if p.ResponseMode != "" {
		v.Set("response_mode", p.ResponseMode)
	}
	return v
}

// Apple is the Sign in with Apple client.
//
// Identify: Apple has no user API, so the verified ID token is the
// identity. Subject is its "sub" (stable per team). Email is its "email"
// (often a private relay address) and EmailVerified its "email_verified"
// (a string "true" or a boolean). Name and AvatarURL are "": Apple sends
// the name only once, in the form_post "user" field of the first sign-in,
// which the client never sees.
//
// Apple client: Sign in with Apple (REST API for web).
//
// Follows https://developer.apple.com/documentation/accountorganizationaldatasharing/request-an-authorization-to-the-sign-in-with-apple-server,
// https://developer.apple.com/documentation/accountorganizationaldatasharing/creating-a-client-secret,
// https://developer.apple.com/documentation/sign_in_with_apple/generate_and_validate_tokens and
// https://developer.apple.com/documentation/sign_in_with_apple/revoke_tokens:
// authorize https://appleid.apple.com/auth/authorize, token
// https://appleid.apple.com/auth/token, revoke
// https://appleid.apple.com/auth/revoke, issuer https://appleid.apple.com,
// JWKS https://appleid.apple.com/auth/keys.
//
// Default scopes: "name email". Apple requires response_mode=form_post when
// scopes are requested, so AuthCodeURL adds it unless the caller sets a
// response_mode: the kit's callback must then accept a POST (the code,
// state and, on first sign-in only, a "user" JSON with the name arrive in
// the form body). Refresh: yes (token URL). Revoke: yes (client_secret_post).
//
// The client secret is an ES256 JWT signed with the team's .p8 key (iss
// team id, sub services id, aud https://appleid.apple.com, kid header),
// made on demand for each token and revocation request and cached until
// 5 minutes before its 1-hour expiry (Apple allows up to 6 months; a short
// life limits a leaked secret).
//
// Identity: Apple has no user API, so IDEmail and Profile return
// ErrIDEmailNotSupported and ErrProfileNotSupported; the user is the ID
// token's "sub" (IDClaims.Subject) and the email its "email" with
// "email_verified" (a string "true" or a boolean), which Identify returns.
type Apple struct {
	*OAuth2
	oidcCore
	teamID, keyID string
	key           *ecdsa.PrivateKey

	mu        sync.Mutex
	secret    string
	secretExp time.Time
}

var _ Provider = (*Apple)(nil)

// NewApple returns a client for the services id clientID of team teamID,
// signing client secrets with the P-256 key keyID whose .p8 file (PKCS #8
// PEM) is privateKeyPEM. Invalid ids or keys are ErrInvalidConfig.
func NewApple(clientID, teamID, keyID string, privateKeyPEM []byte, opts ...Option) (*Apple, error) {
	if clientID == "" {
		return nil, fmt.Errorf("%w: Apple services id is empty", ErrInvalidConfig)
	}
	if !appleIDRE.MatchString(teamID) || !appleIDRE.MatchString(keyID) {
		return nil, fmt.Errorf("%w: Apple team id and key id must be alphanumeric", ErrInvalidConfig)
	}
	key, err := parseAppleKey(privateKeyPEM)
	if err != nil {
		return nil, err
	}
	const token = "https://appleid.apple.com/auth/token"
	b, core, err := newStaticOIDC("apple", config{
		ClientID:                     clientID,
		AuthorizeEndpoint:            "https://appleid.apple.com/auth/authorize",
		AccessTokenEndpoint:          token,
		RefreshTokenEndpoint:         token,
		RevokeTokenEndpoint:          "https://appleid.apple.com/auth/revoke",
		TokenEndpointAuthMethod:      ClientSecretPost,
		RevocationEndpointAuthMethod: ClientSecretPost,
		Name:                         "apple",
		DisplayName:                  "Apple",
		BaseScopes:                   []string{"name", "email"},
		secretFromKey:                true,
	}, opts, appleIssuer, "", jwksAt("https://appleid.apple.com/auth/keys"), []string{"RS256"})
	if err != nil {
		return nil, err
	}
	core.requireIDToken = true // Apple always returns one
	return &Apple{OAuth2: b, oidcCore: core, teamID: teamID, keyID: keyID, key: key}, nil
}

func parseAppleKey(pemBytes []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		return nil, fmt.Errorf("%w: Apple private key is not PEM", ErrInvalidConfig)
	}
	var k any
	var err error
	switch blk.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if err != nil || !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: Apple private key must be a P-256 (ES256) key", ErrInvalidConfig)
	}
	return ek, nil
}

// Capabilities reports the issuer https://appleid.apple.com, a nonce,
// form_post answers, refresh and revocation.
func (a *Apple) Capabilities() Capabilities {
	c := a.oidcCore.capabilities(&a.cfg, true)
	c.FormPost = true
	return c
}

// Identify verifies t's ID token with nonce; see Apple.
func (a *Apple) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return a.identify(ctx, a.cfg.Name, t, nonce, a.verifyClaims, nil)
}

// AuthCodeURL adds response_mode=form_post when scopes are requested and
// params set no response_mode (AppleParams.ResponseMode).
func (a *Apple) AuthCodeURL(redirectURI string, opts AuthURLOptions, params Params) (string, error) {
	extra := paramValues(params)
	scopes := opts.Scopes
	if scopes == nil {
		scopes = a.cfg.BaseScopes
	}
	if len(scopes) > 0 {
		extra = withDefault(extra, "response_mode", "form_post")
	}
	return a.authCodeURL(redirectURI, opts, extra)
}

// AccessToken exchanges the code with a fresh client secret.
func (a *Apple) AccessToken(ctx context.Context, code, redirectURI, codeVerifier string) (*Token, error) {
	b, err := a.withSecret(ErrGetAccessToken)
	if err != nil {
		return nil, err
	}
	return b.AccessToken(ctx, code, redirectURI, codeVerifier)
}

// RefreshToken refreshes with a fresh client secret.
func (a *Apple) RefreshToken(ctx context.Context, refreshToken string) (*Token, error) {
	b, err := a.withSecret(ErrRefreshToken)
	if err != nil {
		return nil, err
	}
	return b.RefreshToken(ctx, refreshToken)
}

// RevokeToken revokes with a fresh client secret.
func (a *Apple) RevokeToken(ctx context.Context, token, tokenTypeHint string) error {
	b, err := a.withSecret(ErrRevokeToken)
	if err != nil {
		return err
	}
	return b.RevokeToken(ctx, token, tokenTypeHint)
}

// Revoke revokes t's refresh token, else its access token, with a fresh
// client secret.
func (a *Apple) Revoke(ctx context.Context, t *Token) error {
	return revokeGrant(ctx, t, true, true, a.RevokeToken)
}

// withSecret returns a copy of the base client carrying the current client
// secret, so the core's request code is reused unchanged.
func (a *Apple) withSecret(op error) (*OAuth2, error) {
	s, err := a.clientSecret()
	if err != nil {
		return nil, &RequestError{Op: op, Err: err}
	}
	b := &OAuth2{cfg: a.cfg}
	b.cfg.ClientSecret = s
	return b, nil
}

// clientSecret returns the cached client-secret JWT, signing a new one when
// it is missing or expires within appleSecretRenew.
func (a *Apple) clientSecret() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.cfg.Now()
	if a.secret != "" && now.Add(appleSecretRenew).Before(a.secretExp) {
		return a.secret, nil
	}
	exp := now.Add(appleSecretLifetime)
	s, err := signJWT(jose.ES256, a.key, jwtHeader{keyID: a.keyID}, map[string]any{
		"iss": a.teamID,
		"iat": now.Unix(),
		"exp": exp.Unix(),
		"aud": appleIssuer,
		"sub": a.cfg.ClientID,
	})
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrClientAssertion, err)
	}
	a.secret, a.secretExp = s, exp
	return s, nil
}
