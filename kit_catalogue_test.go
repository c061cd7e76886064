package oauthkit_test

// The bad-input catalogue of security.md section 2, rows that concern the
// kit: each subtest is named after its row ("row07") so a failure points at
// the requirement. Every row asserts the status, the typed error, the side
// effects (token-endpoint hits, the victim's pending login, no user in the
// attacker's session) and that the response body echoes neither markup from
// the query nor any secret.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// victim is a browser with one pending login and the callback the fake AS
// approved for it (the code is issued but not exchanged yet).
type victim struct {
	b       *http.Client
	authURL *url.URL
	state   string
	cb      string // callback path+query, as the provider redirects to
	code    string
}

func (a *app) newVictim() victim {
	a.t.Helper()
	b := a.browser()
	authURL := a.startLogin(b, "/auth/test/login")
	cb := a.approve(authURL)
	u, err := url.Parse(cb)
	require.NoError(a.t, err)
	return victim{b: b, authURL: authURL, state: stateOf(authURL), cb: cb, code: u.Query().Get("code")}
}

// completes asserts that v's login still succeeds: its pending login was
// left alone by whatever the test did before.
func (a *app) completes(v victim) {
	a.t.Helper()
	res := a.get(v.b, v.cb)
	require.Equal(a.t, http.StatusFound, res.StatusCode, "victim's login must still complete: %v", a.lastErr())
	assert.Equal(a.t, "/", res.Header.Get("Location"))
	assert.True(a.t, a.signedIn(v.b))
}

// secrets are values that must never reach a response body.
var secrets = []string{"csecret", "at-", "rt-", "AT-MARK-1", "RT-MARK-2"}

// rejected asserts a failed kit response: status, typed error, and a safe
// body (no markup from the query, no secret, none of the extra values).
func (a *app) rejected(res *http.Response, body string, status int, target error, extra ...string) error {
	a.t.Helper()
	require.Equal(a.t, status, res.StatusCode)
	err := a.takeErr()
	require.ErrorIs(a.t, err, target)
	assert.Equal(a.t, status, oauthkit.HTTPStatus(err))
	assert.Empty(a.t, res.Header.Get("Location"), "no redirect on failure")
	assert.Equal(a.t, "no-store", res.Header.Get("Cache-Control"))
	for _, s := range append(append([]string{"<script", "alert(", "<b>"}, secrets...), extra...) {
		if s != "" {
			assert.NotContains(a.t, body, s, "response body echoes %q", s)
		}
	}
	return err
}

func (a *app) callbackFrom(b *http.Client, provider, rawQuery string) (*http.Response, string) {
	a.t.Helper()
	return a.do(b, http.MethodGet, "/auth/"+provider+"/callback?"+rawQuery, nil)
}

