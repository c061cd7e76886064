package oauthkit_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/providertest"
)

// This file is the harness of kit_providers_test.go: one fake that plays
// every provider on loopback (dispatching on r.Host + r.URL.Path, so the
// provider clients keep their production URLs), per-row route tables, and
// the login / refresh / logout flow run through a kit for one row.

// kpSecret is every row's client secret. It is 256 bits long because
// FranceConnect keys its HS256 ID tokens with it.
const kpSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// kpAuth is a client authentication method at a token or revocation
// endpoint, as the fake checks it.
type kpAuth int

const (
	kpPost         kpAuth = iota // client_id + client_secret in the form, no Authorization
	kpBasic                      // HTTP Basic, no secret in the form
	kpAppleJWT                   // client_secret_post with an ES256 client-secret JWT (Sign in with Apple)
	kpClientIDOnly               // client_id in the form, no secret anywhere (Twitch revocation)
	kpBearerAT                   // the current access token as Bearer, empty body (Kakao unlink)
)

// kpRow is one provider constructor and what its provider looks like on the
// wire.
type kpRow struct {
	name     string // the client's Name(), also the route segment
	clientID string // default "cid-" + name
	client   func(e *kpEnv) (client.Provider, error)
	kit      func(p *oauthkit.Provider) // extra kit configuration (scopes, auth params, RequireIssuer)

	authorize string            // host + path of the authorization endpoint
	authQuery map[string]string // expected authorization parameters ("" = absent)
	formPost  bool              // the provider answers with response_mode=form_post
	// callbackIss is sent as the RFC 9207 iss parameter of the callback.
	callbackIss string
	// callbackExtra are other parameters the provider adds to the callback.
	callbackExtra url.Values

	token     string // host + path of the token endpoint
	auth      kpAuth // client authentication at the token endpoint
	tokenBody func(m map[string]any)
	oidc      *kpOIDC

	routes map[string]kpRoute // user API, JWKS, discovery

	wantID, wantEmail string
	refresh           bool
	revoke            *kpRevoke
}

func (r *kpRow) cid() string {
	if r.clientID != "" {
		return r.clientID
	}
	return "cid-" + r.name
}

// kpOIDC describes the ID token a row's token endpoint returns with the
// code: signed RS256 with the env's key (published by kpJWKS routes), or
// HS256 keyed by the client secret (FranceConnect v1).
type kpOIDC struct {
	issuer string
	hs256  bool
	sub    string
	email  string
	// verified is the email_verified claim; nil leaves it out.
	verified any
	mod      func(c map[string]any)
}

// kpRevoke is a revocation endpoint: the form it must receive (besides the
// client authentication fields; "$AT" and "$RT" stand for the session's
// current tokens) and its answer.
type kpRevoke struct {
	endpoint string
	auth     kpAuth
	form     map[string]string
	reply    string
}

// kpRoute builds a handler of the fake for one row.
type kpRoute func(e *kpEnv, row *kpRow) http.HandlerFunc

// kpTokens are the last tokens the fake issued for a row.
type kpTokens struct{ at, rt string }

type kpGrant struct {
	row, challenge, redirectURI, nonce string
}

// kpEnv is one kit (built by the shared harness's newApp) whose providers
// are clients of package client talking to one fake through a rewriting
// HTTP client.
type kpEnv struct {
	t       *testing.T
	a       *app
	hc      *http.Client // every URL to the fake, redirects not followed
	now     func() time.Time
	rows    map[string]*kpRow
	rsaKey  *rsa.PrivateKey
	apple   *ecdsa.PrivateKey
	appleP8 []byte

	mu      sync.Mutex
	routes  map[string]http.HandlerFunc
	codes   map[string]kpGrant
	live    map[string]string // access token -> row
	rts     map[string]string // refresh token -> row
	last    map[string]kpTokens
	refresh map[string]int // row -> refresh grants
	revokes map[string]int // row -> revocations
}

// kpKeys are generated once per test binary: RSA key generation is slow
// under -race.
var kpKeys = sync.OnceValues(func() (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return r, ec
})

