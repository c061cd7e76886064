package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit/internal/providertest"
)

// Fuzz targets for the client's response parsing (security.md catalogue
// row 48, goal G10). Their seed corpora run in every `go test`; CI fuzzes
// each for a fixed time:
//
//	go test -run '^$' -fuzz '^FuzzTokenResponse$' -fuzztime 30s ./client
//	go test -run '^$' -fuzz '^FuzzUserAPIJSON$' -fuzztime 30s ./client

// fuzzCase hands one fuzz input to the loopback server; requests carry its
// key (as the code or the access token), so inputs never mix even if the
// fuzzing engine runs iterations concurrently.
type fuzzCase struct {
	status      int
	contentType string
	bodies      [][]byte
	calls       atomic.Int64
}

type fuzzCases struct {
	seq atomic.Int64
	m   sync.Map // key -> *fuzzCase
}

func (fc *fuzzCases) add(c *fuzzCase) (string, func()) {
	key := "fz" + strconv.FormatInt(fc.seq.Add(1), 10)
	fc.m.Store(key, c)
	return key, func() { fc.m.Delete(key) }
}

func (fc *fuzzCases) get(key string) (*fuzzCase, bool) {
	v, ok := fc.m.Load(key)
	if !ok {
		return nil, false
	}
	return v.(*fuzzCase), true
}

// fuzzStatus maps any int to a status net/http can send with a body
// (WriteHeader panics outside 100-999 and 1xx are interim answers).
func fuzzStatus(s int) int {
	if s < 0 {
		s = -s
	}
	if s < 0 { // math.MinInt
		s = 0
	}
	return 200 + s%400
}

// FuzzTokenResponse sends any status, content type and body from a token
// endpoint: AccessToken returns either a Token with a non-empty access token
// or an error matching ErrGetAccessToken (and ErrOAuth2), never a panic.
func FuzzTokenResponse(f *testing.F) {
	seeds := []struct {
		status int
		ctype  string
		body   string
	}{
		{200, "application/json", `{"access_token":"AT-MARK-1","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-MARK-2"}`},
		{200, "application/json", `{"access_token":"a","token_type":"bearer","expires_in":"3600"}`},
		{200, "application/json; charset=utf-8", `{"access_token":"a","expires_in":2147483648}`},
		{200, "application/json", `{"access_token":"a","expires_in":-5}`},
		{200, "application/json", `{"access_token":"a","expires_in":false}`},
		{200, "application/json", `{"access_token":"a","expires_in":{}}`},
		{200, "application/json", `{"access_token":"a","expires_in":"zzz"}`},
		{200, "application/json", `{"access_token":"a","expires_in":"3600.5"}`},
		{200, "application/json", `{"access_token":"a","expires_in":1e400}`},
		{200, "application/json", `{"access_token":"a","expires_at":-1e308}`},
		{200, "application/json", `{"access_token":"a","token_type":"mac"}`},
		{200, "application/json", `{"access_token":123}`},
		{200, "application/json", `{"access_token":""}`},
		{200, "application/json", `{"access_token":null}`},
		{200, "application/json", `{"token_type":"bearer"}`},
		{200, "application/json", `{"access_token":"AT-MARK-1","tok`},
		{200, "application/json", `[]`},
		{200, "application/json", `null`},
		{200, "application/json", ``},
		{200, "application/json", `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}`},
		{200, "application/json", `{"error":401}`},
		{200, "application/json", `{"error":null,"access_token":"a"}`},
		{200, "application/x-www-form-urlencoded", `access_token=a&token_type=bearer&scope=user`},
		{200, "application/x-www-form-urlencoded", `error=bad_verification_code&error_description=x`},
		{200, "application/x-www-form-urlencoded", `access_token=a;b=c`},
		{200, "text/plain", `access_token=%zz`},
		{200, "text/html", `<html><body>captive portal</body></html>`},
		{200, "", "\xff\xfe\x00"},
		{400, "application/json", `{"error":"invalid_grant"}`},
		{401, "application/json", `{"error":"invalid_client","error_description":"` + strings.Repeat("x", 600) + `"}`},
		{500, "text/html", `<b>AT-MARK-1</b>`},
		{302, "text/html", ``},
		{204, "application/json", ``},
		{304, "application/json", ``},
		{-1, "\r\nX-Injected: 1", `{"access_token":"a"}`},
		{1 << 40, "application/json;;;", `{"access_token":"a","id_token":7}`},
	}
	for _, s := range seeds {
		f.Add(s.status, s.ctype, []byte(s.body))
	}

	var cases fuzzCases
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		c, ok := cases.get(r.PostForm.Get("code"))
		if !ok {
			http.Error(w, "unknown fuzz case", http.StatusTeapot)
			return
		}
		c.calls.Add(1)
		if c.contentType != "" {
			w.Header().Set("Content-Type", c.contentType)
		} else {
			w.Header()["Content-Type"] = nil // no sniffing
		}
		w.WriteHeader(c.status)
		_, _ = w.Write(c.bodies[0])
	}))
	f.Cleanup(srv.Close)
	c, err := newOAuth2(config{
		ClientID:            "cid",
		ClientSecret:        "CS-MARK-3",
		AuthorizeEndpoint:   srv.URL + "/authorize",
		AccessTokenEndpoint: srv.URL + "/token",
	})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		fc := &fuzzCase{status: fuzzStatus(status), contentType: contentType, bodies: [][]byte{body}}
		key, done := cases.add(fc)
		defer done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tok, err := c.AccessToken(ctx, key, "http://127.0.0.1/cb", "verifier")
		if n := fc.calls.Load(); n != 1 {
			t.Fatalf("token endpoint saw %d requests, want exactly 1 (no retry)", n)
		}
		if err != nil {
			if tok != nil {
				t.Fatalf("both a token and an error: %v", err)
			}
			if !errors.Is(err, ErrGetAccessToken) || !errors.Is(err, ErrOAuth2) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error is not a *RequestError: %T", err)
			}
			_ = err.Error()
			return
		}
		if tok == nil || tok.AccessToken == "" {
			t.Fatalf("no error and no access token: %#v", tok)
		}
		if fc.status < 200 || fc.status > 299 {
			t.Fatalf("HTTP %d accepted as a token", fc.status)
		}
		if tok.Expiry.Before(time.Unix(0, 0)) && !tok.Expiry.IsZero() {
			t.Fatalf("expiry before 1970: %v", tok.Expiry)
		}
	})
}

