package client

import (
	"bytes"
	"encoding/json"
	"time"
)

// tokenFromBody turns a 2xx token-endpoint body into a Token: an
// *OAuthError when the body is an RFC 6749 error, ErrInvalidResponse (or a
// more precise error) when it is no usable token.
//
// Nearly every response is a small JSON object of string members and a
// numeric expires_in, which decodes into a struct in a third of the time
// and allocations of the general path's map. The struct is only a shortcut:
// a body it could read differently from the map (see fastTokenBody) goes
// the general way, so both give the same Token or error for every body
// (FuzzTokenFromBody checks that).
func tokenFromBody(status int, contentType string, body []byte, now time.Time, dpop bool) (*Token, error) {
	if t, ok := fastTokenBody(contentType, body, now, dpop); ok {
		return t, nil
	}
	return slowTokenBody(status, contentType, body, now, dpop)
}

// slowTokenBody is the general path: every encoding and shape the client
// accepts, and every error it reports.
func slowTokenBody(status int, contentType string, body []byte, now time.Time, dpop bool) (*Token, error) {
	m, err := parseTokenBody(status, contentType, body)
	if err != nil {
		return nil, err
	}
	return tokenFromFields(m, jsonBody(contentType, body), now, dpop)
}

// tokenMembers are the members fastTokenBody's struct names.
var tokenMembers = [][]byte{
	[]byte("access_token"), []byte("token_type"), []byte("refresh_token"), []byte("scope"),
	[]byte("id_token"), []byte("expires_in"), []byte("expires_at"), []byte("error"),
}

// fastTokenBody decodes a successful JSON token response into a struct, or
// reports false for anything the general path must judge: form bodies,
// errors, a missing or empty access_token, a non-string member, expires_in
// as a string, expires_at, bytes after the object.
//
// encoding/json matches struct fields case-insensitively (Unicode simple
// folding), and a map does not: {"Access_Token": ...} has no access_token
// to the general path. So a body holding a case variant of a member name,
// any non-ASCII byte (ſ and K fold to s and k) or any escape (a name may be
// spelt with \u escapes) is left to the general path too. Exact duplicates
// need no care, the last one wins in both, but for null, which leaves a
// struct's string as it was and replaces a map's value: a body holding
// "null" anywhere goes the general way.
func fastTokenBody(contentType string, body []byte, now time.Time, dpop bool) (*Token, bool) {
	if isFormType(contentType) || bytes.Contains(body, []byte("null")) || !plainJSONNames(body) {
		return nil, false
	}
	var v struct {
		AccessToken  string          `json:"access_token"`
		TokenType    string          `json:"token_type"`
		RefreshToken string          `json:"refresh_token"`
		Scope        string          `json:"scope"`
		IDToken      string          `json:"id_token"`
		ExpiresIn    json.RawMessage `json:"expires_in"`
		ExpiresAt    json.RawMessage `json:"expires_at"`
		Error        json.RawMessage `json:"error"`
	}
	// Unmarshal, unlike the general path's Decoder, refuses bytes after the
	// value: what it accepts is exactly one JSON value, so Raw is the body.
	if json.Unmarshal(body, &v) != nil || v.AccessToken == "" || v.Error != nil || v.ExpiresAt != nil {
		return nil, false
	}
	if checkTokenType(v.TokenType, dpop) != nil {
		return nil, false
	}
	t := &Token{AccessToken: v.AccessToken, TokenType: v.TokenType, RefreshToken: v.RefreshToken, Scope: v.Scope, IDToken: v.IDToken, Raw: body}
	if dpop {
		t.TokenType = "DPoP"
	}
	if v.ExpiresIn != nil {
		if v.ExpiresIn[0] == '"' {
			return nil, false // a numeric string must hold an integer: seconds decides
		}
		n, err := seconds(json.Number(v.ExpiresIn))
		if err != nil {
			return nil, false
		}
		if n > 0 {
			t.Expiry = now.Add(time.Duration(n) * time.Second)
			t.ExpiresIn = t.Expiry.Sub(now)
		}
	}
	return t, true
}

// plainJSONNames reports that body is ASCII without escapes and holds no
// member name that equals one of tokenMembers but for case: a body on which
// struct and map decoding see the same member names.
func plainJSONNames(body []byte) bool {
	for _, c := range body {
		if c >= 0x80 || c == '\\' {
			return false
		}
	}
	// Without escapes, every quote opens or closes a string.
	for rest := body; ; {
		i := bytes.IndexByte(rest, '"')
		if i < 0 {
			return true
		}
		rest = rest[i+1:]
		n := bytes.IndexByte(rest, '"')
		if n < 0 {
			return true // unterminated: Unmarshal refuses it
		}
		name := rest[:n]
		rest = rest[n+1:]
		if !isName(rest) {
			continue // a value: struct and map read values alike
		}
		for _, k := range tokenMembers {
			if n == len(k) && bytes.EqualFold(name, k) && !bytes.Equal(name, k) {
				return false
			}
		}
	}
}

// isName reports that the string just closed before rest is a member name:
// a colon follows it.
func isName(rest []byte) bool {
	for _, c := range rest {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}
