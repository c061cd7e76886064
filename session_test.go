package oauthkit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// jsonCodec is an scs.Codec that is not gob: it keeps only what JSON
// round-trips (strings, numbers, booleans), as a site sharing sessions with
// another language would.
type jsonCodec struct{}

type jsonSession struct {
	Deadline time.Time      `json:"deadline"`
	Values   map[string]any `json:"values"`
}

func (jsonCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	return json.Marshal(jsonSession{deadline, values})
}

func (jsonCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	var s jsonSession
	err := json.Unmarshal(b, &s)
	return s.Deadline, s.Values, err
}

// The kit stores only strings, so any scs codec works: a whole login,
// protected page, token refresh, second tab and logout on a JSON codec.
func TestAnySessionCodecWorks(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(c *oauthkit.Config) { c.Sessions.Codec = jsonCodec{} })
	a.as.ExpiresIn = 60
	b := a.browser()
	otherTab := a.approve(a.startLogin(b, "/auth/test/login"))
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode, "%v", a.lastErr())
	assert.True(t, a.signedIn(b))
	assert.Equal(t, 1, a.pending(b))

	a.clock.Add(61 * time.Second)
	res, tok := a.do(b, http.MethodGet, "/api/token", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, tok, "at-")
	assert.EqualValues(t, 1, a.as.RefreshHits.Load())

	assert.Equal(t, http.StatusFound, a.get(b, otherTab).StatusCode, "%v", a.lastErr())
	res, _ = a.do(b, http.MethodPost, "/logout", nil)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.False(t, a.signedIn(b))
}

// Outside LoadAndSave every entry point behaves one documented way: the
// handlers and the middleware answer 500 with ErrNoSession, Token returns
// it, User reports no user; nothing panics.
func TestOutsideLoadAndSave(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	_, ok := a.kit.User(context.Background())
	assert.False(t, ok)
	_, err := a.kit.Token(context.Background())
	assert.ErrorIs(t, err, oauthkit.ErrNoSession)

	bare := http.NewServeMux()
	bare.Handle("/auth/test/login", a.kit.LoginHandler("test"))
	bare.Handle("/auth/test/callback", a.kit.CallbackHandler("test"))
	bare.Handle("/logout", a.kit.LogoutHandler())
	bare.Handle("/profile", a.kit.RequireAuth(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("RequireAuth let a request without session through")
	})))
	a.srv.Config.Handler = bare // no LoadAndSave
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/auth/test/login"}, {http.MethodGet, "/auth/test/callback?state=x&code=y"},
		{http.MethodPost, "/logout"}, {http.MethodGet, "/profile"},
	} {
		res, _ := a.do(a.browser(), r.method, r.path, nil)
		assert.Equal(t, http.StatusInternalServerError, res.StatusCode, r.path)
		assert.ErrorIs(t, a.takeErr(), oauthkit.ErrNoSession, r.path)
	}
}

// A login start saves the session once: when nothing else modified it in
// the request, the kit writes the record itself and LoadAndSave writes
// nothing more; the callback finds the pending login, and the session
// keeps its other values, deadline and cookie attributes.
func TestLoginStartWritesSessionOnce(t *testing.T) {
	t.Parallel()
	t.Run("new browser", func(t *testing.T) {
		s := newStoreFaultApp(t)
		b := s.browser()
		authURL := s.startLogin(b, "/auth/test/login?next=%2Fprofile")
		assert.EqualValues(t, 1, s.store.commits.Load(), "one write per login start")
		_, deadline, _ := s.stored(s.sessionCookie(b))
		assert.WithinDuration(t, s.clock.Now().Add(oauthkit.DefaultPendingTTL), deadline, time.Second)
		res := s.get(b, s.approve(authURL))
		require.Equal(t, http.StatusFound, res.StatusCode, "%v", s.lastErr())
		assert.Equal(t, "/profile", res.Header.Get("Location"))
		assert.True(t, s.signedIn(b))
	})
	t.Run("anonymous session with data", func(t *testing.T) {
		s := newStoreFaultApp(t)
		b := s.browser()
		s.putData(b, "cart-3-items")
		token := s.sessionCookie(b)
		_, before, _ := s.stored(token)
		commits := s.store.commits.Load()
		authURL := s.startLogin(b, "/auth/test/login")
		assert.EqualValues(t, 1, s.store.commits.Load()-commits, "one write per login start")
		assert.Equal(t, token, s.sessionCookie(b), "same session")
		found, after, values := s.stored(token)
		require.True(t, found)
		assert.Equal(t, before, after, "the session keeps its deadline")
		assert.Equal(t, "cart-3-items", values["app.data"])
		assert.Equal(t, 1, s.pending(b))
		require.Equal(t, http.StatusFound, s.get(b, s.approve(authURL)).StatusCode, "%v", s.lastErr())
		assert.True(t, s.signedIn(b))
		assert.Equal(t, "cart-3-items", s.data(b))
	})
	t.Run("session modified earlier in the request", func(t *testing.T) {
		s := newStoreFaultApp(t)
		s.srv.Config.Handler = s.sm.LoadAndSave(putFirst(s.sm, s.routes))
		b := s.browser()
		authURL := s.startLogin(b, "/auth/test/login")
		assert.EqualValues(t, 2, s.store.commits.Load(), "the kit's commit, then LoadAndSave's")
		_, _, values := s.stored(s.sessionCookie(b))
		assert.Equal(t, 1, values["app.visits"], "the middleware's change is saved")
		assert.Equal(t, 1, s.pending(b))
		require.Equal(t, http.StatusFound, s.get(b, s.approve(authURL)).StatusCode, "%v", s.lastErr())
		assert.True(t, s.signedIn(b))
	})
	t.Run("idle timeout", func(t *testing.T) {
		s := newStoreFaultApp(t)
		s.sm.IdleTimeout = 5 * time.Minute // shorter than PendingTTL
		b := s.browser()
		res := s.get(b, "/auth/test/login")
		require.Equal(t, http.StatusFound, res.StatusCode)
		assert.EqualValues(t, 1, s.store.commits.Load(), "a new session is unmodified until the kit's save")
		expiry := time.Unix(0, s.store.expiry.Load())
		assert.WithinDuration(t, time.Now().Add(5*time.Minute), expiry, time.Minute, "the record expires with the idle timeout")
		c := sessionCookie(t, res, s.sm.Cookie.Name)
		assert.InDelta(t, 300, c.MaxAge, 60, "the cookie expires with the idle timeout")
		// A loaded session is modified under an idle timeout (scs renews
		// its expiry): the kit commits and LoadAndSave saves it again.
		s.startLogin(b, "/auth/test/login")
		assert.EqualValues(t, 3, s.store.commits.Load())
		assert.Equal(t, 2, s.pending(b))
	})
	t.Run("HashTokenInStore", func(t *testing.T) {
		s := newStoreFaultApp(t)
		s.sm.HashTokenInStore = true
		b := s.browser()
		authURL := s.startLogin(b, "/auth/test/login")
		assert.EqualValues(t, 2, s.store.commits.Load(), "the kit saves through scs, which hashes the token")
		require.Equal(t, http.StatusFound, s.get(b, s.approve(authURL)).StatusCode, "%v", s.lastErr())
		assert.True(t, s.signedIn(b))
	})
}

// sessionCookie is the named cookie res sets.
func sessionCookie(t *testing.T, res *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", name, res.Header)
	return nil
}
