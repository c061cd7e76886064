package client

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fastNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// typicalTokenBody is the shape nearly every provider answers with.
const typicalTokenBody = `{"access_token":"gho_16C7e42F292c6912E7710c838347Ae178B4a","token_type":"bearer","scope":"repo,gist","expires_in":28800,"refresh_token":"ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498"}` + "\n"

// The shortcut is taken for the common shapes, or it would be dead code.
func TestFastTokenBodyTaken(t *testing.T) {
	for _, c := range []struct{ ctype, body string }{
		{"application/json", typicalTokenBody},
		{"application/json; charset=utf-8", `{"access_token":"a"}`},
		{"", `{"access_token":"a","id_token":"h.p.s","expires_in":3600.5}`},
		{"application/json", ` {"access_token":"a","unknown":{"x":[1,2]},"scope":""} `},
		{"application/json", `{"access_token":"ACCESS_TOKEN","refresh_token":"Refresh_Token"}`},
	} {
		got, ok := fastTokenBody(c.ctype, []byte(c.body), fastNow, false)
		require.True(t, ok, "%s %s", c.ctype, c.body)
		want, err := slowTokenBody(200, c.ctype, []byte(c.body), fastNow, false)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

// Bodies the struct could read differently from the map, or that only the
// general path may judge, are left to it: each gets the general path's
// answer (with the map's reading of names, a {"Access_Token"} has no
// access token), which the struct would not have given.
func TestFastTokenBodyDeclines(t *testing.T) {
	errOAuth := errors.New("an *OAuthError") // want: the body is an RFC 6749 error
	for _, c := range []struct {
		name, ctype, body string
		wantIs            error  // nil: a token with access token "a"
		scope             string // the token's scope
	}{
		{name: "case variant", ctype: "application/json", body: `{"Access_Token":"a"}`, wantIs: ErrMissingAccessToken},
		{name: "case variant after the member", ctype: "application/json", body: `{"access_token":"a","TOKEN_TYPE":"mac"}`},
		{name: "case variant before a spaced colon", ctype: "application/json", body: "{\"access_token\":\"a\",\"Scope\" \n\t: \"x\"}"},
		{name: "folding rune", ctype: "application/json", body: `{"acceſs_token":"a"}`, wantIs: ErrMissingAccessToken},
		{name: "kelvin sign", ctype: "application/json", body: "{\"access_to\u212aen\":\"a\"}", wantIs: ErrMissingAccessToken},
		{name: "escaped name", ctype: "application/json", body: `{"access_token":"a","\u0054oken_type":"mac"}`},
		{name: "null duplicate", ctype: "application/json", body: `{"access_token":"a","scope":"x","scope":null}`},
		{name: "null access token duplicate", ctype: "application/json", body: `{"access_token":"a","access_token":null}`, wantIs: ErrInvalidResponse},
		{name: "trailing bytes", ctype: "application/json", body: `{"access_token":"a"} x`},
		{name: "expires_in string", ctype: "application/json", body: `{"access_token":"a","expires_in":"3600.5"}`, wantIs: ErrInvalidResponse},
		{name: "expires_in out of range", ctype: "application/json", body: `{"access_token":"a","expires_in":1e400}`, wantIs: ErrInvalidResponse},
		{name: "expires_in array", ctype: "application/json", body: `{"access_token":"a","expires_in":[]}`, wantIs: ErrInvalidResponse},
		{name: "expires_at", ctype: "application/json", body: `{"access_token":"a","expires_at":1}`},
		{name: "error member", ctype: "application/json", body: `{"access_token":"a","error":"invalid_grant"}`, wantIs: errOAuth},
		{name: "empty error member", ctype: "application/json", body: `{"access_token":"a","error":""}`},
		{name: "scope array", ctype: "application/json", body: `{"access_token":"a","scope":["x","y"]}`, scope: "x y"},
		{name: "token_type mac", ctype: "application/json", body: `{"access_token":"a","token_type":"mac"}`, wantIs: ErrUnsupportedTokenType},
		{name: "number access token", ctype: "application/json", body: `{"access_token":1}`, wantIs: ErrInvalidResponse},
		{name: "no access token", ctype: "application/json", body: `{"token_type":"bearer"}`, wantIs: ErrMissingAccessToken},
		{name: "not an object", ctype: "application/json", body: `["access_token"]`, wantIs: ErrInvalidResponse},
		{name: "form", ctype: "application/x-www-form-urlencoded", body: `access_token=a&scope=x`, scope: "x"},
		{name: "text/plain", ctype: "text/plain", body: `{"access_token":"a"}`, wantIs: ErrMissingAccessToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, ok := fastTokenBody(c.ctype, []byte(c.body), fastNow, false)
			assert.False(t, ok)
			tok, err := tokenFromBody(200, c.ctype, []byte(c.body), fastNow, false)
			var oe *OAuthError
			switch {
			case c.wantIs == errOAuth:
				assert.ErrorAs(t, err, &oe)
			case c.wantIs != nil:
				assert.ErrorIs(t, err, c.wantIs)
			default:
				require.NoError(t, err)
				assert.Equal(t, "a", tok.AccessToken)
				assert.Empty(t, tok.TokenType)
				assert.Equal(t, c.scope, tok.Scope)
			}
		})
	}
}

// FuzzTokenFromBody: whatever the body, the shortcut gives exactly the
// general path's Token, or declines.
func FuzzTokenFromBody(f *testing.F) {
	for _, s := range []string{
		typicalTokenBody,
		`{"access_token":"a","expires_in":1e300}`,
		`{"access_token":"a","expires_in":-5,"token_type":"DPoP"}`,
		`{"access_token":"a","token_type":"BeArEr","expires_in":0}`,
		`{"access_token":"a","Scope":"x"}`,
		`{"access_token":"a","scope":"x","scope":"y"}`,
		`{"access_token":"a","expires_in":5,"expires_in":7}`,
		`{"access_token":"a","expires_in":10.9}`,
		`{"access_token":"a","expires_in":[]}`,
		`{"access_token":"a","refresh_token":{}}`,
		`{"access_token":"a"}{}`,
		`{"access_token":"a","x":"\"access_token\""}`,
		` {"access_token" : "a" } `,
		`{"access_token":"ACCESS_TOKEN","x":["Scope","scope"]}`,
		`{"Scope" :"a","access_token":"Scope"}`,
	} {
		f.Add("application/json", []byte(s), false)
		f.Add("application/json", []byte(s), true)
	}
	f.Add("", []byte(`{"access_token":"a"}`), false)
	f.Add("application/json;charset=utf-8", []byte(`{"access_token":"a"}`), false)
	f.Fuzz(func(t *testing.T, ctype string, body []byte, dpop bool) {
		got, ok := fastTokenBody(ctype, body, fastNow, dpop)
		if !ok {
			return
		}
		want, err := slowTokenBody(200, ctype, body, fastNow, dpop)
		require.NoError(t, err, "the shortcut accepted what the general path refuses: %q", body)
		require.Equal(t, want, got, "%q", body)
	})
}

// BenchmarkTokenFromBody: a typical response through the shortcut and
// through the general path, side by side.
func BenchmarkTokenFromBody(b *testing.B) {
	body := []byte(typicalTokenBody)
	for _, c := range []struct {
		name  string
		parse func(int, string, []byte, time.Time, bool) (*Token, error)
	}{{"shortcut", tokenFromBody}, {"general", slowTokenBody}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := c.parse(200, "application/json", body, fastNow, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
