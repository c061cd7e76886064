package client

import (
	"net/url"
	"reflect"
)

// Params is implemented by the extra authorization parameters passed to
// AuthCodeURL: upstream's generic type T. Provider clients have typed
// structs (such as GoogleParams) so a misspelt parameter is a compile
// error; Values holds untyped extras for any client.
type Params interface {
	// AuthParams returns the parameters to add to the authorization URL.
	AuthParams() url.Values
}

// Values is untyped extra authorization parameters, for the generic client
// or for parameters a provider's typed struct does not have.
type Values url.Values

// AuthParams implements Params.
func (v Values) AuthParams() url.Values { return url.Values(v) }

// AuthURLOptions are the per-call values of an authorization URL.
type AuthURLOptions struct {
	// State is the CSRF state; sent whenever non-empty.
	State string
	// Scopes replaces the client's base scopes when non-nil. A non-nil empty
	// slice sends no scope parameter at all (upstream falls back to the base
	// scopes, and sends "scope=" for empty base scopes: both are fixed here).
	Scopes []string
	// CodeChallenge is the PKCE challenge (RFC 7636), such as
	// S256Challenge(verifier).
	CodeChallenge string
	// CodeChallengeMethod is "S256" with S256Challenge.
	CodeChallengeMethod string
	// Nonce is the OpenID Connect nonce; sent whenever non-empty.
	Nonce string
}

// reservedParams cannot be set through extra parameters: they carry the
// security of the flow (state, PKCE) or its identity (client, redirect), and
// upstream's silent override of them is a footgun.
var reservedParams = map[string]bool{
	"response_type":         true,
	"client_id":             true,
	"redirect_uri":          true,
	"state":                 true,
	"code_challenge":        true,
	"code_challenge_method": true,
	"nonce":                 true,
}

// withDefault returns extra with key set to value unless extra already sets
// it; extra itself is never modified (it may be the caller's map).
func withDefault(extra url.Values, key, value string) url.Values {
	if extra.Get(key) != "" {
		return extra
	}
	cp := make(url.Values, len(extra)+1)
	for k, v := range extra {
		cp[k] = v
	}
	cp.Set(key, value)
	return cp
}

// paramValues returns p's parameters, nil for a nil p (also a nil pointer
// inside the interface, whose value method would panic).
func paramValues(p Params) url.Values {
	if p == nil {
		return nil
	}
	if rv := reflect.ValueOf(p); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return nil
	}
	return p.AuthParams()
}
