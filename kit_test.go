package oauthkit_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFullLoginFlow(t *testing.T) {
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

func (formPostProvider) UsesFormPost() bool { return true }

func TestFormPostCallbackBecomesGET(t *testing.T) {
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
	a := newApp(t)
	b := a.browser()
	res, err := b.PostForm(a.srv.URL+"/auth/test/callback", url.Values{"code": {"c"}, "state": {"s"}})
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	assert.Equal(t, http.MethodGet, res.Header.Get("Allow"))
	assert.ErrorIs(t, a.lastErr(), oauthkit.ErrMethodNotAllowed)
}

// Outside LoadAndSave every entry point behaves one documented way: the
// handlers and the middleware answer 500 with ErrNoSession, Token returns
// it, User reports no user; nothing panics.
func TestOutsideLoadAndSave(t *testing.T) {
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

// A handler for a provider the kit does not have fails when it is built,
// as http.ServeMux does on a bad pattern.
func TestUnknownProviderPanicsAtBuild(t *testing.T) {
	a := newApp(t)
	assert.PanicsWithValue(t, `oauthkit: LoginHandler("nope"): no such provider (configured: test)`, func() { a.kit.LoginHandler("nope") })
	assert.Panics(t, func() { a.kit.CallbackHandler("nope") })
}

// claimerFunc adapts a function to oauthkit.StateClaimer.
type claimerFunc func(ctx context.Context, state string, ttl time.Duration) (bool, error)

func (f claimerFunc) Claim(ctx context.Context, state string, ttl time.Duration) (bool, error) {
	return f(ctx, state, ttl)
}

// A shared StateClaimer decides single use: a refusal is a replay (400), a
// failure is a store failure (500); neither reaches the token endpoint.
func TestStateClaimerDecides(t *testing.T) {
	for _, tc := range []struct {
		name   string
		won    bool
		err    error
		status int
		want   error
	}{
		{"claimed elsewhere", false, nil, http.StatusBadRequest, oauthkit.ErrStateNotFound},
		{"claimer down", false, errors.New("redis: connection refused"), http.StatusInternalServerError, oauthkit.ErrSession},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotTTL time.Duration
			a := newApp(t, func(c *oauthkit.Config) {
				c.StateClaimer = claimerFunc(func(_ context.Context, _ string, ttl time.Duration) (bool, error) {
					gotTTL = ttl
					return tc.won, tc.err
				})
			})
			b := a.browser()
			res := a.get(b, a.approve(a.startLogin(b, "/auth/test/login")))
			assert.Equal(t, tc.status, res.StatusCode)
			assert.ErrorIs(t, a.lastErr(), tc.want)
			assert.EqualValues(t, 0, a.as.TokenHits.Load())
			assert.Equal(t, oauthkit.DefaultPendingTTL, gotTTL)
		})
	}
}

// A form_post body the kit cannot read (here: over the 16 KiB bound) is a
// 400, and nothing is carried over to a GET.
func TestFormPostMalformedBody(t *testing.T) {
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

// Kit.Token: a refresh that fails for a passing reason keeps the user signed
// in; a token that cannot be refreshed gives ErrReauthRequired and keeps the
// session as it is; a successful refresh is reported to OnTokenRefresh.
func TestTokenRefreshOutcomes(t *testing.T) {
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
