package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// DefaultExpiryLeeway is how long before its expiry a token counts as
// expired, so a request started just before expiry does not reach the
// provider with a dead token (the same 10 s as x/oauth2).
const DefaultExpiryLeeway = 10 * time.Second

// Token is a successful token-endpoint response (upstream's OAuth2Token).
// Its fields are plain values (DPoPKey encodes itself as JSON and gob), so
// it stores as it is in any scs store.
type Token struct {
	// AccessToken is the credential for the provider's APIs; never empty.
	AccessToken string
	// TokenType is "Bearer", as the server spelt it, or "DPoP" for a
	// client made WithDPoP (each client accepts only its own type).
	TokenType string
	// RefreshToken is "" when the server issued none. After RefreshToken
	// it is the new one, or the old one when the server sent none.
	RefreshToken string
	// Scope is the space-separated granted scope when the server said it,
	// which may be fewer scopes than were requested.
	Scope string
	// IDToken is the OpenID Connect ID token (a JWT), "" when none was
	// issued. It is not verified here: VerifyIDToken and Identify do that.
	IDToken string
	// Expiry is when the access token expires; the zero time means unknown
	// (no expires_in in the response), which never counts as expired.
	Expiry time.Time
	// ExpiresIn is the lifetime the server gave in expires_in, 0 when it
	// gave none (or an absolute expires_at). It lets a caller with a clock
	// of its own (the kit's Config.Now) stamp Expiry by that clock.
	ExpiresIn time.Duration
	// Raw is the response body as received when it is JSON (form-encoded
	// responses are converted to a JSON object), so members this type does
	// not name remain readable through Extra. Keeping the body spares
	// re-encoding every response; a body that decodes but is no single
	// valid JSON value (trailing bytes) is re-encoded from what decoded.
	Raw json.RawMessage
	// DPoPKey is the key the token is bound to (token_type DPoP, RFC 9449),
	// nil for a Bearer token. Store it with the token (it encodes as JSON
	// and gob) and give it back with ContextWithDPoPKey to refresh: the
	// server refuses the grant's tokens with another key. Transport and
	// Identify use it for resource requests.
	DPoPKey *DPoPKey
}

// Expired reports whether the token expires within DefaultExpiryLeeway of now.
func (t *Token) Expired(now time.Time) bool {
	return t.ExpiresWithin(now, DefaultExpiryLeeway)
}

// ExpiresWithin reports whether the token expires within leeway of now.
func (t *Token) ExpiresWithin(now time.Time, leeway time.Duration) bool {
	if t == nil || t.Expiry.IsZero() {
		return false
	}
	return !now.Add(leeway).Before(t.Expiry)
}

// Extra returns a member of the raw response, or nil when absent. Numbers
// are json.Number, so large ids (a user id in the token response) stay exact.
func (t *Token) Extra(key string) any {
	if t == nil || len(t.Raw) == 0 {
		return nil
	}
	var m map[string]any
	if decodeExact(t.Raw, &m) != nil {
		return nil
	}
	return m[key]
}

// OAuth2 converts t for use with golang.org/x/oauth2 and provider SDKs built
// on it. Raw members are carried over as extras.
func (t *Token) OAuth2() *oauth2.Token {
	ot := &oauth2.Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
		ExpiresIn:    int64(t.ExpiresIn / time.Second),
	}
	var m map[string]any
	if len(t.Raw) > 0 && json.Unmarshal(t.Raw, &m) == nil {
		ot = ot.WithExtra(m)
	}
	return ot
}

// FromOAuth2 converts a golang.org/x/oauth2 token. The raw extras of ot are
// not reachable through its API, so only id_token and scope are carried.
func FromOAuth2(ot *oauth2.Token) *Token {
	if ot == nil {
		return nil
	}
	t := &Token{
		AccessToken:  ot.AccessToken,
		TokenType:    ot.TokenType,
		RefreshToken: ot.RefreshToken,
		Expiry:       ot.Expiry,
		ExpiresIn:    time.Duration(ot.ExpiresIn) * time.Second,
	}
	if s, ok := ot.Extra("id_token").(string); ok {
		t.IDToken = s
	}
	if s, ok := ot.Extra("scope").(string); ok {
		t.Scope = s
	}
	return t
}

// parseTokenBody turns a 2xx token-endpoint body into fields, accepting JSON
// and (as GitHub sends without Accept, and x/oauth2 accepts) form encoding.
// An RFC 6749 error member makes it an *OAuthError whatever the status.
func parseTokenBody(status int, contentType string, body []byte) (map[string]any, error) {
	m, err := decodeBody(contentType, body)
	if err != nil {
		return nil, err
	}
	if oe := oauthErrorFrom(status, m); oe != nil {
		return nil, oe
	}
	return m, nil
}

// decodeBody decodes a JSON object, or a form-encoded body when the content
// type says so. Numbers are kept as json.Number so large ids stay exact.
func decodeBody(contentType string, body []byte) (map[string]any, error) {
	if isFormType(contentType) {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("%w: form body: %v", ErrInvalidResponse, err)
		}
		m := make(map[string]any, len(vals))
		for k := range vals {
			m[k] = vals.Get(k)
		}
		return m, nil
	}
	var m map[string]any
	if err := decodeExact(body, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidResponse)
	}
	return m, nil
}

