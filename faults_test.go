package oauthkit_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
	"github.com/oauthkit/oauthkit/internal/providertest"
)

// Provider faults through the kit (security.md items 62-64, catalogue rows
// 18-20, 25-29, 38, 42, 43; goals G7, G9, G18, G19). Each fault is put
// behind the token endpoint, the user API (a real client.GitHub routed to the
// faulty server) and the revocation endpoint of a kit on loopback. Login
// faults must end in the documented status with the right sentinel, no
// login and no retry; revocation faults must never block logout.

// kfFault is one misbehaviour of a provider endpoint.
type kfFault struct {
	name    string
	handler func(other string) http.HandlerFunc // nil: refused or tls
	refused bool
	tls     bool
	hang    bool // never answers: run with hangTimeout; expect 504
	huge    bool // heap check
	// cause is what the kit's error must also match (besides the sentinel).
	cause func(t *testing.T, err error)
	// revokeOK: at the revocation endpoint this answer is a success.
	revokeOK bool
}

func kfHTTPStatus(status int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var he *client.HTTPError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, status, he.StatusCode)
	}
}

func kfIs(target error) func(*testing.T, error) {
	return func(t *testing.T, err error) { t.Helper(); require.ErrorIs(t, err, target) }
}

func kfFaults() []kfFault {
	return []kfFault{
		{name: "500 html", cause: kfHTTPStatus(500), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "<html><b>upstream exploded</b></html>")
			}
		}},
		{name: "503 retry-after", cause: kfHTTPStatus(503), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}},
		{name: "200 html", revokeOK: true, cause: kfIs(client.ErrInvalidResponse), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = io.WriteString(w, "<html>captive portal</html>")
			}
		}},
		{name: "truncated json", revokeOK: true, cause: kfIs(client.ErrInvalidResponse), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"access_token":"abc","tok`)
			}
		}},
		{name: "100 MiB body", huge: true, cause: kfIs(client.ErrResponseTooLarge), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { providertest.WriteHuge(w) }
		}},
		{name: "gzip bomb", huge: true, cause: kfIs(client.ErrResponseTooLarge), handler: func(string) http.HandlerFunc {
			bomb := providertest.GzipBomb()
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", "gzip")
				_, _ = w.Write(bomb)
			}
		}},
		{name: "hang", hang: true, cause: kfIs(context.DeadlineExceeded), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				// Consume the body so net/http notices the client leaving.
				_, _ = io.Copy(io.Discard, r.Body)
				<-r.Context().Done()
			}
		}},
		{name: "drip", hang: true, cause: kfIs(context.DeadlineExceeded), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusOK)
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-r.Context().Done():
						return
					case <-tick.C:
						if _, err := w.Write([]byte(" ")); err != nil {
							return
						}
						w.(http.Flusher).Flush()
					}
				}
			}
		}},
		{name: "redirect loop", cause: kfIs(client.ErrRedirect), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.String(), http.StatusFound)
			}
		}},
		{name: "307 elsewhere", cause: kfIs(client.ErrRedirect), handler: func(other string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other+r.URL.Path, http.StatusTemporaryRedirect)
			}
		}},
		{name: "refused", refused: true, cause: kfIs(syscall.ECONNREFUSED)},
		{name: "untrusted tls", tls: true, cause: func(t *testing.T, err error) {
			t.Helper()
			var ce *tls.CertificateVerificationError
			require.ErrorAs(t, err, &ce)
		}},
	}
}

// kfEndpoint is a faulty endpoint: base is "scheme://host:port".
type kfEndpoint struct {
	base            string
	hits, otherHits atomic.Int64
}

