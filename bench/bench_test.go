package bench

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
	"golang.org/x/oauth2"
)

// Each benchmark runs its contenders as sub-benchmarks on identical work;
// handlers are called in process with a reusable ResponseWriter, and every
// call to the provider goes over loopback HTTP to the one fake provider.

// A work item and the contenders doing it, run as sub-benchmarks by the
// Benchmark functions and one sample per round by TestRounds.
type work struct {
	name string
	// refs are the contenders the others' ratios are taken to.
	refs       []string
	contenders []contender
}

type contender struct {
	name string
	run  func(b *testing.B)
}

// works is every work item compared side by side. It is a function because
// the contenders reach fp, the fake provider TestMain starts.
func works() []work {
	return []work{protected(), loginStart(), callback(), tokenExchange(), endToEnd()}
}

func (w work) bench(b *testing.B) {
	for _, c := range w.contenders {
		b.Run(c.name, c.run)
	}
}

// BenchmarkProtected: a signed-in request to a protected page.
func BenchmarkProtected(b *testing.B) { protected().bench(b) }

func protected() work {
	return work{name: "Protected", refs: []string{"scs-floor"}, contenders: []contender{
		{"scs-floor", func(b *testing.B) {
			// LoadAndSave alone with scs's default gob codec.
			a := newKitAppCodec(b, newMemstore(), redirectURL, scs.GobCodec{})
			runProtected(b, a.floor, newRequest("/profile", a.signedIn(b)))
		}},
		{"oauthkit", func(b *testing.B) {
			a := newKitApp(b, newMemstore(), redirectURL)
			runProtected(b, a.protected, newRequest("/profile", a.signedIn(b)))
		}},
		{"gorilla-hand", func(b *testing.B) {
			// The cookie a gologin, gothic or x/oauth2 app holds after login.
			h := newHandApp()
			c := callbackOnce(b, h.callback, h.startLogin, "/auth/bench/callback?", true)
			runProtected(b, requireGorillaUser(h.store, http.HandlerFunc(gorillaProfile)), newRequest("/profile", c))
		}},
	}}
}

func runProtected(b *testing.B, h http.Handler, req *http.Request) {
	w := newSink()
	if err := serve(h, w, req, http.StatusOK); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := serve(h, w, req, http.StatusOK); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoginStart: a new browser asks to log in and is redirected to the
// provider. The state-B metric is what the contender keeps per pending
// login: for oauthkit the scs-encoded session in the store (server side),
// for the peers the cookie sent to the browser.
func BenchmarkLoginStart(b *testing.B) { loginStart().bench(b) }

func loginStart() work {
	return work{name: "LoginStart", refs: []string{"gologin"}, contenders: []contender{
		{"oauthkit", func(b *testing.B) {
			a := newKitApp(b, newMemstore(), redirectURL)
			c, _ := a.startLogin(b)
			runLogin(b, a.login, newRequest("/auth/bench/login?next=/profile"), http.StatusFound, a.storedBytes(b, c))
		}},
		{"gologin", func(b *testing.B) {
			a := newGologinApp()
			c, _ := a.startLogin(b)
			runLogin(b, a.login, newRequest("/auth/bench/login"), http.StatusFound, len(c.Value))
		}},
		{"gothic", func(b *testing.B) {
			c, _ := gothicStartLogin(b)
			runLogin(b, gothicLogin, newRequest("/auth/login?provider="+gothicProvider), http.StatusTemporaryRedirect, len(c.Value))
		}},
		{"xoauth2-hand", func(b *testing.B) {
			a := newHandApp()
			c, _ := a.startLogin(b)
			runLogin(b, a.login, newRequest("/auth/bench/login"), http.StatusFound, len(c.Value))
		}},
	}}
}

func runLogin(b *testing.B, h http.Handler, req *http.Request, want int, stateBytes int) {
	w := newSink()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := serve(h, w, req, want); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(stateBytes), "state-B") // after the loop: ResetTimer drops metrics
}

// BenchmarkCallback: the provider redirects back; state check, code
// exchange, one user API call, session write, redirect. session-B is the
// signed-in session: scs-encoded bytes in the store for oauthkit, the
// gorilla cookie for the peers. bare-roundtrips is the physical floor: the
// token POST and the user GET alone, on a keep-alive client, bodies read
// and not parsed.
func BenchmarkCallback(b *testing.B) { callback().bench(b) }

func callback() work {
	return work{name: "Callback", refs: []string{"gologin", "bare-roundtrips"}, contenders: []contender{
		{"oauthkit", func(b *testing.B) {
			a := newKitApp(b, newMemstore(), redirectURL)
			sessionBytes := a.storedBytes(b, a.signedIn(b))
			runKitCallbacks(b, a)
			b.ReportMetric(float64(sessionBytes), "session-B")
		}},
		{"gologin", func(b *testing.B) {
			a := newGologinApp()
			runCallback(b, a.callback, a.startLogin, "/auth/bench/callback?", true)
		}},
		{"gothic", func(b *testing.B) {
			runCallback(b, gothicCallback, gothicStartLogin, "/auth/callback?provider="+gothicProvider+"&", false)
		}},
		{"xoauth2-hand", func(b *testing.B) {
			a := newHandApp()
			runCallback(b, a.callback, a.startLogin, "/auth/bench/callback?", true)
		}},
		{"oauthkit-client", runKitClient},
		{"oauthkit-noio", runKitNoIO},
		{"bare-roundtrips", runBareRoundTrips},
	}}
}

