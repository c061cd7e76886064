package oauthkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
	"github.com/oauthkit/oauthkit/internal/providertest"
)

// A different user signing in over a signed-in session takes none of the
// previous user's data; the pending logins of other tabs survive. The same
// user signing in again keeps it.
func TestLoginAsAnotherUserDropsSessionData(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	alice := fakeUser{ID: "1", Email: "alice@example.com"}
	bob := fakeUser{ID: "2", Email: "bob@example.com"}
	loginAs := func(u fakeUser) {
		t.Helper()
		res := a.get(b, a.approveAs(a.startLogin(b, "/auth/test/login"), u))
		require.Equal(t, http.StatusFound, res.StatusCode, "%v", a.lastErr())
	}

	loginAs(alice)
	a.putData(b, "alice-private")
	loginAs(alice)
	assert.Equal(t, "alice-private", a.data(b), "the same user keeps their data")

	otherTab := a.approveAs(a.startLogin(b, "/auth/test/login"), alice)
	loginAs(bob)
	assert.Equal(t, "", a.data(b), "bob must not see alice's session data")
	assert.Equal(t, "2", a.sessionUser(b).ID)
	assert.Equal(t, 1, a.pending(b), "the other tab's pending login survives")

	res := a.get(b, otherTab)
	assert.Equal(t, http.StatusFound, res.StatusCode, "%v", a.lastErr())
	assert.Equal(t, "1", a.sessionUser(b).ID)
}

// An anonymous session made by the login start lives only as long as the
// pending login; one that already holds the application's data keeps its
// deadline, so an abandoned login loses nothing.
func TestLoginStartKeepsDeadlineOfSessionWithData(t *testing.T) {
	t.Parallel()
	a := newApp(t)

	fresh := a.browser()
	a.startLogin(fresh, "/auth/test/login")
	_, deadline, _ := a.stored(a.sessionCookie(fresh))
	assert.WithinDuration(t, a.clock.Now().Add(oauthkit.DefaultPendingTTL), deadline, time.Second,
		"a session made for the login expires with it")

	cart := a.browser()
	a.putData(cart, "cart-3-items")
	_, before, _ := a.stored(a.sessionCookie(cart))
	a.startLogin(cart, "/auth/test/login")
	found, after, _ := a.stored(a.sessionCookie(cart))
	require.True(t, found)
	assert.Equal(t, before, after, "starting a login must not shorten a session holding data")
	assert.Greater(t, after.Sub(a.clock.Now()), time.Hour)
	assert.Equal(t, "cart-3-items", a.data(cart))
}

// Without Sec-Fetch-Site (older browsers) the logout compares Origin's
// scheme and host with the site's, not just its host with the Host header.
func TestLogoutChecksOriginWithoutSecFetchSite(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	site := a.srv.URL // https://127.0.0.1:port
	for _, tc := range []struct {
		origin string
		status int
	}{
		{strings.Replace(site, "https://", "http://", 1), http.StatusForbidden},
		{"https://evil.example", http.StatusForbidden},
		{"null", http.StatusForbidden},
		{site, http.StatusSeeOther},
		{"", http.StatusSeeOther}, // not a browser: nothing to forge
	} {
		b := a.browser()
		require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
		hdr := http.Header{}
		if tc.origin != "" {
			hdr.Set("Origin", tc.origin)
		}
		res, _ := a.do(b, http.MethodPost, "/logout", hdr)
		assert.Equal(t, tc.status, res.StatusCode, "Origin %q", tc.origin)
		assert.Equal(t, tc.status == http.StatusForbidden, a.signedIn(b), "Origin %q", tc.origin)
		if tc.status == http.StatusForbidden {
			assert.ErrorIs(t, a.takeErr(), oauthkit.ErrCrossOrigin)
		}
	}
}

// A failing logout revocation is logged at warning level with the
// provider's error code and counted; the local logout goes ahead.
func TestRevocationFailureIsLoggedAndCounted(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	a := newApp(t, withLogs(&logs))
	a.as.RevokeHandler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
	}
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	assert.Zero(t, a.kit.Stats().RevocationFailures)
	res, _ := a.do(b, http.MethodPost, "/logout", nil)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.False(t, a.signedIn(b))
	assert.EqualValues(t, 1, a.kit.Stats().RevocationFailures)
	out := logs.String()
	assert.Contains(t, out, "level=WARN")
	assert.Contains(t, out, "oauth_error=invalid_client")
	assert.NotContains(t, out, "rt-")
}

// issProvider is the fake AS's client with a known issuer, advertising
// (or not) that the server sends the RFC 9207 iss parameter.
type issProvider struct {
	*fakeas.Provider
	issuer    string
	advertise bool
}

func (p *issProvider) Capabilities() client.Capabilities {
	c := p.Provider.Capabilities()
	c.Issuer, c.IssParameter = p.issuer, p.advertise
	return c
}