func kfServe(t *testing.T, f kfFault) *kfEndpoint {
	t.Helper()
	e := &kfEndpoint{}
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { e.otherHits.Add(1) }))
	t.Cleanup(other.Close)
	switch {
	case f.refused:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		e.base = "http://" + l.Addr().String()
		require.NoError(t, l.Close())
	case f.tls:
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { e.hits.Add(1) }))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		t.Cleanup(srv.Close)
		e.base = srv.URL
	default:
		h := f.handler(other.URL)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.hits.Add(1)
			h(w, r)
		}))
		t.Cleanup(srv.Close)
		e.base = srv.URL
	}
	return e
}

// wantHits is how many requests the endpoint must have seen for one call.
func (e *kfEndpoint) wantHits(f kfFault) int64 {
	if f.refused || f.tls {
		return 0
	}
	return 1
}

// kfUserAPI is the harness provider with its user API replaced by a real
// client.GitHub whose requests all go to base.
type kfUserAPI struct {
	*client.OAuth2
	gh *client.GitHub
}

func (p *kfUserAPI) IDEmail(ctx context.Context, at string) (string, string, error) {
	return p.gh.IDEmail(ctx, at)
}

func (p *kfUserAPI) Identify(ctx context.Context, t *client.Token, nonce string) (*client.Identity, error) {
	return p.gh.Identify(ctx, t, nonce)
}

// withClient rebuilds the harness provider's client with mod applied to its
// configuration (endpoints, for instance); wrap, if set, decorates it.
func withClient(t *testing.T, mod func(*client.Config), wrap func(*client.OAuth2) client.Provider) appOption {
	return func(cfg *oauthkit.Config) {
		tp := cfg.Providers[0].Client.(*fakeas.Provider)
		cc := tp.OAuth2.Config()
		cc.HTTPClient = nil // the package default, as a site would have
		mod(&cc)
		c, err := client.NewOAuth2(cc)
		require.NoError(t, err)
		if wrap != nil {
			cfg.Providers[0].Client = wrap(c)
			return
		}
		cfg.Providers[0].Client = tp.WithOAuth2(c)
	}
}

func kfTimeout(t *testing.T, f kfFault) appOption {
	return func(cfg *oauthkit.Config) {
		if f.hang {
			cfg.ProviderTimeout = hangTimeout(t)
		}
	}
}

// kfLoginFails runs one login against the faulty setup and checks the
// outcome: status, sentinel, cause, no login, state consumed, no retry.
func kfLoginFails(t *testing.T, a *app, f kfFault, e *kfEndpoint, sentinel error) {
	t.Helper()
	b := a.browser()
	authURL := a.startLogin(b, "/auth/test/login")
	cb := a.approve(authURL)
	a.drainErrs()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	base := runtime.NumGoroutine()
	heap0, total0 := providertest.Heap()

	res, body := a.do(b, http.MethodGet, cb, nil)
	want := http.StatusBadGateway
	if f.hang {
		want = http.StatusGatewayTimeout
	}
	require.Equal(t, want, res.StatusCode)
	err := a.takeErr()
	require.ErrorIs(t, err, sentinel)
	assert.Equal(t, want, oauthkit.HTTPStatus(err))
	f.cause(t, err)
	assert.NotContains(t, body, "upstream exploded", "provider body not echoed")
	assert.Equal(t, e.wantHits(f), e.hits.Load(), "requests to the faulty endpoint (no retry)")
	assert.Zero(t, e.otherHits.Load(), "redirect target never contacted")
	if f.huge {
		heap1, total1 := providertest.Heap()
		assert.Less(t, int64(heap1)-int64(heap0), int64(4<<20), "heap growth")
		assert.Less(t, total1-total0, uint64(32<<20), "bytes allocated for a capped body")
	}
	providertest.Settle(t, base, a.closeIdle)

	assert.False(t, a.signedIn(b), "no login")
	assert.Zero(t, a.pending(b), "state consumed")
	res, _ = a.do(b, http.MethodGet, cb, nil)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "replay refused")
	assert.ErrorIs(t, a.takeErr(), oauthkit.ErrStateNotFound)
	assert.Equal(t, e.wantHits(f), e.hits.Load(), "a replay makes no request")
}

