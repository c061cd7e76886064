package oauthkit

import (
	"context"
	"errors"
	"net/http"

	"github.com/oauthkit/oauthkit/client"
)

// Observer receives the kit's operations, for tracing and metrics (package
// otelkit implements it with OpenTelemetry). The kit keeps no tracing
// dependency of its own: an Observer is where one plugs in. Set it in
// Config.Observer; nil observes nothing and costs nothing.
type Observer interface {
	// Start begins op for the named provider and returns the context the
	// op runs with and a func the kit calls exactly once with the op's
	// outcome (nil on success). The context flows into the op's calls to
	// the provider, so spans of an instrumented http.Client nest inside
	// the op's. An Observer must not keep the error beyond reducing it to
	// ErrorReason: its text can hold provider-supplied data.
	//
	// provider is the name the handlers were made for. For a
	// ProviderResolver that is its Name for OpLogin and OpCallback (a
	// bounded set, fit for metric attributes) and the tenant's provider
	// name (Name:tenant) for the provider calls inside.
	Start(ctx context.Context, op Op, provider string) (context.Context, func(err error))
}

// Op names an operation the kit reports to its Observer. The values are
// stable: they are meant for span names and metric attributes.
type Op string

// The operations of a login and of a signed-in session. OpCallback
// contains OpTokenExchange and OpUserAPI; OpRefresh and OpRevoke run on
// their own (Kit.Token, Kit.TokenFor, LogoutHandler).
const (
	// OpLogin is LoginHandler: a new pending login and the redirect to the
	// provider (with its pushed authorization request, if any).
	OpLogin Op = "login"
	// OpCallback is CallbackHandler: the whole completion of a login, its
	// outcome that of the login (the form_post leg, a POST answered by a
	// 303 to the callback as a GET, is not observed).
	OpCallback Op = "callback"
	// OpTokenExchange is the code exchange at the token endpoint.
	OpTokenExchange Op = "token_exchange"
	// OpUserAPI is reading the identity: the ID token's verification and
	// the provider's user API.
	OpUserAPI Op = "user_api"
	// OpRefresh is one refresh grant at the provider.
	OpRefresh Op = "refresh"
	// OpRevoke is a token revocation at logout (RevokeOnLogout); a
	// provider that cannot revoke is no failure.
	OpRevoke Op = "revocation"
)

// reasons maps the kit's errors, most specific first, to ErrorReason's
// values. The ones before the client's errors are the kit's own, so a
// kit error wrapping a client error is reported by the kit's kind.
var reasons = []struct {
	err    error
	reason string
}{
	{ErrInvalidConfig, "invalid_config"},
	{ErrMethodNotAllowed, "method_not_allowed"},
	{ErrNoSession, "no_session"},
	{ErrInvalidCallback, "invalid_callback"},
	{ErrInvalidLoginParam, "invalid_login_param"},
	{ErrStateNotFound, "state_not_found"},
	{ErrStateExpired, "state_expired"},
	{ErrProviderMismatch, "provider_mismatch"},
	{ErrIssuerMismatch, "issuer_mismatch"},
	{ErrMissingCode, "missing_code"},
	{ErrAccessDenied, "access_denied"},
	{ErrProvider, "provider_error"},
	{ErrPushAuthorization, "push_authorization"},
	{ErrStepUpFailed, "step_up_failed"},
	{ErrPolicyDenied, "policy_denied"},
	{ErrLoginRefused, "login_refused"},
	{ErrReauthRequired, "reauth_required"},
	{ErrExchange, "exchange"},
	{ErrIdentity, "identity"},
	{ErrSessionCodec, "session_codec"},
	{ErrTokenKeyUnknown, "token_key_unknown"},
	{ErrTokenDecrypt, "token_decrypt"},
	{ErrSession, "session"},
	{ErrNotSignedIn, "not_signed_in"},
	{ErrUnknownProvider, "unknown_provider"},
	{ErrProviderUnavailable, "provider_unavailable"},
	{ErrCrossOrigin, "cross_origin"},
	{ErrLogoutToken, "logout_token"},
	{ErrLogoutReplay, "logout_replay"},
	// The client's errors, as the provider calls (token exchange, user
	// API, refresh, revocation) end with them.
	{context.DeadlineExceeded, "timeout"},
	{context.Canceled, "canceled"},
	{client.ErrInvalidGrant, "invalid_grant"},
	{client.ErrProviderUnavailable, "provider_unavailable"},
	{client.ErrRefreshNotSupported, "not_supported"},
	{client.ErrRevokeNotSupported, "not_supported"},
	{client.ErrResponseTooLarge, "invalid_response"},
	{client.ErrInvalidResponse, "invalid_response"},
	{client.ErrMissingAccessToken, "invalid_response"},
	{client.ErrUnsupportedTokenType, "invalid_response"},
	{client.ErrMissingID, "invalid_response"},
	{client.ErrIDTokenMissing, "id_token"},
	{client.ErrIDTokenSignature, "id_token"},
	{client.ErrIDTokenIssuer, "id_token"},
	{client.ErrIDTokenAudience, "id_token"},
	{client.ErrIDTokenExpired, "id_token"},
	{client.ErrIDTokenNonce, "id_token"},
	{client.ErrIDTokenSubject, "id_token"},
	{client.ErrIDTokenInvalid, "id_token"},
}

