package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// coreTokenFrom builds a Token from a JSON body, as upstream's tests build
// OAuth2Token from a dict.
func coreTokenFrom(t *testing.T, body string) (*Token, error) {
	t.Helper()
	m, err := parseTokenBody(http.StatusOK, "application/json", []byte(body))
	require.NoError(t, err)
	return tokenFromFields(m, jsonBody("application/json", []byte(body)), coreNow, false)
}

// Upstream's OAuth2Token tests.
func TestTokenExpiresAt(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		wantExpiry  time.Time
		wantExpired bool
	}{
		{"expires_at in the past", `{"access_token":"ACCESS_TOKEN","expires_at":1}`, time.Unix(1, 0), true},
		{"expires_at in one hour", `{"access_token":"ACCESS_TOKEN","expires_at":` + strconv.FormatInt(coreNow.Unix()+3600, 10) + `}`, coreNow.Add(time.Hour), false},
		{"expires_in 3600", `{"access_token":"ACCESS_TOKEN","expires_in":3600}`, coreNow.Add(time.Hour), false},
		{"no expiry", `{"access_token":"ACCESS_TOKEN"}`, time.Time{}, false},
		// Upstream treats expires_at 0 as the epoch, so expired; here a value
		// <= 0 means unknown, like expires_in <= 0, so no refresh loop starts.
		{"expires_at 0 is unknown", `{"access_token":"ACCESS_TOKEN","expires_at":0}`, time.Time{}, false},
		{"expires_at wins over expires_in", `{"access_token":"ACCESS_TOKEN","expires_at":` + strconv.FormatInt(coreNow.Unix()+100, 10) + `,"expires_in":3600}`, coreNow.Add(100 * time.Second), false},
		{"expires_at as a string", `{"access_token":"ACCESS_TOKEN","expires_at":"` + strconv.FormatInt(coreNow.Unix()+100, 10) + `"}`, coreNow.Add(100 * time.Second), false},
		{"expires_in as a string", `{"access_token":"ACCESS_TOKEN","expires_in":"3600"}`, coreNow.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := coreTokenFrom(t, tt.body)
			require.NoError(t, err)
			assert.Equal(t, "ACCESS_TOKEN", tok.AccessToken)
			assert.True(t, tt.wantExpiry.Equal(tok.Expiry), "expiry %v, want %v", tok.Expiry, tt.wantExpiry)
			assert.Equal(t, tt.wantExpired, tok.Expired(coreNow))
		})
	}
}