// runKitNoIO is oauthkit's callback with a provider that answers from
// memory: the session's work alone, with warm caches (in the real flow it
// runs after each wait on the network).
func runKitNoIO(b *testing.B) {
	runKitCallbacks(b, newKitAppWith(b, newMemstore(), redirectURL, oauthkit.SessionCodec{}, func(c *fakeas.Provider) client.Provider { return memoryProvider{c} }))
}

// runKitCallbacks times b.N callbacks of a, each completing a pending
// login of its own: states are single-use.
func runKitCallbacks(b *testing.B, a *kitApp) {
	reqs := a.callbackRequests(b, b.N)
	w := newSink()
	// The setup's garbage (a login start per callback) is collected now,
	// as testing does before every run, rather than by the timed loop: the
	// peers replay one request and have none.
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := serve(a.callback, w, reqs[i], http.StatusFound); err != nil {
			b.Fatal(err)
		}
	}
}

// memoryProvider is the bench client with the two provider calls of a
// callback answered from memory.
type memoryProvider struct{ *fakeas.Provider }

func (memoryProvider) AccessToken(context.Context, string, string, string) (*client.Token, error) {
	return &client.Token{AccessToken: fakeAccessToken, TokenType: "Bearer", RefreshToken: "rt-static", Scope: "user",
		Raw: []byte(`{"access_token":"` + fakeAccessToken + `","token_type":"Bearer","refresh_token":"rt-static","scope":"user"}`)}, nil
}

func (memoryProvider) Identify(context.Context, *client.Token, string) (*client.Identity, error) {
	return &client.Identity{Subject: userID, Email: fakeas.DefaultUser.Email}, nil
}

// runKitClient is the provider calls of oauthkit's callback and nothing
// else: the kit's client's code exchange (with a verifier, as the kit
// sends) and the same user GET the kit makes, so the table separates what
// the client costs above the bare round trips from what the session adds.
func runKitClient(b *testing.B) {
	c := newClient(b, fp.httpClient())
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tok, err := c.AccessToken(ctx, benchCode, redirectURL, verifier)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Identify(ctx, tok, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// runBareRoundTrips is the two provider calls of a callback and nothing
// else.
func runBareRoundTrips(b *testing.B) {
	hc := fp.httpClient()
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {benchCode}, "redirect_uri": {redirectURL},
		"client_id": {clientID}, "client_secret": {clientSecret},
	}.Encode()
	call := func(req *http.Request) {
		res, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("%s %s: %s", req.Method, req.URL.Path, res.Status)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		req, _ := http.NewRequest(http.MethodPost, fp.at("/token"), strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		call(req)
		req, _ = http.NewRequest(http.MethodGet, fp.at("/user"), nil)
		req.Header.Set("Authorization", "Bearer "+fakeAccessToken)
		call(req)
	}
}

// runCallback replays one started login's callback: the peers keep their
// flow state in the browser, so the same request is valid every time.
func runCallback(b *testing.B, h http.Handler, start func(testing.TB) (*http.Cookie, string), prefix string, ctxClient bool) {
	c := callbackOnce(b, h, start, prefix, ctxClient)
	flow, state := start(b)
	req := newRequest(prefix+"code="+benchCode+"&state="+url.QueryEscape(state), flow)
	if ctxClient {
		req = withClient(req)
	}
	w := newSink()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := serve(h, w, req, http.StatusFound); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(c.Value)), "session-B")
}

// callbackOnce completes one login with a peer and returns its signed-in
// gorilla cookie.
func callbackOnce(tb testing.TB, h http.Handler, start func(testing.TB) (*http.Cookie, string), prefix string, ctxClient bool) *http.Cookie {
	tb.Helper()
	flow, state := start(tb)
	req := newRequest(prefix+"code="+benchCode+"&state="+url.QueryEscape(state), flow)
	if ctxClient {
		req = withClient(req)
	}
	w := newRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusFound {
		tb.Fatalf("callback: %d %s", w.Code, w.Body)
	}
	return cookieNamed(tb, w, appSession)
}

// BenchmarkTokenExchange: the code exchange alone, same endpoint, same
// client authentication (client_secret_post), both sending a PKCE verifier.
func BenchmarkTokenExchange(b *testing.B) { tokenExchange().bench(b) }

func tokenExchange() work {
	verifier := oauth2.GenerateVerifier()
	return work{name: "TokenExchange", refs: []string{"xoauth2"}, contenders: []contender{{"client", func(b *testing.B) {
		c := newClient(b, fp.httpClient())
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := c.AccessToken(ctx, benchCode, redirectURL, verifier); err != nil {
				b.Fatal(err)
			}
		}
	}}, {"xoauth2", func(b *testing.B) {
		conf := fp.oauth2Config(redirectURL)
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, fp.httpClient())
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := conf.Exchange(ctx, benchCode, oauth2.VerifierOption(verifier)); err != nil {
				b.Fatal(err)
			}
		}
	}}}}
}
