package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	// The embedded provider logs every request through slog's default
	// logger; keep only warnings in test output.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}

// testClock is a clock the test can move forward.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startApp serves an app built from cfg on a loopback port and returns it
// with its base URL. host is the host name of the base URL ("127.0.0.1" or
// "localhost").
func startApp(t *testing.T, cfg Config, host string) (*app, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + host + ":" + port
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := newApp(ctx, cfg, testLogger(t))
	if err != nil {
		ln.Close()
		require.NoError(t, err)
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		a.Close()
	})
	return a, "http://" + host + ":" + port
}

// addTokenRoute adds GET /test/token, which shows the session's provider
// token (kit.Token, refreshed when expired) so a test can present it to the
// provider directly.
func addTokenRoute(a *app) {
	a.mux.HandleFunc("GET /test/token", func(w http.ResponseWriter, r *http.Request) {
		tok, err := a.kit.Token(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if u, ok := a.kit.User(r.Context()); ok && tok.RefreshToken == "" {
			// The app has a TokenStore: the refresh token lives there only.
			if tok, err = a.kit.TokenFor(r.Context(), u.UserID, u.Provider); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"access": tok.AccessToken, "refresh": tok.RefreshToken})
	})
}

type tokenPair struct{ Access, Refresh string }

func getToken(t *testing.T, c *http.Client, base string) tokenPair {
	t.Helper()
	res, err := c.Get(base + "/test/token")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var m map[string]string
	require.NoError(t, json.NewDecoder(res.Body).Decode(&m))
	require.NotEmpty(t, m["access"])
	require.NotEmpty(t, m["refresh"], "the embedded provider issues a refresh token for offline_access")
	return tokenPair{m["access"], m["refresh"]}
}

// browserlessClient is an HTTP client with a cookie jar that follows
// redirects, as a browser would.
func browserlessClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

// noFollow returns a copy of c that does not follow redirects.
func noFollow(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

type page struct {
	Status int
	URL    *url.URL
	Body   string
	Header http.Header
}

func get(t *testing.T, c *http.Client, u string) page {
	t.Helper()
	res, err := c.Get(u)
	require.NoError(t, err)
	return readPage(t, res)
}

func readPage(t *testing.T, res *http.Response) page {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return page{Status: res.StatusCode, URL: res.Request.URL, Body: string(b), Header: res.Header}
}

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	hiddenRe   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// endSessionForm reads the kit's auto-submitting logout page on p: the
// form's target and its hidden fields.
func endSessionForm(t *testing.T, p page) (string, url.Values) {
	t.Helper()
	action := formAction.FindStringSubmatch(p.Body)
	require.NotNil(t, action, "no form on the logout page: %s", p.Body)
	fields := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(p.Body, -1) {
		fields.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return html.UnescapeString(action[1]), fields
}

// devLoginPath is the path of the embedded provider's login page.
const devLoginPath = "/oauthkittest/login"

// submitLogin fills in the password form of the embedded provider's login
// page shown on p and submits it with c, returning the response (after
// whatever redirects c follows).
func submitLogin(t *testing.T, c *http.Client, p page, username, password string) *http.Response {
	t.Helper()
	require.Equal(t, http.StatusOK, p.Status, "login page: %s", p.Body)
	require.Equal(t, devLoginPath, p.URL.Path, "not the provider's login page")
	form := regexp.MustCompile(`(?s)<form[^>]*id="password-form"[^>]*>.*?</form>`).FindString(p.Body)
	require.NotEmpty(t, form, "no password form on the provider's login page: %s", p.Body)
	action := formAction.FindStringSubmatch(form)
	require.NotNil(t, action)
	fields := url.Values{"username": {username}, "password": {password}}
	for _, m := range hiddenRe.FindAllStringSubmatch(form, -1) {
		fields.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	require.NotEmpty(t, fields.Get("authRequestID"), "no authorization request id in the password form")
	target, err := p.URL.Parse(html.UnescapeString(action[1]))
	require.NoError(t, err)
	res, err := c.PostForm(target.String(), fields)
	require.NoError(t, err)
	return res
}

// loginHTTP signs in through the embedded provider from the app page at
// startURL (the first button is followed) and returns the page it lands on.
func loginHTTP(t *testing.T, c *http.Client, base, loginPath, username string) page {
	t.Helper()
	form := get(t, c, base+loginPath)
	require.Equal(t, devLoginPath, form.URL.Path, "the login route must lead to the provider's login page")
	return readPage(t, submitLogin(t, c, form, username, devPassword))
}

// opRefresh presents refreshToken to the provider's token endpoint and
// returns the HTTP status and the OAuth error code.
func opRefresh(t *testing.T, d *devProvider, refreshToken string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.Issuer+"/oauth/token", strings.NewReader(url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(d.ClientID), url.QueryEscape(d.ClientSecret))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.Error
}

// opUserinfo calls the provider's userinfo endpoint and returns the status.
func opUserinfo(t *testing.T, d *devProvider, accessToken string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.Issuer+"/userinfo", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return res.StatusCode
}

// envMap turns a map into a getenv function.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}
