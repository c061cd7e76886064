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