// ErrorReason reduces err to a short, stable snake_case reason, for a
// metric attribute or a span's error.type: the kind of the kit's error
// ("state_not_found", "policy_denied", "exchange", ...; a provider's error
// response at the callback is "provider_error"), or, for the bare client
// errors a provider call ends with, "timeout", "invalid_grant",
// "oauth_error" (another RFC 6749 error response), "http_error",
// "invalid_response", "id_token" or "not_supported". It is "" for nil and
// "other" for anything else. The set is bounded, unlike err.Error(), which
// may also hold provider-supplied text.
func ErrorReason(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	var oe *client.OAuthError
	if errors.As(err, &oe) {
		return "oauth_error"
	}
	var he *client.HTTPError
	if errors.As(err, &he) {
		return "http_error"
	}
	return "other"
}

// noEnd ends an op nobody observes: a package-level func, so returning it
// allocates nothing.
func noEnd(error) {}

// observe starts op with the configured Observer; without one it returns
// ctx and a no-op end, at no cost.
func (k *Kit) observe(ctx context.Context, op Op, provider string) (context.Context, func(error)) {
	if o := k.cfg.Observer; o != nil {
		return o.Start(ctx, op, provider)
	}
	return ctx, noEnd
}

// outcomeKey holds the *outcome of the handler op a request runs in.
type outcomeKey struct{}

// outcome is the error an observed handler failed with (see fail).
type outcome struct{ err error }

// observed runs h, the handler of the named provider or resolver, as op
// when an Observer is configured: the request carries the op's context,
// and the op ends with the error the handler handed to fail, nil when it
// did not fail. Without an Observer it is h itself. A POST to a callback
// (the form_post leg, answered by a 303 to the callback as a GET, where
// the login's outcome is) is not observed.
func (k *Kit) observed(op Op, provider string, h http.Handler) http.Handler {
	if k.cfg.Observer == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op == OpCallback && r.Method == http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		ctx, end := k.cfg.Observer.Start(r.Context(), op, provider)
		out := &outcome{}
		h.ServeHTTP(w, r.WithContext(context.WithValue(ctx, outcomeKey{}, out)))
		end(out.err)
	})
}

// failed records err as the outcome of the observed handler ctx runs in,
// if any.
func failed(ctx context.Context, err error) {
	if out, ok := ctx.Value(outcomeKey{}).(*outcome); ok {
		out.err = err
	}
}

// revokeOutcome is a revocation's outcome for the Observer: a provider
// that cannot revoke is no failure, as it is none for the logout.
func revokeOutcome(err error) error {
	if errors.Is(err, client.ErrRevokeNotSupported) {
		return nil
	}
	return err
}
