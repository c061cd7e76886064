package client

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit/internal/providertest"
)

// Provider faults (security.md items 62-64, catalogue rows 18-20, 25-29,
// 38, 42, 43; goals G7, G9, G19): every endpoint the client calls (token,
// revocation, a social user API, OpenID UserInfo, discovery) is made to
// misbehave, and each call must end in a typed error within the caller's
// deadline, with bounded memory and no goroutines left behind.

// fltDeadline is the per-call deadline, as the kit's ProviderTimeout in tests.
const fltDeadline = 200 * time.Millisecond

// fltFault is one misbehaviour of a provider endpoint.
type fltFault struct {
	name string
	// handler serves the fault; nil for "refused" and "tls", which need no
	// (reachable, trusted) server.
	handler func(other string) http.HandlerFunc
	refused bool
	tls     bool
	// huge faults also get the heap check.
	huge bool
	// hang faults run with the short fltDeadline; the others with a roomy
	// one (TLS handshakes under -race on a busy box can take 200 ms).
	hang bool
	// hits is the exact number of requests the endpoint must see (-1: any).
	hits int64
	// check asserts the error of operation op (nil error allowed only if
	// check says so).
	check func(t *testing.T, op string, err error)
}

func fltIsHTTP(status int) func(*testing.T, string, error) {
	return func(t *testing.T, op string, err error) {
		t.Helper()
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != status {
			t.Fatalf("%s: want *HTTPError{%d}, got %T %v", op, status, err, err)
		}
		if StatusCode(err) != status {
			t.Fatalf("%s: StatusCode = %d", op, StatusCode(err))
		}
	}
}

func fltIs(target error) func(*testing.T, string, error) {
	return func(t *testing.T, op string, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Fatalf("%s: want %v, got %T %v", op, target, err, err)
		}
	}
}

// fltBodyParse: a 2xx body that is not JSON fails to parse, except at the
// revocation endpoint, whose 2xx body is ignored (RFC 7009 §2.2).
func fltBodyParse(t *testing.T, op string, err error) {
	t.Helper()
	if op == "revoke" {
		if err != nil {
			t.Fatalf("revoke: a 2xx body must be ignored, got %v", err)
		}
		return
	}
	if !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("%s: want ErrInvalidResponse, got %T %v", op, err, err)
	}
	if strings.Contains(err.Error(), "AT-MARK-1") {
		t.Fatalf("%s: error string echoes the body: %v", op, err)
	}
}

func fltFaults() []fltFault {
	return []fltFault{
		{name: "500 html", hits: 1, check: fltIsHTTP(500), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte("<html><b>AT-MARK-1</b> internal error</html>"))
			}
		}},
		{name: "503 retry-after", hits: 1, check: fltIsHTTP(503), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}},
		{name: "200 html", hits: -1, check: fltBodyParse, handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte("<html><body>Please log in to the captive portal AT-MARK-1</body></html>"))
			}
		}},
		{name: "truncated json", hits: -1, check: fltBodyParse, handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"access_token":"AT-MARK-1","tok`))
			}
		}},
		{name: "100 MiB body", hits: 1, huge: true, check: fltIs(ErrResponseTooLarge), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { providertest.WriteHuge(w) }
		}},
		{name: "gzip bomb", hits: 1, huge: true, check: fltIs(ErrResponseTooLarge), handler: func(string) http.HandlerFunc {
			bomb := providertest.GzipBomb()
			return func(w http.ResponseWriter, r *http.Request) {
				if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
					http.Error(w, "test expects the transport to ask for gzip", http.StatusTeapot)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", "gzip")
				_, _ = w.Write(bomb)
			}
		}},
		{name: "hang before headers", hits: 1, hang: true, check: fltIs(context.DeadlineExceeded), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				// Read the form first: net/http notices a closed
				// connection (and cancels r.Context) only once the request
				// body has been consumed.
				_, _ = io.Copy(io.Discard, r.Body)
				<-r.Context().Done()
			}
		}},
		{name: "drip body", hits: 1, hang: true, check: fltIs(context.DeadlineExceeded), handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { providertest.Drip(w, r, "{") }
		}},
		{name: "redirect loop", hits: 1, check: fltRedirect, handler: func(string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.String(), http.StatusFound)
			}
		}},
		{name: "307 elsewhere", hits: 1, check: fltRedirect, handler: func(other string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other+r.URL.Path, http.StatusTemporaryRedirect)
			}
		}},
		{name: "refused", refused: true, hits: 0, check: func(t *testing.T, op string, err error) {
			t.Helper()
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("%s: want ECONNREFUSED, got %T %v", op, err, err)
			}
		}},
		{name: "untrusted tls", tls: true, hits: 0, check: func(t *testing.T, op string, err error) {
			t.Helper()
			var ce *tls.CertificateVerificationError
			if !errors.As(err, &ce) {
				t.Fatalf("%s: want *tls.CertificateVerificationError, got %T %v", op, err, err)
			}
		}},
	}
}

