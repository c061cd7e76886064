package oauthkit_test

import (
	"context"
	"errors"
	"fmt"
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

// opRecorder is an Observer that records every op: its provider, the op
// it started inside (from the context), its outcome and how often it
// ended.
type opRecorder struct {
	mu  sync.Mutex
	ops []*recordedOp
}

type recordedOp struct {
	op, parent oauthkit.Op
	provider   string
	err        error
	ends       int
}

type recordedOpKey struct{}

func (r *opRecorder) Start(ctx context.Context, op oauthkit.Op, provider string) (context.Context, func(error)) {
	parent, _ := ctx.Value(recordedOpKey{}).(oauthkit.Op)
	rec := &recordedOp{op: op, parent: parent, provider: provider}
	r.mu.Lock()
	r.ops = append(r.ops, rec)
	r.mu.Unlock()
	return context.WithValue(ctx, recordedOpKey{}, op), func(err error) {
		r.mu.Lock()
		rec.err, rec.ends = err, rec.ends+1
		r.mu.Unlock()
	}
}

// take returns the ops recorded so far, as "op<parent:outcome" lines, and
// forgets them; every op must have ended exactly once.
func (r *opRecorder) take(t *testing.T) []string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, o := range r.ops {
		require.Equal(t, 1, o.ends, "op %s ended %d times", o.op, o.ends)
		require.Equal(t, "test", o.provider)
		out = append(out, fmt.Sprintf("%s<%s:%s", o.op, o.parent, oauthkit.ErrorReason(o.err)))
	}
	r.ops = nil
	return out
}

// named returns the ops recorded so far as "op provider" lines.
func (r *opRecorder) named() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, o := range r.ops {
		out = append(out, string(o.op)+" "+o.provider)
	}
	return out
}

func withObserver(o oauthkit.Observer) appOption {
	return func(cfg *oauthkit.Config) { cfg.Observer = o }
}

// Every operation of a login and of its session reaches the Observer,
// nested by context (the code exchange and the user API inside the
// callback), each ended once with its outcome.
func TestObserverSeesEveryOp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opt  appOption
	}{
		{"session", func(*oauthkit.Config) {}},
		{"token store", func(cfg *oauthkit.Config) { cfg.TokenStore = oauthkit.NewMemoryTokenStore() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			observeEveryOp(t, c.opt)
		})
	}
}

func observeEveryOp(t *testing.T, opt appOption) {
	rec := &opRecorder{}
	a := newApp(t, opt, withObserver(rec))
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	assert.Equal(t, []string{"login<:", "callback<:", "token_exchange<callback:", "user_api<callback:"}, rec.take(t))

	a.clock.Add(2 * time.Hour)
	res, body := a.do(b, http.MethodGet, "/api/token", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, []string{"refresh<:"}, rec.take(t))

	res, _ = a.do(b, http.MethodPost, "/logout", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.EqualValues(t, 1, a.as.RevokeHits.Load())
	assert.Equal(t, []string{"revocation<:"}, rec.take(t))
}

// A failed callback ends with the error the error handler got; a failed
// provider call ends its own op with the client's error.
func TestObserverSeesFailures(t *testing.T) {
	t.Parallel()
	rec := &opRecorder{}
	a := newApp(t, withObserver(rec))
	b := a.browser()

	authURL := a.startLogin(b, "/auth/test/login")
	res := a.get(b, "/auth/test/callback?code=x&state="+strings.Repeat("A", 43))
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.ErrorIs(t, a.lastErr(), oauthkit.ErrStateNotFound)
	assert.Equal(t, []string{"login<:", "callback<:state_not_found"}, rec.take(t))

	tokenFault(a, http.StatusBadRequest, "application/json", `{"error":"invalid_grant"}`)
	res = a.get(b, a.approve(authURL))
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Equal(t, []string{"callback<:exchange", "token_exchange<callback:invalid_grant"}, rec.take(t))

	res = a.get(b, "/auth/test/login?next="+strings.Repeat("a", 17<<10))
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Equal(t, []string{"login<:invalid_login_param"}, rec.take(t))

	// A POST to the callback is a form_post leg (or refused): the login's
	// outcome comes with the GET, so it is not observed.
	res, _ = a.do(b, http.MethodPost, "/auth/test/callback", nil)
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	assert.Empty(t, rec.take(t))
}

// A refused revocation ends its op with the provider's error; a provider
// that cannot revoke at all is no failure of the op, as it is none of the
// logout.
func TestObserverRevocationOutcome(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opts []appOption
		want string
	}{
		{"refused", nil, "revocation<:oauth_error"},
		{"not supported", []appOption{withClient(t, func(cc *client.Config) { cc.RevokeTokenEndpoint = "" }, nil)}, "revocation<:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rec := &opRecorder{}
			a := newApp(t, append(c.opts, withObserver(rec))...)
			a.as.RevokeHandler = func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusBadRequest, `{"error":"unsupported_token_type"}`)
			}
			b := a.browser()
			require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
			rec.take(t)
			res, _ := a.do(b, http.MethodPost, "/logout", nil)
			require.Equal(t, http.StatusSeeOther, res.StatusCode)
			assert.Equal(t, []string{c.want}, rec.take(t))
		})
	}
}