// TestTokenResponseParsing covers security.md §G items 35-39 and catalogue
// rows 21-24, through a real token endpoint.
func TestTokenResponseParsing(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	const js = "application/json"
	tests := []struct {
		name        string
		contentType string // "none" sends no Content-Type header at all
		body        string
		want        *Token // Raw is not compared
		wantIs      error
		wantExtra   map[string]any
	}{
		{name: "json", contentType: js,
			body: `{"access_token":"a","token_type":"bearer","refresh_token":"r","scope":"user repo","id_token":"h.p.s","expires_in":3600}`,
			want: &Token{AccessToken: "a", TokenType: "bearer", RefreshToken: "r", Scope: "user repo", IDToken: "h.p.s", Expiry: coreNow.Add(time.Hour)}},
		{name: "json with charset", contentType: js + "; charset=utf-8", body: `{"access_token":"a"}`, want: &Token{AccessToken: "a"}},
		{name: "no content type is json", contentType: "none", body: `{"access_token":"a"}`, want: &Token{AccessToken: "a"}},
		{name: "form encoded", contentType: form, body: "access_token=a&token_type=bearer&scope=user",
			want: &Token{AccessToken: "a", TokenType: "bearer", Scope: "user"}},
		{name: "form encoded with charset and expiry", contentType: form + "; charset=utf-8", body: "access_token=a&expires_in=3600&refresh_token=r",
			want: &Token{AccessToken: "a", RefreshToken: "r", Expiry: coreNow.Add(time.Hour)}},
		{name: "text/plain is form encoded", contentType: "text/plain", body: "access_token=a&token_type=bearer&scope=user",
			want: &Token{AccessToken: "a", TokenType: "bearer", Scope: "user"}},

		// token_type (item 36).
		{name: "token_type any case", contentType: js, body: `{"access_token":"a","token_type":"BeArEr"}`, want: &Token{AccessToken: "a", TokenType: "BeArEr"}},
		{name: "token_type absent", contentType: js, body: `{"access_token":"a"}`, want: &Token{AccessToken: "a"}},
		{name: "token_type DPoP", contentType: js, body: `{"access_token":"a","token_type":"DPoP"}`, wantIs: ErrUnsupportedTokenType},
		{name: "token_type mac", contentType: js, body: `{"access_token":"a","token_type":"mac"}`, wantIs: ErrUnsupportedTokenType},
		{name: "token_type not a string", contentType: js, body: `{"access_token":"a","token_type":1}`, wantIs: ErrInvalidResponse},

		// access_token (item 36, row 21).
		{name: "missing access_token", contentType: js, body: `{"token_type":"bearer"}`, wantIs: ErrMissingAccessToken},
		{name: "empty access_token", contentType: js, body: `{"access_token":""}`, wantIs: ErrMissingAccessToken},
		{name: "access_token 123", contentType: js, body: `{"access_token":123}`, wantIs: ErrInvalidResponse},
		{name: "access_token null", contentType: js, body: `{"access_token":null}`, wantIs: ErrInvalidResponse},
		{name: "access_token object", contentType: js, body: `{"access_token":{"v":"a"}}`, wantIs: ErrInvalidResponse},
		{name: "form without access_token", contentType: form, body: "token_type=bearer", wantIs: ErrMissingAccessToken},
		{name: "refresh_token not a string", contentType: js, body: `{"access_token":"a","refresh_token":5}`, wantIs: ErrInvalidResponse},
		{name: "truncated json", contentType: js, body: `{"access_token":"AT-MARK-1","tok`, wantIs: ErrInvalidResponse},

		// expires_in (item 37, row 24; x/oauth2 TestExchangeRequest_JSONResponse_Expiry).
		{name: "expires_in number", contentType: js, body: `{"access_token":"a","expires_in":86400}`, want: &Token{AccessToken: "a", Expiry: coreNow.Add(86400 * time.Second)}},
		{name: "expires_in string (PayPal)", contentType: js, body: `{"access_token":"a","expires_in":"86400"}`, want: &Token{AccessToken: "a", Expiry: coreNow.Add(86400 * time.Second)}},
		{name: "expires_in null", contentType: js, body: `{"access_token":"a","expires_in":null}`, want: &Token{AccessToken: "a"}},
		{name: "expires_in absent", contentType: js, body: `{"access_token":"a"}`, want: &Token{AccessToken: "a"}},
		{name: "expires_in 2^31 clamped", contentType: js, body: `{"access_token":"a","expires_in":2147483648}`, want: &Token{AccessToken: "a", Expiry: coreNow.Add(math.MaxInt32 * time.Second)}},
		{name: "expires_in huge string clamped", contentType: js, body: `{"access_token":"a","expires_in":"99999999999999"}`, want: &Token{AccessToken: "a", Expiry: coreNow.Add(math.MaxInt32 * time.Second)}},
		{name: "expires_in huge float clamped", contentType: js, body: `{"access_token":"a","expires_in":1e300}`, want: &Token{AccessToken: "a", Expiry: coreNow.Add(math.MaxInt32 * time.Second)}},
		{name: "expires_in -5 is unknown", contentType: js, body: `{"access_token":"a","expires_in":-5}`, want: &Token{AccessToken: "a"}},
		{name: "expires_in 0 is unknown", contentType: js, body: `{"access_token":"a","expires_in":0}`, want: &Token{AccessToken: "a"}},
		{name: "expires_in number with fraction truncated", contentType: js, body: `{"access_token":"a","expires_in":10.9}`, want: &Token{AccessToken: "a", Expiry: coreNow.Add(10 * time.Second)}},
		{name: "expires_in false", contentType: js, body: `{"access_token":"a","expires_in":false}`, wantIs: ErrInvalidResponse},
		{name: "expires_in {}", contentType: js, body: `{"access_token":"a","expires_in":{}}`, wantIs: ErrInvalidResponse},
		{name: "expires_in zzz", contentType: js, body: `{"access_token":"a","expires_in":"zzz"}`, wantIs: ErrInvalidResponse},
		{name: "expires_in 3600.5 string", contentType: js, body: `{"access_token":"a","expires_in":"3600.5"}`, wantIs: ErrInvalidResponse},
		{name: "expires_in empty string", contentType: js, body: `{"access_token":"a","expires_in":""}`, wantIs: ErrInvalidResponse},
		{name: "expires_in form zzz", contentType: form, body: "access_token=a&expires_in=zzz", wantIs: ErrInvalidResponse},
		{name: "expires_at wins", contentType: js, body: `{"access_token":"a","expires_in":3600,"expires_at":` + strconv.FormatInt(coreNow.Unix()+60, 10) + `}`,
			want: &Token{AccessToken: "a", Expiry: coreNow.Add(time.Minute)}},
		{name: "expires_at invalid", contentType: js, body: `{"access_token":"a","expires_at":"soon"}`, wantIs: ErrInvalidResponse},

		// Unknown members (item 38).
		{name: "unknown members kept", contentType: js,
			body: `{"access_token":"a","foo":{"x":1},"user_id":1234567890123456789,"refresh_token_expires_in":15897600}`,
			want: &Token{AccessToken: "a"},
			wantExtra: map[string]any{
				"foo":                      map[string]any{"x": json.Number("1")},
				"user_id":                  json.Number("1234567890123456789"),
				"refresh_token_expires_in": json.Number("15897600"),
				"access_token":             "a",
				"missing":                  nil,
			}},
		{name: "form members kept", contentType: form, body: "access_token=a&foo=bar",
			want: &Token{AccessToken: "a"}, wantExtra: map[string]any{"foo": "bar"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, rec := coreServerFunc(t, func(w http.ResponseWriter, _ *http.Request) {
				if tt.contentType == "none" {
					w.Header()["Content-Type"] = nil // no sniffing either
				} else {
					w.Header().Set("Content-Type", tt.contentType)
				}
				_, _ = io.WriteString(w, tt.body)
			})
			c := coreClient(t, ClientSecretBasic, hc)
			tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
			assert.Equal(t, 1, rec.count())
			if tt.wantIs != nil {
				assert.Nil(t, tok)
				// The response is kept, as upstream's .response.
				coreAssertResponseError(t, err, ErrGetAccessToken, http.StatusOK, "", tt.wantIs)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Expiry.Equal(tok.Expiry), "expiry %v, want %v", tok.Expiry, tt.want.Expiry)
			got := *tok
			if tok.ExpiresIn != 0 {
				assert.Equal(t, tok.Expiry.Sub(coreNow), tok.ExpiresIn, "ExpiresIn matches the relative expiry")
			}
			got.Raw, got.Expiry, got.ExpiresIn = nil, tt.want.Expiry, 0
			assert.Equal(t, *tt.want, got)
			assert.True(t, json.Valid(tok.Raw))
			for k, v := range tt.wantExtra {
				assert.Equal(t, v, tok.Extra(k), "Extra(%q)", k)
			}
		})
	}
}