func fltRedirect(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, ErrRedirect) {
		t.Fatalf("%s: want ErrRedirect, got %T %v", op, err, err)
	}
	if s := StatusCode(err); s < 300 || s > 399 {
		t.Fatalf("%s: StatusCode = %d, want the 3xx", op, s)
	}
}

type fltOp struct {
	name     string
	sentinel error
	run      func(ctx context.Context, t *testing.T, base string) error
}

func fltOps() []fltOp {
	generic := func(t *testing.T, base string) *OAuth2 {
		c, err := newOAuth2(config{
			ClientID: "cid", ClientSecret: "CS-MARK-3",
			AuthorizeEndpoint:            base + "/authorize",
			AccessTokenEndpoint:          base + "/token",
			RefreshTokenEndpoint:         base + "/token",
			RevokeTokenEndpoint:          base + "/revoke",
			RevocationEndpointAuthMethod: ClientSecretBasic,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return []fltOp{
		{"token", ErrGetAccessToken, func(ctx context.Context, t *testing.T, base string) error {
			tok, err := generic(t, base).AccessToken(ctx, "CODE-MARK-4", "http://127.0.0.1/cb", "verifier")
			if err == nil || tok != nil {
				t.Fatalf("token: want an error, got %#v", tok)
			}
			return err
		}},
		{"refresh", ErrRefreshToken, func(ctx context.Context, t *testing.T, base string) error {
			tok, err := generic(t, base).RefreshToken(ctx, "RT-MARK-2")
			if err == nil || tok != nil {
				t.Fatalf("refresh: want an error, got %#v", tok)
			}
			return err
		}},
		{"revoke", ErrRevokeToken, func(ctx context.Context, t *testing.T, base string) error {
			return generic(t, base).RevokeToken(ctx, "RT-MARK-2", "refresh_token")
		}},
		{"github user API", ErrGetIDEmail, func(ctx context.Context, t *testing.T, base string) error {
			scheme, host, _ := strings.Cut(base, "://")
			gh, err := NewGitHub("cid", "CS-MARK-3", WithHTTPClient(&http.Client{
				Transport:     providertest.Rewrite{Scheme: scheme, Host: host},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}))
			if err != nil {
				t.Fatal(err)
			}
			id, _, err := gh.IDEmail(ctx, "AT-MARK-1")
			if err == nil || id != "" {
				t.Fatalf("github: want an error, got id %q", id)
			}
			return err
		}},
		{"openid userinfo", ErrGetIDEmail, func(ctx context.Context, t *testing.T, base string) error {
			// Discovery works; its userinfo_endpoint is the faulty one.
			var issuer string
			disc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(discoveryDoc(issuer, func(d map[string]any) {
					d["userinfo_endpoint"] = base + "/userinfo"
				}))
			}))
			defer disc.Close()
			issuer = disc.URL
			o, err := DiscoverOpenID(context.Background(), issuer, "cid", "CS-MARK-3")
			if err != nil {
				t.Fatal(err)
			}
			id, _, err := o.IDEmail(ctx, "AT-MARK-1")
			if err == nil || id != "" {
				t.Fatalf("userinfo: want an error, got id %q", id)
			}
			return err
		}},
		{"discovery", ErrOpenIDConfiguration, func(ctx context.Context, t *testing.T, base string) error {
			o, err := DiscoverOpenID(ctx, base, "cid", "CS-MARK-3")
			if err == nil || o != nil {
				t.Fatal("discovery: want an error")
			}
			return err
		}},
	}
}

