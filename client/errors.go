package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrOAuth2 matches, through errors.Is, every error this package returns for
// a protocol operation or a misconfiguration, as OAuth2Error does upstream.
// Identity errors (ErrGetProfile, ErrGetIDEmail) are deliberately not
// ErrOAuth2 errors, matching upstream's hierarchy.
var ErrOAuth2 = errors.New("oauth2 error")

// Configuration errors, returned by constructors before any I/O.
var (
	// ErrNotSupportedAuthMethod is matched by *NotSupportedAuthMethodError.
	ErrNotSupportedAuthMethod = newKind("auth method is not supported", true)
	// ErrMissingRevokeTokenAuthMethod: a revoke endpoint was given without a
	// revocation endpoint auth method.
	ErrMissingRevokeTokenAuthMethod = newKind("missing revocation endpoint auth method", true)
	// ErrInvalidConfig reports any other unusable configuration value (an
	// endpoint that is not an absolute URL, a missing client id, ...).
	ErrInvalidConfig = newKind("invalid client configuration", true)
)

// ErrProviderUnavailable is matched by the errors of a Resolver (Lazy) that
// has no usable provider: its issuer is unreachable, slow, or serves
// metadata that cannot be used. The error also wraps the cause.
var ErrProviderUnavailable = newKind("provider unavailable", true)

// Operation errors: each failed request returns a *RequestError whose Op is
// one of these, so errors.Is(err, ErrGetAccessToken) tells which step failed.
var (
	// ErrGetAccessToken: the code exchange failed (AccessToken).
	ErrGetAccessToken = newKind("get access token", true)
	// ErrRefreshToken: RefreshToken failed.
	ErrRefreshToken = newKind("refresh token", true)
	// ErrRevokeToken: RevokeToken or Revoke failed.
	ErrRevokeToken = newKind("revoke token", true)
	// ErrGetLongLivedAccessToken: Facebook's long-lived token exchange failed.
	ErrGetLongLivedAccessToken = newKind("get long-lived access token", true)
	// ErrOpenIDConfiguration: discovery failed or its metadata is unusable.
	ErrOpenIDConfiguration = newKind("openid configuration", true)
	// ErrGetProfile: Profile failed (not an ErrOAuth2 error, as upstream).
	ErrGetProfile = newKind("get profile", false)
	// ErrGetIDEmail: IDEmail or the user-API part of Identify failed (not an
	// ErrOAuth2 error, as upstream).
	ErrGetIDEmail = newKind("get id and email", false)
)

// Unsupported operations, returned before any I/O.
var (
	// ErrRefreshNotSupported: the client has no refresh endpoint.
	ErrRefreshNotSupported = newKind("refresh token is not supported by this provider", true)
	// ErrRevokeNotSupported: the client has no revocation endpoint, or none
	// for the token given (Kakao, Naver and Twitch revoke access tokens
	// only), or Revoke was given no token.
	ErrRevokeNotSupported = newKind("revoke token is not supported by this provider", true)
	// ErrProfileNotSupported: the client knows no user API to read.
	ErrProfileNotSupported = newKind("profile is not supported by this client", false)
	// ErrIDEmailNotSupported: the client knows no user API (OAuth2,
	// AuthorizationServer, Apple's IDEmail).
	ErrIDEmailNotSupported = newKind("id and email are not supported by this client", false)
)

// Causes wrapped inside a *RequestError.
var (
	// ErrResponseTooLarge: the body exceeds MaxResponseBytes.
	ErrResponseTooLarge = errors.New("response body exceeds the size limit")
	// ErrMissingAccessToken: a token response without access_token.
	ErrMissingAccessToken = errors.New("response has no access_token")
	// ErrUnsupportedTokenType: a token_type other than Bearer.
	ErrUnsupportedTokenType = errors.New("unsupported token_type")
	// ErrInvalidResponse: a body that is not the JSON (or form) expected.
	ErrInvalidResponse = errors.New("invalid response body")
	// ErrMissingID: the user API gave no usable user id.
	ErrMissingID = errors.New("user id missing or invalid in provider response")
	// ErrRedirect: the provider answered with a redirect, which is never
	// followed.
	ErrRedirect = errors.New("unexpected redirect")
)

// ErrInvalidGrant is matched, through errors.Is, by an *OAuthError whose
// code says the grant is over: "invalid_grant" (RFC 6749 §5.2: the code or
// refresh token is invalid, expired, revoked or was issued to another
// client) and GitHub's "bad_verification_code". Retrying with the same
// code or refresh token cannot succeed; the user must log in again.
var ErrInvalidGrant = errors.New("oauthkit/client: authorization grant is invalid, expired or revoked")

