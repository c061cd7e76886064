package oauthkit_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
)

// withPAR gives the app's provider a client that pushes its
// authorization requests to endpoint ("": the fake AS's PAR endpoint),
// forwarding login_hint from the login route and adding ui_locales.
func withPAR(t *testing.T, endpoint string) appOption {
	return func(cfg *oauthkit.Config) {
		tp := cfg.Providers[0].Client.(*fakeas.Provider)
		c, err := tp.PAR()
		require.NoError(t, err)
		if endpoint != "" {
			cc := tp.Config()
			cc.PushedAuthorizationEndpoint = endpoint
			oc, err := client.New(cc, append(fakeas.Options(tp.Name(), nil), client.WithPushedAuthorization())...)
			require.NoError(t, err)
			c = tp.WithOAuth2(oc)
		}
		cfg.Providers[0].Client = c
		cfg.Providers[0].LoginParams = []string{"login_hint"}
		cfg.Providers[0].AuthParams = client.Values{"ui_locales": {"fr"}}
	}
}

// A provider whose client pushes: the login pushes state, PKCE, redirect
// URI, scope, the configured and the forwarded parameters, binds the same
// state and verifier in the session, and redirects with client_id and
// request_uri only; the login then completes at a server that refuses
// unpushed requests.
func TestLoginPushesAuthorizationRequest(t *testing.T) {
	t.Parallel()
	a := newApp(t, withPAR(t, ""))
	a.as.RequirePAR = true
	b := a.browser()

	authURL := a.startLogin(b, "/auth/test/login?login_hint=ada%40example.com&next=%2Fprofile")
	assert.Equal(t, a.as.URL+"/authorize", authURL.Scheme+"://"+authURL.Host+authURL.Path)
	q := authURL.Query()
	assert.Equal(t, []string{"client_id", "request_uri"}, slices.Sorted(maps.Keys(q)))
	assert.Equal(t, fakeas.ClientID, q.Get("client_id"))
	require.EqualValues(t, 1, a.as.PARHits.Load())
	assert.Zero(t, a.as.AuthorizeHits.Load())

	pushed := a.as.Pushed()
	require.Len(t, pushed, 1)
	p := pushed[0]
	assert.Equal(t, "code", p.Get("response_type"))
	assert.Equal(t, a.srv.URL+"/auth/test/callback", p.Get("redirect_uri"))
	assert.Equal(t, "user", p.Get("scope"))
	assert.Equal(t, "S256", p.Get("code_challenge_method"))
	assert.Len(t, p.Get("code_challenge"), 43)
	assert.Equal(t, "ada@example.com", p.Get("login_hint"))
	assert.Equal(t, "fr", p.Get("ui_locales"))
	require.NotEmpty(t, p.Get("state"))

	// The session binds the pushed state (and its verifier: the code
	// exchange below checks PKCE).
	assert.Equal(t, 1, a.pending(b))
	raw, _ := a.session(b)["oauthkit.pending"].(string)
	assert.Equal(t, []string{p.Get("state")}, oauthkit.PendingStates(raw))

	res := a.get(b, a.approve(authURL))
	require.Equal(t, http.StatusFound, res.StatusCode)
	assert.Equal(t, "/profile", res.Header.Get("Location"))
	assert.True(t, a.signedIn(b))
	assert.EqualValues(t, 1, a.as.TokenOK.Load())

	// The request_uri was used up by the login.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	again, err := noFollow.Get(authURL.String())
	require.NoError(t, err)
	again.Body.Close()
	assert.Equal(t, http.StatusBadRequest, again.StatusCode)
}

// The server of the test above refuses unpushed requests, so the login
// there proves the kit pushed.
func TestLoginWithoutPushRefusedByPARServer(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.as.RequirePAR = true
	b := a.browser()
	authURL := a.startLogin(b, "/auth/test/login")
	res, err := http.Get(authURL.String())
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Zero(t, a.as.PARHits.Load())
}

// A push the provider refuses or answers unusably is the error page (502)
// with no Location and no pending login; the browser never reaches the
// provider.
func TestLoginPushRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		h     http.HandlerFunc
		check func(t *testing.T, err error)
	}{
		{"oauth error", parAnswer(http.StatusBadRequest, `{"error":"invalid_request","error_description":"csecret at-1"}`),
			func(t *testing.T, err error) {
				var oe *client.OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "invalid_request", oe.Code)
				assert.NotContains(t, err.Error(), "csecret")
			}},
		{"no request_uri", parAnswer(http.StatusCreated, `{"expires_in":60}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, client.ErrInvalidResponse) }},
		{"expired", parAnswer(http.StatusCreated, `{"request_uri":"urn:x","expires_in":0}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, client.ErrInvalidResponse) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t, withPAR(t, ""))
			a.as.PARHandler = tc.h
			b := a.browser()
			res, body := a.do(b, http.MethodGet, "/auth/test/login?next=%2Fprofile", nil)
			err := a.rejected(res, body, http.StatusBadGateway, oauthkit.ErrPushAuthorization)
			assert.ErrorIs(t, err, client.ErrPushAuthorization)
			tc.check(t, err)
			assert.Contains(t, body, "could not complete the login")
			assert.EqualValues(t, 1, a.as.PARHits.Load(), "pushed once, never retried")
			assert.Zero(t, a.as.AuthorizeHits.Load())
			assert.Zero(t, a.pending(b), "no pending login for a request the provider does not hold")
		})
	}
}

