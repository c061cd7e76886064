package client

import (
	"context"
)

// Provider is what the kit needs from a client. Every client in this package
// (OAuth2 and the provider clients) implements it.
type Provider interface {
	// Name identifies the client in routes and sessions.
	Name() string
	// DisplayName is the label of login buttons.
	DisplayName() string
	// Capabilities says how the kit must run the flow with this client.
	Capabilities() Capabilities
	// AuthCodeURL builds the authorization URL; params may be nil.
	AuthCodeURL(redirectURI string, opts AuthURLOptions, params Params) (string, error)
	// AccessToken exchanges an authorization code.
	AccessToken(ctx context.Context, code, redirectURI, codeVerifier string) (*Token, error)
	// RefreshToken uses a refresh token.
	RefreshToken(ctx context.Context, refreshToken string) (*Token, error)
	// Revoke ends the grant of t: it revokes the refresh token when there is
	// one and the provider can revoke it, else the access token. It fails
	// with an error matching ErrRevokeNotSupported when nothing can be
	// revoked.
	Revoke(ctx context.Context, t *Token) error
	// Identify returns who signed in with t, the token of the code exchange.
	// The client owns this logic, so the kit never combines ID token, user
	// API and email rules itself.
	//
	// OpenID Connect clients verify the ID token first (signature, iss,
	// aud, exp and nonce, as VerifyIDToken does; failures match ErrIDToken
	// and a cause such as ErrIDTokenNonce), then read the user API or
	// UserInfo when there is one, whose subject must equal the ID token's
	// (constant-time; ErrIDTokenSubject). nonce is the one sent in the
	// authorization URL (see Capabilities.Nonce), "" for clients that do
	// not use one. User-API failures are *RequestError with Op
	// ErrGetIDEmail; an empty subject is always an error matching
	// ErrMissingID.
	//
	// Email is returned even when the provider does not vouch for it, with
	// EmailVerified false: check EmailVerified before trusting it. Each
	// provider type's doc says what its Subject is and when its email counts
	// as verified. A client without a user API (OAuth2, AuthorizationServer)
	// returns an error matching ErrIDEmailNotSupported.
	Identify(ctx context.Context, t *Token, nonce string) (*Identity, error)
}

// Capabilities describes a client's provider as data, so the kit runs the
// flow from it instead of probing the client's type.
type Capabilities struct {
	// Issuer is the provider's RFC 9207 / OpenID Connect issuer, "" when
	// unknown. The kit compares it with the iss parameter of authorization
	// responses.
	Issuer string
	// IssParameter reports that the server sends iss in its authorization
	// responses (RFC 9207 metadata), so a response without it must be
	// refused: it did not come from that server (a mix-up attack).
	IssParameter bool
	// Nonce reports that the kit must send a nonce in the authorization URL
	// and pass it to Identify, which verifies the ID token with it.
	Nonce bool
	// FormPost reports that the provider answers with
	// response_mode=form_post (Apple), so the callback must accept a POST.
	FormPost bool
	// Refresh reports that RefreshToken can succeed.
	Refresh bool
	// Revoke reports that Revoke can succeed.
	Revoke bool
	// PushedAuthorization reports that the client's authorization requests
	// must be pushed (RFC 9126): the client implements AuthorizationPusher,
	// and the kit builds the authorization URL with PushAuthCodeURL.
	PushedAuthorization bool
}

// IDClaims are the verified claims of an ID token, as VerifyIDToken of the
// OpenID Connect clients reports them.
type IDClaims struct {
	// Issuer is the "iss" claim.
	Issuer string
	// Subject is the user id: "sub", or the claim the provider's user API
	// keys users by (Microsoft's "oid"; Google's "people/<sub>").
	Subject string
	// Email is the "email" claim, "" when absent.
	Email string
	// EmailVerified is "email_verified" as JSON true or "true".
	EmailVerified bool
	// Nonce is the "nonce" claim, which matched the expected one.
	Nonce string
}

var _ Provider = (*OAuth2)(nil)

// Resolver is implemented by clients built without I/O whose provider is
// known only after a fetch, such as [Lazy]: the kit calls Resolve (with
// the request's context) before it uses the client, and uses the Provider
// it returns. An error matches ErrProviderUnavailable while the provider
// cannot be reached or its metadata is unusable.
type Resolver interface {
	Provider
	// Resolve returns the provider to use now, fetching its metadata when
	// none is cached.
	Resolve(ctx context.Context) (Provider, error)
}