// When the metadata says the server sends iss, a callback without it is
// refused (400, state consumed, no code exchange); a matching iss is
// accepted whether advertised or not; a mismatch is always refused.
func TestCallbackIssParameter(t *testing.T) {
	t.Parallel()
	withIss := func(advertise bool) appOption {
		return func(c *oauthkit.Config) {
			tp := c.Providers[0].Client.(*fakeas.Provider)
			c.Providers[0].Client = &issProvider{Provider: tp, issuer: "https://as.example", advertise: advertise}
		}
	}
	for _, tc := range []struct {
		name      string
		advertise bool
		iss       string // "" sends none
		ok        bool
	}{
		{"advertised, missing", true, "", false},
		{"advertised, matching", true, "https://as.example", true},
		{"advertised, mismatch", true, "https://evil.example", false},
		{"not advertised, missing", false, "", true},
		{"not advertised, matching", false, "https://as.example", true},
		{"not advertised, mismatch", false, "https://evil.example", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, withIss(tc.advertise))
			b := a.browser()
			cb := a.approve(a.startLogin(b, "/auth/test/login"))
			if tc.iss != "" {
				cb += "&iss=" + tc.iss
			}
			res := a.get(b, cb)
			if tc.ok {
				assert.Equal(t, http.StatusFound, res.StatusCode, "%v", a.lastErr())
				assert.True(t, a.signedIn(b))
				return
			}
			assert.Equal(t, http.StatusBadRequest, res.StatusCode)
			assert.ErrorIs(t, a.takeErr(), oauthkit.ErrIssuerMismatch)
			assert.EqualValues(t, 0, a.as.TokenHits.Load(), "no code exchange")
			assert.Equal(t, 0, a.pending(b), "the state was consumed")
			assert.False(t, a.signedIn(b))
		})
	}
}

func TestFullLoginFlow(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()

	// Anonymous page request: sent to login with the page as return-to.
	res := a.get(b, "/profile?tab=1")
	require.Equal(t, http.StatusFound, res.StatusCode)
	require.Equal(t, "/auth/test/login?next=%2Fprofile%3Ftab%3D1", res.Header.Get("Location"))

	authURL := a.startLogin(b, "/auth/test/login?next=%2Fprofile%3Ftab%3D1")
	before := a.sessionCookie(b)
	require.NotEmpty(t, before)
	q := authURL.Query()
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Equal(t, a.srv.URL+"/auth/test/callback", q.Get("redirect_uri"))
	assert.NotContains(t, authURL.String(), "profile", "return-to stays server-side")

	res = a.get(b, a.approve(authURL))
	require.Equal(t, http.StatusFound, res.StatusCode, "err: %v", a.lastErr())
	assert.Equal(t, "/profile?tab=1", res.Header.Get("Location"))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", res.Header.Get("Referrer-Policy"))
	after := a.sessionCookie(b)
	assert.NotEqual(t, before, after, "session token renewed at login")
	assert.EqualValues(t, 1, a.as.TokenHits.Load())

	r2, err := b.Get(a.srv.URL + "/profile")
	require.NoError(t, err)
	body, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	require.Equal(t, http.StatusOK, r2.StatusCode)
	assert.Equal(t, "test|1234567890123456789|ada@example.com", string(body))

	// Logout: POST only, revokes, destroys the session.
	res = a.get(b, "/logout")
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/logout", nil)
	res, err = b.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/", res.Header.Get("Location"))
	assert.EqualValues(t, 1, a.as.RevokeHits.Load())
	res = a.get(b, "/profile")
	assert.Equal(t, http.StatusFound, res.StatusCode, "signed out")
}

// formPostProvider is the fake AS's client, declaring form_post like Apple.
type formPostProvider struct{ *fakeas.Provider }

func (p formPostProvider) Capabilities() client.Capabilities {
	c := p.Provider.Capabilities()
	c.FormPost = true
	return c
}

func TestFormPostCallbackBecomesGET(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(c *oauthkit.Config) {
		c.Providers[0].Client = formPostProvider{c.Providers[0].Client.(*fakeas.Provider)}
	})
	b := a.browser()
	cb, err := url.Parse(a.approve(a.startLogin(b, "/auth/test/login?next=/profile")))
	require.NoError(t, err)

	// The provider's cross-site POST: no cookie would be sent with it, so it
	// must not be processed, only turned into a same-callback GET.
	post := &http.Client{Transport: b.Transport, CheckRedirect: b.CheckRedirect}
	res, err := post.PostForm(a.srv.URL+"/auth/test/callback", url.Values{
		"code": cb.Query()["code"], "state": cb.Query()["state"], "user": {`{"name":{}}`},
	})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	loc, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "/auth/test/callback", loc.Path)
	assert.Equal(t, cb.Query().Get("code"), loc.Query().Get("code"))
	assert.Empty(t, loc.Query().Get("user"), "only authorization-response parameters are carried")
	assert.EqualValues(t, 0, a.as.TokenHits.Load(), "the POST itself exchanges nothing")

	res = a.get(b, loc.RequestURI())
	require.Equal(t, http.StatusFound, res.StatusCode, "err: %v", a.lastErr())
	assert.Equal(t, "/profile", res.Header.Get("Location"))
	assert.EqualValues(t, 1, a.as.TokenHits.Load())
}

func TestCallbackPOSTRefusedWithoutFormPost(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	res, err := b.PostForm(a.srv.URL+"/auth/test/callback", url.Values{"code": {"c"}, "state": {"s"}})
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	assert.Equal(t, http.MethodGet, res.Header.Get("Allow"))
	assert.ErrorIs(t, a.lastErr(), oauthkit.ErrMethodNotAllowed)
}

