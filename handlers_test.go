package oauthkit_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/fakeas"
)

// putData stores v as the application's own session data in b's session.
func (a *app) putData(b *http.Client, v string) {
	a.t.Helper()
	res, _ := a.do(b, http.MethodPut, "/data?v="+v, nil)
	require.Equal(a.t, http.StatusOK, res.StatusCode)
}

func (a *app) data(b *http.Client) string {
	a.t.Helper()
	_, body := a.do(b, http.MethodGet, "/data", nil)
	return body
}

// A different user signing in over a signed-in session takes none of the
// previous user's data; the pending logins of other tabs survive. The same
// user signing in again keeps it.
func TestLoginAsAnotherUserDropsSessionData(t *testing.T) {
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

func (p *issProvider) Issuer() string              { return p.issuer }
func (p *issProvider) IssParameterSupported() bool { return p.advertise }

// When the metadata says the server sends iss, a callback without it is
// refused (400, state consumed, no code exchange); a matching iss is
// accepted whether advertised or not; a mismatch is always refused.
func TestCallbackIssParameter(t *testing.T) {
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
