package oauthkit_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/providertest"
)

// Secret hygiene (security.md item 65, goal G14): with marker values for the
// client secret, access token, refresh token and code, and the generated
// PKCE verifiers captured at the token endpoint, no marker appears in the
// kit's logs, in any response the app sends (status, headers, Location,
// Set-Cookie, body) or in any error the kit reports, across a successful
// login and every provider failure mode.

const (
	markAT   = "AT-MARK-1"
	markRT   = "RT-MARK-2"
	markCS   = "CS-MARK-3"
	markCode = "CODE-MARK-4"
)

// markerAS is a provider whose every answer is built around the markers.
type markerAS struct {
	srv *httptest.Server

	tokenMode, refreshMode, userMode, revokeMode atomic.Value // string

	mu        sync.Mutex
	verifiers []string
	tokenHits atomic.Int64
}

func newMarkerAS(t *testing.T) *markerAS {
	m := &markerAS{}
	for _, v := range []*atomic.Value{&m.tokenMode, &m.refreshMode, &m.userMode, &m.revokeMode} {
		v.Store("ok")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+markCode+"&state="+q.Get("state"), http.StatusFound)
	})
	mux.HandleFunc("POST /token", m.token)
	mux.HandleFunc("GET /user", m.user)
	mux.HandleFunc("GET /user/emails", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"email":"ada@example.com","primary":true,"verified":true}]`)
	})
	mux.HandleFunc("POST /revoke", m.revoke)
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

// everything is every marker plus the verifiers seen so far: what a
// careless provider might echo back.
func (m *markerAS) everything() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(append([]string{markAT, markRT, markCS, markCode}, m.verifiers...), " ")
}

func (m *markerAS) markers() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string{markAT, markRT, markCS, markCode}, m.verifiers...)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// faultAnswer writes the answer for a failure mode. Bodies echo every
// marker and verifier (all); error_description echoes what this request
// carried (sent), as a careless provider might ("the code X is invalid").
func (m *markerAS) faultAnswer(w http.ResponseWriter, mode string, r *http.Request) bool {
	all := m.everything()
	_ = r.ParseForm()
	sent := r.PostForm.Encode() + " " + r.Header.Get("Authorization")
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	switch mode {
	case "500 html":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "<html><b>"+all+"</b></html>")
	case "400 error, markers in other members":
		writeJSON(w, http.StatusBadRequest, `{"error":"invalid_grant","access_token":"`+markAT+`","refresh_token":"`+markRT+`","client_secret":"`+markCS+`"}`)
	case "200 error, markers in other members":
		writeJSON(w, http.StatusOK, `{"error":"bad_verification_code","access_token":"`+markAT+`","hint":`+q(all)+`}`)
	case "200 error, markers in error_description":
		writeJSON(w, http.StatusOK, `{"error":"bad_verification_code","error_description":`+q("invalid request: "+sent)+`}`)
	case "400 error, markers in error_description":
		writeJSON(w, http.StatusBadRequest, `{"error":"invalid_grant","error_description":`+q("token revoked; you sent "+sent)+`}`)
	case "truncated json":
		writeJSON(w, http.StatusOK, `{"access_token":"`+markAT+`","refresh_token":"`+markRT+`","tok`)
	case "bad expires_in":
		writeJSON(w, http.StatusOK, `{"access_token":"`+markAT+`","refresh_token":"`+markRT+`","expires_in":"zzz"}`)
	case "bad token_type":
		writeJSON(w, http.StatusOK, `{"access_token":"`+markAT+`","token_type":`+q("mac "+markAT)+`}`)
	case "401 with markers":
		writeJSON(w, http.StatusUnauthorized, `{"message":`+q("Bad credentials "+all)+`}`)
	case "200 html":
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html>"+all+"</html>")
	default:
		return false
	}
	return true
}

