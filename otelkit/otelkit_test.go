package otelkit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
	"github.com/oauthkit/oauthkit/otelkit"
)

// site is a kit on loopback signing in through the fake OpenID Connect
// provider (ID tokens, refresh, revocation, end_session), observed by
// otelkit into an in-memory span recorder and a manual metric reader. Every
// secret of the flow is collected as it passes (callback URLs, token
// requests and responses) so the tests can look for it in the telemetry.
type site struct {
	t       *testing.T
	as      *fakeas.Server
	srv     *httptest.Server
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
	later   atomic.Int64 // how far the clock has jumped
	browser *http.Client

	mu      sync.Mutex
	secrets map[string]string // value → what it is
	// httpSpans are the spans the provider requests ran in, by path.
	httpSpans map[string][]trace.SpanID
}

func newSite(t *testing.T) *site {
	s := &site{t: t, spans: tracetest.NewSpanRecorder(), metrics: sdkmetric.NewManualReader(),
		secrets: map[string]string{}, httpSpans: map[string][]trace.SpanID{}}
	now := func() time.Time { return time.Now().Add(time.Duration(s.later.Load())) }
	s.as = fakeas.New(t)
	s.as.Now = now
	s.as.EnableOpenID()
	idp, err := s.as.OpenIDClient(context.Background(), "idp", &http.Client{Transport: (*recordingTransport)(s)})
	require.NoError(t, err)
	s.srv = httptest.NewUnstartedServer(nil)
	t.Cleanup(s.srv.Close)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.metrics))
	sm := scs.New()
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:       sm,
		Providers:      []oauthkit.Provider{{Client: idp, RedirectURL: "http://" + s.srv.Listener.Addr().String() + "/auth/idp/callback", LocalLogout: true}},
		RevokeOnLogout: true,
		Logger:         slog.New(slog.DiscardHandler),
		Now:            now,
		Observer:       otelkit.New(otelkit.WithTracerProvider(tp), otelkit.WithMeterProvider(mp)),
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/auth/idp/login", kit.LoginHandler("idp"))
	mux.Handle("/auth/idp/callback", kit.CallbackHandler("idp"))
	mux.Handle("/logout", kit.LogoutHandler())
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "signed out") })
	mux.Handle("/api", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := kit.Token(r.Context())
		if err != nil {
			http.Error(w, "no token", oauthkit.HTTPStatus(err))
			return
		}
		s.secret(tok.AccessToken, "access token")
		_, _ = io.WriteString(w, "ok")
	})))
	mux.Handle("/", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := kit.User(r.Context())
		_, _ = io.WriteString(w, "hello "+u.Email)
	})))
	s.srv.Config.Handler = sm.LoadAndSave(mux)
	s.srv.Start()
	jar, _ := cookiejar.New(nil)
	s.browser = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		s.secretsOf(req.URL) // the authorization request and the callback
		return nil
	}}
	s.secret(fakeas.DefaultUser.Email, "email")
	return s
}

func (s *site) secret(v, what string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	if _, seen := s.secrets[v]; !seen { // named where it first passed
		s.secrets[v] = what
	}
	s.mu.Unlock()
}

// secretsOf collects the protocol values of an authorization request or
// callback URL.
func (s *site) secretsOf(u *url.URL) {
	q := u.Query()
	for _, k := range []string{"code", "state", "nonce", "code_challenge", "error_description"} {
		s.secret(q.Get(k), k)
	}
}

// recordingTransport is the provider client's transport: it records the
// span each request runs in and every secret of the token endpoint's
// requests and answers.
type recordingTransport site

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := (*site)(rt)
	s.mu.Lock()
	s.httpSpans[req.URL.Path] = append(s.httpSpans[req.URL.Path], trace.SpanContextFromContext(req.Context()).SpanID())
	s.mu.Unlock()
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		for _, k := range []string{"code", "code_verifier", "refresh_token", "token", "client_secret"} {
			s.secret(form.Get(k), k)
		}
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/token") {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	var tok struct{ AccessToken, RefreshToken, IDToken string }
	var raw map[string]any
	if json.Unmarshal(body, &raw) == nil {
		tok.AccessToken, _ = raw["access_token"].(string)
		tok.RefreshToken, _ = raw["refresh_token"].(string)
		tok.IDToken, _ = raw["id_token"].(string)
	}
	s.secret(tok.AccessToken, "access token")
	s.secret(tok.RefreshToken, "refresh token")
	s.secret(tok.IDToken, "ID token")
	return res, nil
}

