package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Pushed authorization requests (RFC 9126): the client POSTs the
// authorization parameters to the server, authenticated as at the token
// endpoint, and sends the browser with a short-lived request_uri only. The
// parameters never pass through the browser, so they cannot be read or
// altered there, and the server knows which client made the request before
// the user sees anything.

// ErrPushAuthorization is the Op of the *RequestError returned when an
// authorization request cannot be pushed (PushAuthCodeURL): the server
// refused it (an *OAuthError, reachable with errors.As), answered an
// unexpected status (*HTTPError), an answer without a usable request_uri
// or expires_in (ErrInvalidResponse), or could not be reached. A push is
// never retried: the caller starts a new login instead.
var ErrPushAuthorization = newKind("push authorization request", true)

// AuthorizationPusher is implemented by clients that can push their
// authorization requests. The kit asserts it when a provider's
// Capabilities report PushedAuthorization, and builds the authorization
// URL with it instead of AuthCodeURL; every client embedding *OAuth2 has
// it. Because of Go embedding, the promoted method builds the parameters
// of OAuth2.AuthCodeURL, never of an embedding type's own AuthCodeURL: a
// type that adds parameters there must add them to PushAuthCodeURL too.
type AuthorizationPusher interface {
	// PushAuthCodeURL pushes the parameters AuthCodeURL would put in the
	// URL and returns the URL to send the user to.
	PushAuthCodeURL(ctx context.Context, redirectURI string, opts AuthURLOptions, params Params) (string, error)
}

var _ AuthorizationPusher = (*OAuth2)(nil)

// WithPushedAuthorization makes the client push every authorization
// request (RFC 9126), for servers that accept but do not require it, or
// require it per client (which their metadata cannot say). With discovery
// the metadata must name a pushed_authorization_request_endpoint, and with
// New, Config.PushedAuthorizationEndpoint must be set: otherwise the
// constructor fails with ErrInvalidConfig rather than silently sending the
// parameters through the browser. Discovery turns pushing on without this
// option when the metadata has require_pushed_authorization_requests.
func WithPushedAuthorization() Option { return func(c *config) { c.pushed = true } }

// pushedAuthorization reports whether the kit must push this client's
// authorization requests.
func (c *config) pushedAuthorization() bool {
	return c.pushed && c.PushedAuthorizationEndpoint != ""
}

// checkPushed validates the PAR endpoint like the others, and refuses
// WithPushedAuthorization without one.
func (c *config) checkPushed() error {
	if c.PushedAuthorizationEndpoint != "" {
		if err := checkEndpoint("pushed authorization endpoint", c.PushedAuthorizationEndpoint); err != nil {
			return err
		}
	}
	if c.pushed && c.PushedAuthorizationEndpoint == "" {
		return fmt.Errorf("%w: WithPushedAuthorization needs a pushed authorization endpoint", ErrInvalidConfig)
	}
	return nil
}

// applyPushed sets the PAR endpoint from the metadata and turns pushing on
// when the metadata requires it (RFC 9126 §5).
func (md *providerMetadata) applyPushed(cfg *config) error {
	cfg.PushedAuthorizationEndpoint = md.PushedAuthorizationRequestEndpoint
	if md.RequirePushedAuthorizationRequests {
		if cfg.PushedAuthorizationEndpoint == "" {
			return fmt.Errorf("%w: metadata requires pushed authorization requests but has no pushed_authorization_request_endpoint", ErrInvalidResponse)
		}
		cfg.pushed = true
	}
	if cfg.pushed && cfg.PushedAuthorizationEndpoint == "" {
		return fmt.Errorf("%w: WithPushedAuthorization, but the metadata has no pushed_authorization_request_endpoint", ErrInvalidConfig)
	}
	return nil
}

// PushAuthCodeURL pushes an authorization request (RFC 9126 §2) and
// returns the URL to send the user to: the authorize endpoint (with any
// query it has of its own) carrying only client_id and the request_uri the
// server issued. The pushed body holds exactly the parameters AuthCodeURL
// would put in the URL, with the same rules for params, plus the client's
// authentication at the token endpoint (its method; a client assertion's
// audience is the token endpoint, which every server accepts here).
//
// Every failure is a *RequestError with Op ErrPushAuthorization, the
// extra parameters AuthCodeURL refuses (and request_uri, which cannot be
// pushed) also matching ErrInvalidConfig. The request is sent once:
// request_uri values are single-use, and a failed push is the start of a
// new login, not something to repeat.
func (c *OAuth2) PushAuthCodeURL(ctx context.Context, redirectURI string, opts AuthURLOptions, params Params) (string, error) {
	endpoint := c.cfg.PushedAuthorizationEndpoint
	if endpoint == "" {
		return "", &RequestError{Op: ErrPushAuthorization, Err: fmt.Errorf("%w: no pushed authorization endpoint", ErrInvalidConfig)}
	}
	form, err := c.authParams(redirectURI, opts, paramValues(params))
	if err != nil {
		return "", &RequestError{Op: ErrPushAuthorization, Err: err}
	}
	if form.Has("request_uri") {
		// RFC 9126 §2.1: request_uri must not be pushed.
		return "", &RequestError{Op: ErrPushAuthorization, Err: fmt.Errorf("%w: request_uri cannot be pushed", ErrInvalidConfig)}
	}
	req, err := c.formRequest(ctx, endpoint, form, c.cfg.TokenEndpointAuthMethod)
	if err != nil {
		return "", &RequestError{Op: ErrPushAuthorization, Err: err}
	}
	res, err := c.send(req, ErrPushAuthorization)
	if err != nil {
		return "", err
	}
	m, err := parseTokenBody(res.status, res.contentType, res.body)
	if err != nil {
		var oe *OAuthError
		if errors.As(err, &oe) {
			return "", &RequestError{Op: ErrPushAuthorization, Err: redactSecrets(req, err)}
		}
		return "", unusableResponse(ErrPushAuthorization, err, res)
	}
	uri, ok := m["request_uri"].(string)
	if !ok || strings.TrimSpace(uri) == "" {
		return "", unusableResponse(ErrPushAuthorization, fmt.Errorf("%w: no request_uri", ErrInvalidResponse), res)
	}
	// RFC 9126 §2.2: expires_in is required. An answer without a lifetime,
	// or one already over, names a request the server will not honour.
	if v, present := m["expires_in"]; !present || v == nil {
		return "", unusableResponse(ErrPushAuthorization, fmt.Errorf("%w: no expires_in", ErrInvalidResponse), res)
	} else if n, err := seconds(v); err != nil || n <= 0 {
		return "", unusableResponse(ErrPushAuthorization, fmt.Errorf("%w: expires_in is not a positive number", ErrInvalidResponse), res)
	}
	u, err := c.authorizeURL(url.Values{"client_id": {c.cfg.ClientID}, "request_uri": {uri}})
	if err != nil {
		return "", &RequestError{Op: ErrPushAuthorization, Err: err}
	}
	return u, nil
}
