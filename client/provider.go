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
}

// IDTokenVerifier is implemented by OpenID Connect clients. The kit calls it
// after the code exchange with the nonce it sent in the authorization URL;
// a client that wants a nonce reports so through UsesNonce.
type IDTokenVerifier interface {
	UsesNonce() bool
	// VerifyIDToken checks the token's ID token (signature, iss, aud, exp and
	// nonce). A token without an ID token is an error only when the client
	// requires one.
	VerifyIDToken(ctx context.Context, t *Token, nonce string) (*IDClaims, error)
}

// IDClaims are the verified claims of an ID token the kit relies on.
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