// The login fault catalogue at the PAR endpoint: 502 (504 for the hangs),
// ErrPushAuthorization with the cause, no Location, one request, no
// pending login.
func TestFaultsPAREndpoint(t *testing.T) {
	for _, f := range kfFaults() {
		t.Run(f.name, func(t *testing.T) {
			e := kfServe(t, f)
			a := newApp(t, kfTimeout(t, f), withPAR(t, e.base+"/par"))
			b := a.browser()
			res, body := a.do(b, http.MethodGet, "/auth/test/login", nil)
			want := http.StatusBadGateway
			if f.hang {
				want = http.StatusGatewayTimeout
			}
			err := a.rejected(res, body, want, oauthkit.ErrPushAuthorization, "upstream exploded")
			assert.ErrorIs(t, err, client.ErrPushAuthorization)
			f.cause(t, err)
			assert.Equal(t, e.wantHits(f), e.hits.Load(), "requests to the faulty endpoint (no retry)")
			assert.Zero(t, e.otherHits.Load(), "redirect target never contacted")
			assert.Zero(t, a.as.AuthorizeHits.Load())
			assert.Zero(t, a.pending(b))
		})
	}
}

func parAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = fmt.Fprint(w, body)
	}
}

// A session store that cannot save the pending login is the error page,
// even after a successful push: no browser goes to the provider with a
// request_uri whose state this site cannot recognise.
func TestLoginPushCommitFails(t *testing.T) {
	t.Parallel()
	store := newFaultStore()
	a := newApp(t, withPAR(t, ""), func(cfg *oauthkit.Config) { cfg.Sessions.Store = store })
	store.failCommit.Store(true)
	res, _ := a.do(a.browser(), http.MethodGet, "/auth/test/login", nil)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.Empty(t, res.Header.Get("Location"))
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrSession)
	assert.EqualValues(t, 1, a.as.PARHits.Load())
	assert.Zero(t, a.as.AuthorizeHits.Load())
}

// A reserved parameter is the site's configuration error (500), refused
// before any push, as AuthCodeURL refuses it.
func TestLoginPushReservedParam(t *testing.T) {
	t.Parallel()
	a := newApp(t, withPAR(t, ""), func(cfg *oauthkit.Config) {
		cfg.Providers[0].AuthParams = client.Values{"state": {"fixed"}}
	})
	res, body := a.do(a.browser(), http.MethodGet, "/auth/test/login", nil)
	err := a.rejected(res, body, http.StatusInternalServerError, client.ErrInvalidConfig)
	assert.NotErrorIs(t, err, oauthkit.ErrPushAuthorization)
	assert.Zero(t, a.as.PARHits.Load())
}

// claimsPAR reports PushedAuthorization without implementing
// client.AuthorizationPusher.
type claimsPAR struct{ client.Provider }

func (c claimsPAR) Capabilities() client.Capabilities {
	caps := c.Provider.Capabilities()
	caps.PushedAuthorization = true
	return caps
}

func TestNewRefusesPushedAuthorizationWithoutPusher(t *testing.T) {
	t.Parallel()
	as := newFakeAS(t)
	sm := scs.New()
	_, err := oauthkit.New(oauthkit.Config{Sessions: sm, Providers: []oauthkit.Provider{{
		Client: claimsPAR{provider(t, as, "test")}, RedirectURL: "http://127.0.0.1/cb",
	}}})
	assert.ErrorIs(t, err, oauthkit.ErrInvalidConfig)

	p, err := provider(t, as, "test").PAR()
	require.NoError(t, err)
	_, err = oauthkit.New(oauthkit.Config{Sessions: sm, Providers: []oauthkit.Provider{{
		Client: p, RedirectURL: "http://127.0.0.1/cb",
	}}})
	assert.NoError(t, err)
}

func TestHTTPStatusPushAuthorization(t *testing.T) {
	t.Parallel()
	assert.Equal(t, http.StatusBadGateway, oauthkit.HTTPStatus(oauthkit.ErrPushAuthorization))
	timeout := fmt.Errorf("%w: %w", oauthkit.ErrPushAuthorization, &net.OpError{Op: "dial", Err: context.DeadlineExceeded})
	assert.Equal(t, http.StatusGatewayTimeout, oauthkit.HTTPStatus(timeout))
	assert.False(t, errors.Is(oauthkit.ErrPushAuthorization, oauthkit.ErrExchange))
}
