package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c Config)
		// errs are substrings the error must contain; none means valid.
		errs []string
	}{
		{
			name: "nothing set: embedded provider, memory sessions, defaults",
			env:  map[string]string{},
			check: func(t *testing.T, c Config) {
				assert.True(t, c.DevProvider())
				assert.Equal(t, ":8080", c.Addr)
				assert.Empty(t, c.BaseURL, "derived from the listener: http://localhost:8080 by default")
				assert.False(t, c.SecureCookies())
				assert.Empty(t, c.RedisURL)
				assert.Empty(t, c.DatabaseURL)
				assert.Empty(t, c.OTel, "no telemetry unless asked")
			},
		},
		{
			name:  "OpenTelemetry to stdout",
			env:   map[string]string{"OAUTHKIT_OTEL": "stdout"},
			check: func(t *testing.T, c Config) { assert.Equal(t, "stdout", c.OTel) },
		},
		{
			name: "GitHub and Google",
			env: map[string]string{
				"GITHUB_CLIENT_ID": "gh-id", "GITHUB_CLIENT_SECRET": "gh-secret",
				"GOOGLE_CLIENT_ID": " g-id ", "GOOGLE_CLIENT_SECRET": "g-secret",
				"BASE_URL": "https://app.example.com/", "ADDR": "127.0.0.1:9000",
			},
			check: func(t *testing.T, c Config) {
				assert.False(t, c.DevProvider(), "a configured provider turns the embedded one off")
				assert.Equal(t, &Credentials{"gh-id", "gh-secret"}, c.GitHub)
				assert.Equal(t, &Credentials{"g-id", "g-secret"}, c.Google, "values are trimmed")
				assert.Nil(t, c.OIDC)
				assert.Equal(t, "https://app.example.com", c.BaseURL)
				assert.True(t, c.SecureCookies(), "https BASE_URL: Secure cookies")
				assert.Equal(t, "127.0.0.1:9000", c.Addr)
			},
		},
		{
			name: "OpenID Connect issuer and Redis",
			env: map[string]string{
				"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "id", "OIDC_CLIENT_SECRET": "s",
				"REDIS_URL": "redis://127.0.0.1:6379/2",
			},
			check: func(t *testing.T, c Config) {
				require.NotNil(t, c.OIDC)
				assert.Equal(t, "https://id.example.com", c.OIDC.Issuer)
				assert.False(t, c.DevProvider())
				assert.Equal(t, "redis://127.0.0.1:6379/2", c.RedisURL)
			},
		},
		{
			name: "plain http on localhost is fine",
			env:  map[string]string{"BASE_URL": "http://localhost:3000", "DATABASE_URL": "postgres://u@localhost/db"},
			check: func(t *testing.T, c Config) {
				assert.False(t, c.SecureCookies())
				assert.Equal(t, "postgres://u@localhost/db", c.DatabaseURL)
			},
		},
		{name: "GitHub id without secret", env: map[string]string{"GITHUB_CLIENT_ID": "x"},
			errs: []string{"GITHUB_CLIENT_ID is set but GITHUB_CLIENT_SECRET is empty"}},
		{name: "Google secret without id", env: map[string]string{"GOOGLE_CLIENT_SECRET": "x"},
			errs: []string{"GOOGLE_CLIENT_SECRET is set but GOOGLE_CLIENT_ID is empty"}},
		{name: "OIDC issuer alone", env: map[string]string{"OIDC_ISSUER": "https://id.example.com"},
			errs: []string{"missing: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET"}},
		{name: "OIDC issuer over plain http", env: map[string]string{"OIDC_ISSUER": "http://id.example.com", "OIDC_CLIENT_ID": "a", "OIDC_CLIENT_SECRET": "b"},
			errs: []string{"OIDC_ISSUER", "https"}},
		{name: "plain http BASE_URL off localhost", env: map[string]string{"BASE_URL": "http://app.example.com"},
			errs: []string{"BASE_URL", "must use https"}},
		{name: "BASE_URL with a path", env: map[string]string{"BASE_URL": "https://app.example.com/app"},
			errs: []string{"must not have a path"}},
		{name: "bad ADDR", env: map[string]string{"ADDR": "8080"}, errs: []string{"ADDR \"8080\""}},
		{name: "two session stores", env: map[string]string{"REDIS_URL": "redis://h:1/0", "DATABASE_URL": "postgres://h/db"},
			errs: []string{"REDIS_URL and DATABASE_URL are both set"}},
		{name: "bad REDIS_URL", env: map[string]string{"REDIS_URL": "127.0.0.1:6379"}, errs: []string{"REDIS_URL must look like redis://"}},
		{name: "unknown OAUTHKIT_OTEL", env: map[string]string{"OAUTHKIT_OTEL": "otlp"}, errs: []string{`OAUTHKIT_OTEL "otlp"`, `"stdout"`}},
		{name: "bad DATABASE_URL", env: map[string]string{"DATABASE_URL": "mysql://h/db"}, errs: []string{"DATABASE_URL must look like postgres://"}},
		{
			name: "every problem at once",
			env:  map[string]string{"GITHUB_CLIENT_ID": "x", "GOOGLE_CLIENT_SECRET": "y", "BASE_URL": "ftp://x"},
			errs: []string{"GITHUB_CLIENT_SECRET is empty", "GOOGLE_CLIENT_ID is empty", "BASE_URL \"ftp://x\""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := configFromEnv(envMap(tt.env))
			if len(tt.errs) > 0 {
				require.Error(t, err)
				for _, e := range tt.errs {
					assert.Contains(t, err.Error(), e)
				}
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

// TestSecureCookieWithHTTPSBaseURL checks the cookie an https site sets.
func TestSecureCookieWithHTTPSBaseURL(t *testing.T) {
	cfg, err := configFromEnv(envMap(map[string]string{"BASE_URL": "https://app.example.com"}))
	require.NoError(t, err)
	a, base := startApp(t, cfg, "127.0.0.1")
	res, err := noFollow(browserlessClient(t)).Get(base + "/auth/dev/login")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusFound, res.StatusCode)
	cookies := res.Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	assert.Equal(t, "example_session", c.Name)
	assert.True(t, c.Secure)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Contains(t, res.Header.Get("Location"), "redirect_uri=https%3A%2F%2Fapp.example.com%2Fauth%2Fdev%2Fcallback")
	assert.NotEmpty(t, res.Header.Get("Strict-Transport-Security"))
	assert.NotNil(t, a.dev)
}

// TestOIDCIssuerPostLogoutURL: a provider configured by OIDC_ISSUER gets
// BASE_URL/logged-out as its post-logout redirect URL, so the provider
// sends the browser back there after logout, and its logout notification
// routes are mounted. The provider is a standalone embedded OP with that URL
// registered, as a real issuer would have it.
func TestOIDCIssuerPostLogoutURL(t *testing.T) {
	var site atomic.Pointer[http.Handler]
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*site.Load()).ServeHTTP(w, r)
	}))
	defer front.Close()
	dev, err := startDevProvider("", front.URL+"/auth/openid/callback", front.URL+"/logged-out")
	require.NoError(t, err)
	defer dev.Close()
	cfg, err := configFromEnv(envMap(map[string]string{
		"BASE_URL": front.URL, "OIDC_ISSUER": dev.Issuer, "OIDC_CLIENT_ID": dev.ClientID, "OIDC_CLIENT_SECRET": dev.ClientSecret,
	}))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := newApp(ctx, cfg, testLogger(t))
	require.NoError(t, err)
	defer a.Close()
	h := a.Handler()
	site.Store(&h)

	c := browserlessClient(t)
	loginHTTP(t, c, front.URL, "/auth/openid/login", "test-user2")
	res, err := noFollow(c).PostForm(front.URL+"/logout", nil)
	require.NoError(t, err)
	action, fields := endSessionForm(t, readPage(t, res))
	assert.Equal(t, dev.Issuer+"/end_session", action)
	assert.Equal(t, front.URL+"/logged-out", fields.Get("post_logout_redirect_uri"))
	res, err = noFollow(c).PostForm(action, fields)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusFound, res.StatusCode, "the provider accepts the registered URL")
	back, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "/logged-out", back.Path)
	home := get(t, c, back.String())
	assert.Equal(t, front.URL+"/", home.URL.String())

	issuer, err := url.Parse(dev.Issuer)
	require.NoError(t, err)
	fc := get(t, c, front.URL+"/auth/openid/frontchannel-logout")
	assert.Equal(t, http.StatusOK, fc.Status)
	assert.Equal(t, "frame-ancestors http://"+issuer.Host, fc.Header.Get("Content-Security-Policy"))
}

