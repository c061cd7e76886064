package oauthkittest_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oauthkit/oauthkit/oauthkittest"
)

// zitadel/oidc logs refused requests through slog's default logger; the
// tests refuse many on purpose.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

var (
	ada = oauthkittest.User{
		Subject: "ada", Email: "ada@example.com", EmailVerified: true, Name: "Ada Lovelace",
		Groups: []string{"admins"}, ACR: "urn:example:mfa", Claims: map[string]any{"tenant": "t1"},
	}
	bob = oauthkittest.User{Subject: "bob", Email: "bob@example.com", Name: "Bob"}
)

// rp is an independent relying party: golang.org/x/oauth2 for the flow,
// coreos/go-oidc for discovery, ID tokens and UserInfo.
type rp struct {
	p        *oauthkittest.Provider
	oidc     *oidc.Provider
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
}

const redirectURI = "http://127.0.0.1:9/callback" // never reached: the test reads the code from the redirect

// newRP registers c (with redirectURI) at p and discovers p.
func newRP(t *testing.T, p *oauthkittest.Provider, c oauthkittest.Client) *rp {
	t.Helper()
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{redirectURI}
	}
	if err := p.AddClient(c); err != nil {
		t.Fatal(err)
	}
	op, err := oidc.NewProvider(t.Context(), p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	style := oauth2.AuthStyleInHeader
	if c.AuthMethod == oauthkittest.AuthMethodPost || c.AuthMethod == oauthkittest.AuthMethodNone {
		style = oauth2.AuthStyleInParams
	}
	ep := op.Endpoint()
	ep.AuthStyle = style
	return &rp{
		p: p, oidc: op,
		cfg: oauth2.Config{
			ClientID: c.ID, ClientSecret: c.Secret, Endpoint: ep, RedirectURL: c.RedirectURIs[0],
			Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
		},
		verifier: op.Verifier(&oidc.Config{ClientID: c.ID}),
	}
}

// grant is the outcome of one login: the verifier and nonce the client
// drew, and the authorization response.
type grant struct {
	verifier, nonce string
	resp            url.Values
}

// authorize runs the front channel as user: authorize, the provider's
// login step (SetNextLogin), up to the redirect to the client.
func (r *rp) authorize(t *testing.T, user string, opts ...oauth2.AuthCodeOption) grant {
	t.Helper()
	g := grant{verifier: oauth2.GenerateVerifier(), nonce: rand.Text()}
	if err := r.p.SetNextLogin(user); err != nil {
		t.Fatal(err)
	}
	opts = append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(g.verifier), oidc.Nonce(g.nonce)}, opts...)
	g.resp = follow(t, r.cfg.AuthCodeURL("state-"+rand.Text(), opts...), r.cfg.RedirectURL)
	return g
}

// follow GETs u and its redirects until one leads to the client's
// redirect URI, and returns that URI's query.
func follow(t *testing.T, u, redirect string) url.Values {
	t.Helper()
	loc, status := redirectsUntil(t, u, func(next string) bool { return strings.HasPrefix(next, redirect) })
	if loc == "" {
		t.Fatalf("GET %s: %d, no redirect to %s", u, status, redirect)
	}
	parsed, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Query()
}

// redirectsUntil GETs u and the redirects it answers with until stop
// accepts the next URL, which it returns (unrequested); an answer that
// does not redirect returns "" and its status.
func redirectsUntil(t *testing.T, u string, stop func(string) bool) (string, int) {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range 10 {
		if stop(u) {
			return u, 0
		}
		res, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, err := res.Location()
		if err != nil {
			return "", res.StatusCode
		}
		u = loc.String()
	}
	t.Fatalf("more than 10 redirects from %s", u)
	return "", 0
}

// login authorizes and exchanges the code.
func (r *rp) login(t *testing.T, user string) (*oauth2.Token, grant) {
	t.Helper()
	g := r.authorize(t, user)
	tok, err := r.cfg.Exchange(t.Context(), g.resp.Get("code"), oauth2.VerifierOption(g.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok, g
}

// refresh uses a refresh token once, as a client that stored it would.
func (r *rp) refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	return r.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// oauthCode is the OAuth error code of an x/oauth2 error, "" for others.
func oauthCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// contextWithClient makes x/oauth2 use hc.
func contextWithClient(ctx context.Context, hc *http.Client) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}