func (s *site) get(path string) (int, string) {
	s.t.Helper()
	res, err := s.browser.Get(s.srv.URL + path)
	require.NoError(s.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// startLogin runs the login handler alone and returns the authorization
// URL, so a test can forge the provider's answer.
func (s *site) startLogin() *url.URL {
	s.t.Helper()
	noFollow := *s.browser
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := noFollow.Get(s.srv.URL + "/auth/idp/login")
	require.NoError(s.t, err)
	res.Body.Close()
	require.Equal(s.t, http.StatusFound, res.StatusCode)
	u, err := url.Parse(res.Header.Get("Location"))
	require.NoError(s.t, err)
	s.secretsOf(u)
	return u
}

// ended returns the ended spans by name (each name once, the last wins)
// and every ended span's name in order.
func (s *site) ended() (map[string]sdktrace.ReadOnlySpan, []string) {
	byName := map[string]sdktrace.ReadOnlySpan{}
	var names []string
	for _, sp := range s.spans.Ended() {
		byName[sp.Name()] = sp
		names = append(names, sp.Name())
	}
	return byName, names
}

// counts are the values of a counter, by its attributes' encoding.
func (s *site) counts(name string) map[string]int64 {
	s.t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(s.t, s.metrics.Collect(context.Background(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			require.True(s.t, ok, "%s is a %T", name, m.Data)
			require.True(s.t, sum.IsMonotonic)
			for _, dp := range sum.DataPoints {
				out[dp.Attributes.Encoded(attribute.DefaultEncoder())] = dp.Value
			}
		}
	}
	return out
}

// noSecrets fails when any collected secret appears in any span (name,
// attributes, events, links, status, resource, scope) or any metric
// (names, descriptions, attributes).
func (s *site) noSecrets() {
	s.t.Helper()
	spans, err := json.Marshal(tracetest.SpanStubsFromReadOnlySpans(s.spans.Ended()))
	require.NoError(s.t, err)
	var rm metricdata.ResourceMetrics
	require.NoError(s.t, s.metrics.Collect(context.Background(), &rm))
	metrics, err := json.Marshal(rm)
	require.NoError(s.t, err)
	var attrs strings.Builder // the attribute values as they are, unescaped
	for _, sp := range s.spans.Ended() {
		all := append([]attribute.KeyValue{}, sp.Attributes()...)
		for _, e := range sp.Events() {
			all = append(all, e.Attributes...)
			attrs.WriteString(e.Name + "\n")
		}
		for _, kv := range all {
			attrs.WriteString(string(kv.Key) + "=" + kv.Value.String() + "\n")
		}
		attrs.WriteString(sp.Status().Description + "\n")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotEmpty(s.t, s.secrets)
	for v, what := range s.secrets {
		for where, text := range map[string]string{"spans": string(spans), "span attributes": attrs.String(), "metrics": string(metrics)} {
			assert.NotContains(s.t, text, v, "the %s appears in the %s", what, where)
		}
	}
}

// A whole login, a refresh and a logout with revocation each make their
// span, the code exchange and the user API inside the callback and the
// provider's HTTP requests inside theirs; the login is counted; and no
// code, state, token, verifier or email reaches the telemetry.
func TestLoginSpansAndMetrics(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	status, body := s.get("/auth/idp/login?next=/")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "hello "+fakeas.DefaultUser.Email, body)

	s.later.Store(int64(2 * time.Hour)) // the access token has expired
	status, _ = s.get("/api")
	require.Equal(t, http.StatusOK, status)
	require.EqualValues(t, 1, s.as.RefreshHits.Load())

	res, err := s.browser.Post(s.srv.URL+"/logout", "", nil)
	require.NoError(t, err)
	res.Body.Close()
	require.EqualValues(t, 1, s.as.RevokeHits.Load())

	spans, names := s.ended()
	assert.Equal(t, []string{"oauthkit.login", "oauthkit.token_exchange", "oauthkit.user_api",
		"oauthkit.callback", "oauthkit.refresh", "oauthkit.revocation"}, names)
	callback := spans["oauthkit.callback"]
	for _, child := range []string{"oauthkit.token_exchange", "oauthkit.user_api"} {
		assert.Equal(t, callback.SpanContext().SpanID(), spans[child].Parent().SpanID(), "%s is a child of the callback", child)
		assert.Equal(t, callback.SpanContext().TraceID(), spans[child].SpanContext().TraceID())
	}
	s.mu.Lock()
	tokenRequests := s.httpSpans["/token"]
	revokeRequests := s.httpSpans["/revoke"]
	s.mu.Unlock()
	assert.Equal(t, []trace.SpanID{spans["oauthkit.token_exchange"].SpanContext().SpanID(), spans["oauthkit.refresh"].SpanContext().SpanID()},
		tokenRequests, "the token requests run in the exchange's and the refresh's contexts")
	assert.Equal(t, []trace.SpanID{spans["oauthkit.revocation"].SpanContext().SpanID()}, revokeRequests)

	for name, sp := range spans {
		assert.Equal(t, codes.Unset, sp.Status().Code, name)
		assert.Equal(t, trace.SpanKindInternal, sp.SpanKind(), name)
		assert.Equal(t, otelkit.ScopeName, sp.InstrumentationScope().Name, name)
		assert.ElementsMatch(t, []attribute.KeyValue{
			otelkit.ProviderKey.String("idp"),
			otelkit.OperationKey.String(strings.TrimPrefix(name, "oauthkit.")),
		}, sp.Attributes(), name)
		assert.Empty(t, sp.Events(), name)
	}
	assert.Equal(t, map[string]int64{"oauthkit.provider=idp": 1}, s.counts(otelkit.LoginsMetric))
	assert.Empty(t, s.counts(otelkit.LoginFailuresMetric))
	s.mu.Lock()
	kinds := map[string]bool{}
	for _, what := range s.secrets {
		kinds[what] = true
	}
	s.mu.Unlock()
	for _, what := range []string{"code", "state", "nonce", "code_verifier", "access token", "refresh token", "ID token", "email"} {
		assert.True(t, kinds[what], "the flow's %s was not collected", what)
	}
	s.noSecrets()
}

// Failed callbacks end their span with status Error and error.type, the
// reason only (never the error's text, which here holds the provider's
// error_description), and count a failure by provider and reason.
func TestFailedLoginSpansAndMetrics(t *testing.T) {
	t.Parallel()
	s := newSite(t)

	// A forged callback: no such pending login.
	forged := client.GenerateState()
	s.secret(forged, "forged state")
	status, _ := s.get("/auth/idp/callback?code=forged-code-value&state=" + forged)
	require.Equal(t, http.StatusBadRequest, status)
	s.secret("forged-code-value", "code")

	// The provider answers with an error, and a description holding the
	// user's email, as a careless provider might.
	authURL := s.startLogin()
	q := url.Values{"state": {authURL.Query().Get("state")}, "error": {"server_error"},
		"error_description": {"cannot sign in " + fakeas.DefaultUser.Email}}
	status, _ = s.get("/auth/idp/callback?" + q.Encode())
	require.Equal(t, http.StatusForbidden, status)

	// The code exchange fails: invalid_grant, with a description holding
	// the code.
	s.as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "bad code " + r.PostForm.Get("code")})
	}
	status, _ = s.get("/auth/idp/login")
	require.Equal(t, http.StatusBadRequest, status)

	var failedCallbacks []string
	var exchange sdktrace.ReadOnlySpan
	for _, sp := range s.spans.Ended() {
		switch sp.Name() {
		case "oauthkit.callback":
			require.Equal(t, codes.Error, sp.Status().Code)
			reason := sp.Status().Description
			assert.Contains(t, sp.Attributes(), attribute.String("error.type", reason))
			failedCallbacks = append(failedCallbacks, reason)
		case "oauthkit.token_exchange":
			exchange = sp
		case "oauthkit.login":
			assert.Equal(t, codes.Unset, sp.Status().Code)
		}
	}
	assert.Equal(t, []string{"state_not_found", "provider_error", "exchange"}, failedCallbacks)
	require.NotNil(t, exchange)
	assert.Equal(t, codes.Error, exchange.Status().Code)
	assert.Equal(t, "invalid_grant", exchange.Status().Description)
	assert.Contains(t, exchange.Attributes(), attribute.String("error.type", "invalid_grant"))

	assert.Equal(t, map[string]int64{
		"error.type=state_not_found,oauthkit.provider=idp": 1,
		"error.type=provider_error,oauthkit.provider=idp":  1,
		"error.type=exchange,oauthkit.provider=idp":        1,
	}, s.counts(otelkit.LoginFailuresMetric))
	assert.Empty(t, s.counts(otelkit.LoginsMetric))
	s.noSecrets()
}

func TestSpanName(t *testing.T) {
	t.Parallel()
	for op, want := range map[oauthkit.Op]string{
		oauthkit.OpLogin: "oauthkit.login", oauthkit.OpCallback: "oauthkit.callback",
		oauthkit.OpTokenExchange: "oauthkit.token_exchange", oauthkit.OpUserAPI: "oauthkit.user_api",
		oauthkit.OpRefresh: "oauthkit.refresh", oauthkit.OpRevoke: "oauthkit.revocation",
		oauthkit.Op("future_op"): "oauthkit.future_op",
	} {
		assert.Equal(t, want, otelkit.SpanName(op))
	}
}
