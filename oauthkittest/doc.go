// Package oauthkittest runs a real OpenID Connect provider inside a test,
// on loopback, so that an application's login handlers can be tested
// through the real flow: discovery, authorize with PKCE, the code
// exchange, refresh, revocation, UserInfo and end-session, each checked
// the way a production provider checks them.
//
// The provider is zitadel/oidc's op package (OpenID Certified) with its
// own in-memory storage. On top of it:
//
//   - Clients are registered with one authentication method
//     (client_secret_basic, client_secret_post, private_key_jwt or none)
//     and any other method is refused.
//   - PKCE with S256 is required; refresh tokens rotate, and presenting a
//     rotated one (reuse) or replaying a code revokes the whole grant.
//   - Provider.LoginAs logs a user in through the application's own
//     login URL with no browser and no form, leaving the application's
//     session cookie in the test's cookie jar.
//   - Provider.FailNext makes the next answers of an endpoint an OAuth
//     error, an error inside a 200, a 5xx, a hang, or an ID token with a
//     wrong audience, nonce or expiry; Provider.Requests counts requests
//     per endpoint; Provider.RotateSigningKey changes the signing key.
//
// For local development, the oauthkit-dev command (cmd/oauthkit-dev) runs
// a Provider on a fixed loopback port with DemoUsers and a client whose
// AnyLoopbackRedirect accepts an application on any local port. A browser
// that reaches the login step with no user chosen gets a self-contained
// page listing the users, one click each, with a password form for users
// that have a Password.
//
// Provider-shaped fakes stand in for built-in providers whose wire shapes
// differ from plain OpenID Connect: GitHub (its OAuth web flow, GET /user
// and GET /user/emails), Google (Google's URLs, issuer and People API) and
// Microsoft (the identity platform's tenant issuers and Graph /me). Each
// answers on loopback for the real hostnames through its Transport, so an
// application's provider-specific code runs unchanged.
//
// zitadel/oidc logs failed requests through slog's default logger. A test
// binary that wants quiet output sets slog.SetDefault to a discarding
// logger in TestMain.
package oauthkittest
