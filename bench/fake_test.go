package bench

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/oauthkit/oauthkit/internal/fakeas"
)

// The client every contender is registered as at the fake provider, the
// code the per-handler benchmarks replay, and the user it signs in.
const (
	clientID     = fakeas.ClientID
	clientSecret = fakeas.ClientSecret
	benchCode    = "bench-code"
)

var userID = fakeas.DefaultUser.ID

// fakeAccessToken is the token the fake answers benchCode with; its user
// API accepts it.
var fakeAccessToken = "at-" + userID + "-" + fakeas.DefaultUser.Email + "-static"

// fakeProvider is the kit's shared fake authorization server
// (internal/fakeas) with its user API on loopback. /authorize auto-approves
// (for end-to-end runs), with or without PKCE (the peers send none);
// /token accepts those codes once (checking the verifier and redirect_uri)
// and, for the per-handler benchmarks, the fixed benchCode without PKCE,
// with fixed answers, so every contender costs the provider the same.
// Client authentication may be HTTP Basic or form fields (x/oauth2
// auto-detects; oauthkit's client posts).
type fakeProvider struct{ *fakeas.Server }

func newFakeProvider() *fakeProvider {
	s := fakeas.Start()
	s.StaticCode = benchCode
	s.PKCEOptional = true
	return &fakeProvider{s}
}

// at is the URL of path at the provider.
func (p *fakeProvider) at(path string) string { return p.URL + path }

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
			AuthURL:  p.at("/authorize"),
			TokenURL: p.at("/token"),
		},
		RedirectURL: redirectURL,
		Scopes:      []string{"user"},
	}
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