func TestCatalogueCallbackQuery(t *testing.T) {
	t.Run("row01 state missing", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		res, body := a.callbackFrom(v.b, "test", "code="+v.code)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrInvalidCallback, v.code)
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 1, a.pending(v.b), "pending entries unchanged")
		a.completes(v)
	})

	t.Run("row02 duplicate state", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		x := client.GenerateState()
		for _, q := range []string{
			"code=" + v.code + "&state=" + v.state + "&state=" + v.state,
			"code=" + v.code + "&state=" + v.state + "&state=" + x,
			"code=" + v.code + "&state=" + x + "&state=" + v.state,
		} {
			res, body := a.callbackFrom(v.b, "test", q)
			a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrInvalidCallback, v.code, v.state)
		}
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 1, a.pending(v.b))
		a.completes(v)
	})

	t.Run("row03 mismatched state", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		for _, forged := range []string{client.GenerateState(), client.GenerateVerifier()} { // kit-shaped and 43-char
			res, body := a.callbackFrom(v.b, "test", "code="+v.code+"&state="+forged)
			a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateNotFound, v.code, forged)
		}
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 1, a.pending(v.b), "an attacker cannot cancel the victim's login")
		a.completes(v)
	})

	t.Run("row04 expired state", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		a.clock.Add(10*time.Minute + time.Second)
		res, body := a.callbackFrom(v.b, "test", strings.TrimPrefix(v.cb, "/auth/test/callback?"))
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateExpired, v.code)
		assert.Contains(t, body, "Login expired")
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 0, a.pending(v.b), "entry removed")
		res, body = a.do(v.b, http.MethodGet, v.cb, nil)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateNotFound)
		assert.False(t, a.signedIn(v.b))
	})

	t.Run("row05 reused state after success", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		a.completes(v)
		res, body := a.do(v.b, http.MethodGet, v.cb, nil)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateNotFound, v.code)
		assert.EqualValues(t, 1, a.as.TokenHits.Load())
		_, profile := a.do(v.b, http.MethodGet, "/profile", nil)
		assert.Equal(t, "test|1234567890123456789|ada@example.com", profile, "logged-in user unchanged")
	})

	t.Run("row06 state replayed from another browser", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		attacker := a.browser()
		res, body := a.do(attacker, http.MethodGet, v.cb, nil)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateNotFound, v.code)
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Nil(t, a.session(attacker)["oauthkit.user"])
		assert.False(t, a.signedIn(attacker))
		a.completes(v)
		assert.False(t, a.signedIn(attacker))
	})

	t.Run("row07 access_denied with markup, valid state", func(t *testing.T) {
		logs := &syncBuffer{}
		a := newApp(t, withLogs(logs))
		v := a.newVictim()
		q := url.Values{"error": {"access_denied"}, "error_description": {"<script>alert(1)</script>"}, "state": {v.state}}
		res, body := a.callbackFrom(v.b, "test", q.Encode())
		a.rejected(res, body, http.StatusForbidden, oauthkit.ErrAccessDenied)
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 0, a.pending(v.b), "state consumed")
		assert.False(t, a.signedIn(v.b))
		assert.NotContains(t, logs.String(), "<script>", "error_description is not logged")
		// The consumed state cannot be replayed, not even with the real code.
		res, body = a.do(v.b, http.MethodGet, v.cb, nil)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateNotFound)
		assert.EqualValues(t, 0, a.as.TokenHits.Load())

		// An error code outside the RFC 6749 alphabet is never kept (or logged) raw.
		v = a.newVictim()
		q = url.Values{"error": {"bad\x00\"code"}, "state": {v.state}}
		res, body = a.callbackFrom(v.b, "test", q.Encode())
		err := a.rejected(res, body, http.StatusForbidden, oauthkit.ErrProvider)
		var pe *oauthkit.ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "invalid_error_code", pe.Code)
		assert.NotContains(t, logs.String(), "bad")
	})

	t.Run("row08 error without or with unknown state", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		desc := "&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
		res, body := a.callbackFrom(v.b, "test", "error=access_denied"+desc)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrInvalidCallback)
		res, body = a.callbackFrom(v.b, "test", "error=access_denied&state="+client.GenerateState()+desc)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateNotFound)
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 1, a.pending(v.b), "no pending entry consumed")
		a.completes(v)
	})

	t.Run("row09 code with error", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		res, body := a.callbackFrom(v.b, "test", "code="+v.code+"&error=server_error&state="+v.state)
		err := a.rejected(res, body, http.StatusForbidden, oauthkit.ErrProvider, v.code)
		var pe *oauthkit.ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "server_error", pe.Code)
		assert.Equal(t, "test", pe.Provider)
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 0, a.pending(v.b), "state consumed")
		assert.False(t, a.signedIn(v.b))
	})

	t.Run("row10 valid state without code", func(t *testing.T) {
		a := newApp(t)
		for _, q := range []string{"state=%s", "code=&state=%s"} {
			v := a.newVictim()
			res, body := a.callbackFrom(v.b, "test", fmt.Sprintf(q, v.state))
			a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrMissingCode)
			assert.Equal(t, 0, a.pending(v.b), "state consumed")
			assert.False(t, a.signedIn(v.b))
		}
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
	})

	t.Run("row11 huge query", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		// Between 16 KiB and 1 MiB: the kit refuses before any state lookup,
		// so the valid state inside is not consumed.
		pad := strings.Repeat("a", 20<<10)
		res, body := a.callbackFrom(v.b, "test", "code="+v.code+"&state="+v.state+"&pad="+pad)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrInvalidCallback, v.code)
		assert.Equal(t, 1, a.pending(v.b))
		// Above 1 MiB, net/http answers 431 before the kit runs.
		res, _ = a.callbackFrom(v.b, "test", "code="+v.code+"&state="+v.state+"&pad="+strings.Repeat("a", 2<<20))
		assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode)
		assert.NoError(t, a.lastErr(), "the kit never saw it")
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		a.completes(v)
	})

	t.Run("row12 oversized state or code", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		res, body := a.callbackFrom(v.b, "test", "code="+v.code+"&state="+strings.Repeat("S", 300))
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrInvalidCallback)
		// Kit fix: the code is bounded before the state lookup, so a 5 KiB
		// code next to the valid state leaves the pending login alone.
		res, body = a.callbackFrom(v.b, "test", "code="+strings.Repeat("c", 5<<10)+"&state="+v.state)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrInvalidCallback)
		res, body = a.callbackFrom(v.b, "test", "code=c&code="+v.code+"&state="+v.state)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrInvalidCallback)
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 1, a.pending(v.b), "pending entries unchanged")
		a.completes(v)
	})

	t.Run("row13 semicolon separator", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		res, body := a.callbackFrom(v.b, "test", "code="+v.code+";state="+v.state)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrInvalidCallback, v.code)
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 1, a.pending(v.b))
		a.completes(v)
	})

	t.Run("row14 bad percent-encoding", func(t *testing.T) {
		logs := &syncBuffer{}
		a := newApp(t, withLogs(logs))
		v := a.newVictim()
		for _, q := range []string{
			"code=" + v.code + "&state=%zz",
			"code=%ff%fe&state=" + v.state, // kit fix: codes are VSCHAR, checked before the lookup
			"code=" + v.code + "%00&state=" + v.state,
			"code=" + v.code + "&state=" + v.state + "%00",
		} {
			res, body := a.callbackFrom(v.b, "test", q)
			a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrInvalidCallback, v.code)
		}
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 1, a.pending(v.b))
		assert.NotContains(t, logs.String(), "\xff")
		assert.NotContains(t, logs.String(), "\x00")
		a.completes(v)
	})

	t.Run("row15 POST callback", func(t *testing.T) {
		a := newApp(t)
		v := a.newVictim()
		res, body := a.do(v.b, http.MethodPost, v.cb, nil)
		a.rejected(res, body, http.StatusMethodNotAllowed, oauthkit.ErrMethodNotAllowed, v.code)
		assert.Equal(t, http.MethodGet, res.Header.Get("Allow"))
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 1, a.pending(v.b))
		a.completes(v)
	})

	t.Run("row16 callback on another provider's path", func(t *testing.T) {
		opt, other := withProvider(t, "other")
		a := newApp(t, opt)
		// A's state on B's path, and B's state on A's path (N×(N−1) = 2).
		v := a.newVictim()
		res, body := a.callbackFrom(v.b, "other", "code="+v.code+"&state="+v.state)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrProviderMismatch, v.code)
		assert.Equal(t, 0, a.pending(v.b), "S consumed")

		b := a.browser()
		authURL := a.startLogin(b, "/auth/other/login")
		cb, err := url.Parse(a.approve(authURL))
		require.NoError(t, err)
		res, body = a.callbackFrom(b, "test", cb.RawQuery)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrProviderMismatch)
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.EqualValues(t, 0, other.TokenHits.Load())
		assert.False(t, a.signedIn(v.b))
		assert.False(t, a.signedIn(b))
	})

	t.Run("row17 iss", func(t *testing.T) {
		const issuer = "https://as.example"
		withIssuer := func(require bool) appOption {
			return func(cfg *oauthkit.Config) {
				cfg.Providers[0].Issuer = issuer
				cfg.Providers[0].RequireIssuer = require
			}
		}
		a := newApp(t, withIssuer(true))
		for _, iss := range []string{"", "&iss=https%3A%2F%2Fevil.example", "&iss=https%3A%2F%2Fas.example%2F"} {
			v := a.newVictim()
			res, body := a.do(v.b, http.MethodGet, v.cb+iss, nil)
			a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrIssuerMismatch, v.code)
			assert.False(t, a.signedIn(v.b))
		}
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		v := a.newVictim()
		v.cb += "&iss=" + url.QueryEscape(issuer)
		a.completes(v)

		// A provider that does not declare iss support accepts a callback without it.
		a = newApp(t, withIssuer(false))
		a.completes(a.newVictim())
	})
}