func (m *markerAS) token(w http.ResponseWriter, r *http.Request) {
	m.tokenHits.Add(1)
	_ = r.ParseForm()
	mode := m.tokenMode.Load().(string)
	if r.PostForm.Get("grant_type") == "refresh_token" {
		mode = m.refreshMode.Load().(string)
	}
	if v := r.PostForm.Get("code_verifier"); v != "" {
		m.mu.Lock()
		m.verifiers = append(m.verifiers, v)
		m.mu.Unlock()
	}
	if m.faultAnswer(w, mode, r) {
		return
	}
	writeJSON(w, http.StatusOK, `{"access_token":"`+markAT+`","refresh_token":"`+markRT+`","token_type":"Bearer","expires_in":60}`)
}

func (m *markerAS) user(w http.ResponseWriter, r *http.Request) {
	if m.faultAnswer(w, m.userMode.Load().(string), r) {
		return
	}
	writeJSON(w, http.StatusOK, `{"id":42,"login":"ada","email":null}`)
}

func (m *markerAS) revoke(w http.ResponseWriter, r *http.Request) {
	m.faultAnswer(w, m.revokeMode.Load().(string), r)
}

// captureTransport records every response the app sends to the browser.
type captureTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (c *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	dump, derr := httputil.DumpResponse(res, true)
	if derr != nil {
		return nil, derr
	}
	c.mu.Lock()
	c.buf.Write(dump)
	c.buf.WriteString("\n")
	c.mu.Unlock()
	return res, nil
}

func (c *captureTransport) String() string { c.mu.Lock(); defer c.mu.Unlock(); return c.buf.String() }

type secretsRig struct {
	*app
	mas     *markerAS
	logs    *syncBuffer
	capture *captureTransport
	errText strings.Builder
}

func newSecretsRig(t *testing.T) *secretsRig {
	r := &secretsRig{mas: newMarkerAS(t), logs: &syncBuffer{}}
	scheme, host, _ := strings.Cut(r.mas.srv.URL, "://")
	r.app = newApp(t, withLogs(r.logs), func(cfg *oauthkit.Config) {
		c, err := client.New(client.Config{
			ClientID: "cid", ClientSecret: markCS,
			AuthorizeEndpoint:    r.mas.srv.URL + "/authorize",
			AccessTokenEndpoint:  r.mas.srv.URL + "/token",
			RefreshTokenEndpoint: r.mas.srv.URL + "/token",
			RevokeTokenEndpoint:  r.mas.srv.URL + "/revoke",
		}, client.WithRevocationEndpointAuthMethod(client.ClientSecretPost), client.WithName("test"))
		require.NoError(t, err)
		// The user API is a real client.GitHub whose requests go to the
		// marker provider (/user, then /user/emails).
		gh, err := client.NewGitHub("cid", markCS, client.WithHTTPClient(&http.Client{
			Transport:     providertest.Rewrite{Scheme: scheme, Host: host},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}))
		require.NoError(t, err)
		cfg.Providers[0].Client = &kfUserAPI{OAuth2: c, gh: gh}
	})
	r.capture = &captureTransport{base: r.srv.Client().Transport}
	return r
}

func (r *secretsRig) browser() *http.Client {
	b := r.app.browser()
	b.Transport = r.capture
	return b
}

// collectErrs moves the errors the kit reported into errText, in every
// form a site might log them.
func (r *secretsRig) collectErrs() int {
	n := 0
	for err := r.lastErr(); err != nil; err = r.lastErr() {
		n++
		fmt.Fprintf(&r.errText, "%s\n%v\n%+v\n", err.Error(), err, err)
	}
	return n
}