// TestTokenRawIsTheBody: a JSON token response is kept as received (member
// order, spacing and duplicates included) rather than decoded and encoded
// again; Extra reads it as the fields were read (the last duplicate wins).
// A body with bytes after its object, which decoding stops before, and a
// form body are encoded from what was read, so Raw is always valid JSON.
func TestTokenRawIsTheBody(t *testing.T) {
	tests := []struct {
		name, contentType, body, wantRaw string
	}{
		{"json as received", "application/json", `{"z": 1, "access_token":"a", "scope":"x", "scope":"y"}`, `{"z": 1, "access_token":"a", "scope":"x", "scope":"y"}`},
		{"trailing bytes", "application/json", `{"access_token":"a","scope":"y"} trailing`, `{"access_token":"a","scope":"y"}`},
		{"form", "application/x-www-form-urlencoded", "scope=y&access_token=a", `{"access_token":"a","scope":"y"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, _ := coreServer(t, http.StatusOK, tt.contentType, tt.body)
			tok, err := coreClient(t, ClientSecretPost, hc).AccessToken(context.Background(), "CODE", coreRedirectURI, "")
			require.NoError(t, err)
			assert.Equal(t, tt.wantRaw, string(tok.Raw))
			assert.Equal(t, "y", tok.Scope)
			assert.Equal(t, "y", tok.Extra("scope"))
			stored, err := json.Marshal(tok)
			require.NoError(t, err, "the token stores as JSON")
			var back Token
			require.NoError(t, json.Unmarshal(stored, &back))
			assert.Equal(t, "y", back.Extra("scope"))
		})
	}
}

func TestTokenRequestNonJSONErrorExcerpt(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantBody string
	}{
		{"short", "<h1>Bad</h1>", "<h1>Bad</h1>"},
		{"long is cut at 512 bytes", strings.Repeat("x", 2000), strings.Repeat("x", 512) + "…"},
		{"cut keeps utf-8 valid", strings.Repeat("x", 511) + "é" + strings.Repeat("y", 100), strings.Repeat("x", 511) + "…"},
		{"control characters removed", "a\r\nINFO forged\x00b", "a  INFO forged b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, _ := coreServer(t, http.StatusBadRequest, "text/html", tt.body)
			c := coreClient(t, ClientSecretPost, hc)
			_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
			coreAssertResponseError(t, err, ErrGetAccessToken, http.StatusBadRequest, "", nil)
			var he *HTTPError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, &HTTPError{StatusCode: http.StatusBadRequest, ContentType: "text/html", Body: tt.wantBody}, he)
			assert.LessOrEqual(t, len(he.Body), 512+len("…"))
			assert.NotContains(t, err.Error(), tt.body[:5], "the body is not in the message")
		})
	}
}

// TestTokenResponseTooLarge streams 100 MiB (catalogue row 25): the client
// must stop at the cap and fail, not buffer the body.
func TestTokenResponseTooLarge(t *testing.T) {
	const total = 100 << 20
	for _, status := range []int{http.StatusOK, http.StatusInternalServerError} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			written := make(chan int64, 1)
			hc, rec := coreServerFunc(t, func(w http.ResponseWriter, _ *http.Request) {
				var n int64
				defer func() { written <- n }()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				if _, err := io.WriteString(w, `{"access_token":"`); err != nil {
					return
				}
				chunk := bytes.Repeat([]byte("a"), 64<<10)
				for n < total {
					k, err := w.Write(chunk)
					n += int64(k)
					if err != nil {
						return // the client hung up: stop
					}
				}
			})
			c := coreClient(t, ClientSecretPost, hc)
			tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
			assert.Nil(t, tok)
			require.ErrorIs(t, err, ErrResponseTooLarge)
			assert.ErrorIs(t, err, ErrGetAccessToken)
			assert.Equal(t, 1, rec.count())
			select {
			case n := <-written:
				assert.Less(t, n, int64(total), "the client stopped reading")
			case <-time.After(time.Minute):
				t.Fatal("the handler never saw the client hang up")
			}
		})
	}
}