// tokenFault installs h as the token endpoint of a's fake AS.
func tokenFault(a *app, status int, contentType, body string) {
	a.as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = fmt.Fprint(w, body)
	}
}

func TestCatalogueTokenEndpoint(t *testing.T) {
	t.Run("row18 500 with HTML", func(t *testing.T) {
		a := newApp(t)
		tokenFault(a, http.StatusInternalServerError, "text/html", "<html><b>AT-MARK-1</b></html>")
		v := a.newVictim()
		res, body := a.do(v.b, http.MethodGet, v.cb, nil)
		err := a.rejected(res, body, http.StatusBadGateway, oauthkit.ErrExchange, v.code)
		var he *client.HTTPError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, http.StatusInternalServerError, he.StatusCode)
		assert.EqualValues(t, 1, a.as.TokenHits.Load(), "no retry")
		assert.Equal(t, 0, a.pending(v.b), "state consumed")
		res, body = a.do(v.b, http.MethodGet, v.cb, nil)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateNotFound)
		assert.EqualValues(t, 1, a.as.TokenHits.Load())
		assert.False(t, a.signedIn(v.b))
	})

	t.Run("row21 missing or bad access_token", func(t *testing.T) {
		for _, doc := range []string{
			`{"token_type":"bearer"}`, `{"access_token":123}`, `{"access_token":""}`, `{"access_token":null}`,
		} {
			a := newApp(t)
			tokenFault(a, http.StatusOK, "application/json", doc)
			v := a.newVictim()
			res, body := a.do(v.b, http.MethodGet, v.cb, nil)
			err := a.rejected(res, body, http.StatusBadGateway, oauthkit.ErrExchange, v.code)
			assert.True(t, errors.Is(err, client.ErrMissingAccessToken) || errors.Is(err, client.ErrInvalidResponse), "%s: %v", doc, err)
			assert.EqualValues(t, 1, a.as.TokenHits.Load())
			assert.False(t, a.signedIn(v.b))
		}
	})

	t.Run("row22 200 with error member", func(t *testing.T) {
		for _, c := range []struct{ ct, body string }{
			{"application/json", `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}`},
			{"application/x-www-form-urlencoded", "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired."},
		} {
			a := newApp(t)
			tokenFault(a, http.StatusOK, c.ct, c.body)
			v := a.newVictim()
			res, body := a.do(v.b, http.MethodGet, v.cb, nil)
			err := a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrExchange, v.code, "incorrect")
			var oe *client.OAuthError
			require.ErrorAs(t, err, &oe, c.ct)
			assert.Equal(t, "bad_verification_code", oe.Code)
			assert.Contains(t, body, "Login failed", "the failure page")
			assert.EqualValues(t, 1, a.as.TokenHits.Load())
			assert.False(t, a.signedIn(v.b))
		}
	})

	t.Run("row38 redirects from the token endpoint", func(t *testing.T) {
		var second atomic.Int64
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			second.Add(1)
			_, _ = fmt.Fprint(w, `{"access_token":"AT-MARK-1","token_type":"bearer"}`)
		}))
		t.Cleanup(other.Close)
		for _, c := range []struct {
			status int
			target func(a *app) string
		}{
			{http.StatusFound, func(a *app) string { return a.as.Srv.URL + "/token" }}, // loop
			{http.StatusTemporaryRedirect, func(*app) string { return other.URL + "/token" }},
		} {
			a := newApp(t)
			target := c.target(a)
			a.as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target, c.status)
			}
			v := a.newVictim()
			res, body := a.do(v.b, http.MethodGet, v.cb, nil)
			err := a.rejected(res, body, http.StatusBadGateway, oauthkit.ErrExchange, v.code)
			assert.ErrorIs(t, err, client.ErrRedirect)
			var he *client.HTTPError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, c.status, he.StatusCode)
			assert.EqualValues(t, 1, a.as.TokenHits.Load(), "exactly one token request")
			assert.False(t, a.signedIn(v.b))
		}
		assert.EqualValues(t, 0, second.Load(), "the POST (and its secret) never reaches the second server")
	})
}