func (r *secretsRig) assertClean(t *testing.T) {
	t.Helper()
	r.collectErrs()
	sources := map[string]string{
		"logs":          r.logs.String(),
		"responses":     r.capture.String(),
		"error strings": r.errText.String(),
	}
	markers := r.mas.markers()
	require.Greater(t, len(markers), 4, "verifiers captured")
	for name, text := range sources {
		require.NotEmpty(t, text, name)
		for _, m := range markers {
			if i := strings.Index(text, m); i >= 0 {
				t.Errorf("secret %q in %s: …%s…", m, name, text[max(0, i-150):min(len(text), i+50)])
			}
		}
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	r := newSecretsRig(t)

	// A successful login (and a page behind RequireAuth).
	b := r.browser()
	res := r.login(b, "/auth/test/login?next=%2Fprofile")
	require.Equal(t, http.StatusFound, res.StatusCode, "login: %v", r.lastErr())
	res, body := r.do(b, http.MethodGet, "/profile", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "test|42|ada@example.com", body)

	// Every token-endpoint failure.
	tokenModes := []string{
		"500 html", "400 error, markers in other members", "200 error, markers in other members",
		"200 error, markers in error_description", "400 error, markers in error_description",
		"truncated json", "bad expires_in",
	}
	for _, mode := range tokenModes {
		r.mas.tokenMode.Store(mode)
		res := r.login(r.browser(), "/auth/test/login")
		assert.GreaterOrEqual(t, res.StatusCode, 400, mode)
		assert.Equal(t, 1, r.collectErrs(), mode)
	}
	r.mas.tokenMode.Store("ok")

	// Every user-API failure.
	for _, mode := range []string{"500 html", "401 with markers", "400 error, markers in error_description", "200 html", "truncated json"} {
		r.mas.userMode.Store(mode)
		res := r.login(r.browser(), "/auth/test/login")
		assert.Equal(t, http.StatusBadGateway, res.StatusCode, mode)
		assert.Equal(t, 1, r.collectErrs(), mode)
	}
	r.mas.userMode.Store("ok")

	// Refresh failures: the token expires (60 s), the app asks for it.
	// The harness's /api/token writes err.Error() into its response.
	for _, mode := range []string{"500 html", "400 error, markers in error_description", "truncated json", "200 error, markers in error_description"} {
		r.mas.refreshMode.Store(mode)
		b := r.browser()
		require.Equal(t, http.StatusFound, r.login(b, "/auth/test/login").StatusCode)
		r.clock.Add(2 * time.Minute)
		res, _ := r.do(b, http.MethodGet, "/api/token", nil)
		assert.GreaterOrEqual(t, res.StatusCode, 400, mode)
	}
	r.mas.refreshMode.Store("ok")

	// Revocation failures at logout.
	for _, mode := range []string{"500 html", "400 error, markers in error_description", "401 with markers"} {
		r.mas.revokeMode.Store(mode)
		b := r.browser()
		require.Equal(t, http.StatusFound, r.login(b, "/auth/test/login").StatusCode)
		res, _ := r.do(b, http.MethodPost, "/logout", nil)
		assert.Equal(t, http.StatusSeeOther, res.StatusCode, mode)
	}
	assert.Contains(t, r.logs.String(), "revocation failed", "the failures were logged")

	r.assertClean(t)
}

// TestSecretsConfigOutput: printing or logging a client configuration, a
// client or a kit configuration never shows the client secret.
func TestSecretsConfigOutput(t *testing.T) {
	cc := client.Config{
		ClientID: "cid", ClientSecret: markCS,
		AuthorizeEndpoint:   "https://as.example/authorize",
		AccessTokenEndpoint: "https://as.example/token",
	}
	c, err := client.New(cc)
	require.NoError(t, err)
	gh, err := client.NewGitHub("cid", markCS)
	require.NoError(t, err)
	google, err := client.NewGoogle("cid", markCS)
	require.NoError(t, err)
	kitCfg := oauthkit.Config{Providers: []oauthkit.Provider{{Client: gh}, {Client: google}, {Client: c}}}

	var out strings.Builder
	for _, v := range []any{cc, &cc, c, gh, google, c.Config(), kitCfg, &kitCfg} {
		fmt.Fprintf(&out, "%v\n%+v\n%#v\n%s\n", v, v, v, v)
	}
	for _, h := range []slog.Handler{
		slog.NewTextHandler(&out, nil),
		slog.NewJSONHandler(&out, nil),
	} {
		l := slog.New(h)
		l.Info("config", "cfg", cc, "validated", c.Config(), "client", c, "kit", kitCfg)
		l.Info("config", slog.Any("cfg", &cc))
	}
	require.Contains(t, out.String(), "cid", "the output is not empty")
	assert.NotContains(t, out.String(), markCS)
}