// isFormType reports that a response's Content-Type is form encoding
// (text/plain is GitHub's without Accept); anything else, no type or a
// malformed one included, is read as JSON.
func isFormType(contentType string) bool {
	if contentType == "application/json" || strings.HasPrefix(contentType, "application/json;") {
		return false // the common answer, without ParseMediaType's map
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/x-www-form-urlencoded" || mt == "text/plain"
}

// decodeExact decodes JSON with numbers as json.Number, so ids above 2^53
// (snowflakes, 64-bit user ids) stay exact instead of becoming float64.
func decodeExact(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// oauthErrorFrom returns the RFC 6749 §5.2 error carried by m, if any.
func oauthErrorFrom(status int, m map[string]any) *OAuthError {
	v, ok := m["error"]
	if !ok || v == nil {
		return nil
	}
	code := stringify(v)
	if code == "" {
		return nil
	}
	return &OAuthError{
		StatusCode:  status,
		Code:        code,
		Description: stringify(m["error_description"]),
		URI:         stringify(m["error_uri"]),
	}
}

// stringify renders scalar JSON values (Reddit sends "error": 401).
func stringify(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		return ""
	}
}

// jsonBody is body when parseTokenBody read it as JSON and it is exactly
// one valid JSON value, and nil otherwise (form encoding, or trailing bytes
// json.Decoder stops before): what tokenFromFields can keep as Raw as it is.
func jsonBody(contentType string, body []byte) json.RawMessage {
	if isFormType(contentType) || !json.Valid(body) {
		return nil
	}
	return body
}

// tokenFromFields builds a Token from a decoded success body; raw is the
// body itself when it is JSON (see jsonBody), nil to encode m as Raw. dpop
// says the client uses DPoP, so the token_type must be DPoP rather than
// Bearer.
func tokenFromFields(m map[string]any, raw json.RawMessage, now time.Time, dpop bool) (*Token, error) {
	at, ok := m["access_token"].(string)
	if !ok {
		if _, present := m["access_token"]; present {
			return nil, fmt.Errorf("%w: access_token is not a string", ErrInvalidResponse)
		}
		return nil, ErrMissingAccessToken
	}
	if at == "" {
		return nil, ErrMissingAccessToken
	}
	t := &Token{AccessToken: at}
	var err error
	if t.TokenType, err = optString(m, "token_type"); err != nil {
		return nil, err
	}
	if err := checkTokenType(t.TokenType, dpop); err != nil {
		return nil, err
	}
	if dpop {
		t.TokenType = "DPoP"
	}
	if t.RefreshToken, err = optString(m, "refresh_token"); err != nil {
		return nil, err
	}
	if t.Scope, err = scopeString(m["scope"]); err != nil {
		return nil, err
	}
	if t.IDToken, err = optString(m, "id_token"); err != nil {
		return nil, err
	}
	if t.Expiry, err = expiryFrom(m, now); err != nil {
		return nil, err
	}
	if _, absolute := m["expires_at"]; !absolute && !t.Expiry.IsZero() {
		t.ExpiresIn = t.Expiry.Sub(now)
	}
	if raw == nil {
		var err error
		if raw, err = json.Marshal(m); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidResponse, err)
		}
	}
	t.Raw = raw
	return t, nil
}

// scopeString accepts the RFC 6749 space-separated string, and the JSON
// array of strings some providers (Twitch) send instead.
func scopeString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, s := range x {
			str, ok := s.(string)
			if !ok {
				return "", fmt.Errorf("%w: scope array holds a non-string", ErrInvalidResponse)
			}
			if str != "" {
				parts = append(parts, str)
			}
		}
		return strings.Join(parts, " "), nil
	}
	return "", fmt.Errorf("%w: scope is not a string", ErrInvalidResponse)
}

func optString(m map[string]any, key string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s is not a string", ErrInvalidResponse, key)
	}
	return s, nil
}

// expiryFrom computes the expiry from expires_at (absolute, wins as
// upstream) or expires_in, which may be a number or a numeric string
// (PayPal). Values are clamped to 2^31-1 seconds as x/oauth2 does; values
// <= 0 mean unknown, so no refresh loop can start from them.
func expiryFrom(m map[string]any, now time.Time) (time.Time, error) {
	if v, ok := m["expires_at"]; ok && v != nil {
		n, err := seconds(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: expires_at: %v", ErrInvalidResponse, err)
		}
		if n <= 0 {
			return time.Time{}, nil
		}
		return time.Unix(n, 0), nil
	}
	v, ok := m["expires_in"]
	if !ok || v == nil {
		return time.Time{}, nil
	}
	n, err := seconds(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: expires_in: %v", ErrInvalidResponse, err)
	}
	if n <= 0 {
		return time.Time{}, nil
	}
	return now.Add(time.Duration(n) * time.Second), nil
}

func seconds(v any) (int64, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		// A string must hold an integer, as x/oauth2 requires: "3600.5" is
		// rejected, only JSON numbers may
		// have a fraction, which is truncated as upstream's int() does.
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("not an integer")
		}
		return min(n, math.MaxInt32), nil
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return 0, fmt.Errorf("not a number")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return min(n, math.MaxInt32), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a number")
	}
	return int64(max(min(f, math.MaxInt32), math.MinInt32)), nil
}