// A form_post body the kit cannot read (here: over the 16 KiB bound) is a
// 400, and nothing is carried over to a GET.
func TestFormPostMalformedBody(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(c *oauthkit.Config) {
		c.Providers[0].Client = formPostProvider{c.Providers[0].Client.(*fakeas.Provider)}
	})
	b := a.browser()
	body := "code=c&state=" + strings.Repeat("s", 20<<10)
	res, err := b.Post(a.srv.URL+"/auth/test/callback", "application/x-www-form-urlencoded", strings.NewReader(body))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Empty(t, res.Header.Get("Location"))
	assert.ErrorIs(t, a.lastErr(), oauthkit.ErrInvalidCallback)
	assert.EqualValues(t, 0, a.as.TokenHits.Load())
}

// OnLogin maps the provider identity to the application's user, or refuses
// it: a refusal is a 403 with nobody signed in.
func TestOnLogin(t *testing.T) {
	t.Parallel()
	t.Run("sets the application's id", func(t *testing.T) {
		var seen oauthkit.User
		a := newApp(t, func(c *oauthkit.Config) {
			c.OnLogin = func(_ context.Context, u *oauthkit.User) error {
				seen = *u
				u.UserID = "local-7"
				return nil
			}
		})
		b := a.browser()
		require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
		assert.Equal(t, "test", seen.Provider)
		assert.Equal(t, "1234567890123456789", seen.ID)
		assert.Empty(t, seen.UserID, "OnLogin runs before the default id is set")
		assert.Equal(t, "local-7", a.sessionUser(b).UserID)
	})
	t.Run("refuses", func(t *testing.T) {
		refused := errors.New("not on the allow list")
		a := newApp(t, func(c *oauthkit.Config) {
			c.OnLogin = func(context.Context, *oauthkit.User) error { return refused }
		})
		b := a.browser()
		res := a.login(b, "/auth/test/login")
		assert.Equal(t, http.StatusForbidden, res.StatusCode)
		err := a.lastErr()
		assert.ErrorIs(t, err, oauthkit.ErrLoginRefused)
		assert.ErrorIs(t, err, refused)
		assert.False(t, a.signedIn(b))
	})
}

// The signed-in user carries what the client's Identify returned: the
// email with its verified flag (an unverified address is kept, flagged), the
// display name and the avatar URL, through the session.
func TestLoginIdentity(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		user     fakeUser
		verified bool
	}{
		{"verified email", fakeUser{ID: "77", Email: "ada@example.com"}, true},
		{"unverified email kept, flagged", fakeUser{ID: "78", Email: "unverified@example.com"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen oauthkit.User
			a := newApp(t, func(c *oauthkit.Config) {
				c.OnLogin = func(_ context.Context, u *oauthkit.User) error { seen = *u; return nil }
			})
			b := a.browser()
			res := a.get(b, a.approveAs(a.startLogin(b, "/auth/test/login"), tc.user))
			require.Equal(t, http.StatusFound, res.StatusCode, "%v", a.lastErr())
			u := a.sessionUser(b)
			for _, got := range []oauthkit.User{seen, *u} {
				assert.Equal(t, tc.user.ID, got.ID)
				assert.Equal(t, tc.user.Email, got.Email)
				assert.Equal(t, tc.verified, got.EmailVerified)
				assert.Equal(t, "User "+tc.user.ID, got.Name)
				assert.Equal(t, "https://avatars.example/"+tc.user.ID+".png", got.AvatarURL)
			}
		})
	}
}