// TestRunStartsAndStops is `go run ./example_app` in-process: run with
// ADDR=127.0.0.1:0 serves the home page with the provider button, then
// shuts down cleanly when its context ends.
func TestRunStartsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- run(ctx, envMap(map[string]string{"ADDR": "127.0.0.1:0"}), logger, func(u string) { ready <- u })
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("run returned early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not become ready")
	}
	assert.Regexp(t, `^http://localhost:\d+$`, base, "BASE_URL defaults to localhost and the listener's port")
	p := get(t, browserlessClient(t), base+"/")
	assert.Equal(t, http.StatusOK, p.Status)
	assert.Contains(t, p.Body, `id="signin-dev"`)
	assert.Contains(t, p.Body, "Log in with Development provider")

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err, "graceful shutdown")
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := run(context.Background(), envMap(map[string]string{"GITHUB_CLIENT_ID": "x"}), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "GITHUB_CLIENT_SECRET is empty")
}

// TestUnreachableStoreFailsFast: a session store that cannot be reached
// stops the start with a message naming the variable.
func TestUnreachableStoreFailsFast(t *testing.T) {
	for _, tt := range []struct{ env, value, msg string }{
		{"REDIS_URL", "redis://127.0.0.1:1/0", "REDIS_URL: cannot reach Redis"},
		{"DATABASE_URL", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "DATABASE_URL: cannot reach PostgreSQL"},
	} {
		t.Run(tt.env, func(t *testing.T) {
			err := run(context.Background(), envMap(map[string]string{"ADDR": "127.0.0.1:0", tt.env: tt.value}),
				slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}
