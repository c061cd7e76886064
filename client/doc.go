// Package client is the OAuth2 client oauthkit delegates all protocol work
// to: a Go port of httpx-oauth's BaseOAuth2 as [OAuth2] (authorization URL, code
// exchange, refresh, revocation, id/email lookup, client_secret_basic and
// client_secret_post, PKCE) plus provider clients. Beyond upstream it
// authenticates with signed client assertions (RFC 7523): private_key_jwt
// ([PrivateKeyJWT] with [WithClientAssertionKey] or [WithClientAssertion])
// and client_secret_jwt ([ClientSecretJWT]).
//
// It follows golang.org/x/oauth2 in shape: a [Config] (where the provider
// is and who the client is) validated by a constructor that does no I/O,
// with [Option] values for how to talk to it (HTTP client, scopes, names,
// clock, auth methods); context.Context first on every network call, and
// constructors that do I/O are named Discover*. One injectable
// *http.Client is reused for every request, and response bodies are read
// through a 1 MiB cap (MaxResponseBytes).
//
// Every client implements [Provider], what the kit needs: its
// [Capabilities] (issuer, nonce, form_post, refresh, revoke) are data, and
// provider quirks stay here ([Provider.Revoke] picks the token that ends
// the grant, [ErrInvalidGrant] covers GitHub's bad_verification_code,
// [ParseAuthorizationResponse] checks the callback's parameters).
//
// # Dependencies
//
//   - github.com/coreos/go-oidc and github.com/go-jose/go-jose verify ID
//     tokens against the issuer's JWKS (signature, iss, aud, exp), and
//     go-jose signs Apple's ES256 client secret, so no JWT code is
//     hand-written here.
//   - golang.org/x/oauth2 gives *oauth2.Token interop ([Token.OAuth2],
//     [FromOAuth2]) for provider SDKs built on oauth2.TokenSource, and its
//     PKCE helpers back GenerateVerifier and S256Challenge.
//
// # Fixes over upstream
//
//   - Revocation authenticates with the revocation auth method.
//   - Basic credentials are form-encoded before base64 (RFC 6749 §2.3.1).
//   - A token response with an "error" member is an error, whatever its status.
//   - A response without access_token is an error (ErrMissingAccessToken).
//   - Form-encoded and text/plain token responses are accepted.
//   - expires_in may be a number or a numeric string; huge values are clamped.
//   - A refresh response without a refresh token keeps the old one.
//   - A nil Scopes uses the base scopes; an empty non-nil Scopes, or empty
//     base scopes, sends no scope parameter (upstream sends "scope=").
//   - An authorize endpoint with a query string keeps it and stays valid.
//   - Extra parameters cannot silently override state, PKCE, nonce, client_id,
//     redirect_uri or response_type.
//   - Redirects from the provider are never followed (a 307 would re-send the
//     client secret), not even through an injected *http.Client that
//     follows them; they fail with ErrRedirect. This covers discovery and
//     JWKS fetches too.
//   - Every endpoint (authorize, token, refresh, revoke, UserInfo, JWKS, and
//     all the endpoints of discovered metadata) must be https; plain http is
//     accepted only on loopback hosts (127.0.0.0/8, ::1, localhost) for
//     local development. Anything else is ErrInvalidConfig.
//   - A blank client id, or an empty client secret with client_secret_basic,
//     client_secret_post or client_secret_jwt, is ErrInvalidConfig from the
//     constructor, as is private_key_jwt without a key or assertion source;
//     discovery refuses the empty id before any request.
//
// # Errors
//
// Upstream's exception names map to Go as follows. Operation failures are a
// *RequestError whose Op is the sentinel of the operation, so both
// errors.Is(err, ErrGetAccessToken) and errors.As(err, &*OAuthError) work.
//
//	httpx-oauth                         Go
//	OAuth2Error                         ErrOAuth2 (errors.Is matches every protocol error)
//	OAuth2RequestError                  *RequestError (cause: *OAuthError, *HTTPError, transport error, ...)
//	GetAccessTokenError                 ErrGetAccessToken
//	RefreshTokenError                   ErrRefreshToken
//	RevokeTokenError                    ErrRevokeToken
//	RefreshTokenNotSupportedError       ErrRefreshNotSupported
//	RevokeTokenNotSupportedError        ErrRevokeNotSupported
//	NotSupportedAuthMethodError         *NotSupportedAuthMethodError, ErrNotSupportedAuthMethod
//	MissingRevokeTokenAuthMethodError   ErrMissingRevokeTokenAuthMethod
//	GetProfileError                     ErrGetProfile
//	GetIdEmailError                     ErrGetIDEmail
//	GetLongLivedAccessTokenError        ErrGetLongLivedAccessToken
//	OpenIDConfigurationError            ErrOpenIDConfiguration
//	NotImplementedError (get_id_email)  ErrIDEmailNotSupported, ErrProfileNotSupported
//
// Upstream's Response attribute becomes the cause: an *OAuthError (RFC 6749
// §5.2 fields and the HTTP status) or an *HTTPError (status, content type and
// at most 512 sanitised bytes of the body); StatusCode(err) reads either.
// Transport errors and timeouts are wrapped with %w. Error strings never
// contain the client secret, tokens or codes, even when the provider echoes
// them back: they are redacted in every form they were sent in (raw,
// percent-encoded, and the base64 credential of the Basic header).
//
// # Method mapping
//
//	BaseOAuth2 / OAuth2     OAuth2, built by New(Config, ...Option)
//	get_authorization_url   AuthCodeURL (typed Params such as GoogleParams, or Values)
//	get_access_token        AccessToken
//	refresh_token           RefreshToken
//	revoke_token            RevokeToken (one token); Revoke (ends the grant)
//	get_profile             Profile
//	get_id_email            IDEmail
//	OAuth2Token             Token
//	OAuth2Token.is_expired  Token.Expired
package client
