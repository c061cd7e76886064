package client

import (
	"context"
	"encoding/json"
	"net/url"
)

// Provider is what the kit needs from a client. Every client in this package
// (BaseOAuth2 and the provider clients) implements it.
type Provider interface {
	Name() string
	DisplayName() string
	AuthCodeURL(redirectURI string, opts AuthURLOptions, extra url.Values) (string, error)
	AccessToken(ctx context.Context, code, redirectURI, codeVerifier string) (*Token, error)
	RefreshToken(ctx context.Context, refreshToken string) (*Token, error)
	RevokeToken(ctx context.Context, token, tokenTypeHint string) error
	IDEmail(ctx context.Context, accessToken string) (id, email string, err error)
	Profile(ctx context.Context, accessToken string) (json.RawMessage, error)
	// Identify returns who signed in with t, the token of the code exchange.
	// The client owns this logic, so the kit never combines ID token, user
	// API and email rules itself.
	//
	// OpenID Connect clients verify the ID token first (signature, iss,
	// aud, exp and nonce, as VerifyIDToken does; failures match ErrIDToken
	// and a cause such as ErrIDTokenNonce), then read the user API or
	// UserInfo when there is one, whose subject must equal the ID token's
	// (constant-time; ErrIDTokenSubject). nonce is the one sent in the
	// authorization URL, "" for clients that do not use one. User-API
	// failures are *RequestError with Op ErrGetIDEmail; an empty subject is
	// always an error matching ErrMissingID.
	//
	// Email is returned even when the provider does not vouch for it, with
	// EmailVerified false: check EmailVerified before trusting it. Each
	// provider type's doc says what its Subject is and when its email counts
	// as verified. A client without a user API (OAuth2, AuthorizationServer)
	// returns an error matching ErrIDEmailNotSupported.
	Identify(ctx context.Context, t *Token, nonce string) (*Identity, error)
}

// IDTokenVerifier is implemented by OpenID Connect clients. Their Identify
// verifies the ID token itself; the kit only asks UsesNonce whether to send
// a nonce in the authorization URL (and then passes it to Identify).
// VerifyIDToken remains for callers that use a client on its own.
type IDTokenVerifier interface {
	UsesNonce() bool
	// VerifyIDToken checks the token's ID token (signature, iss, aud, exp and
	// nonce). A token without an ID token is an error only when the client
	// requires one.
	VerifyIDToken(ctx context.Context, t *Token, nonce string) (*IDClaims, error)
}

// IDClaims are the verified claims of an ID token VerifyIDToken reports.
type IDClaims struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Nonce         string
}

// IssuerProvider is implemented by clients that know their issuer, so the
// kit can check the RFC 9207 iss parameter of the authorization response.
type IssuerProvider interface {
	Issuer() string
}

// IssParameterReporter is implemented by clients configured from metadata
// that says whether the authorization server sends the RFC 9207 iss
// parameter in its authorization responses. When it does, the kit can
// refuse a callback without iss: one is missing only if the response did
// not come from that server (a mix-up attack).
type IssParameterReporter interface {
	IssParameterSupported() bool
}

var _ Provider = (*OAuth2)(nil)
