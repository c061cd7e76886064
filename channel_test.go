package oauthkit_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/fakeas"
)

var (
	ada = fakeUser{ID: "ada", Email: "ada@example.com"}
	bob = fakeUser{ID: "bob", Email: "bob@example.com"}
)

// signIn logs a new browser in as u.
func (a *app) signIn(u fakeUser) *http.Client {
	a.t.Helper()
	b := a.browser()
	res, err := a.tryLogin(b, "/auth/test/login", u)
	require.NoError(a.t, err)
	require.Equal(a.t, http.StatusFound, res.StatusCode)
	require.True(a.t, a.signedIn(b))
	return b
}

// backChannel POSTs a logout token as the provider does and returns the
// status and the decoded JSON error (empty on success).
func backChannel(t *testing.T, a *app, as *fakeAS, token string) (int, map[string]string) {
	t.Helper()
	res, err := as.BackChannelLogout(context.Background(), a.srv.Client(), a.srv.URL+"/backchannel", token)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	var e map[string]string
	if res.StatusCode != http.StatusOK {
		assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
		require.NoError(t, json.Unmarshal(body, &e), string(body))
	}
	return res.StatusCode, e
}

// A logout token with a sid ends every app session of that provider
// session, and nobody else's; a replay of it is refused; one with only a
// sub ends all of that user's sessions.
func TestBackChannelLogout(t *testing.T) {
	t.Parallel()
	a, as := newOpenIDApp(t)
	ada1, ada2, bob1 := a.signIn(ada), a.signIn(ada), a.signIn(bob)

	tok := as.LogoutToken(fakeas.LogoutTokenOptions{Subject: ada.ID, SessionID: as.SessionID(ada.ID)})
	status, _ := backChannel(t, a, as, tok)
	require.Equal(t, http.StatusOK, status)
	assert.False(t, a.signedIn(ada1))
	assert.False(t, a.signedIn(ada2))
	assert.True(t, a.signedIn(bob1))

	ada3 := a.signIn(ada)
	status, e := backChannel(t, a, as, tok)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_request", e["error"])
	assert.Contains(t, e["error_description"], "already processed")
	assert.True(t, a.signedIn(ada3), "a replayed token ends nothing")

	status, _ = backChannel(t, a, as, as.LogoutToken(fakeas.LogoutTokenOptions{Subject: bob.ID}))
	require.Equal(t, http.StatusOK, status)
	assert.False(t, a.signedIn(bob1))
	assert.True(t, a.signedIn(ada3))
}

// A token naming an unknown sid answers 200 and ends nothing, even though
// its sub has sessions: a sid scopes the logout to that provider session.
func TestBackChannelLogoutUnknownSID(t *testing.T) {
	t.Parallel()
	a, as := newOpenIDApp(t)
	b := a.signIn(ada)
	status, _ := backChannel(t, a, as, as.LogoutToken(fakeas.LogoutTokenOptions{Subject: ada.ID, SessionID: "sid-unknown"}))
	assert.Equal(t, http.StatusOK, status)
	assert.True(t, a.signedIn(b))
}