// A user API that fails, or answers without an id, is a 502 with nobody
// signed in.
func TestIdentityFailures(t *testing.T) {
	t.Parallel()
	t.Run("user API refuses the token", func(t *testing.T) {
		a := newApp(t)
		a.as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"not-one-the-user-API-knows","token_type":"Bearer"}`)
		}
		b := a.browser()
		res := a.login(b, "/auth/test/login")
		assert.Equal(t, http.StatusBadGateway, res.StatusCode)
		err := a.lastErr()
		assert.ErrorIs(t, err, oauthkit.ErrIdentity)
		assert.ErrorIs(t, err, client.ErrGetIDEmail)
		assert.False(t, a.signedIn(b))
	})
	t.Run("empty id", func(t *testing.T) {
		a := newApp(t)
		b := a.browser()
		res := a.get(b, a.approveAs(a.startLogin(b, "/auth/test/login"), fakeUser{ID: "null", Email: "x@example.com"}))
		assert.Equal(t, http.StatusBadGateway, res.StatusCode)
		err := a.lastErr()
		assert.ErrorIs(t, err, oauthkit.ErrIdentity)
		assert.ErrorIs(t, err, client.ErrMissingID)
		assert.False(t, a.signedIn(b))
	})
}

// The bad-input catalogue of security.md section 2, rows that concern the
// kit: each subtest is named after the behaviour it checks, its row number
// ("row07") in a comment so a failure leads to the requirement. Every row asserts the status, the typed error, the side
// effects (token-endpoint hits, the victim's pending login, no user in the
// attacker's session) and that the response body echoes neither markup from
// the query nor any secret.

func TestCatalogueCallbackQuery(t *testing.T) {
	t.Parallel()
	t.Run("a callback without state is refused", func(t *testing.T) { // catalogue row01
		a := newApp(t)
		v := a.newVictim()
		res, body := a.callbackFrom(v.b, "test", "code="+v.code)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrInvalidCallback, v.code)
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 1, a.pending(v.b), "pending entries unchanged")
		a.completes(v)
	})

	t.Run("duplicate state is refused", func(t *testing.T) { // catalogue row02
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

	t.Run("a state no login is pending for is refused", func(t *testing.T) { // catalogue row03
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

	t.Run("an expired state is refused", func(t *testing.T) { // catalogue row04
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

	t.Run("a state reused after success is refused", func(t *testing.T) { // catalogue row05
		a := newApp(t)
		v := a.newVictim()
		a.completes(v)
		res, body := a.do(v.b, http.MethodGet, v.cb, nil)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrStateNotFound, v.code)
		assert.EqualValues(t, 1, a.as.TokenHits.Load())
		_, profile := a.do(v.b, http.MethodGet, "/profile", nil)
		assert.Equal(t, "test|1234567890123456789|ada@example.com", profile, "logged-in user unchanged")
	})

	t.Run("a state replayed from another browser is refused", func(t *testing.T) { // catalogue row06
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

	t.Run("access_denied with markup is a typed error, markup not echoed", func(t *testing.T) { // catalogue row07
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

	t.Run("an error without or with an unknown state is refused", func(t *testing.T) { // catalogue row08
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

	t.Run("a code together with an error is the provider error, no exchange", func(t *testing.T) { // catalogue row09
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

	t.Run("a valid state without code is refused", func(t *testing.T) { // catalogue row10
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

	t.Run("a huge query is refused", func(t *testing.T) { // catalogue row11
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

	t.Run("an oversized state or code is refused", func(t *testing.T) { // catalogue row12
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

	t.Run("a semicolon separator is refused", func(t *testing.T) { // catalogue row13
		a := newApp(t)
		v := a.newVictim()
		res, body := a.callbackFrom(v.b, "test", "code="+v.code+";state="+v.state)
		a.rejected(res, body, http.StatusBadRequest, oauthkit.ErrInvalidCallback, v.code)
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 1, a.pending(v.b))
		a.completes(v)
	})

	t.Run("bad percent-encoding is refused", func(t *testing.T) { // catalogue row14
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

	t.Run("a POST callback is refused", func(t *testing.T) { // catalogue row15
		a := newApp(t)
		v := a.newVictim()
		res, body := a.do(v.b, http.MethodPost, v.cb, nil)
		a.rejected(res, body, http.StatusMethodNotAllowed, oauthkit.ErrMethodNotAllowed, v.code)
		assert.Equal(t, http.MethodGet, res.Header.Get("Allow"))
		assert.EqualValues(t, 0, a.as.TokenHits.Load())
		assert.Equal(t, 1, a.pending(v.b))
		a.completes(v)
	})

	t.Run("a callback on another provider's path is refused", func(t *testing.T) { // catalogue row16
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

	t.Run("iss is checked", func(t *testing.T) { // catalogue row17
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

func TestCatalogueTokenEndpoint(t *testing.T) {
	t.Parallel()
	t.Run("a token endpoint 500 with HTML is a 502, body not echoed", func(t *testing.T) { // catalogue row18
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

	t.Run("a missing or bad access_token is refused", func(t *testing.T) { // catalogue row21
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

	t.Run("a 200 with an error member is refused", func(t *testing.T) { // catalogue row22
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

	t.Run("redirects from the token endpoint are not followed", func(t *testing.T) { // catalogue row38
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
	t.Parallel()
	t.Run("token expiry has a leeway", func(t *testing.T) { // catalogue row41a
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

	t.Run("revocation failures never block logout", func(t *testing.T) { // catalogue row42
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

	t.Run("a garbage or ended session cookie writes no session", func(t *testing.T) { // catalogue row45
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

	t.Run("wrong methods are refused", func(t *testing.T) { // catalogue row46
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

	t.Run("a cross-site logout is refused", func(t *testing.T) { // catalogue row47
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

// Row 39 / item 4 / G4: 1,000 concurrent replays of one callback (same
// cookie jar, state and code) give one login and one token request,
// repeated 20 times (once with -short), each round on a fresh app.
func TestConcurrentCallbackReplays(t *testing.T) {
	t.Parallel()
	rounds := 20
	if testing.Short() {
		rounds = 1
	}
	for round := range rounds {
		t.Run(fmt.Sprintf("round%02d", round), concurrentCallbackReplayRound)
	}
}

func concurrentCallbackReplayRound(t *testing.T) {
	const n = 1000
	a := newApp(t, withBudgetTimeout(t))
	b := a.browser()
	tr := a.srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = 64, 64
	b.Transport = tr
	t.Cleanup(tr.CloseIdleConnections)
	cb := a.approve(a.startLogin(b, "/auth/test/login?next=%2Fwelcome"))
	before := a.sessionCookie(b)

	var ok, bad, other atomic.Int64
	var success atomic.Value
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			res, err := b.Get(a.srv.URL + cb)
			if err != nil {
				other.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			switch res.StatusCode {
			case http.StatusFound:
				ok.Add(1)
				success.Store(res)
			case http.StatusBadRequest:
				bad.Add(1)
			default:
				other.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, 1, ok.Load(), "exactly one success")
	assert.EqualValues(t, n-1, bad.Load())
	assert.Zero(t, other.Load())
	assert.EqualValues(t, 1, a.as.TokenHits.Load(), "exactly one token request")
	res := success.Load().(*http.Response)
	assert.Equal(t, "/welcome", res.Header.Get("Location"))
	assert.NotEqual(t, before, a.sessionCookie(b), "fresh session cookie")
	assert.True(t, a.signedIn(b))
	errs := 0
	for err := a.lastErr(); err != nil; err = a.lastErr() {
		errs++
		assert.ErrorIs(t, err, oauthkit.ErrStateNotFound)
	}
	assert.Equal(t, n-1, errs)
}

// Item 70: 200 concurrent complete flows over 2 providers, each with its
// own fake user, end with each session holding its own identity.
func TestConcurrentFlowsKeepTheirIdentity(t *testing.T) {
	t.Parallel()
	const n = 200
	opt, other := withProvider(t, "other")
	a := newApp(t, opt, withBudgetTimeout(t))
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			provider := []string{"test", "other"}[i%2]
			u := fakeUser{ID: fmt.Sprint(1_000_000 + i), Email: fmt.Sprintf("user%d@example.com", i)}
			b := a.browser()
			next := "/u/" + u.ID
			res, err := a.tryLogin(b, "/auth/"+provider+"/login?next="+url.QueryEscape(next), u)
			if err != nil {
				errs[i] = err
				return
			}
			if res.StatusCode != http.StatusFound || res.Header.Get("Location") != next {
				errs[i] = fmt.Errorf("callback: %d %q", res.StatusCode, res.Header.Get("Location"))
				return
			}
			res, err = b.Get(a.srv.URL + "/profile")
			if err != nil {
				errs[i] = err
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if want := provider + "|" + u.ID + "|" + u.Email; string(body) != want {
				errs[i] = fmt.Errorf("session shows %q, want %q", body, want)
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "flow %d", i)
	}
	assert.EqualValues(t, n/2, a.as.TokenHits.Load())
	assert.EqualValues(t, n/2, other.TokenHits.Load())
	assert.Zero(t, a.drainErrs())
}

// Session management (security.md section 1.K, items 54-58, and 1.Q item
// 69): token renewal at login, destruction at logout, cookie attributes,
// configurations New refuses, and RequireAuth for anonymous requests.

// Item 54 / G16: a new session token at every login; the old one is gone.
func TestSessionTokenRenewedAtEveryLogin(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	for i := range 3 {
		authURL := a.startLogin(b, "/auth/test/login")
		before := a.sessionCookie(b)
		require.NotEmpty(t, before)
		require.True(t, a.inStore(before), "login %d: pending login stored", i)
		res := a.get(b, a.approve(authURL))
		require.Equal(t, http.StatusFound, res.StatusCode)
		after := a.sessionCookie(b)
		assert.NotEqual(t, before, after, "login %d: session token renewed", i)
		assert.False(t, a.inStore(before), "login %d: old token gone from the store", i)
		assert.True(t, a.inStore(after))
		// The pre-login token is worthless on a RequireAuth route.
		assert.Equal(t, http.StatusFound, a.withCookie(http.MethodGet, "/profile", before, nil).StatusCode)
		assert.Equal(t, http.StatusOK, a.withCookie(http.MethodGet, "/profile", after, nil).StatusCode)
	}
	assert.EqualValues(t, 3, a.as.TokenHits.Load())
}

// Item 55: logout destroys the session and expires the cookie.
func TestLogoutDestroysSession(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	old := a.sessionCookie(b)
	require.True(t, a.inStore(old))

	res, _ := a.do(b, http.MethodPost, "/logout", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/", res.Header.Get("Location"))
	assert.False(t, a.inStore(old), "old token not in the store")
	var expired bool
	for _, c := range res.Cookies() {
		if c.Name == a.sm.Cookie.Name {
			expired = c.MaxAge < 0 && c.Value == "" && c.Expires.Before(time.Now())
		}
	}
	assert.True(t, expired, "Set-Cookie expires the session cookie: %q", res.Header.Values("Set-Cookie"))
	assert.Empty(t, a.sessionCookie(b))
	assert.Equal(t, http.StatusFound, a.withCookie(http.MethodGet, "/profile", old, nil).StatusCode)
}

// Item 56: the attributes of the cookie /login sets.
func TestLoginCookieAttributes(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	res, _ := a.do(a.browser(), http.MethodGet, "/auth/test/login", nil)
	require.Equal(t, http.StatusFound, res.StatusCode)
	var c *http.Cookie
	for _, rc := range res.Cookies() {
		if rc.Name == a.sm.Cookie.Name {
			c = rc
		}
	}
	require.NotNil(t, c, "/login sets the session cookie")
	assert.True(t, c.HttpOnly)
	assert.True(t, c.Secure)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Equal(t, "/", c.Path)
	assert.Empty(t, c.Domain)
	assert.NotContains(t, res.Header.Get("Location"), c.Value, "the session token is not in the URL")
}

// G3 of security.md: 10,000 callbacks with forged states (random, or
// pending in another browser) make no token request, and the victim's
// pending login survives them all.
func TestGoalForgedCallbacksMakeNoTokenRequest(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	victim := a.browser()
	victimAuth := a.startLogin(victim, "/auth/test/login?next=/profile")
	victimCallback := a.approve(victimAuth)

	attacker := a.browser()
	a.startLogin(attacker, "/auth/test/login") // the attacker has a session with its own pending login
	cookie := &http.Cookie{Name: a.sm.Cookie.Name, Value: a.sessionCookie(attacker)}
	handler := a.srv.Config.Handler

	const n = 10000
	for i := range n {
		state := client.GenerateState()
		if i%2 == 0 {
			state = stateOf(victimAuth) // pending, but in the victim's session
		}
		req := httptest.NewRequest(http.MethodGet, "/auth/test/callback?code=c&state="+state, nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		require.Equal(t, http.StatusBadRequest, rec.Code)
		require.ErrorIs(t, a.lastErr(), oauthkit.ErrStateNotFound)
	}
	assert.EqualValues(t, 0, a.as.TokenHits.Load(), "no forged callback reached the token endpoint")

	res := a.get(victim, victimCallback)
	require.Equal(t, http.StatusFound, res.StatusCode, "the victim's login still completes: %v", a.lastErr())
	assert.Equal(t, "/profile", res.Header.Get("Location"))
	assert.EqualValues(t, 1, a.as.TokenHits.Load())
}

// G16 of security.md: 100% of logins change the session token and no
// pre-login token stays valid, over many logins in one browser.
func TestGoalEveryLoginRenewsTheSession(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	for range 50 {
		a.startLogin(b, "/auth/test/login")
		before := a.sessionCookie(b)
		_, found, err := a.sm.Store.Find(before)
		require.NoError(t, err)
		require.True(t, found, "the pre-login session is stored")

		authURL := a.startLogin(b, "/auth/test/login")
		res := a.get(b, a.approve(authURL))
		require.Equal(t, http.StatusFound, res.StatusCode)
		after := a.sessionCookie(b)
		require.NotEqual(t, before, after)
		_, found, err = a.sm.Store.Find(before)
		require.NoError(t, err)
		require.False(t, found, "the pre-login token is gone")
	}
	assert.Nil(t, a.lastErr())
}

func TestFaultsTokenEndpoint(t *testing.T) {
	for _, f := range kfFaults() {
		t.Run(f.name, func(t *testing.T) {
			e := kfServe(t, f)
			a := newApp(t, kfTimeout(t, f), withClient(t, func(c *client.Config) {
				c.AccessTokenEndpoint = e.base + "/token"
			}, nil))
			kfLoginFails(t, a, f, e, oauthkit.ErrExchange)
			assert.Zero(t, a.as.UserHits.Load())
		})
	}
}

func TestFaultsUserAPI(t *testing.T) {
	for _, f := range kfFaults() {
		t.Run(f.name, func(t *testing.T) {
			e := kfServe(t, f)
			scheme, host, _ := strings.Cut(e.base, "://")
			a := newApp(t, kfTimeout(t, f), withClient(t, func(*client.Config) {}, func(c *client.OAuth2) client.Provider {
				gh, err := client.NewGitHub("cid", "csecret", client.WithHTTPClient(&http.Client{
					Transport:     providertest.Rewrite{Scheme: scheme, Host: host},
					CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
				}))
				require.NoError(t, err)
				return &kfUserAPI{OAuth2: c, gh: gh}
			}))
			kfLoginFails(t, a, f, e, oauthkit.ErrIdentity)
			assert.EqualValues(t, 1, a.as.TokenHits.Load(), "one code exchange")
		})
	}
}

// TestFaultsRevocationNeverBlocksLogout is G18: whatever the revocation
// endpoint does, POST /logout answers 303 and the session is gone.
func TestFaultsRevocationNeverBlocksLogout(t *testing.T) {
	for _, f := range kfFaults() {
		t.Run(f.name, func(t *testing.T) {
			e := kfServe(t, f)
			logs := &syncBuffer{}
			a := newApp(t, kfTimeout(t, f), withLogs(logs), withClient(t, func(c *client.Config) {
				c.RevokeTokenEndpoint = e.base + "/revoke"
			}, nil))
			b := a.browser()
			require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
			old := a.sessionCookie(b)
			require.NotNil(t, a.sessionByToken(old))
			http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			base := runtime.NumGoroutine()

			res, _ := a.do(b, http.MethodPost, "/logout", nil)
			assert.Equal(t, http.StatusSeeOther, res.StatusCode)
			assert.Equal(t, "/", res.Header.Get("Location"))
			assert.Nil(t, a.sessionByToken(old), "local session destroyed")
			assert.Zero(t, a.drainErrs(), "logout did not fail")
			assert.GreaterOrEqual(t, e.hits.Load(), e.wantHits(f), "revocation was attempted")
			assert.Zero(t, e.otherHits.Load())
			if f.revokeOK {
				assert.NotContains(t, logs.String(), "revocation failed")
			} else {
				assert.Contains(t, logs.String(), "revocation failed", "the failure is logged")
			}
			providertest.Settle(t, base, a.closeIdle)
			assert.False(t, a.signedIn(b))
		})
	}
}

// TestFaultsBrowserGoesAway: a callback whose browser disconnects while the
// token endpoint hangs cancels the provider request (the AS handler sees its
// context end) long before ProviderTimeout.
func TestFaultsBrowserGoesAway(t *testing.T) {
	t.Parallel()
	cancelled := make(chan struct{})
	var once sync.Once
	a := newApp(t)
	a.as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		once.Do(func() { close(cancelled) })
	}
	b := a.browser()
	cb := a.approve(a.startLogin(b, "/auth/test/login"))
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.srv.URL+cb, nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		res, err := b.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return a.as.TokenHits.Load() == 1 }, budget(t), 5*time.Millisecond)
	cancel()
	require.True(t, errors.Is(<-done, context.Canceled))
	select {
	case <-cancelled:
	case <-time.After(budget(t)):
		t.Fatal("the token request was not cancelled when the browser left")
	}
	assert.EqualValues(t, 1, a.as.TokenHits.Load())
}

func TestStoreFaultLogin(t *testing.T) {
	t.Parallel()
	t.Run("commit fails, new browser", func(t *testing.T) {
		s := newStoreFaultApp(t)
		s.store.failCommit.Store(true)
		b := s.browser()
		for range 5 {
			res, body := s.do(b, http.MethodGet, "/auth/test/login?next=%2Fprofile", nil)
			s.is5xx(t, res, body)
			assert.Empty(t, res.Header.Get("Location"))
			assert.ErrorIs(t, s.takeErr(), oauthkit.ErrSession)
			assert.Equal(t, http.StatusInternalServerError, oauthkit.HTTPStatus(oauthkit.ErrSession))
		}
		assert.Zero(t, s.as.AuthorizeHits.Load())
		assert.Empty(t, s.sessionCookie(b), "no cookie for a session that was never saved")
		all, err := s.store.inner.All()
		require.NoError(t, err)
		assert.Empty(t, all, "nothing saved")
	})

	t.Run("find fails, returning browser", func(t *testing.T) {
		s := newStoreFaultApp(t)
		b := s.browser()
		s.startLogin(b, "/auth/test/login") // the browser now has a session
		s.store.failFind.Store(true)
		res, body := s.do(b, http.MethodGet, "/auth/test/login", nil)
		s.is5xx(t, res, body)
		assert.Empty(t, res.Header.Get("Location"))
		assert.EqualValues(t, 1, s.scsErrors.Load())
	})

	t.Run("lazy commit fails after the explicit one", func(t *testing.T) {
		// When something else modified the session in the request, the kit
		// puts the pending login in it and commits, and scs commits again
		// when the handler writes its header. Item 71 notes the
		// consequence: if only that second commit fails, scs answers 500
		// while the kit's Location header is already set. A 500 is never
		// followed by browsers, and the pending login was saved by the
		// kit's explicit commit, so no browser reaches the AS without it.
		s := newStoreFaultApp(t)
		s.srv.Config.Handler = s.sm.LoadAndSave(putFirst(s.sm, s.routes))
		s.store.failCommit.Store(true)
		s.store.commitOK.Store(1)
		b := s.browser()
		res, body := s.do(b, http.MethodGet, "/auth/test/login", nil)
		assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
		assert.NotContains(t, body, "secret page")
		assert.EqualValues(t, 2, s.store.commits.Load(), "explicit commit, then scs's lazy one")
		assert.EqualValues(t, 1, s.scsErrors.Load())
		assert.Zero(t, s.as.AuthorizeHits.Load())
		all, err := s.store.inner.All()
		require.NoError(t, err)
		assert.Len(t, all, 1, "the pending login was saved before any Location was set")
		assert.Empty(t, s.sessionCookie(b), "no cookie: the orphan expires with PendingTTL")
	})

	t.Run("commit fails, session modified earlier in the request", func(t *testing.T) {
		s := newStoreFaultApp(t)
		s.srv.Config.Handler = s.sm.LoadAndSave(putFirst(s.sm, s.routes))
		s.store.failCommit.Store(true)
		b := s.browser()
		res, body := s.do(b, http.MethodGet, "/auth/test/login", nil)
		s.is5xx(t, res, body)
		assert.Empty(t, res.Header.Get("Location"))
		assert.ErrorIs(t, s.takeErr(), oauthkit.ErrSession)
		assert.Zero(t, s.as.AuthorizeHits.Load())
	})

	t.Run("recovery", func(t *testing.T) {
		s := newStoreFaultApp(t)
		s.store.failCommit.Store(true)
		b := s.browser()
		res, body := s.do(b, http.MethodGet, "/auth/test/login", nil)
		s.is5xx(t, res, body)
		s.store.heal()
		res = s.login(b, "/auth/test/login")
		require.Equal(t, http.StatusFound, res.StatusCode, "first login after recovery: %v", s.lastErr())
		assert.True(t, s.signedIn(b))
		assert.EqualValues(t, 1, s.as.TokenHits.Load())
	})
}

func TestStoreFaultCallback(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		fail   func(*faultStore)
		tokens int64 // code exchanges the fault allows
		kitErr bool  // the kit (not scs's LoadAndSave) reports the failure
	}{
		// The session cannot be loaded: scs answers before the kit runs.
		{"find fails", func(s *faultStore) { s.failFind.Store(true) }, 0, false},
		// Consuming the pending login cannot be saved: refused before the
		// exchange, so a replay elsewhere cannot exchange the code either.
		{"commit fails", func(s *faultStore) { s.failCommit.Store(true) }, 0, true},
		// The old session cannot be deleted at token renewal (fixation
		// defence), after the exchange: no login.
		{"delete fails", func(s *faultStore) { s.failDel.Store(true) }, 1, true},
		// The signed-in session cannot be saved (the lazy commit after the
		// kit's explicit one): scs answers 500, the login is lost.
		{"final commit fails", func(s *faultStore) { s.failCommit.Store(true); s.commitOK.Store(1) }, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStoreFaultApp(t)
			b := s.browser()
			cb := s.approve(s.startLogin(b, "/auth/test/login?next=%2Fprofile"))
			s.drainErrs()
			c.fail(s.store)
			res, body := s.do(b, http.MethodGet, cb, nil)
			s.is5xx(t, res, body)
			if c.kitErr || c.tokens == 0 {
				assert.Empty(t, res.Header.Get("Location"))
			} // else scs's 500 carries the kit's inert Location (item 71)
			assert.Equal(t, c.tokens, s.as.TokenHits.Load(), "code exchanges")
			if c.kitErr {
				assert.ErrorIs(t, s.takeErr(), oauthkit.ErrSession)
			} else {
				assert.Positive(t, s.scsErrors.Load())
			}
			assert.Zero(t, s.served.Load())

			s.store.heal()
			assert.False(t, s.signedIn(b), "no login from a failed callback")
			assert.Zero(t, s.served.Load())
			res = s.login(b, "/auth/test/login")
			require.Equal(t, http.StatusFound, res.StatusCode, "first login after recovery: %v", s.lastErr())
			res, body = s.do(b, http.MethodGet, "/profile", nil)
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Contains(t, body, "secret page of test|")
		})
	}
}

func TestStoreFaultLogout(t *testing.T) {
	t.Parallel()
	s := newStoreFaultApp(t)
	b := s.browser()
	require.Equal(t, http.StatusFound, s.login(b, "/auth/test/login").StatusCode)
	s.store.failDel.Store(true)
	res, body := s.do(b, http.MethodPost, "/logout", nil)
	s.is5xx(t, res, body)
	assert.ErrorIs(t, s.takeErr(), oauthkit.ErrSession, "a logout that could not destroy the session says so")
	s.store.heal()
	res, _ = s.do(b, http.MethodPost, "/logout", nil)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.False(t, s.signedIn(b))
}

// TestCallbackStoreRoundTrips counts the session store operations of one
// successful callback on a real store (memstore behind faultStore's
// counters), and so what each remaining one buys:
//   - Find: the session holding the pending login (the state check);
//   - Commit before the code exchange, with the default in-process
//     StateClaimer only: a replay reaching another instance sharing the
//     store after it finds the state consumed. A configured (shared)
//     StateClaimer refuses that replay itself, so the commit is skipped;
//   - Delete: RenewToken removes the pre-login session, so its token finds
//     nothing (session fixation);
//   - Commit: the signed-in session under its new token.
func TestCallbackStoreRoundTrips(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name          string
		shared        bool
		commits, want int64
	}{
		{"default claimer", false, 2, 4},
		{"shared claimer", true, 1, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := newFaultStore()
			a := newApp(t, func(cfg *oauthkit.Config) {
				cfg.Sessions.Store = store
				if c.shared {
					cfg.StateClaimer = oauthkit.NewMemoryClaims(time.Now)
				}
			})
			b := a.browser()
			cb := a.approve(a.startLogin(b, "/auth/test/login?next=%2Fwelcome"))
			before := a.sessionCookie(b)
			store.finds.Store(0)
			store.commits.Store(0)
			store.dels.Store(0)
			res, body := a.do(b, http.MethodGet, cb, nil)
			require.Equal(t, http.StatusFound, res.StatusCode, "%s %v", body, a.lastErr())
			assert.Equal(t, "/welcome", res.Header.Get("Location"))
			assert.EqualValues(t, 1, store.finds.Load(), "finds")
			assert.EqualValues(t, c.commits, store.commits.Load(), "commits")
			assert.EqualValues(t, 1, store.dels.Load(), "deletes")
			assert.Equal(t, c.want, store.finds.Load()+store.commits.Load()+store.dels.Load(), "round trips")
			assert.NotEqual(t, before, a.sessionCookie(b), "token renewed")
			assert.False(t, a.inStore(before), "the pre-login session is gone")
			assert.True(t, a.signedIn(b))

			// The replay, after the login: refused, no second exchange.
			res, _ = a.do(b, http.MethodGet, cb, nil)
			assert.Equal(t, http.StatusBadRequest, res.StatusCode)
			assert.EqualValues(t, 1, a.as.TokenHits.Load())
		})
	}
}

// The callback's redirect is a bare 302: the Location and no HTML body for
// user agents that do not follow redirects (http.Redirect's).
func TestCallbackRedirectIsBare(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	res, body := a.do(b, http.MethodGet, a.approve(a.startLogin(b, "/auth/test/login?next=%2Fwelcome%3Fx%3D1")), nil)
	require.Equal(t, http.StatusFound, res.StatusCode, "%v", a.lastErr())
	assert.Equal(t, "/welcome?x=1", res.Header.Get("Location"))
	assert.Empty(t, body)
	assert.Empty(t, res.Header.Get("Content-Type"))
}