// fuzzUserAPIProviders builds every provider client whose IDEmail reads a
// user API, all routed to one loopback server. OpenID is configured by
// discovery from the same server.
func fuzzUserAPIProviders(f *testing.F, hc *http.Client, issuer string) []userAPIClient {
	opt := WithHTTPClient(hc)
	var out []userAPIClient
	add := func(p userAPIClient, err error) {
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, p)
	}
	add(NewGitHub("cid", "CS-MARK-3", opt))
	add(NewGoogle("cid", "CS-MARK-3", opt))
	add(NewDiscord("cid", "CS-MARK-3", opt))
	add(NewGitLab("cid", "CS-MARK-3", opt))
	add(NewBitbucket("cid", "CS-MARK-3", opt))
	add(NewFacebook("cid", "CS-MARK-3", opt))
	add(NewKakao("cid", "CS-MARK-3", opt))
	add(NewNaver("cid", "CS-MARK-3", opt))
	add(NewReddit("cid", "CS-MARK-3", opt))
	add(NewTwitch("cid", "CS-MARK-3", opt))
	add(NewSlack("cid", "CS-MARK-3", opt))
	add(NewLinkedIn("cid", "CS-MARK-3", opt))
	add(NewMicrosoft("common", "cid", "CS-MARK-3", opt, WithMicrosoftAnyTenant()))
	add(NewShopify("fuzz-shop", "cid", "CS-MARK-3", opt))
	add(NewFranceConnect("cid", "CS-MARK-3", WithFranceConnectIntegration(), opt))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	add(DiscoverOpenID(ctx, issuer, "cid", "CS-MARK-3", opt))
	return out
}

