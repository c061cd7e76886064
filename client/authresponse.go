package client

import (
	"errors"
	"fmt"
	"net/url"
)

// Bounds of the authorization-response parameters. Real states are a few
// dozen bytes and real codes a few hundred; anything longer is an attack or
// a bug, refused before it reaches a store or a provider.
const (
	maxStateLen = 256
	maxCodeLen  = 4096

	maxIssLen        = 2048
	maxErrorCodeLen  = 64
	maxErrorDescLen  = 1024
	invalidErrorCode = "invalid_error_code"
	paramState       = "state"
	paramCode        = "code"
	paramIss         = "iss"
	paramError       = "error"
	paramErrorDesc   = "error_description"
	reasonMissing    = "missing"
	reasonRepeated   = "repeated"
	reasonTooLong    = "too long"
	reasonNotVSCHAR  = "not VSCHAR"
)

// ErrInvalidAuthorizationResponse is matched by every
// *AuthorizationResponseError: the query of a redirect back from the
// provider cannot be a genuine authorization response (RFC 6749 §4.1.2).
var ErrInvalidAuthorizationResponse = errors.New("oauthkit/client: invalid authorization response")

// AuthorizationResponseError says which parameter of an authorization
// response is unusable and why, so a caller can log it without the value.
type AuthorizationResponseError struct {
	// Param is the parameter: "state", "code" or "iss".
	Param string
	// Reason is "missing", "repeated", "too long" or "not VSCHAR".
	Reason string
}

// Error names the parameter and the reason, never the value.
func (e *AuthorizationResponseError) Error() string {
	return fmt.Sprintf("%v: %s %s", ErrInvalidAuthorizationResponse, e.Param, e.Reason)
}

// Is matches ErrInvalidAuthorizationResponse.
func (e *AuthorizationResponseError) Is(target error) bool {
	return target == ErrInvalidAuthorizationResponse
}

// AuthorizationResponse is the parsed query (or form_post body) of the
// redirect back from the provider: a code, or an error (RFC 6749 §4.1.2).
type AuthorizationResponse struct {
	// State is the state parameter, never empty.
	State string
	// Code is the authorization code, "" when absent (an error response).
	Code string
	// Iss is the RFC 9207 iss parameter; HasIss says whether it was sent
	// (an empty iss is not a missing one).
	Iss string
	// HasIss reports that the response carried iss.
	HasIss bool
	// Error is the error code of an error response, "" otherwise. A code
	// outside the RFC 6749 §4.1.2.1 alphabet, repeated, empty or longer
	// than 64 bytes is replaced by "invalid_error_code", so Error is always
	// safe to log.
	Error string
	// ErrorDescription is error_description, "" when absent, repeated or
	// longer than 1024 bytes. It is provider-controlled text: escape it and
	// do not log it raw.
	ErrorDescription string
}

// ParseAuthorizationResponse checks the parameters of an authorization
// response, in this order: state (present, single, at most 256 bytes,
// VSCHAR), code (single, at most 4096 bytes, VSCHAR; it may be absent), iss (single, at most 2048 bytes, when present). The first
// failure is an *AuthorizationResponseError matching
// ErrInvalidAuthorizationResponse; it does not say whether the state is
// known, or whether iss is the expected issuer: those checks are the
// caller's. Because state and code are checked first, a failure with Param
// "iss" means the state in q is well formed.
func ParseAuthorizationResponse(q url.Values) (*AuthorizationResponse, error) {
	state, reason := single(q, paramState, maxStateLen)
	switch {
	case reason != "":
	case state == "":
		reason = reasonMissing
	case !vschar(state):
		reason = reasonNotVSCHAR
	}
	if reason != "" {
		return nil, &AuthorizationResponseError{Param: paramState, Reason: reason}
	}
	code, reason := single(q, paramCode, maxCodeLen)
	if reason == "" && !vschar(code) {
		reason = reasonNotVSCHAR
	}
	if reason != "" {
		return nil, &AuthorizationResponseError{Param: paramCode, Reason: reason}
	}
	r := &AuthorizationResponse{State: state, Code: code, HasIss: len(q[paramIss]) > 0}
	if r.HasIss {
		if r.Iss, reason = single(q, paramIss, maxIssLen); reason != "" {
			return nil, &AuthorizationResponseError{Param: paramIss, Reason: reason}
		}
	}
	if len(q[paramError]) > 0 {
		ec, _ := single(q, paramError, maxErrorCodeLen)
		r.Error = errorCode(ec)
		r.ErrorDescription, _ = single(q, paramErrorDesc, maxErrorDescLen)
	}
	return r, nil
}

// errorCode keeps an authorization-response error code only if it is in the
// RFC 6749 §4.1.2.1 alphabet (%x20-21 / %x23-5B / %x5D-7E), so it is safe to
// log; anything else becomes "invalid_error_code".
func errorCode(s string) string {
	if s == "" {
		return invalidErrorCode
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return invalidErrorCode
		}
	}
	return s
}

// vschar reports whether s is in the RFC 6749 Appendix A VSCHAR alphabet
// (%x20-7E) that state and code values are made of.
func vschar(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// single returns the only value of key ("" when absent), or the reason it
// is unusable: repeated, or longer than max bytes.
func single(q url.Values, key string, max int) (string, string) {
	vs := q[key]
	switch {
	case len(vs) == 0:
		return "", ""
	case len(vs) > 1:
		return "", reasonRepeated
	case len(vs[0]) > max:
		return "", reasonTooLong
	}
	return vs[0], ""
}