func TestTokenResponseSizeBoundary(t *testing.T) {
	body := func(size int) string {
		const head, tail = `{"access_token":"a","pad":"`, `"}`
		return head + strings.Repeat("p", size-len(head)-len(tail)) + tail
	}
	t.Run("exactly the cap", func(t *testing.T) {
		hc, _ := coreServer(t, http.StatusOK, "application/json", body(MaxResponseBytes))
		tok, err := coreClient(t, ClientSecretPost, hc).AccessToken(context.Background(), "CODE", coreRedirectURI, "")
		require.NoError(t, err)
		assert.Equal(t, "a", tok.AccessToken)
	})
	t.Run("one byte over", func(t *testing.T) {
		hc, _ := coreServer(t, http.StatusOK, "application/json", body(MaxResponseBytes+1))
		_, err := coreClient(t, ClientSecretPost, hc).AccessToken(context.Background(), "CODE", coreRedirectURI, "")
		assert.ErrorIs(t, err, ErrResponseTooLarge)
		assert.ErrorIs(t, err, ErrGetAccessToken)
	})
}

// TestTokenExpired is x/oauth2's TestTokenExpiry table with the 10 s leeway
// (security.md item 44), on an injected clock.
func TestTokenExpired(t *testing.T) {
	exp := coreNow.Add(time.Hour)
	tests := []struct {
		name   string
		tok    *Token
		now    time.Time
		leeway time.Duration // 0: Expired, with DefaultExpiryLeeway
		want   bool
	}{
		{"11 s before expiry", &Token{Expiry: exp}, exp.Add(-11 * time.Second), 0, false},
		{"9 s before expiry", &Token{Expiry: exp}, exp.Add(-9 * time.Second), 0, true},
		{"leeway + 1 ns before", &Token{Expiry: exp}, exp.Add(-DefaultExpiryLeeway - time.Nanosecond), 0, false},
		{"leeway - 1 ns before", &Token{Expiry: exp}, exp.Add(-DefaultExpiryLeeway + time.Nanosecond), 0, true},
		{"after expiry", &Token{Expiry: exp}, exp.Add(time.Second), 0, true},
		{"zero expiry never expires", &Token{}, exp.Add(100 * 365 * 24 * time.Hour), 0, false},
		{"nil token", nil, exp, 0, false},
		{"custom leeway 5 s, 6 s before", &Token{Expiry: exp}, exp.Add(-6 * time.Second), 5 * time.Second, false},
		{"custom leeway 5 s, 4 s before", &Token{Expiry: exp}, exp.Add(-4 * time.Second), 5 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.leeway == 0 {
				assert.Equal(t, tt.want, tt.tok.Expired(tt.now))
				assert.Equal(t, tt.want, tt.tok.ExpiresWithin(tt.now, DefaultExpiryLeeway))
				return
			}
			assert.Equal(t, tt.want, tt.tok.ExpiresWithin(tt.now, tt.leeway))
		})
	}
}