// FuzzUserAPIJSON answers the user APIs of every provider client with
// arbitrary bodies (the first request gets body1, later ones body2, so the
// GitHub/Bitbucket email lookups are reached): IDEmail returns a non-empty id
// or an error matching ErrGetIDEmail, never a panic; so does Identify
// (or an ErrIDToken error, as the fuzzed token has no ID token).
func FuzzUserAPIJSON(f *testing.F) {
	seeds := [][2]string{
		{`{"id":1234567890123456789,"email":"ada@example.com"}`, `[{"email":"ada@example.com","primary":true,"verified":true}]`},
		{`{"id":0,"email":null}`, `[]`},
		{`{"id":"","email":""}`, `null`},
		{`{"id":null}`, `{}`},
		{`{"id":1e999}`, `[{"email":1,"primary":"true","verified":1}]`},
		{`{"id":{"a":1},"email":["x"]}`, `[null,1,"x"]`},
		{`{"sub":"abc","email":"a@b","email_verified":true}`, ``},
		{`{"sub":"abc","email":"a@b","email_verified":"true"}`, ``},
		{`{"sub":123,"email_verified":null}`, ``},
		{`{"resourceName":"people/1","emailAddresses":[{"value":"a@b","metadata":{"primary":true,"verified":true}}]}`, ``},
		{`{"resourceName":"people/"}`, ``},
		{`{"uuid":"{11111111-2222}"}`, `{"values":[{"email":"a@b","is_primary":true,"is_confirmed":true}]}`},
		{`{"uuid":"{ }"}`, `{"values":null}`},
		{`{"resultcode":"00","message":"success","response":{"id":"n1","email":"a@b"}}`, ``},
		{`{"resultcode":"024","message":"Authentication failed"}`, ``},
		{`{"kind":"t2","id":"abc","name":"x"}`, ``},
		{`{"data":[{"id":"1","email":"a@b"}]}`, ``},
		{`{"data":[]}`, ``},
		{`{"ok":false,"error":"invalid_auth"}`, ``},
		{`{"ok":true,"sub":"U1","email":"a@b","email_verified":true}`, ``},
		{`{"id":"1","mail":null,"userPrincipalName":"x#EXT#@y"}`, ``},
		{`{"data":{"shop":{"id":"gid://shopify/Shop/1","email":"a@b"}}}`, ``},
		{`{"data":null,"errors":[{"message":"x"}]}`, ``},
		{`{"id":1,"kakao_account":{"email":"a@b","is_email_valid":true,"is_email_verified":true}}`, ``},
		{`{"error":"invalid_token","error_description":"AT-MARK-1"}`, `{"error":401}`},
		{`{"id":"1"`, `[`},
		{`<html>login</html>`, `<html/>`},
		{``, ``},
		{`[]`, `[]`},
		{`"string"`, `7`},
		{"\xff\xfe", "\x00"},
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s[0]), []byte(s[1]))
	}

	var cases fuzzCases
	var issuer string
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == openIDWellKnown {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(discoveryDoc(issuer))
			return
		}
		// The access token is the case key; Kakao/Naver/Twitch and friends
		// all send it as a Bearer token (Facebook also as a query value).
		key := r.Header.Get("Authorization")
		if i := strings.LastIndexByte(key, ' '); i >= 0 {
			key = key[i+1:]
		}
		if key == "" {
			key = r.URL.Query().Get("access_token")
		}
		c, ok := cases.get(key)
		if !ok {
			http.Error(w, "unknown fuzz case", http.StatusTeapot)
			return
		}
		n := c.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Shopify-API-Version", "fuzz")
		if n == 1 {
			_, _ = w.Write(c.bodies[0])
		} else {
			_, _ = w.Write(c.bodies[1])
		}
	})
	srv := httptest.NewServer(mux)
	f.Cleanup(srv.Close)
	issuer = srv.URL
	hc := &http.Client{
		Transport: &providertest.Loopback{Target: srv.Listener.Addr().String()},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	providers := fuzzUserAPIProviders(f, hc, issuer)

	f.Fuzz(func(t *testing.T, which uint8, body1, body2 []byte) {
		p := providers[int(which)%len(providers)]
		fc := &fuzzCase{bodies: [][]byte{body1, body2}}
		key, done := cases.add(fc)
		defer done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		checkIdentify(t, p, &cases, body1, body2)
		id, _, err := p.IDEmail(ctx, key)
		if err != nil {
			if id != "" {
				t.Fatalf("%s: id %q with error %v", p.Name(), id, err)
			}
			if !errors.Is(err, ErrGetIDEmail) && !errors.Is(err, ErrIDEmailNotSupported) {
				t.Fatalf("%s: untyped error %T: %v", p.Name(), err, err)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatalf("%s: error string holds the access token: %v", p.Name(), err)
			}
			return
		}
		if strings.TrimSpace(id) == "" {
			t.Fatalf("%s: empty id without error", p.Name())
		}
		if fc.calls.Load() == 0 {
			t.Fatalf("%s: id %q without any user-API request", p.Name(), id)
		}
	})
}

// checkIdentify runs Identify on the same answers as IDEmail and checks the
// Identity invariants: a subject, no verified flag without an address, and
// only http(s) avatar URLs.
func checkIdentify(t *testing.T, p Provider, cases *fuzzCases, body1, body2 []byte) {
	fc := &fuzzCase{bodies: [][]byte{body1, body2}}
	key, done := cases.add(fc)
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := p.Identify(ctx, &Token{AccessToken: key}, "")
	if err != nil {
		if id != nil {
			t.Fatalf("%s: identity %+v with error %v", p.Name(), id, err)
		}
		if !errors.Is(err, ErrGetIDEmail) && !errors.Is(err, ErrIDEmailNotSupported) && !errors.Is(err, ErrIDToken) {
			t.Fatalf("%s: untyped Identify error %T: %v", p.Name(), err, err)
		}
		if strings.Contains(err.Error(), key) {
			t.Fatalf("%s: Identify error holds the access token: %v", p.Name(), err)
		}
		return
	}
	switch {
	case strings.TrimSpace(id.Subject) == "":
		t.Fatalf("%s: empty subject without error", p.Name())
	case id.EmailVerified && id.Email == "":
		t.Fatalf("%s: verified flag without an email", p.Name())
	case id.AvatarURL != "" && !strings.HasPrefix(id.AvatarURL, "https://") && !strings.HasPrefix(id.AvatarURL, "http://"):
		t.Fatalf("%s: avatar URL %q", p.Name(), id.AvatarURL)
	}
}

// A back-channel logout request body is attacker-controlled: whatever the
// logout_token, verification gives a token or an ErrLogoutToken error,
// never a panic.
func FuzzVerifyLogoutToken(f *testing.F) {
	key := newRSAKey(f, "k1")
	o, _ := newTestOpenID(f, key)
	now := time.Now()
	f.Add(key.sign(f, logoutClaims(now)))
	f.Add("a.b.c")
	f.Add("")
	f.Add(unsignedJWT(f, logoutClaims(now)))
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := o.VerifyLogoutToken(context.Background(), raw)
		if err != nil && !errors.Is(err, ErrLogoutToken) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
