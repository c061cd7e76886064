package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeveralInstancesRedis: three app instances share one Redis; a login
// started on the first completes on the second, and the third serves the
// signed-in user. Needs REDIS_URL (redis://host:port/db).
func TestSeveralInstancesRedis(t *testing.T) {
	u := os.Getenv("REDIS_URL")
	if u == "" {
		t.Skip("REDIS_URL is not set (e.g. redis://127.0.0.1:6390/0): skipping the shared-Redis test")
	}
	testSeveralInstances(t, "REDIS_URL", u)
}

// TestSeveralInstancesPostgres is the same on PostgreSQL (the sessions
// table is created if missing). Needs DATABASE_URL.
func TestSeveralInstancesPostgres(t *testing.T) {
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		t.Skip("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5439/kit_test?sslmode=disable): skipping the shared-PostgreSQL test")
	}
	testSeveralInstances(t, "DATABASE_URL", u)
}

// testSeveralInstances puts three instances, configured from the
// environment like real deployments (OIDC_* against one shared provider,
// the same BASE_URL, the given session store), behind a front server whose
// backend the test picks for each request, as a load balancer would.
func testSeveralInstances(t *testing.T, storeVar, storeURL string) {
	var (
		target    atomic.Int32
		instances [3]atomic.Pointer[http.Handler]
		served    [3]atomic.Int32
	)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := target.Load()
		served[i].Add(1)
		(*instances[i].Load()).ServeHTTP(w, r)
	}))
	defer front.Close()

	// One provider for all instances, as a real issuer would be.
	dev, err := startDevProvider("", front.URL+"/auth/openid/callback", front.URL+"/logged-out")
	require.NoError(t, err)
	defer dev.Close()

	cfg, err := configFromEnv(envMap(map[string]string{
		"BASE_URL":           front.URL,
		"OIDC_ISSUER":        dev.Issuer,
		"OIDC_CLIENT_ID":     dev.ClientID,
		"OIDC_CLIENT_SECRET": dev.ClientSecret,
		storeVar:             storeURL,
	}))
	require.NoError(t, err)
	require.False(t, cfg.DevProvider(), "OIDC_ISSUER turns the embedded provider off")
	for i := range instances {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		a, err := newApp(ctx, cfg, testLogger(t))
		cancel()
		require.NoError(t, err)
		defer a.Close()
		require.Nil(t, a.dev)
		h := a.Handler()
		instances[i].Store(&h)
	}

	c := browserlessClient(t)
	// Follow redirects, but stop at the app's callback so the test can
	// choose which instance receives it.
	frontURL, _ := url.Parse(front.URL)
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == frontURL.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}

	// Instance 0: the login starts (state and PKCE verifier stored in the
	// shared session) and leads to the provider's form.
	target.Store(0)
	form := get(t, c, front.URL+"/auth/openid/login?next=%2Fprofile")
	require.Equal(t, devLoginPath, form.URL.Path)
	res := submitLogin(t, c, form, "test-user2", devPassword)
	res.Body.Close()
	require.Equal(t, http.StatusFound, res.StatusCode)
	callback, err := res.Request.URL.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "/auth/openid/callback", callback.Path)

	// Instance 1: the callback finds the pending login, exchanges the code
	// and signs the user in.
	target.Store(1)
	res, err = c.Get(callback.String())
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusFound, res.StatusCode, "instance 1 completes the login started on instance 0")
	assert.Equal(t, "/profile", res.Header.Get("Location"))

	// Instance 2: the user is signed in there too.
	target.Store(2)
	p := get(t, c, front.URL+"/profile")
	require.Equal(t, http.StatusOK, p.Status)
	assert.Equal(t, "/profile", p.URL.Path)
	assert.Contains(t, p.Body, "test-user2@example.com")
	for i := range served {
		assert.Positive(t, served[i].Load(), "instance %d served part of the flow", i)
	}

	// The provider API from instance 0, logout on instance 1, and instance
	// 2 no longer knows the user.
	target.Store(0)
	api := get(t, c, front.URL+"/api-demo")
	assert.Contains(t, api.Body, `&#34;sub&#34;: &#34;test-user2&#34;`)
	target.Store(1)
	res, err = c.PostForm(front.URL+"/logout", nil)
	require.NoError(t, err)
	logout := readPage(t, res)
	require.Equal(t, http.StatusOK, logout.Status, "the page that ends the provider session")
	assert.Contains(t, logout.Body, `action="`+dev.Issuer+`/end_session"`)
	target.Store(2)
	res, err = c.Get(front.URL + "/profile")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusFound, res.StatusCode)
	assert.Equal(t, "/login?next=%2Fprofile", res.Header.Get("Location"), "signed out on every instance")

	// Sign out everywhere, across instances: two browsers signed in
	// through instances 0 and 2; the button on instance 1 ends both, since
	// the instances share the session index.
	signIn := func(on int) *http.Client {
		b := browserlessClient(t)
		b.CheckRedirect = c.CheckRedirect
		target.Store(int32(on))
		form := get(t, b, front.URL+"/auth/openid/login")
		res := submitLogin(t, b, form, "test-user2", devPassword)
		res.Body.Close()
		cb, err := res.Request.URL.Parse(res.Header.Get("Location"))
		require.NoError(t, err)
		res, err = b.Get(cb.String())
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusFound, res.StatusCode)
		return b
	}
	onZero, onTwo := signIn(0), signIn(2)
	target.Store(1)
	res, err = onTwo.PostForm(front.URL+"/account/logout-everywhere", nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	for i := range instances {
		target.Store(int32(i))
		for _, b := range []*http.Client{onZero, onTwo} {
			res, err = b.Get(front.URL + "/profile")
			require.NoError(t, err)
			res.Body.Close()
			assert.Equal(t, http.StatusFound, res.StatusCode, "instance %d still signs a browser in after sign out everywhere", i)
		}
	}
}