// fltClosedURL returns the URL of a loopback port nobody listens on.
func fltClosedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

// TestProviderFaults runs every fault against every operation: 13 faults x
// 6 operations, each ending in an error matching the operation's sentinel
// and the fault's cause.
func TestProviderFaults(t *testing.T) {
	providertest.GzipBomb() // build the bomb before measuring anything
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	baseline := runtime.NumGoroutine()
	for _, fault := range fltFaults() {
		for _, op := range fltOps() {
			t.Run(fault.name+"/"+op.name, func(t *testing.T) {
				var hits, otherHits atomic.Int64
				other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					otherHits.Add(1)
				}))
				defer other.Close()
				var base string
				switch {
				case fault.refused:
					base = fltClosedURL(t)
				case fault.tls:
					srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						hits.Add(1)
					}))
					srv.Config.ErrorLog = log.New(io.Discard, "", 0)
					defer srv.Close()
					base = srv.URL
				default:
					h := fault.handler(other.URL)
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						hits.Add(1)
						h(w, r)
					}))
					defer srv.Close()
					base = srv.URL
				}
				heap0, total0 := providertest.Heap()
				deadline := 10 * time.Second
				if fault.hang {
					deadline = fltDeadline
				}
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				start := time.Now()
				err := op.run(ctx, t, base)
				elapsed := time.Since(start)
				// A hang guard, not a timing assertion: the call must have
				// ended through the deadline, not the client's 30 s timeout.
				if elapsed > 15*time.Second {
					t.Fatalf("%s took %v", op.name, elapsed)
				}
				if err != nil && !errors.Is(err, op.sentinel) {
					t.Fatalf("%s: error does not match %v: %T %v", op.name, op.sentinel, err, err)
				}
				if err != nil && op.sentinel != ErrGetIDEmail && !errors.Is(err, ErrOAuth2) {
					t.Fatalf("%s: error does not match ErrOAuth2: %v", op.name, err)
				}
				fault.check(t, op.name, err)
				if err != nil {
					for _, m := range []string{"AT-MARK-1", "RT-MARK-2", "CS-MARK-3", "CODE-MARK-4"} {
						if strings.Contains(err.Error(), m) {
							t.Fatalf("%s: error string holds %s: %v", op.name, m, err)
						}
					}
				}
				if fault.hits >= 0 {
					if got := hits.Load(); got != fault.hits {
						t.Fatalf("%s: endpoint saw %d requests, want %d", op.name, got, fault.hits)
					}
				}
				if n := otherHits.Load(); n != 0 {
					t.Fatalf("%s: redirect target saw %d requests", op.name, n)
				}
				if fault.huge {
					heap1, total1 := providertest.Heap()
					growth := int64(heap1) - int64(heap0)
					if growth > 4<<20 {
						t.Fatalf("%s: heap grew by %d bytes", op.name, growth)
					}
					// TotalAlloc bounds the peak: far below the 100 MiB sent.
					if alloc := total1 - total0; alloc > 32<<20 {
						t.Fatalf("%s: allocated %d bytes for a capped body", op.name, alloc)
					}
				}
			})
		}
	}
	providertest.Settle(t, baseline)
}

// TestProviderFaultCancelled: a context cancelled by the caller (the
// browser went away) ends the call with context.Canceled.
func TestProviderFaultCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer srv.Close()
	for _, op := range fltOps() {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		err := op.run(ctx, t, srv.URL)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, op.sentinel) {
			t.Fatalf("%s: want context.Canceled and %v, got %v", op.name, op.sentinel, err)
		}
		cancel()
	}
}