func TestFaultsTokenEndpoint(t *testing.T) {
	for _, f := range kfFaults() {
		t.Run(f.name, func(t *testing.T) {
			e := kfServe(t, f)
			a := newApp(t, kfTimeout(t, f), withClient(t, func(c *client.Config) {
				c.AccessTokenEndpoint = e.base + "/token"
			}, nil))
			kfLoginFails(t, a, f, e, oauthkit.ErrExchange)
			assert.Zero(t, a.as.UserHits.Load())
		})
	}
}

func TestFaultsUserAPI(t *testing.T) {
	for _, f := range kfFaults() {
		t.Run(f.name, func(t *testing.T) {
			e := kfServe(t, f)
			scheme, host, _ := strings.Cut(e.base, "://")
			a := newApp(t, kfTimeout(t, f), withClient(t, func(*client.Config) {}, func(c *client.OAuth2) client.Provider {
				gh, err := client.NewGitHub("cid", "csecret", client.WithHTTPClient(&http.Client{
					Transport:     providertest.Rewrite{Scheme: scheme, Host: host},
					CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
				}))
				require.NoError(t, err)
				return &kfUserAPI{OAuth2: c, gh: gh}
			}))
			kfLoginFails(t, a, f, e, oauthkit.ErrIdentity)
			assert.EqualValues(t, 1, a.as.TokenHits.Load(), "one code exchange")
		})
	}
}

// TestFaultsRevocationNeverBlocksLogout is G18: whatever the revocation
// endpoint does, POST /logout answers 303 and the session is gone.
func TestFaultsRevocationNeverBlocksLogout(t *testing.T) {
	for _, f := range kfFaults() {
		t.Run(f.name, func(t *testing.T) {
			e := kfServe(t, f)
			logs := &syncBuffer{}
			a := newApp(t, kfTimeout(t, f), withLogs(logs), withClient(t, func(c *client.Config) {
				c.RevokeTokenEndpoint = e.base + "/revoke"
			}, nil))
			b := a.browser()
			require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
			old := a.sessionCookie(b)
			require.NotNil(t, a.sessionByToken(old))
			http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			base := runtime.NumGoroutine()

			res, _ := a.do(b, http.MethodPost, "/logout", nil)
			assert.Equal(t, http.StatusSeeOther, res.StatusCode)
			assert.Equal(t, "/", res.Header.Get("Location"))
			assert.Nil(t, a.sessionByToken(old), "local session destroyed")
			assert.Zero(t, a.drainErrs(), "logout did not fail")
			assert.GreaterOrEqual(t, e.hits.Load(), e.wantHits(f), "revocation was attempted")
			assert.Zero(t, e.otherHits.Load())
			if f.revokeOK {
				assert.NotContains(t, logs.String(), "revocation failed")
			} else {
				assert.Contains(t, logs.String(), "revocation failed", "the failure is logged")
			}
			providertest.Settle(t, base, a.closeIdle)
			assert.False(t, a.signedIn(b))
		})
	}
}

// TestFaultsBrowserGoesAway: a callback whose browser disconnects while the
// token endpoint hangs cancels the provider request (the AS handler sees its
// context end) long before ProviderTimeout.
func TestFaultsBrowserGoesAway(t *testing.T) {
	cancelled := make(chan struct{})
	var once sync.Once
	a := newApp(t)
	a.as.TokenHandler = func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		once.Do(func() { close(cancelled) })
	}
	b := a.browser()
	cb := a.approve(a.startLogin(b, "/auth/test/login"))
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.srv.URL+cb, nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		res, err := b.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return a.as.TokenHits.Load() == 1 }, budget(t), 5*time.Millisecond)
	cancel()
	require.True(t, errors.Is(<-done, context.Canceled))
	select {
	case <-cancelled:
	case <-time.After(budget(t)):
		t.Fatal("the token request was not cancelled when the browser left")
	}
	assert.EqualValues(t, 1, a.as.TokenHits.Load())
}