func noFollow(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// newKPEnv starts the fake with the routes of rows and a kit with one
// provider per row.
func newKPEnv(t *testing.T, rows ...*kpRow) *kpEnv {
	t.Helper()
	rk, ek := kpKeys()
	der, err := x509.MarshalPKCS8PrivateKey(ek)
	require.NoError(t, err)
	e := &kpEnv{
		t: t, rows: map[string]*kpRow{}, rsaKey: rk, apple: ek,
		appleP8: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		routes:  map[string]http.HandlerFunc{}, codes: map[string]kpGrant{},
		live: map[string]string{}, rts: map[string]string{}, last: map[string]kpTokens{},
		refresh: map[string]int{}, revokes: map[string]int{},
	}
	for _, row := range rows {
		e.rows[row.name] = row
		e.mount(row)
	}
	srv := httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	e.hc = &http.Client{Transport: &providertest.Loopback{Target: srv.Listener.Addr().String(), Base: tr}, CheckRedirect: noFollow}

	e.a = newApp(t, func(cfg *oauthkit.Config) {
		e.now = cfg.Now
		base := strings.TrimSuffix(cfg.Providers[0].RedirectURL, "/auth/test/callback")
		var ps []oauthkit.Provider
		for _, row := range rows {
			c, err := row.client(e)
			require.NoError(t, err, row.name)
			require.Equal(t, row.name, c.Name())
			p := oauthkit.Provider{Client: c, RedirectURL: base + "/auth/" + row.name + "/callback"}
			if row.kit != nil {
				row.kit(&p)
			}
			ps = append(ps, p)
		}
		cfg.Providers = ps
		cfg.LoginPath = "/auth/" + rows[0].name + "/login"
		cfg.RevokeOnLogout = true
	})
	return e
}

// opts are the options every client is built with: the rewriting HTTP
// client and the kit's clock (ID-token times and token expiry).
func (e *kpEnv) opts(extra ...client.Option) []client.Option {
	return append([]client.Option{client.WithHTTPClient(e.hc), client.WithClock(e.now)}, extra...)
}

func (e *kpEnv) callbackURL(row *kpRow) string {
	return e.a.srv.URL + "/auth/" + row.name + "/callback"
}

func (e *kpEnv) fail(row *kpRow, format string, args ...any) {
	e.t.Errorf("fake %s: %s", row.name, fmt.Sprintf(format, args...))
}

func (e *kpEnv) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Host + r.URL.Path
	e.mu.Lock()
	h, ok := e.routes[key]
	e.mu.Unlock()
	if !ok {
		e.t.Errorf("fake: unexpected request %s %s", r.Method, key)
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

func (e *kpEnv) route(key string, h http.HandlerFunc) {
	if _, dup := e.routes[key]; dup {
		e.t.Fatalf("fake: two routes for %s", key)
	}
	e.routes[key] = h
}

func (e *kpEnv) mount(row *kpRow) {
	e.route(row.authorize, e.authorizeHandler(row))
	e.route(row.token, e.tokenHandler(row))
	if rv := row.revoke; rv != nil && rv.endpoint != row.token {
		e.route(rv.endpoint, e.revokeHandler(row))
	}
	for k, mk := range row.routes {
		e.route(k, mk(e, row))
	}
}

func kpWriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	switch b := v.(type) {
	case string:
		_, _ = io.WriteString(w, b)
	default:
		_ = json.NewEncoder(w).Encode(v)
	}
}

// authorizeHandler approves every well-formed authorization request: a 302
// back to redirect_uri, or the auto-submitting form of response_mode=form_post.
func (e *kpEnv) authorizeHandler(row *kpRow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.Method != http.MethodGet,
			q.Get("response_type") != "code",
			q.Get("client_id") != row.cid(),
			q.Get("redirect_uri") != e.callbackURL(row),
			q.Get("code_challenge_method") != "S256",
			len(q.Get("code_challenge")) != 43,
			q.Get("state") == "",
			row.oidc != nil && q.Get("nonce") == "":
			e.fail(row, "bad authorization request %s", r.URL.RawQuery)
			http.Error(w, "bad authorization request", http.StatusBadRequest)
			return
		}
		code := "code-" + row.name + "-" + client.GenerateState()
		e.mu.Lock()
		e.codes[code] = kpGrant{row: row.name, challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), nonce: q.Get("nonce")}
		e.mu.Unlock()
		back := url.Values{"code": {code}, "state": {q.Get("state")}}
		if row.callbackIss != "" {
			back.Set("iss", row.callbackIss)
		}
		for k, v := range row.callbackExtra {
			back[k] = v
		}
		if q.Get("response_mode") == "form_post" {
			// Apple adds the user's name on first sign-in.
			back.Set("user", `{"name":{"firstName":"Arthur","lastName":"Pendragon"},"email":"arthur@privaterelay.appleid.com"}`)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<html><body onload="document.forms[0].submit()"><form method="post" action="%s">`, html.EscapeString(q.Get("redirect_uri")))
			for k, vs := range back {
				fmt.Fprintf(w, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(vs[0]))
			}
			fmt.Fprint(w, `</form></body></html>`)
			return
		}
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
	}
}

// checkAuth checks the client authentication of a token or revocation
// request and returns the form without its authentication fields.
func (e *kpEnv) checkAuth(row *kpRow, r *http.Request, how kpAuth) (url.Values, error) {
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	form := url.Values{}
	for k, v := range r.PostForm {
		form[k] = v
	}
	hdr := r.Header.Get("Authorization")
	switch how {
	case kpPost, kpAppleJWT:
		if hdr != "" {
			return nil, fmt.Errorf("client_secret_post with an Authorization header")
		}
		if form.Get("client_id") != row.cid() {
			return nil, fmt.Errorf("client_id %q", form.Get("client_id"))
		}
		if how == kpPost && form.Get("client_secret") != kpSecret {
			return nil, fmt.Errorf("client_secret missing or wrong")
		}
		if how == kpAppleJWT {
			if err := e.checkAppleSecret(row, form.Get("client_secret")); err != nil {
				return nil, err
			}
		}
		delete(form, "client_id")
		delete(form, "client_secret")
	case kpBasic:
		id, secret, ok := r.BasicAuth()
		if !ok || id != row.cid() || secret != kpSecret {
			return nil, fmt.Errorf("client_secret_basic missing or wrong")
		}
		if _, ok := form["client_secret"]; ok {
			return nil, fmt.Errorf("secret in the form as well as in Basic")
		}
		delete(form, "client_id") // allowed by RFC 6749 §2.3.1 alongside Basic
	case kpClientIDOnly:
		if hdr != "" || form.Get("client_id") != row.cid() {
			return nil, fmt.Errorf("want client_id only")
		}
		if _, ok := form["client_secret"]; ok {
			return nil, fmt.Errorf("client secret sent")
		}
		delete(form, "client_id")
	case kpBearerAT:
		e.mu.Lock()
		at := e.last[row.name].at
		e.mu.Unlock()
		if hdr != "Bearer "+at {
			return nil, fmt.Errorf("want the current access token as Bearer, got %q", hdr)
		}
	}
	return form, nil
}

// checkAppleSecret verifies a Sign in with Apple client secret: an ES256
// JWT by the team's key, for the services id, not expired.
func (e *kpEnv) checkAppleSecret(row *kpRow, s string) error {
	jws, err := jose.ParseSignedCompact(s, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return fmt.Errorf("apple client secret: %v", err)
	}
	payload, err := jws.Verify(&e.apple.PublicKey)
	if err != nil {
		return fmt.Errorf("apple client secret signature: %v", err)
	}
	var c struct {
		Iss, Sub, Aud string
		Exp           int64
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return err
	}
	if jws.Signatures[0].Header.KeyID != "KEY1234567" || c.Iss != "TEAM123456" || c.Sub != row.cid() ||
		c.Aud != "https://appleid.apple.com" || c.Exp <= e.now().Unix() {
		return fmt.Errorf("apple client secret claims %+v", c)
	}
	return nil
}

// tokenHandler is a row's token endpoint: code exchange (PKCE checked) and
// refresh, both with the row's client authentication.
func (e *kpEnv) tokenHandler(row *kpRow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			e.fail(row, "token endpoint: %s %s", r.Method, r.Header.Get("Content-Type"))
			kpWriteJSON(w, 400, `{"error":"invalid_request"}`)
			return
		}
		if rv := row.revoke; rv != nil && rv.endpoint == row.token && r.FormValue("grant_type") == rv.form["grant_type"] {
			e.revokeHandler(row)(w, r) // Naver deletes tokens at its token endpoint
			return
		}
		form, err := e.checkAuth(row, r, row.auth)
		if err != nil {
			e.fail(row, "token endpoint: %v", err)
			kpWriteJSON(w, 401, `{"error":"invalid_client"}`)
			return
		}
		var g *kpGrant
		switch form.Get("grant_type") {
		case "authorization_code":
			e.mu.Lock()
			gr, ok := e.codes[form.Get("code")]
			delete(e.codes, form.Get("code"))
			e.mu.Unlock()
			verifier := form.Get("code_verifier")
			if !ok || gr.row != row.name || gr.redirectURI != form.Get("redirect_uri") ||
				len(verifier) < 43 || client.S256Challenge(verifier) != gr.challenge {
				e.fail(row, "code exchange: unknown code, redirect_uri or PKCE verifier mismatch (%v)", form)
				kpWriteJSON(w, 400, `{"error":"invalid_grant"}`)
				return
			}
			g = &gr
		case "refresh_token":
			e.mu.Lock()
			owner := e.rts[form.Get("refresh_token")]
			delete(e.rts, form.Get("refresh_token"))
			e.refresh[row.name]++
			e.mu.Unlock()
			if !row.refresh || owner != row.name {
				e.fail(row, "refresh with an unknown refresh token")
				kpWriteJSON(w, 400, `{"error":"invalid_grant"}`)
				return
			}
		default:
			e.fail(row, "grant_type %q", form.Get("grant_type"))
			kpWriteJSON(w, 400, `{"error":"unsupported_grant_type"}`)
			return
		}
		kpWriteJSON(w, 200, e.issue(row, g))
	}
}

// issue makes the token response of row: fresh access (and refresh) token,
// an ID token with the grant's nonce for OIDC rows at code exchange, then
// the row's own shape.
func (e *kpEnv) issue(row *kpRow, g *kpGrant) map[string]any {
	tk := kpTokens{at: "at-" + row.name + "-" + client.GenerateState()}
	m := map[string]any{"access_token": tk.at, "token_type": "Bearer", "expires_in": 3600}
	if row.refresh {
		tk.rt = "rt-" + row.name + "-" + client.GenerateState()
		m["refresh_token"] = tk.rt
	}
	if g != nil && row.oidc != nil {
		m["id_token"] = e.idToken(row, g.nonce)
	}
	if row.tokenBody != nil {
		row.tokenBody(m)
	}
	e.mu.Lock()
	e.live[tk.at] = row.name
	if tk.rt != "" {
		e.rts[tk.rt] = row.name
	}
	e.last[row.name] = tk
	e.mu.Unlock()
	return m
}

func (e *kpEnv) idToken(row *kpRow, nonce string) string {
	o := row.oidc
	now := e.now()
	c := map[string]any{
		"iss": o.issuer, "aud": row.cid(), "sub": o.sub, "nonce": nonce,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if o.email != "" {
		c["email"] = o.email
	}
	if o.verified != nil {
		c["email_verified"] = o.verified
	}
	if o.mod != nil {
		o.mod(c)
	}
	key := jose.SigningKey{Algorithm: jose.RS256, Key: e.rsaKey}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), "kp-rsa")
	if o.hs256 {
		key = jose.SigningKey{Algorithm: jose.HS256, Key: []byte(kpSecret)}
		opts = (&jose.SignerOptions{}).WithType("JWT")
	}
	s, err := jose.NewSigner(key, opts)
	require.NoError(e.t, err)
	payload, err := json.Marshal(c)
	require.NoError(e.t, err)
	jws, err := s.Sign(payload)
	require.NoError(e.t, err)
	out, err := jws.CompactSerialize()
	require.NoError(e.t, err)
	return out
}

// revokeHandler checks a revocation request against the row's kpRevoke.
func (e *kpEnv) revokeHandler(row *kpRow) http.HandlerFunc {
	rv := row.revoke
	return func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.revokes[row.name]++
		tk := e.last[row.name]
		e.mu.Unlock()
		if r.Method != http.MethodPost {
			e.fail(row, "revocation with %s", r.Method)
		}
		form, err := e.checkAuth(row, r, rv.auth)
		if err != nil {
			e.fail(row, "revocation: %v", err)
			kpWriteJSON(w, 401, `{"error":"invalid_client"}`)
			return
		}
		want := url.Values{}
		for k, v := range rv.form {
			v = strings.ReplaceAll(strings.ReplaceAll(v, "$AT", tk.at), "$RT", tk.rt)
			want.Set(k, v)
		}
		if !assert.Equal(e.t, want, form, "revocation form of %s", row.name) {
			kpWriteJSON(w, 400, `{"error":"invalid_request"}`)
			return
		}
		reply := strings.ReplaceAll(rv.reply, "$AT", tk.at)
		if reply == "" {
			w.WriteHeader(http.StatusOK)
			return
		}
		kpWriteJSON(w, 200, reply)
	}
}

// kpUserOpt adjusts a kpUser route.
type kpUserOpt func(*kpUserSpec)

type kpUserSpec struct {
	cred  func(r *http.Request) (string, bool)
	check func(e *kpEnv, r *http.Request, at string) error
}

// kpUser is a user API answering body to method when the request carries a
// live access token of the row (Bearer unless kpCred says otherwise).
func kpUser(method, body string, opts ...kpUserOpt) kpRoute {
	spec := kpUserSpec{cred: func(r *http.Request) (string, bool) {
		return strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}}
	for _, o := range opts {
		o(&spec)
	}
	return func(e *kpEnv, row *kpRow) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			at, ok := spec.cred(r)
			e.mu.Lock()
			owner := e.live[at]
			e.mu.Unlock()
			if r.Method != method || !ok || owner != row.name {
				e.fail(row, "user API %s %s%s: method or access token wrong", r.Method, r.Host, r.URL.Path)
				kpWriteJSON(w, 401, `{"error":"invalid_token"}`)
				return
			}
			if spec.check != nil {
				if err := spec.check(e, r, at); err != nil {
					e.fail(row, "user API %s%s: %v", r.Host, r.URL.Path, err)
					kpWriteJSON(w, 400, `{"error":"invalid_request"}`)
					return
				}
			}
			kpWriteJSON(w, 200, body)
		}
	}
}

// kpCred takes the access token from header instead of a Bearer credential.
func kpCred(header string) kpUserOpt {
	return func(s *kpUserSpec) {
		s.cred = func(r *http.Request) (string, bool) { v := r.Header.Get(header); return v, v != "" }
	}
}

// kpCheck adds a check of the user-API request.
func kpCheck(f func(e *kpEnv, r *http.Request, at string) error) kpUserOpt {
	return func(s *kpUserSpec) { s.check = f }
}

// kpJWKS publishes the env's RSA key.
func kpJWKS() kpRoute {
	return func(e *kpEnv, row *kpRow) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: e.rsaKey.Public(), KeyID: "kp-rsa", Algorithm: "RS256", Use: "sig"}}}
			kpWriteJSON(w, 200, set)
		}
	}
}

// kpStatic answers a fixed JSON document (discovery).
func kpStatic(v any) kpRoute {
	return func(e *kpEnv, row *kpRow) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { kpWriteJSON(w, 200, v) }
	}
}

var kpInputRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
var kpActionRE = regexp.MustCompile(`<form method="post" action="([^"]*)">`)