// Every bad request gets 400 (405 for the method) with a JSON error naming
// the check, and ends no session.
func TestBackChannelLogoutRefusals(t *testing.T) {
	t.Parallel()
	a, as := newOpenIDApp(t)
	b := a.signIn(ada)
	sid := as.SessionID(ada.ID)
	now := time.Now()
	opts := func(mod func(*fakeas.LogoutTokenOptions)) string {
		o := fakeas.LogoutTokenOptions{Subject: ada.ID, SessionID: sid}
		mod(&o)
		return as.LogoutToken(o)
	}
	for name, tc := range map[string]struct {
		token string
		desc  string
	}{
		"another issuer":      {opts(func(o *fakeas.LogoutTokenOptions) { o.Issuer = "https://evil.example" }), "another issuer"},
		"another audience":    {opts(func(o *fakeas.LogoutTokenOptions) { o.Audience = "someone-else" }), "another client"},
		"a nonce":             {opts(func(o *fakeas.LogoutTokenOptions) { o.Nonce = "N" }), "claims"},
		"no events":           {opts(func(o *fakeas.LogoutTokenOptions) { o.NoEvents = true }), "claims"},
		"no jti":              {opts(func(o *fakeas.LogoutTokenOptions) { o.NoJTI = true }), "claims"},
		"neither sub nor sid": {opts(func(o *fakeas.LogoutTokenOptions) { o.Subject, o.SessionID = "", "" }), "claims"},
		"expired":             {opts(func(o *fakeas.LogoutTokenOptions) { o.IssuedAt = now.Add(-time.Hour) }), "expired"},
		"iat in the future": {opts(func(o *fakeas.LogoutTokenOptions) {
			o.IssuedAt = now.Add(time.Hour)
			o.ExpiresAt = now.Add(2 * time.Hour)
		}), "expired"},
		"unknown key": {opts(func(o *fakeas.LogoutTokenOptions) { o.UnknownKey = true }), "signature"},
		"alg none":    {opts(func(o *fakeas.LogoutTokenOptions) { o.Alg = "none" }), "signature"},
		"HS256":       {opts(func(o *fakeas.LogoutTokenOptions) { o.Alg = "HS256" }), "signature"},
		"not a JWT":   {"not-a-jwt", "signature"},
	} {
		t.Run(name, func(t *testing.T) {
			status, e := backChannel(t, a, as, tc.token)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Equal(t, "invalid_request", e["error"])
			assert.Contains(t, e["error_description"], tc.desc)
			assert.NotContains(t, e["error_description"], "evil", "the description is ours, not the token's")
		})
	}

	post := func(method, ctype, body string) (int, map[string]string) {
		req, err := http.NewRequest(method, a.srv.URL+"/backchannel", strings.NewReader(body))
		require.NoError(t, err)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := a.srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var e map[string]string
		if res.StatusCode != http.StatusOK {
			require.NoError(t, json.NewDecoder(res.Body).Decode(&e))
		}
		return res.StatusCode, e
	}
	good := url.Values{"logout_token": {opts(func(*fakeas.LogoutTokenOptions) {})}}
	status, _ := post(http.MethodGet, "", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	status, _ = post(http.MethodPost, "application/json", `{"logout_token":"x"}`)
	assert.Equal(t, http.StatusBadRequest, status)
	status, _ = post(http.MethodPost, "application/x-www-form-urlencoded", "")
	assert.Equal(t, http.StatusBadRequest, status)
	two := url.Values{"logout_token": {good.Get("logout_token"), good.Get("logout_token")}}
	status, _ = post(http.MethodPost, "application/x-www-form-urlencoded", two.Encode())
	assert.Equal(t, http.StatusBadRequest, status, "two tokens")
	status, _ = post(http.MethodPost, "application/x-www-form-urlencoded", "logout_token="+strings.Repeat("a", 70<<10))
	assert.Equal(t, http.StatusBadRequest, status, "oversized body")
	assert.True(t, a.signedIn(b), "no refused request ended the session")

	status, _ = post(http.MethodPost, "application/x-www-form-urlencoded; charset=utf-8", good.Encode())
	assert.Equal(t, http.StatusOK, status)
	assert.False(t, a.signedIn(b))
}

// failingEnded is an EndedSessions that fails every End after the first
// limit, as a store going down mid-way would.
type failingEnded struct {
	countingEnded
	limit atomic.Int64
}

func (f *failingEnded) End(ctx context.Context, token string, ttl time.Duration) error {
	if f.ends.Load() >= f.limit.Load() {
		f.ends.Add(1)
		return errRecordDown
	}
	return f.countingEnded.End(ctx, token, ttl)
}

// A store failing mid-way answers 500, keeps the jti unrecorded so the
// provider's retry ends the rest, and loses nothing of other users.
func TestBackChannelLogoutStoreFailing(t *testing.T) {
	t.Parallel()
	rec := &failingEnded{}
	rec.limit.Store(1 << 30)
	a, as := newOpenIDApp(t, func(c *oauthkit.Config) { c.EndedSessions = rec })
	ada1, ada2, bob1 := a.signIn(ada), a.signIn(ada), a.signIn(bob)
	tok := as.LogoutToken(fakeas.LogoutTokenOptions{SessionID: as.SessionID(ada.ID)})

	rec.limit.Store(rec.ends.Load() + 1) // one session ends, then the record fails
	status, e := backChannel(t, a, as, tok)
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Equal(t, "server_error", e["error"])
	assert.Contains(t, e["error_description"], "retry")
	inBacking := func(b *http.Client) bool { found, _, _ := a.stored(a.sessionCookie(b)); return found }
	assert.Equal(t, 1, boolCount(inBacking(ada1), inBacking(ada2)),
		"one session was deleted before the failure, the other is still in the shared store")
	assert.True(t, a.signedIn(bob1))

	rec.limit.Store(1 << 30)
	status, _ = backChannel(t, a, as, tok)
	assert.Equal(t, http.StatusOK, status, "the retry is not a replay")
	assert.False(t, a.signedIn(ada1))
	assert.False(t, a.signedIn(ada2))
	assert.True(t, a.signedIn(bob1))
}

func boolCount(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// Front-channel logout: iss and sid end that provider session's app
// sessions; the response may be framed by the provider only and is never
// cached; a partial or foreign request ends nothing.
func TestFrontChannelLogout(t *testing.T) {
	t.Parallel()
	a, as := newOpenIDApp(t)
	ada1, bob1 := a.signIn(ada), a.signIn(bob)

	get := func(q string) *http.Response {
		res, _ := a.do(a.browser(), http.MethodGet, "/frontchannel"+q, nil)
		return res
	}
	for _, q := range []string{"?iss=" + url.QueryEscape("https://evil.example") + "&sid=" + as.SessionID(ada.ID),
		"?sid=" + as.SessionID(ada.ID), "?iss=" + url.QueryEscape(as.URL)} {
		res := get(q)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, q)
	}
	assert.Equal(t, 3, a.drainErrs())
	res, _ := a.do(a.browser(), http.MethodPost, "/frontchannel", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	a.drainErrs()
	assert.True(t, a.signedIn(ada1))

	fres, err := as.FrontChannelLogout(context.Background(), a.srv.Client(), a.srv.URL+"/frontchannel", as.SessionID(ada.ID))
	require.NoError(t, err)
	fres.Body.Close()
	assert.Equal(t, http.StatusOK, fres.StatusCode)
	assert.Equal(t, "frame-ancestors "+as.URL, fres.Header.Get("Content-Security-Policy"))
	assert.Empty(t, fres.Header.Get("X-Frame-Options"))
	assert.Equal(t, "no-cache, no-store", fres.Header.Get("Cache-Control"))
	assert.False(t, a.signedIn(ada1))
	assert.True(t, a.signedIn(bob1))

	// Without iss and sid, the session the request carries ends (when the
	// iframe carries the cookie).
	res, _ = a.do(bob1, http.MethodGet, "/frontchannel", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.False(t, a.signedIn(bob1))
}

// The channel handlers refuse, at build time, providers they cannot serve.
func TestChannelLogoutHandlersNeedOpenID(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	assert.False(t, a.kit.Providers()[0].LogoutNotifications)
	o, _ := newOpenIDApp(t)
	assert.True(t, o.kit.Providers()[0].LogoutNotifications)
	assert.PanicsWithValue(t, `oauthkit: BackChannelLogoutHandler("test"): the provider is not an OpenID Connect provider with an issuer`,
		func() { a.kit.BackChannelLogoutHandler("test") })
	assert.Panics(t, func() { a.kit.FrontChannelLogoutHandler("test") })
	assert.Panics(t, func() { a.kit.BackChannelLogoutHandler("nope") })
}

// A failing index makes a front-channel logout a 500 (ErrSession) that
// ends nothing; the provider's next load of the iframe can retry.
func TestFrontChannelLogoutIndexFailing(t *testing.T) {
	t.Parallel()
	idx := &flakyIndex{}
	a, as := newOpenIDApp(t, func(c *oauthkit.Config) { c.SessionIndex = idx })
	b := a.signIn(ada)
	idx.down.Store(true)
	q := "?iss=" + url.QueryEscape(as.URL) + "&sid=" + as.SessionID(ada.ID)
	res, _ := a.do(a.browser(), http.MethodGet, "/frontchannel"+q, nil)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrSession)
	idx.down.Store(false)
	assert.True(t, a.signedIn(b))
	res, _ = a.do(a.browser(), http.MethodGet, "/frontchannel"+q, nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.False(t, a.signedIn(b))
}
