package oauthkittest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Google's scopes for the userinfo claims, which release what profile and
// email release.
const (
	googleProfileScope = "https://www.googleapis.com/auth/userinfo.profile"
	googleEmailScope   = "https://www.googleapis.com/auth/userinfo.email"
)

// googleHosts are the hosts of Google's sign-in URLs.
var googleHosts = []string{
	"accounts.google.com", "oauth2.googleapis.com", "www.googleapis.com",
	"openidconnect.googleapis.com", "people.googleapis.com",
}

// googlePaths maps Google's paths to the op's.
var googlePaths = map[string]string{
	"/o/oauth2/v2/auth": "/authorize",
	"/token":            "/oauth/token",
	"/revoke":           "/revoke",
	"/oauth2/v3/certs":  "/keys",
	"/v1/userinfo":      "/userinfo",
}

const googlePeoplePath = "/v1/people/me"

// Google is a Provider shaped as Google's sign-in: issuer
// https://accounts.google.com, Google's authorize, token, revoke and key
// URLs (accounts.google.com, oauth2.googleapis.com, www.googleapis.com)
// and the People API's GET people.googleapis.com/v1/people/me, which
// counts as UserInfo. Google's userinfo.profile and userinfo.email scopes
// release the name and the email. Transport routes those hosts to the
// fake, so an application's Google client runs unchanged; every Provider
// method (AddClient, AddUser, LoginAs, FailNext, Requests) works as on a
// plain Provider.
type Google struct {
	*Provider
}

// StartGoogle starts a Google fake; Close stops it.
func StartGoogle(opts ...Option) (*Google, error) {
	p, err := start(opts, shape{
		issuer: "https://accounts.google.com",
		hosts:  googleHosts,
		front: func(_ *Provider, next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if to, ok := googlePaths[r.URL.Path]; ok {
					r = r.Clone(r.Context())
					r.URL.Path, r.URL.RawPath = to, ""
				}
				next.ServeHTTP(w, r)
			})
		},
		routes: map[string]shapeRoute{googlePeoplePath: {UserInfo, googlePeople}},
	})
	if err != nil {
		return nil, err
	}
	return &Google{p}, nil
}

// NewGoogle starts a Google fake for a test and closes it when the test ends.
func NewGoogle(t testing.TB, opts ...Option) *Google {
	t.Helper()
	g, err := StartGoogle(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// Transport routes requests for Google's hosts to the fake and others to
// base (nil: http.DefaultTransport): give it to the application's Google
// client (client.WithHTTPClient).
func (g *Google) Transport(base http.RoundTripper) http.RoundTripper { return g.route(base) }

// HTTPClient is an *http.Client with Transport(nil).
func (g *Google) HTTPClient() *http.Client { return &http.Client{Transport: g.Transport(nil)} }

// googlePeople is the People API's person of the access token: its
// resourceName, names, emailAddresses (with metadata.primary and
// metadata.verified) and photos.
func googlePeople(p *Provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := p.userOfAccessToken(r)
		if !ok {
			w.Header().Set("Content-Type", "application/json; charset=UTF-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`))
			return
		}
		src := map[string]any{"type": "PROFILE", "id": u.Subject}
		person := map[string]any{"resourceName": "people/" + u.Subject, "etag": "%" + u.Subject}
		if u.Name != "" {
			person["names"] = []any{map[string]any{"metadata": map[string]any{"primary": true, "source": src}, "displayName": u.Name}}
		}
		if u.Email != "" {
			person["emailAddresses"] = []any{map[string]any{
				"metadata": map[string]any{"primary": true, "verified": u.EmailVerified, "source": map[string]any{"type": "ACCOUNT", "id": u.Subject}},
				"value":    u.Email,
			}}
		}
		if pic, _ := u.Claims["picture"].(string); pic != "" {
			person["photos"] = []any{map[string]any{"metadata": map[string]any{"primary": true, "source": src}, "url": pic}}
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_ = json.NewEncoder(w).Encode(person)
	}
}

// userOfAccessToken is the user of the request's live bearer access token.
func (p *Provider) userOfAccessToken(r *http.Request) (User, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return User{}, false
	}
	plain, err := p.op.Crypto().Decrypt(tok)
	if err != nil {
		return User{}, false
	}
	id, _, _ := strings.Cut(plain, ":")
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	t, ok := p.st.access[id]
	if !ok || time.Now().After(t.expiry) {
		return User{}, false
	}
	u, ok := p.st.users[t.subject]
	if !ok {
		return User{}, false
	}
	return *u, true
}
