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
	ErrNotSupportedAuthMethod = &kindError{"auth method is not supported", true}
	// ErrMissingRevokeTokenAuthMethod: a revoke endpoint was given without a
	// revocation endpoint auth method.
	ErrMissingRevokeTokenAuthMethod = &kindError{"missing revocation endpoint auth method", true}
	// ErrInvalidConfig reports any other unusable configuration value (an
	// endpoint that is not an absolute URL, a missing client id, ...).
	ErrInvalidConfig = &kindError{"invalid client configuration", true}
)

// Operation errors: each failed request returns a *RequestError whose Op is
// one of these, so errors.Is(err, ErrGetAccessToken) tells which step failed.
var (
	ErrGetAccessToken          = &kindError{"get access token", true}
	ErrRefreshToken            = &kindError{"refresh token", true}
	ErrRevokeToken             = &kindError{"revoke token", true}
	ErrGetLongLivedAccessToken = &kindError{"get long-lived access token", true}
	ErrOpenIDConfiguration     = &kindError{"openid configuration", true}
	ErrGetProfile              = &kindError{"get profile", false}
	ErrGetIDEmail              = &kindError{"get id and email", false}
)

// Unsupported operations, returned before any I/O.
var (
	ErrRefreshNotSupported = &kindError{"refresh token is not supported by this provider", true}
	ErrRevokeNotSupported  = &kindError{"revoke token is not supported by this provider", true}
	// ErrRevocationNotSupported is an alias kept for readers of the security
	// requirements, which use that name.
	ErrRevocationNotSupported = ErrRevokeNotSupported
	ErrProfileNotSupported    = &kindError{"profile is not supported by this client", false}
	ErrIDEmailNotSupported    = &kindError{"id and email are not supported by this client", false}
)

// Causes wrapped inside a *RequestError.
var (
	ErrResponseTooLarge     = errors.New("response body exceeds the size limit")
	ErrMissingAccessToken   = errors.New("response has no access_token")
	ErrUnsupportedTokenType = errors.New("unsupported token_type")
	ErrInvalidResponse      = errors.New("invalid response body")
	ErrMissingID            = errors.New("user id missing or invalid in provider response")
	ErrRedirect             = errors.New("unexpected redirect")
)

// kindError is a sentinel that knows whether it belongs to the ErrOAuth2
// family, so callers can match either the specific kind or the family.
type kindError struct {
	msg    string
	oauth2 bool
}

func (k *kindError) Error() string { return "oauthkit/client: " + k.msg }

func (k *kindError) Is(target error) bool { return k.oauth2 && target == ErrOAuth2 }

// RequestError is the Go counterpart of upstream's OAuth2RequestError (and of
// GetIdEmailError/GetProfileError): one failed operation. Op is the sentinel
// naming the operation; Err is the cause: an *OAuthError, an *HTTPError, a
// transport error, or one of the Err* causes above.
type RequestError struct {
	Op  error
	Err error
}

func (e *RequestError) Error() string {
	return e.Op.Error() + ": " + e.Err.Error()
}

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
	StatusCode  int
	Code        string // the "error" member
	Description string // "error_description"
	URI         string // "error_uri"
}

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
	StatusCode  int
	ContentType string
	Body        string
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

func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d response (%s)", e.StatusCode, sanitize(e.ContentType, 64))
}

// NotSupportedAuthMethodError is upstream's NotSupportedAuthMethodError.
type NotSupportedAuthMethodError struct {
	Method AuthMethod
}

func (e *NotSupportedAuthMethodError) Error() string {
	return fmt.Sprintf("oauthkit/client: auth method %q is not supported", sanitize(string(e.Method), 64))
}

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
