package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Logout is implemented by the OpenID Connect clients: they can end the
// provider's session (RP-Initiated Logout 1.0) and verify the logout tokens
// a provider sends when a user logged out (Back-Channel Logout 1.0). It is
// separate from Provider, as http.Flusher is from http.ResponseWriter: plain
// OAuth 2.0 providers (GitHub) have no logout, and the kit asks for it with
// a type assertion.
type Logout interface {
	// EndSession returns the request that ends the user's session at the
	// provider, or ErrEndSessionNotSupported when the provider advertises no
	// end_session_endpoint.
	EndSession(idTokenHint, postLogoutRedirectURI, state string) (*EndSessionRequest, error)
	// VerifyLogoutToken verifies a back-channel logout token; failures are
	// *RequestError with Op ErrLogoutToken.
	VerifyLogoutToken(ctx context.Context, raw string) (*LogoutToken, error)
}

// ErrLogoutToken is the Op of the *RequestError returned for a logout token
// that cannot be trusted. Its cause is an ErrIDToken* value (signature,
// issuer, audience, expiry) or ErrLogoutTokenClaims. It belongs to the
// ErrOAuth2 family.
var ErrLogoutToken = newKind("logout token verification", true)

var (
	// ErrLogoutTokenClaims: a claim Back-Channel Logout 1.0 §2.4 requires is
	// missing or wrong: no back-channel logout event (so it is not a logout
	// token), a nonce (an ID token replayed as a logout token), no jti, no
	// iat, neither sub nor sid.
	ErrLogoutTokenClaims = errors.New("logout token claims are invalid")
	// ErrEndSessionNotSupported: the provider advertises no
	// end_session_endpoint, so only the application's session can end.
	ErrEndSessionNotSupported = errors.New("oauthkit/client: the provider has no end_session_endpoint")
)

// EndSessionRequest is an RP-initiated logout request: the browser is to
// send Params to Endpoint. The specification allows GET and POST; a POST
// (an auto-submitting form) keeps the ID token out of URLs, logs and Referer
// headers.
type EndSessionRequest struct {
	// Endpoint is the provider's end_session_endpoint.
	Endpoint string
	// Params are id_token_hint, client_id and, when given,
	// post_logout_redirect_uri and state.
	Params url.Values
}

// LogoutToken is a verified back-channel logout token: the provider says
// the user's session SessionID, or all sessions of Subject, ended.
type LogoutToken struct {
	// Issuer is the "iss" claim, the client's issuer.
	Issuer string
	// Subject is the user the token is for, the same id Identify gives as
	// Identity.Subject; "" when the token names only a session.
	Subject string
	// SessionID is the "sid" claim, as Identity.SessionID; "" when the token
	// names only the subject (every session of the user ends).
	SessionID string
	// ID is the "jti" claim, unique per token: a receiver refuses a token it
	// has seen.
	ID string
	// IssuedAt and Expiry are "iat" and "exp".
	IssuedAt, Expiry time.Time
}

// backChannelEvent is the member of "events" that makes a JWT a logout
// token (Back-Channel Logout 1.0 §2.4).
const backChannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// EndSession builds the RP-initiated logout request (RP-Initiated Logout
// 1.0 §2). idTokenHint may be an expired ID token; the provider uses it to
// find the session and the client. state is sent only with a
// postLogoutRedirectURI, the only place the provider returns it.
func (o *oidcCore) EndSession(idTokenHint, postLogoutRedirectURI, state string) (*EndSessionRequest, error) {
	if o.endSession == "" {
		return nil, ErrEndSessionNotSupported
	}
	p := url.Values{"client_id": {o.clientID}}
	if idTokenHint != "" {
		p.Set("id_token_hint", idTokenHint)
	}
	if postLogoutRedirectURI != "" {
		p.Set("post_logout_redirect_uri", postLogoutRedirectURI)
		if state != "" {
			p.Set("state", state)
		}
	}
	return &EndSessionRequest{Endpoint: o.endSession, Params: p}, nil
}

// VerifyLogoutToken verifies raw as a back-channel logout token with
// go-oidc's verifier (signature by the issuer's keys, iss, aud = the client
// id, exp, the back-channel event, no nonce, jti, sub or sid), then checks
// what go-oidc leaves out: the event's value is a JSON object, iat is
// present and at most 5 minutes ahead of the client's clock, and the issuer
// check of providers whose issuer is a template (Microsoft). Subject is read
// from the claim Identify keys users by.
func (o *oidcCore) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutToken, error) {
	if raw == "" || len(raw) > maxLogoutToken {
		return nil, logoutError(ErrIDTokenSignature, "empty or oversized token")
	}
	lt, err := o.verifier.VerifyLogout(ctx, raw)
	if err != nil {
		return nil, logoutError(classifyLogoutError(err), err.Error())
	}
	var claims struct {
		Events map[string]json.RawMessage `json:"events"`
	}
	var m map[string]any
	if lt.Claims(&claims) != nil || lt.Claims(&m) != nil {
		return nil, logoutError(ErrLogoutTokenClaims, "claims are not a JSON object")
	}
	if ev := strings.TrimSpace(string(claims.Events[backChannelEvent])); !strings.HasPrefix(ev, "{") {
		return nil, logoutError(ErrLogoutTokenClaims, "the back-channel logout event is not a JSON object")
	}
	if o.checkIssuer != nil {
		if err := o.checkIssuer(lt.Issuer, m); err != nil {
			return nil, logoutError(ErrIDTokenIssuer, err.Error())
		}
	}
	now := time.Now
	if o.now != nil {
		now = o.now
	}
	if lt.IssuedAt.IsZero() {
		return nil, logoutError(ErrLogoutTokenClaims, "no iat")
	}
	if lt.IssuedAt.After(now().Add(idTokenLeeway)) {
		return nil, logoutError(ErrIDTokenExpired, "iat is in the future")
	}
	sub := lt.Subject
	if o.subjectClaim != "sub" && sub != "" {
		sub, _ = m[o.subjectClaim].(string)
	}
	return &LogoutToken{
		Issuer:    lt.Issuer,
		Subject:   sub,
		SessionID: lt.SessionID,
		ID:        lt.TokenID,
		IssuedAt:  lt.IssuedAt,
		Expiry:    lt.Expiry,
	}, nil
}

// maxLogoutToken bounds the token before any parsing; real ones are well
// under 2 KiB.
const maxLogoutToken = 16 << 10

func logoutError(cause error, detail string) error {
	return &RequestError{Op: ErrLogoutToken, Err: fmt.Errorf("%w: %s", cause, sanitize(detail, 200))}
}

// classifyLogoutError maps go-oidc's VerifyLogout errors to our causes: its
// logout-specific checks (event, nonce, jti, exp, sub/sid) are claim errors,
// the rest are those of ID tokens.
func classifyLogoutError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "logout token missing"), strings.Contains(msg, "must not contain a 'nonce'"),
		strings.Contains(msg, "must contain a 'sub' claim"), strings.Contains(msg, "must contain an 'exp'"),
		strings.Contains(msg, "parsing logout token payload"):
		return ErrLogoutTokenClaims
	case strings.Contains(msg, "expected logout token audience"):
		return ErrIDTokenAudience
	case strings.Contains(msg, "logout token issued by a different provider"):
		return ErrIDTokenIssuer
	}
	return classifyVerifyError(err)
}
