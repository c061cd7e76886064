package oauthkit_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// Two kits sharing one session manager (a public site and an admin area): a
// user signed in through one is anonymous to the other's RequireAuth, user
// accessor and Token.
func TestSessionsBelongToTheKitThatMadeThem(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// Kit.Token: a refresh that fails for a passing reason keeps the user signed
// in; a token that cannot be refreshed gives ErrReauthRequired and keeps the
// session as it is; a successful refresh is reported to OnTokenRefresh.
func TestTokenRefreshOutcomes(t *testing.T) {
	t.Parallel()
	apiToken := func(a *app, b *http.Client) int {
		res, err := b.Get(a.srv.URL + "/api/token")
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	t.Run("provider down keeps the session", func(t *testing.T) {
		a := newApp(t)
		a.as.ExpiresIn = 60
		b := a.browser()
		require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
		a.as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusInternalServerError)
		}
		a.clock.Add(61 * time.Second)
		assert.Equal(t, http.StatusBadGateway, apiToken(a, b))
		assert.NoError(t, a.lastErr(), "Token reports to its caller, not to the error handler")
		assert.True(t, a.signedIn(b), "a passing provider failure does not sign the user out")
	})
	t.Run("refresh answering an already expired token is an error, never handed out", func(t *testing.T) {
		a := newApp(t)
		a.as.ExpiresIn = 60
		b := a.browser()
		require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
		a.as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			// 5 s: inside Token's 10 s leeway, so expired on arrival.
			_, _ = io.WriteString(w, `{"access_token":"at-1-x-y","token_type":"Bearer","refresh_token":"rt-new","expires_in":5}`)
		}
		a.clock.Add(61 * time.Second)
		res, body := a.do(b, http.MethodGet, "/api/token", nil)
		assert.Equal(t, http.StatusBadGateway, res.StatusCode)
		assert.NotContains(t, body, "at-1-x-y")
		assert.True(t, a.signedIn(b))
	})
	t.Run("no refresh token needs reauth", func(t *testing.T) {
		a := newApp(t)
		a.as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"at-42-a@example.com-x","token_type":"Bearer","expires_in":60}`)
		}
		b := a.browser()
		require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
		a.clock.Add(61 * time.Second)
		assert.Equal(t, http.StatusUnauthorized, apiToken(a, b))
		assert.True(t, a.signedIn(b), "Token is a getter: it never signs the user out")
		assert.EqualValues(t, 1, a.as.TokenHits.Load(), "no refresh request without a refresh token")
	})
	t.Run("OnTokenRefresh sees the new token", func(t *testing.T) {
		var got []string
		var mu sync.Mutex
		a := newApp(t, func(c *oauthkit.Config) {
			c.OnTokenRefresh = func(_ context.Context, u *oauthkit.User, tok *client.Token) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, u.ID+"|"+tok.AccessToken)
			}
		})
		a.as.ExpiresIn = 60
		b := a.browser()
		require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
		a.clock.Add(61 * time.Second)
		assert.Equal(t, http.StatusOK, apiToken(a, b))
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, got, 1)
		assert.True(t, strings.HasPrefix(got[0], "1234567890123456789|at-"), got[0])
	})
}

// Row 44 / item 43 / G17: 50 concurrent requests on a session whose access
// token expired share one refresh, and the rotated refresh token is the
// one used next time.
func TestConcurrentTokenRefreshSharesOneRequest(t *testing.T) {
	t.Parallel()
	const n = 50
	a := newApp(t, withBudgetTimeout(t))
	a.as.ExpiresIn = 60
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	_, old := a.do(b, http.MethodGet, "/api/token", nil)
	a.clock.Add(51 * time.Second)

	bodies := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			res, err := b.Get(a.srv.URL + "/api/token")
			if err != nil {
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			bodies[i], codes[i] = string(body), res.StatusCode
		})
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, 1, a.as.RefreshHits.Load(), "exactly one refresh request")
	for i := range n {
		assert.Equal(t, http.StatusOK, codes[i], "request %d", i)
		assert.Equal(t, bodies[0], bodies[i], "request %d sees the same new token", i)
	}
	assert.NotEqual(t, old, bodies[0])

	// The old refresh token was rotated away at the fake AS: a second
	// refresh only succeeds if the session kept the new one.
	a.clock.Add(61 * time.Second)
	res, tok := a.do(b, http.MethodGet, "/api/token", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.NotEqual(t, bodies[0], tok)
	assert.EqualValues(t, 2, a.as.RefreshHits.Load())
}

// Item 45: invalid_grant on refresh asks for a new login after one attempt;
// Token is a getter and leaves signing out to the application.
func TestFailedRefreshNeedsReauth(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.as.ExpiresIn = 60
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	a.as.ForgetRefreshTokens() // the grant was revoked at the provider
	a.clock.Add(51 * time.Second)

	for range 3 {
		res, body := a.do(b, http.MethodGet, "/api/token", nil)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
		assert.Contains(t, body, oauthkit.ErrReauthRequired.Error())
		assert.NotContains(t, body, "rt-")
	}
	assert.EqualValues(t, 1, a.as.RefreshHits.Load(), "exactly one refresh attempt for a dead refresh token")
	assert.True(t, a.signedIn(b), "Token does not sign the user out")
	_, hasToken := a.session(b)["oauthkit.token"]
	assert.True(t, hasToken, "Token does not touch the session")
}
