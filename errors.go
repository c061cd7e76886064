package oauthkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/oauthkit/oauthkit/client"
)

// Errors handed to the error handler. Each has a documented HTTP status
// (see HTTPStatus); match them with errors.Is. Provider failures wrap the
// client's typed errors, so errors.As(err, &*client.OAuthError) works too.
var (
	// ErrInvalidConfig is matched by every error New returns: the
	// configuration cannot work, or cannot work safely.
	ErrInvalidConfig = errors.New("oauthkit: invalid configuration")
	// ErrMethodNotAllowed (405): login and callback take GET, logout POST.
	ErrMethodNotAllowed = errors.New("oauthkit: method not allowed")
	// ErrInvalidCallback (400): the callback query is malformed (duplicate or
	// oversized parameters, bad encoding, missing state).
	ErrInvalidCallback = errors.New("oauthkit: invalid callback request")
	// ErrStateNotFound (400): the state is not pending in this session: forged,
	// replayed, evicted, or from another browser.
	ErrStateNotFound = errors.New("oauthkit: no pending login for this state")
	// ErrStateExpired (400): the pending login is older than PendingTTL.
	ErrStateExpired = errors.New("oauthkit: login expired, start again")
	// ErrProviderMismatch (400): the state was issued for another provider
	// (mix-up defence, RFC 9700 §4.4).
	ErrProviderMismatch = errors.New("oauthkit: callback for a different provider")
	// ErrIssuerMismatch (400): the RFC 9207 iss parameter is missing where
	// required or names another issuer.
	ErrIssuerMismatch = errors.New("oauthkit: issuer mismatch")
	// ErrMissingCode (400): a valid state came back without a code.
	ErrMissingCode = errors.New("oauthkit: callback without code")
	// ErrAccessDenied (403): the user declined consent (error=access_denied).
	ErrAccessDenied = errors.New("oauthkit: access denied by the user")
	// ErrProvider (403) is matched by *ProviderError: any other error code in
	// the authorization response.
	ErrProvider = errors.New("oauthkit: provider returned an error")
	// ErrExchange (502, 504 on timeout, 400 for invalid_grant): the code
	// exchange failed.
	ErrExchange = errors.New("oauthkit: code exchange failed")
	// ErrIdentity (502, 504 on timeout): the provider's user identity could
	// not be read or verified (user API, ID token).
	ErrIdentity = errors.New("oauthkit: identity lookup failed")
	// ErrLoginRefused (403): the OnLogin hook refused the user.
	ErrLoginRefused = errors.New("oauthkit: login refused")
	// ErrPolicyDenied (403): a LoginPolicy refused the user; the policy's
	// error is wrapped inside. No session was created.
	ErrPolicyDenied = errors.New("oauthkit: login denied by policy")
	// ErrNoSession (500): the request's context carries no session: the
	// kit's handler or middleware is mounted outside the session manager's
	// LoadAndSave. Kit.Token returns it too; Kit.User reports no user.
	ErrNoSession = errors.New("oauthkit: no session in the request context (mount the handler inside LoadAndSave)")
	// ErrSession (500): the session store failed.
	ErrSession = errors.New("oauthkit: session store failure")
	// ErrNotSignedIn (401): no user in the session.
	ErrNotSignedIn = errors.New("oauthkit: not signed in")
	// ErrReauthRequired (401): the provider token cannot be refreshed any
	// more (no refresh token, or the grant was revoked). Kit.Token returns
	// it and leaves the session as it is: sending the user to log in again,
	// or out, is the application's decision.
	ErrReauthRequired = errors.New("oauthkit: provider token expired, log in again")
	// ErrCrossOrigin (403): a cross-origin POST to logout.
	ErrCrossOrigin = errors.New("oauthkit: cross-origin request refused")
	// ErrLogoutToken (400): a back-channel logout request without a valid
	// logout token; it wraps the client's *client.RequestError (Op
	// client.ErrLogoutToken) naming the failed check.
	ErrLogoutToken = errors.New("oauthkit: invalid logout token")
	// ErrLogoutReplay (400): a logout token whose jti was already
	// processed.
	ErrLogoutReplay = errors.New("oauthkit: logout token replayed")
)

// ProviderError is an error response from the authorization endpoint
// (RFC 6749 §4.1.2.1) other than access_denied. Its fields come from the
// attacker-controllable query: render them only escaped, if at all.
type ProviderError struct {
	// Provider is the name of the provider whose callback carried the error.
	Provider string
	// Code is the error parameter, replaced by "invalid_error_code" when it
	// is outside the RFC 6749 alphabet, so it is safe to log.
	Code string
	// Description is the error_description parameter, as sent.
	Description string
}

// Error names the provider and the code, never the description.
func (e *ProviderError) Error() string {
	return fmt.Sprintf("oauthkit: provider %s returned error %q", e.Provider, e.Code)
}

// Is makes errors.Is(err, ErrProvider) match.
func (e *ProviderError) Is(target error) bool { return target == ErrProvider }

// HTTPStatus returns the status the default error handler uses for err.
func HTTPStatus(err error) int {
	switch {
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrAccessDenied), errors.Is(err, ErrProvider),
		errors.Is(err, ErrLoginRefused), errors.Is(err, ErrPolicyDenied), errors.Is(err, ErrCrossOrigin),
		errors.Is(err, ErrStepUpFailed):
		return http.StatusForbidden
	case errors.Is(err, ErrNotSignedIn), errors.Is(err, ErrReauthRequired):
		return http.StatusUnauthorized
	case errors.Is(err, ErrSession):
		return http.StatusInternalServerError
	case errors.Is(err, ErrProviderUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrUnknownProvider):
		return http.StatusNotFound
	case errors.Is(err, ErrExchange), errors.Is(err, ErrIdentity), errors.Is(err, ErrPushAuthorization):
		if errors.Is(err, context.DeadlineExceeded) {
			return http.StatusGatewayTimeout
		}
		if errors.Is(err, ErrExchange) && errors.Is(err, client.ErrInvalidGrant) {
			return http.StatusBadRequest
		}
		return http.StatusBadGateway
	case errors.Is(err, ErrInvalidCallback), errors.Is(err, ErrStateNotFound),
		errors.Is(err, ErrStateExpired), errors.Is(err, ErrProviderMismatch),
		errors.Is(err, ErrIssuerMismatch), errors.Is(err, ErrMissingCode),
		errors.Is(err, ErrLogoutToken), errors.Is(err, ErrLogoutReplay),
		errors.Is(err, ErrInvalidLoginParam):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// configError is an ErrInvalidConfig error with a reason.
func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// wrap joins a kit sentinel and its cause so both errors.Is checks hold.
func wrap(kind, cause error) error {
	if cause == nil {
		return kind
	}
	return fmt.Errorf("%w: %w", kind, cause)
}