func TestTokenOAuth2RoundTrip(t *testing.T) {
	hc, _ := coreServer(t, http.StatusOK, "application/json",
		`{"access_token":"AT","token_type":"bearer","refresh_token":"RT","scope":"a b","id_token":"h.p.s","expires_in":3600,"custom":"c"}`)
	tok, err := coreClient(t, ClientSecretPost, hc).AccessToken(context.Background(), "CODE", coreRedirectURI, "")
	require.NoError(t, err)

	ot := tok.OAuth2()
	require.NotNil(t, ot)
	assert.Equal(t, "AT", ot.AccessToken)
	assert.Equal(t, "bearer", ot.TokenType)
	assert.Equal(t, "Bearer", ot.Type())
	assert.Equal(t, "RT", ot.RefreshToken)
	assert.True(t, coreNow.Add(time.Hour).Equal(ot.Expiry))
	assert.Equal(t, "h.p.s", ot.Extra("id_token"))
	assert.Equal(t, "a b", ot.Extra("scope"))
	assert.Equal(t, "c", ot.Extra("custom"))

	back := FromOAuth2(ot)
	want := *tok
	want.Raw = nil // x/oauth2 does not expose its raw extras
	assert.Equal(t, &want, back)

	// A token without Raw converts too, and keeps what it can.
	bare := &Token{AccessToken: "AT", TokenType: "Bearer", Expiry: coreNow}
	assert.Equal(t, bare, FromOAuth2(bare.OAuth2()))
	assert.Nil(t, FromOAuth2(nil))

	// From an x/oauth2 token built elsewhere.
	ext := (&oauth2.Token{AccessToken: "X"}).WithExtra(map[string]any{"id_token": "i", "scope": "s"})
	assert.Equal(t, &Token{AccessToken: "X", IDToken: "i", Scope: "s"}, FromOAuth2(ext))
}

func TestTokenExtraWithoutRaw(t *testing.T) {
	assert.Nil(t, (*Token)(nil).Extra("x"))
	assert.Nil(t, (&Token{}).Extra("x"))
	assert.Nil(t, (&Token{Raw: json.RawMessage("not json")}).Extra("x"))
}

// ExpiresIn carries the server's relative lifetime, so a caller with its
// own clock can stamp the expiry; an absolute expires_at gives none.
func TestTokenExpiresIn(t *testing.T) {
	for body, want := range map[string]time.Duration{
		`{"access_token":"A","expires_in":3600}`: time.Hour,
		`{"access_token":"A","expires_in":"60"}`: time.Minute,
		`{"access_token":"A"}`:                   0,
		`{"access_token":"A","expires_in":0}`:    0,
		`{"access_token":"A","expires_at":` + strconv.FormatInt(coreNow.Unix()+100, 10) + `}`: 0,
	} {
		tok, err := coreTokenFrom(t, body)
		require.NoError(t, err)
		assert.Equal(t, want, tok.ExpiresIn, body)
	}
}
