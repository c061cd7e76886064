package client

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseAuthorizationResponse: every rejection is an
// *AuthorizationResponseError naming the parameter and the reason (and
// matching ErrInvalidAuthorizationResponse); error codes and descriptions
// are normalised, never rejected, so the caller can consume the state.
func TestParseAuthorizationResponse(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	rejected := []struct {
		name, query, param, reason string
	}{
		{"no state", "code=C", "state", "missing"},
		{"empty state", "state=&code=C", "state", "missing"},
		{"repeated state", "state=S&state=S&code=C", "state", "repeated"},
		{"long state", "state=" + long(257) + "&code=C", "state", "too long"},
		{"state not VSCHAR", "state=S%00&code=C", "state", "not VSCHAR"},
		{"state not ASCII", "state=%C3%A9&code=C", "state", "not VSCHAR"},
		{"repeated code", "state=S&code=C&code=C", "code", "repeated"},
		{"long code", "state=S&code=" + long(4097), "code", "too long"},
		{"code not VSCHAR", "state=S&code=C%0A", "code", "not VSCHAR"},
		{"repeated iss", "state=S&code=C&iss=a&iss=b", "iss", "repeated"},
		{"long iss", "state=S&code=C&iss=" + long(2049), "iss", "too long"},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			r, err := ParseAuthorizationResponse(q)
			assert.Nil(t, r)
			require.ErrorIs(t, err, ErrInvalidAuthorizationResponse)
			var are *AuthorizationResponseError
			require.True(t, errors.As(err, &are))
			assert.Equal(t, tc.param, are.Param)
			assert.Equal(t, tc.reason, are.Reason)
			assert.NotContains(t, err.Error(), long(100), "values are not echoed")
		})
	}

	accepted := []struct {
		name, query string
		want        AuthorizationResponse
	}{
		{"code", "state=S&code=C", AuthorizationResponse{State: "S", Code: "C"}},
		{"longest state and code", "state=" + long(256) + "&code=" + long(4096),
			AuthorizationResponse{State: long(256), Code: long(4096)}},
		{"iss", "state=S&code=C&iss=https%3A%2F%2Fas.example", AuthorizationResponse{State: "S", Code: "C", Iss: "https://as.example", HasIss: true}},
		{"empty iss is present", "state=S&code=C&iss=", AuthorizationResponse{State: "S", Code: "C", HasIss: true}},
		{"no code", "state=S", AuthorizationResponse{State: "S"}},
		{"error", "state=S&error=access_denied&error_description=no", AuthorizationResponse{State: "S", Error: "access_denied", ErrorDescription: "no"}},
		{"error code outside the alphabet", "state=S&error=bad%00%22code", AuthorizationResponse{State: "S", Error: "invalid_error_code"}},
		{"empty error code", "state=S&error=", AuthorizationResponse{State: "S", Error: "invalid_error_code"}},
		{"repeated error code", "state=S&error=a&error=b", AuthorizationResponse{State: "S", Error: "invalid_error_code"}},
		{"long error code", "state=S&error=" + long(65), AuthorizationResponse{State: "S", Error: "invalid_error_code"}},
		{"long description dropped", "state=S&error=x&error_description=" + long(1025), AuthorizationResponse{State: "S", Error: "x"}},
		{"description without error ignored", "state=S&code=C&error_description=x", AuthorizationResponse{State: "S", Code: "C"}},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			r, err := ParseAuthorizationResponse(q)
			require.NoError(t, err)
			assert.Equal(t, tc.want, *r)
		})
	}
}
