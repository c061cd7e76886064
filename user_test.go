package oauthkit_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// mountKit adds a second kit on the app's session manager under prefix, with
// one provider "test" of its own fake AS, and a protected page and token
// route of its own.
func (a *app) mountKit(prefix string) (*oauthkit.Kit, *fakeAS) {
	a.t.Helper()
	as := newFakeAS(a.t)
	as.Now = a.clock.Now
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:  a.sm,
		Providers: []oauthkit.Provider{{Client: provider(a.t, as, "test"), RedirectURL: a.srv.URL + prefix + "/auth/test/callback"}},
		LoginPath: prefix + "/auth/test/login",
		Now:       a.clock.Now,
	})
	require.NoError(a.t, err)
	a.mux.Handle(prefix+"/auth/test/login", kit.LoginHandler("test"))
	a.mux.Handle(prefix+"/auth/test/callback", kit.CallbackHandler("test"))
	a.mux.Handle(prefix+"/profile", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	a.mux.HandleFunc(prefix+"/whoami", func(w http.ResponseWriter, r *http.Request) {
		_, signedIn := kit.User(r.Context())
		_, err := kit.Token(r.Context())
		fmt.Fprintf(w, "%v %v", signedIn, err)
	})
	return kit, as
}

// Two kits sharing one session manager (a public site and an admin area): a
// user signed in through one is anonymous to the other's RequireAuth, user
// accessor and Token.
func TestSessionsBelongToTheKitThatMadeThem(t *testing.T) {
	a := newApp(t)
	a.mountKit("/admin")
	a.mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		_, signedIn := a.kit.User(r.Context())
		_, err := a.kit.Token(r.Context())
		fmt.Fprintf(w, "%v %v", signedIn, err)
	})

	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/admin/auth/test/login").StatusCode)
	assert.Equal(t, http.StatusOK, a.get(b, "/admin/profile").StatusCode, "signed in to the admin kit")
	assert.Equal(t, http.StatusFound, a.get(b, "/profile").StatusCode, "anonymous to the public kit")
	_, body := a.do(b, http.MethodGet, "/whoami", nil)
	assert.Equal(t, "false "+oauthkit.ErrNotSignedIn.Error(), body)
	res, _ := a.do(b, http.MethodGet, "/api/token", http.Header{"Accept": {"application/json"}})
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)

	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	assert.Equal(t, http.StatusOK, a.get(b, "/profile").StatusCode)
	_, body = a.do(b, http.MethodGet, "/admin/whoami", nil)
	assert.Equal(t, "false "+oauthkit.ErrNotSignedIn.Error(), body, "and the other way round")
}

// A user whose provider was removed from the configuration is anonymous.
func TestRemovedProviderSignsNobodyIn(t *testing.T) {
	opt, _ := withProvider(t, "other")
	a := newApp(t, opt)
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/other/login").StatusCode)
	require.True(t, a.signedIn(b))

	// The same site restarted without "other": a new kit on the same store.
	only, err := oauthkit.New(oauthkit.Config{Sessions: a.sm, Providers: []oauthkit.Provider{
		{Client: provider(t, a.as, "test"), RedirectURL: a.srv.URL + "/auth/test/callback"}}})
	require.NoError(t, err)
	a.mux.Handle("/only-test/profile", only.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	assert.Equal(t, http.StatusFound, a.get(b, "/only-test/profile").StatusCode)
}

// Observed: a token 5 s past its expiry came back from the memory of a
// refresh made 65 s earlier. Token never returns an expired token: a
// remembered result that has expired is refreshed again, with its rotated
// refresh token, still one refresh at a time.
func TestTokenNeverReturnsAnExpiredRememberedRefresh(t *testing.T) {
	a := newApp(t)
	a.as.ExpiresIn = 60
	lw := make(chan struct{})
	loaded := make(chan struct{})
	a.mux.HandleFunc("GET /late-token", func(w http.ResponseWriter, r *http.Request) {
		_ = a.sm.Get(r.Context(), "oauthkit.token") // the session as it was loaded
		loaded <- struct{}{}
		<-lw
		tok, err := a.kit.Token(r.Context())
		if err != nil {
			http.Error(w, err.Error(), oauthkit.HTTPStatus(err))
			return
		}
		fmt.Fprintf(w, "%v", tok.Expired(a.clock.Now()))
	})
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	token := a.sessionCookie(b)

	a.clock.Add(61 * time.Second)
	done := make(chan string)
	go func() {
		res, body := a.do(a.withCookieClient(token), http.MethodGet, "/late-token", nil)
		done <- fmt.Sprint(res.StatusCode, " ", body)
	}()
	<-loaded // holds the login's token and refresh token
	res, _ := a.do(b, http.MethodGet, "/api/token", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.EqualValues(t, 1, a.as.RefreshHits.Load())

	a.clock.Add(65 * time.Second) // the refreshed token is now 5 s past expiry
	close(lw)
	assert.Equal(t, "200 false", <-done, "an expired token was returned")
	assert.EqualValues(t, 2, a.as.RefreshHits.Load(), "the remembered token was refreshed again")
}
