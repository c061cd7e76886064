package bench

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// The client every contender is registered as at the fake provider.
const (
	clientID     = "bench-client"
	clientSecret = "bench-secret"
	benchCode    = "bench-code"
	accessToken  = "at-0123456789abcdef0123456789abcdef"
	userID       = "1234567890123456789"
	userEmail    = "ada@example.com"
)

// Fixed answers, encoded once, so the provider does the same small amount of
// work for every contender.
var (
	tokenJSON = []byte(`{"access_token":"` + accessToken + `","token_type":"Bearer","refresh_token":"rt-0123456789abcdef","expires_in":3600,"scope":"user"}`)
	userJSON  = []byte(`{"id":` + userID + `,"login":"ada","name":"Ada Lovelace","email":"` + userEmail + `"}`)
)

// fakeProvider is an OAuth2 authorization server plus a GitHub-shaped user
// API on loopback. /authorize auto-approves (for end-to-end runs) and
// remembers the PKCE challenge of each code it issues; /token accepts those
// codes once (checking the verifier and redirect_uri) and, for the
// per-handler benchmarks, the fixed benchCode without PKCE, so every
// contender costs the provider the same. Client authentication may be HTTP
// Basic or form fields (x/oauth2 auto-detects; oauthkit's client posts).
type fakeProvider struct {
	srv   *httptest.Server
	codes sync.Map // code -> grant
}

type grant struct{ challenge, redirectURI string }

func newFakeProvider() *fakeProvider {
	p := &fakeProvider{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /user", p.user)
	p.srv = httptest.NewServer(mux)
	return p
}

func (p *fakeProvider) URL(path string) string { return p.srv.URL + path }

// httpClient is the client every contender uses to reach the provider: a
// keep-alive transport sized for parallel runs, no redirects followed.
func (p *fakeProvider) httpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 256
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// oauth2Config is the x/oauth2 configuration gologin and the hand-written
// contender use (goth builds its own from the same URLs).
func (p *fakeProvider) oauth2Config(redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:  p.URL("/authorize"),
			TokenURL: p.URL("/token"),
		},
		RedirectURL: redirectURL,
		Scopes:      []string{"user"},
	}
}

func (p *fakeProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != clientID || q.Get("state") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := "c-" + oauth2.GenerateVerifier()
	p.codes.Store(code, grant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri")})
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *fakeProvider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	w.Header().Set("Content-Type", "application/json")
	fail := func(code string) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"` + code + `"}`))
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	if id != clientID || secret != clientSecret {
		fail("invalid_client")
		return
	}
	if f.Get("grant_type") != "authorization_code" {
		fail("unsupported_grant_type")
		return
	}
	code := f.Get("code")
	if code != benchCode {
		g, ok := p.codes.LoadAndDelete(code)
		if !ok {
			fail("invalid_grant")
			return
		}
		gr := g.(grant)
		if gr.redirectURI != f.Get("redirect_uri") ||
			(gr.challenge != "" && oauth2.S256ChallengeFromVerifier(f.Get("code_verifier")) != gr.challenge) {
			fail("invalid_grant")
			return
		}
	}
	_, _ = w.Write(tokenJSON)
}

func (p *fakeProvider) user(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+accessToken {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(userJSON)
}

// apiUser is the part of the user API answer every contender keeps.
type apiUser struct {
	ID    json.Number `json:"id"`
	Email string      `json:"email"`
}

// fetchUser is the one GET of the user API that the hand-written and gologin
// contenders make (goth's GitHub provider and oauthkit's client make their
// own).
func fetchUser(hc *http.Client, r *http.Request, userURL, token string) (apiUser, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, userURL, nil)
	if err != nil {
		return apiUser{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return apiUser{}, err
	}
	defer res.Body.Close()
	var u apiUser
	dec := json.NewDecoder(res.Body)
	dec.UseNumber()
	if res.StatusCode != http.StatusOK {
		return apiUser{}, &httpStatusError{res.StatusCode}
	}
	err = dec.Decode(&u)
	return u, err
}

type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string { return "user API answered " + http.StatusText(e.code) }

// queryParam reads one parameter of a URL (a Location header).
func queryParam(tb testing.TB, rawURL, key string) string {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	v := u.Query().Get(key)
	if v == "" && !strings.Contains(rawURL, key+"=") {
		tb.Fatalf("no %s in %s", key, rawURL)
	}
	return v
}
