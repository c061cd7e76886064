package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oauthkit/oauthkit/client"
)

// fakeAS is the minimal authorization server of the root harness (which
// another module cannot import): it approves every authorization request
// for the user named in the X-Fake-User header ("id|email"), checks PKCE,
// redirect_uri and single use of codes, and serves the user API.
type fakeAS struct {
	srv *httptest.Server

	mu     sync.Mutex
	codes  map[string]grant
	tokens map[string]fakeUser

	authorizeHits, tokenHits, tokenOK, userHits atomic.Int64
}

type fakeUser struct{ ID, Email string }

type grant struct {
	challenge, redirectURI string
	user                   fakeUser
}

func newFakeAS(t *testing.T) *fakeAS {
	as := &fakeAS{codes: map[string]grant{}, tokens: map[string]fakeUser{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", as.authorize)
	mux.HandleFunc("POST /token", as.token)
	mux.HandleFunc("GET /user", as.user)
	as.srv = httptest.NewServer(mux)
	t.Cleanup(as.srv.Close)
	return as
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (as *fakeAS) authorize(w http.ResponseWriter, r *http.Request) {
	as.authorizeHits.Add(1)
	q := r.URL.Query()
	id, email, ok := strings.Cut(r.Header.Get("X-Fake-User"), "|")
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || !ok || id == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := randomString()
	as.mu.Lock()
	as.codes[code] = grant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), user: fakeUser{id, email}}
	as.mu.Unlock()
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (as *fakeAS) token(w http.ResponseWriter, r *http.Request) {
	as.tokenHits.Add(1)
	_ = r.ParseForm()
	f := r.PostForm
	w.Header().Set("Content-Type", "application/json")
	fail := func(code string) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"error":%q}`, code)
	}
	if f.Get("client_id") != "cid" || f.Get("client_secret") != "csecret" {
		fail("invalid_client")
		return
	}
	if f.Get("grant_type") != "authorization_code" {
		fail("unsupported_grant_type")
		return
	}
	as.mu.Lock()
	g, ok := as.codes[f.Get("code")]
	delete(as.codes, f.Get("code")) // single use, like a real AS
	as.mu.Unlock()
	if !ok || g.redirectURI != f.Get("redirect_uri") || client.S256Challenge(f.Get("code_verifier")) != g.challenge {
		fail("invalid_grant")
		return
	}
	at := "at-" + randomString()
	as.mu.Lock()
	as.tokens[at] = g.user
	as.mu.Unlock()
	as.tokenOK.Add(1)
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3600})
}

func (as *fakeAS) user(w http.ResponseWriter, r *http.Request) {
	as.userHits.Add(1)
	at, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	as.mu.Lock()
	u, ok := as.tokens[at]
	as.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"id": u.ID, "email": u.Email})
}

// provider is a generic client plus the fake AS's user API.
type provider struct {
	*client.OAuth2
	userURL string
	hc      *http.Client
}

func (p *provider) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.userURL, nil)
	if err != nil {
		return "", "", &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	res, err := p.hc.Do(req)
	if err != nil {
		return "", "", &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", "", &client.RequestError{Op: client.ErrGetIDEmail, Err: &client.HTTPError{StatusCode: res.StatusCode}}
	}
	var v struct{ ID, Email string }
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&v); err != nil {
		return "", "", &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	return v.ID, v.Email, nil
}

// Identify is IDEmail as an identity: the generic client's Identify knows
// no user API.
func (p *provider) Identify(ctx context.Context, t *client.Token, nonce string) (*client.Identity, error) {
	id, email, err := p.IDEmail(ctx, t.AccessToken)
	if err != nil {
		return nil, err
	}
	return &client.Identity{Subject: id, Email: email}, nil
}

func (as *fakeAS) provider(t *testing.T, hc *http.Client) *provider {
	t.Helper()
	c, err := client.New(client.Config{
		ClientID: "cid", ClientSecret: "csecret",
		AuthorizeEndpoint:   as.srv.URL + "/authorize",
		AccessTokenEndpoint: as.srv.URL + "/token",
	}, client.WithName("test"), client.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return &provider{OAuth2: c, userURL: as.srv.URL + "/user", hc: hc}
}