// kpNext is the return-to of the logins the harness runs.
const kpNext = "/profile?tab=providers"

// login runs one full login for row in a fresh browser and returns it
// signed in.
func (e *kpEnv) login(t *testing.T, row *kpRow) *http.Client {
	b, res, body := e.callback(t, row)
	require.Equal(t, http.StatusFound, res.StatusCode, "callback: %v (%s)", e.a.lastErr(), body)
	require.Equal(t, kpNext, res.Header.Get("Location"))

	res, body = e.a.do(b, http.MethodGet, kpNext, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, row.name+"|"+row.wantID+"|"+row.wantEmail, body)
	return b
}

// callback runs a login for row in a fresh browser up to the kit's answer
// to the provider's callback, and returns the browser and that answer.
func (e *kpEnv) callback(t *testing.T, row *kpRow) (*http.Client, *http.Response, string) {
	a := e.a
	b := a.browser()

	// GET login: 302 to the provider's real authorization endpoint.
	res, _ := a.do(b, http.MethodGet, "/auth/"+row.name+"/login?next="+url.QueryEscape(kpNext), nil)
	require.Equal(t, http.StatusFound, res.StatusCode, "login: %v", a.lastErr())
	authURL, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "https", authURL.Scheme)
	require.Equal(t, row.authorize, authURL.Host+authURL.Path)
	q := authURL.Query()
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, row.cid(), q.Get("client_id"))
	assert.Equal(t, e.callbackURL(row), q.Get("redirect_uri"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Len(t, q.Get("code_challenge"), 43)
	assert.GreaterOrEqual(t, len(q.Get("state")), 22)
	if row.oidc != nil {
		assert.GreaterOrEqual(t, len(q.Get("nonce")), 22, "OIDC clients get a nonce")
		assert.NotEqual(t, q.Get("state"), q.Get("nonce"))
	} else {
		assert.NotContains(t, q, "nonce")
	}
	for k, v := range row.authQuery {
		if v == "" {
			assert.NotContains(t, q, k)
		} else {
			assert.Equal(t, v, q.Get(k), k)
		}
	}

	// The provider approves and sends the browser back.
	pres, err := e.hc.Get(authURL.String())
	require.NoError(t, err)
	page, err := io.ReadAll(pres.Body)
	pres.Body.Close()
	require.NoError(t, err)
	var callback string
	if row.formPost {
		require.Equal(t, http.StatusOK, pres.StatusCode)
		assert.Equal(t, "form_post", q.Get("response_mode"))
		m := kpActionRE.FindSubmatch(page)
		require.NotNil(t, m, "form_post page: %s", page)
		require.Equal(t, e.callbackURL(row), html.UnescapeString(string(m[1])))
		form := url.Values{}
		for _, in := range kpInputRE.FindAllSubmatch(page, -1) {
			form.Set(html.UnescapeString(string(in[1])), html.UnescapeString(string(in[2])))
		}
		// The cross-site POST carries no SameSite=Lax cookie: sent from a
		// jar-less client, as a browser would send it.
		req, err := http.NewRequest(http.MethodPost, e.callbackURL(row), strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://"+authURL.Host)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		nc := &http.Client{Transport: a.srv.Client().Transport, CheckRedirect: noFollow}
		fres, err := nc.Do(req)
		require.NoError(t, err)
		fres.Body.Close()
		require.Equal(t, http.StatusSeeOther, fres.StatusCode, "form_post: %v", a.lastErr())
		callback = fres.Header.Get("Location")
		require.True(t, strings.HasPrefix(callback, "/auth/"+row.name+"/callback?"), callback)
	} else {
		require.Equal(t, http.StatusFound, pres.StatusCode, "authorize: %s", page)
		loc := pres.Header.Get("Location")
		require.True(t, strings.HasPrefix(loc, e.callbackURL(row)+"?"), loc)
		callback = strings.TrimPrefix(loc, a.srv.URL)
	}

	// Callback: code exchange, identity, then the kit's answer.
	res, body := a.do(b, http.MethodGet, callback, nil)
	return b, res, body
}

// lastTokens returns the tokens most recently issued for row.
func (e *kpEnv) lastTokens(row *kpRow) kpTokens {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last[row.name]
}

func (e *kpEnv) counts(row *kpRow) (refreshes, revokes int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.refresh[row.name], e.revokes[row.name]
}

// run is the whole check of one row: login, kit.Token (refreshed through
// the provider once the token expired), logout with revocation.
func (e *kpEnv) run(t *testing.T, row *kpRow) {
	a := e.a
	b := e.login(t, row)

	tk := e.lastTokens(row)
	res, body := a.do(b, http.MethodGet, "/api/token", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Equal(t, tk.at, body, "kit.Token returns the provider's access token")

	if row.refresh {
		a.clock.Add(90 * 24 * time.Hour) // past every row's expires_in (LinkedIn: 60 days)
		res, body = a.do(b, http.MethodGet, "/api/token", nil)
		require.Equal(t, http.StatusOK, res.StatusCode, "refresh: %s %v", body, a.lastErr())
		nt := e.lastTokens(row)
		require.NotEqual(t, tk.at, nt.at)
		require.Equal(t, nt.at, body, "kit.Token refreshed through the provider")
		res, body = a.do(b, http.MethodGet, "/api/token", nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, nt.at, body, "the refreshed token is kept in the session")
		refreshes, _ := e.counts(row)
		require.Equal(t, 1, refreshes)
	}

	res, _ = a.do(b, http.MethodPost, "/logout", http.Header{"Origin": {a.srv.URL}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "logout: %v", a.lastErr())
	_, revokes := e.counts(row)
	if row.revoke != nil {
		require.Equal(t, 1, revokes, "RevokeOnLogout reaches %s", row.revoke.endpoint)
	} else {
		require.Zero(t, revokes)
	}
	require.False(t, a.signedIn(b))
	require.NoError(t, a.lastErr())
}