// kindError is a sentinel that knows whether it belongs to the ErrOAuth2
// family, so callers can match either the specific kind or the family.
type kindError struct {
	msg    string
	oauth2 bool
}

// newKind returns a sentinel; oauth2 says whether it matches ErrOAuth2.
func newKind(msg string, oauth2 bool) error { return &kindError{msg: msg, oauth2: oauth2} }

// Error returns the sentinel's message.
func (k *kindError) Error() string { return "oauthkit/client: " + k.msg }

// Is matches ErrOAuth2 for the sentinels of that family.
func (k *kindError) Is(target error) bool { return k.oauth2 && target == ErrOAuth2 }

// RequestError is the Go counterpart of upstream's OAuth2RequestError (and of
// GetIdEmailError/GetProfileError): one failed operation. Op is the sentinel
// naming the operation; Err is the cause: an *OAuthError, an *HTTPError, a
// transport error, or one of the Err* causes above.
type RequestError struct {
	// Op is the sentinel of the failed operation (ErrGetAccessToken, ...).
	Op error
	// Err is the cause.
	Err error
}

// Error names the operation and the cause.
func (e *RequestError) Error() string {
	return e.Op.Error() + ": " + e.Err.Error()
}

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *RequestError) Unwrap() error { return e.Err }

// Is matches the operation sentinel (and, through it, ErrOAuth2).
func (e *RequestError) Is(target error) bool {
	return target == e.Op || errors.Is(e.Op, target)
}

// StatusCode returns the HTTP status of the response that caused err, or 0
// when there was none (transport failure, unsupported operation).
func StatusCode(err error) int {
	var oe *OAuthError
	if errors.As(err, &oe) {
		return oe.StatusCode
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

// OAuthError is an error response in the form of RFC 6749 §5.2 (also used by
// RFC 7009 and provider user APIs), whatever its HTTP status: GitHub and
// Reddit answer 200 with an error member.
type OAuthError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code is the "error" member, such as "invalid_grant".
	Code string
	// Description is "error_description", for developers, not users.
	Description string
	// URI is "error_uri".
	URI string
}

// Is makes an invalid_grant (or GitHub's bad_verification_code) error
// match ErrInvalidGrant.
func (e *OAuthError) Is(target error) bool {
	return target == ErrInvalidGrant && (e.Code == "invalid_grant" || e.Code == "bad_verification_code")
}

// Error reports the code and description, sanitised and bounded.
func (e *OAuthError) Error() string {
	s := fmt.Sprintf("provider error %q (HTTP %d)", sanitize(e.Code, 64), e.StatusCode)
	if e.Description != "" {
		s += ": " + sanitize(e.Description, 200)
	}
	return s
}

// HTTPError is a non-2xx response that is not an RFC 6749 error document,
// or a 2xx token response that could not be used (wrapped next to the cause,
// such as ErrInvalidResponse). Body holds at most 512 sanitised bytes of the
// response.
type HTTPError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// ContentType is the response's Content-Type header.
	ContentType string
	// Body is an excerpt of the response body (empty for 2xx token
	// responses, which may hold live tokens).
	Body string
	// RetryAfter is the provider's Retry-After (seconds or HTTP date) on a
	// 429 or 503 answer, zero when absent. RFC 7009 §2.2.1: after a 503 the
	// token must be assumed to still exist, and the request may be retried.
	RetryAfter time.Duration
}

// Temporary reports whether the provider said to try again later (429, 503),
// so a caller may retry after RetryAfter. A code exchange must never be
// retried: codes are single-use.
func (e *HTTPError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusServiceUnavailable
}

// Error reports the status and content type, never the body.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d response (%s)", e.StatusCode, sanitize(e.ContentType, 64))
}

// NotSupportedAuthMethodError is upstream's NotSupportedAuthMethodError.
type NotSupportedAuthMethodError struct {
	// Method is the method that cannot be used.
	Method AuthMethod
}

// Error names the method.
func (e *NotSupportedAuthMethodError) Error() string {
	return fmt.Sprintf("oauthkit/client: auth method %q is not supported", sanitize(string(e.Method), 64))
}

// Is matches ErrNotSupportedAuthMethod and ErrOAuth2.
func (e *NotSupportedAuthMethodError) Is(target error) bool {
	return target == ErrNotSupportedAuthMethod || target == ErrOAuth2
}

const maxExcerpt = 512

// sanitize bounds a provider-controlled string and removes control
// characters, so it cannot forge log lines or flood them.
func sanitize(s string, max int) string {
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
}