// A resolver's handlers are observed under its name, a bounded set fit
// for metric attributes; the provider calls inside carry the tenant's
// provider name.
func TestObserverResolverNames(t *testing.T) {
	t.Parallel()
	rec := &opRecorder{}
	a, _ := tenantApp(t, withObserver(rec))
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/t/a/login").StatusCode)
	assert.Equal(t, []string{"login sso", "callback sso", "token_exchange sso:a", "user_api sso:a"}, rec.named())
}

// Without an Observer the kit's ops cost nothing: no allocation, the
// caller's own context, and the handlers are not wrapped.
func TestNilObserverCostsNothing(t *testing.T) { // not parallel: AllocsPerRun
	a := newApp(t)
	allocs, same := oauthkit.ObserveCost(a.kit)
	assert.Zero(t, allocs)
	assert.True(t, same, "observe must hand back the caller's context")
	assert.False(t, oauthkit.HandlerObserved(a.kit, "test"))

	b := newApp(t, withObserver(&opRecorder{}))
	assert.True(t, oauthkit.HandlerObserved(b.kit, "test"))
}

func TestErrorReason(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("something else"), "other"},
		{oauthkit.ErrStateNotFound, "state_not_found"},
		{oauthkit.ErrStateExpired, "state_expired"},
		{oauthkit.ErrProviderMismatch, "provider_mismatch"},
		{oauthkit.ErrIssuerMismatch, "issuer_mismatch"},
		{oauthkit.ErrAccessDenied, "access_denied"},
		{&oauthkit.ProviderError{Provider: "p", Code: "server_error", Description: "secret text"}, "provider_error"},
		{fmt.Errorf("%w: %w", oauthkit.ErrPolicyDenied, errors.New("not in org")), "policy_denied"},
		{fmt.Errorf("%w: %w", oauthkit.ErrLoginRefused, errors.New("no account")), "login_refused"},
		// The kit's kind wins over the client error it wraps.
		{fmt.Errorf("%w: %w", oauthkit.ErrExchange, &client.OAuthError{Code: "invalid_grant"}), "exchange"},
		{fmt.Errorf("%w: %w", oauthkit.ErrExchange, context.DeadlineExceeded), "exchange"},
		{fmt.Errorf("%w: %w", oauthkit.ErrReauthRequired, client.ErrInvalidGrant), "reauth_required"},
		{fmt.Errorf("%w: %w", oauthkit.ErrIdentity, client.ErrIDTokenNonce), "identity"},
		{oauthkit.ErrStepUpFailed, "step_up_failed"},
		{oauthkit.ErrPushAuthorization, "push_authorization"},
		{oauthkit.ErrMissingCode, "missing_code"},
		{oauthkit.ErrInvalidCallback, "invalid_callback"},
		{oauthkit.ErrNoSession, "no_session"},
		{oauthkit.ErrSession, "session"},
		{fmt.Errorf("%w: %w", oauthkit.ErrProviderUnavailable, client.ErrProviderUnavailable), "provider_unavailable"},
		{fmt.Errorf("%w: %q", oauthkit.ErrUnknownProvider, "acme"), "unknown_provider"},
		// Bare client errors, as provider calls end with them.
		{&client.RequestError{Op: client.ErrGetAccessToken, Err: &client.OAuthError{Code: "invalid_grant"}}, "invalid_grant"},
		{&client.RequestError{Op: client.ErrGetAccessToken, Err: &client.OAuthError{Code: "invalid_client", Description: "secret text"}}, "oauth_error"},
		{&client.RequestError{Op: client.ErrRefreshToken, Err: &client.HTTPError{StatusCode: 502}}, "http_error"},
		{&client.RequestError{Op: client.ErrGetProfile, Err: context.DeadlineExceeded}, "timeout"},
		{client.ErrRevokeNotSupported, "not_supported"},
		{fmt.Errorf("verify: %w", client.ErrIDTokenSignature), "id_token"},
	} {
		assert.Equal(t, c.want, oauthkit.ErrorReason(c.err), "%v", c.err)
	}
}