func TestCatalogueOtherEndpoints(t *testing.T) {
	t.Run("row41a token expiry leeway", func(t *testing.T) {
		a := newApp(t)
		a.as.ExpiresIn = 60
		b := a.browser()
		require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
		_, first := a.do(b, http.MethodGet, "/api/token", nil)
		a.clock.Add(49 * time.Second)
		res, tok := a.do(b, http.MethodGet, "/api/token", nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, first, tok, "still valid at +49 s")
		assert.EqualValues(t, 0, a.as.RefreshHits.Load())
		a.clock.Add(2 * time.Second)
		res, tok = a.do(b, http.MethodGet, "/api/token", nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.NotEqual(t, first, tok, "refreshed at +51 s (10 s early)")
		assert.EqualValues(t, 1, a.as.RefreshHits.Load())
	})

	t.Run("row42 revocation failures never block logout", func(t *testing.T) {
		cases := []struct {
			name    string
			handler http.HandlerFunc
			check   func(t *testing.T, err error)
		}{
			{"503 Retry-After", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusServiceUnavailable)
			}, func(t *testing.T, err error) {
				var he *client.HTTPError
				require.ErrorAs(t, err, &he)
				assert.Equal(t, http.StatusServiceUnavailable, he.StatusCode)
			}},
			{"400 unsupported_token_type", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = fmt.Fprint(w, `{"error":"unsupported_token_type"}`)
			}, func(t *testing.T, err error) {
				var oe *client.OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "unsupported_token_type", oe.Code)
			}},
			{"200 with error body", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = fmt.Fprint(w, `{"error":"x"}`)
			}, func(t *testing.T, err error) { assert.NoError(t, err, "RFC 7009 §2.2: body ignored") }},
			{"timeout", func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			}, func(t *testing.T, err error) { assert.ErrorIs(t, err, context.DeadlineExceeded) }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				logs := &syncBuffer{}
				a := newApp(t, withLogs(logs), func(cfg *oauthkit.Config) { cfg.ProviderTimeout = hangTimeout(t) })
				a.as.RevokeHandler = c.handler
				b := a.browser()
				require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
				old := a.sessionCookie(b)
				var stored client.Token
				require.NoError(t, json.Unmarshal([]byte(a.session(b)["oauthkit.token"].(string)), &stored))
				rt := stored.RefreshToken
				res, _ := a.do(b, http.MethodPost, "/logout", nil)
				assert.Equal(t, http.StatusSeeOther, res.StatusCode)
				assert.Nil(t, a.sessionByToken(old), "local session destroyed")
				assert.False(t, a.signedIn(b))
				assert.EqualValues(t, 1, a.as.RevokeHits.Load())
				assert.Equal(t, rt, a.as.LastRevoked.Load(), "the refresh token is revoked")
				assert.NotContains(t, logs.String(), rt, "the token is never logged")

				// The typed error behind the log line, from the same client.
				ctx, cancel := context.WithTimeout(context.Background(), hangTimeout(t))
				defer cancel()
				c.check(t, provider(t, a.as, "test").RevokeToken(ctx, "RT-MARK-2", "refresh_token"))
			})
		}
	})

	t.Run("row45 session cookie garbage", func(t *testing.T) {
		a := newApp(t)
		b := a.browser()
		require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
		expired := a.sessionCookie(b)
		res, _ := a.do(b, http.MethodPost, "/logout", nil)
		require.Equal(t, http.StatusSeeOther, res.StatusCode)

		name := a.sm.Cookie.Name
		random := client.GenerateVerifier()
		for len(random) < 4096 {
			random += client.GenerateVerifier()
		}
		dup := make([]string, 10)
		for i := range dup {
			dup[i] = name + "=" + client.GenerateVerifier()
		}
		plain := a.srv.Client()
		plain.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		for label, cookie := range map[string]string{
			"random 4 KiB":  name + "=" + random[:4096],
			"non-base64":    name + "=!!!%%%***",
			"expired token": name + "=" + expired,
			"10 duplicates": strings.Join(dup, "; "),
		} {
			for _, accept := range []string{"text/html", "application/json"} {
				req, err := http.NewRequest(http.MethodGet, a.srv.URL+"/profile", nil)
				require.NoError(t, err)
				req.Header.Set("Cookie", cookie)
				req.Header.Set("Accept", accept)
				res, err := plain.Do(req)
				require.NoError(t, err)
				res.Body.Close()
				want := http.StatusFound
				if accept == "application/json" {
					want = http.StatusUnauthorized
				}
				assert.Equal(t, want, res.StatusCode, label)
				assert.Empty(t, res.Header.Values("Set-Cookie"), "%s: no session written", label)
			}
		}
		assert.Zero(t, a.drainErrs())
	})

	t.Run("row46 wrong methods", func(t *testing.T) {
		a := newApp(t)
		b := a.browser()
		for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPost} {
			res, body := a.do(b, m, "/auth/test/login", nil)
			a.rejected(res, body, http.StatusMethodNotAllowed, oauthkit.ErrMethodNotAllowed)
			assert.Equal(t, http.MethodGet, res.Header.Get("Allow"))
		}
		require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
		res, body := a.do(b, http.MethodGet, "/logout", nil)
		a.rejected(res, body, http.StatusMethodNotAllowed, oauthkit.ErrMethodNotAllowed)
		assert.Equal(t, http.MethodPost, res.Header.Get("Allow"))
		assert.True(t, a.signedIn(b), "session intact")
		res, body = a.do(b, http.MethodPost, "/auth/test/callback?code=c&state=s", nil)
		a.rejected(res, body, http.StatusMethodNotAllowed, oauthkit.ErrMethodNotAllowed)
		assert.Equal(t, http.MethodGet, res.Header.Get("Allow"))
		assert.EqualValues(t, 1, a.as.TokenHits.Load())
	})

	t.Run("row47 cross-site logout", func(t *testing.T) {
		a := newApp(t)
		b := a.browser()
		require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
		for _, h := range []http.Header{
			{"Sec-Fetch-Site": {"cross-site"}},
			{"Origin": {"https://evil.example"}},
		} {
			res, body := a.do(b, http.MethodPost, "/logout", h)
			a.rejected(res, body, http.StatusForbidden, oauthkit.ErrCrossOrigin)
			assert.True(t, a.signedIn(b), "session intact")
		}
		assert.EqualValues(t, 0, a.as.RevokeHits.Load())
		res, _ := a.do(b, http.MethodPost, "/logout", http.Header{"Sec-Fetch-Site": {"same-origin"}})
		assert.Equal(t, http.StatusSeeOther, res.StatusCode)
		assert.False(t, a.signedIn(b))
	})
}
