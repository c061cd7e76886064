package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
	"golang.org/x/crypto/bcrypt"
)

// fositeAS is an independent authorization server: ory/fosite's
// authorize, token and revocation handlers in one loopback httptest server,
// plus a discovery document and JWKS (fosite has neither) whose issuer is
// the server's URL. Clients are registered as DefaultOpenIDConnectClient,
// so fosite enforces each one's token endpoint auth method, and PKCE is
// required. The authorize handler approves every request for fositeSubject
// and grants every requested scope, so one GET yields the code.
type fositeAS struct {
	srv      *httptest.Server
	provider fosite.OAuth2Provider
	store    *storage.MemoryStore
	// discovery is served at /.well-known/openid-configuration; tests adjust
	// it through newFositeAS's mods.
	discovery map[string]any
	jwks      []byte

	tokenHits, revokeHits, parHits atomic.Int64
	// refreshHits counts the refresh_token grants reaching the token
	// endpoint, whatever their outcome.
	refreshHits atomic.Int64
	// beforeRefresh, when set, runs before a refresh grant is handled: a
	// test holds a refresh there.
	beforeRefresh atomic.Pointer[func()]

	issuedMu sync.Mutex
	issued   []string // every access, refresh and ID token handed out
}

// fositeSubject is the user every authorization request is approved for.
const fositeSubject = "alice"

// fositeRedirectURI is registered for every client; fosite matches loopback
// redirect URIs on any port (RFC 8252 §7.3).
const fositeRedirectURI = "http://127.0.0.1/callback"

// fositeClient is a confidential client registered at a fositeAS for
// Method ("client_secret_basic", "client_secret_post" or "private_key_jwt")
// at the token and revocation endpoints. A private_key_jwt client's keys
// are fetched from JWKSURI, and its assertions must be signed with
// SigningAlg (fosite's default RS256 when empty).
type fositeClient struct {
	ID, Secret, Method  string
	JWKSURI, SigningAlg string
}

// newFositeAS registers clients and starts the server. The discovery
// document advertises what Hydra v2.3.0 advertises for its secret methods
// (client_secret_post first) and no revocation auth methods; mods adjust
// it.
func newFositeAS(t *testing.T, clients []fositeClient, mods ...func(doc map[string]any)) *fositeAS {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	as := &fositeAS{store: storage.NewMemoryStore()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", as.serveJSON(func() any { return as.discovery }))
	mux.HandleFunc("GET /jwks", as.serveJSON(func() any { return json.RawMessage(as.jwks) }))
	mux.HandleFunc("GET /authorize", as.authorize)
	mux.HandleFunc("POST /token", as.token)
	mux.HandleFunc("POST /revoke", as.revoke)
	mux.HandleFunc("POST /introspect", as.introspect)
	mux.HandleFunc("POST /par", as.par)
	// Everything the handlers read is set before the server starts.
	as.srv = httptest.NewUnstartedServer(mux)
	t.Cleanup(as.srv.Close)
	issuer := "http://" + as.srv.Listener.Addr().String()
	cfg := &fosite.Config{
		GlobalSecret:        []byte("0123456789abcdef0123456789abcdef"),
		EnforcePKCE:         true,
		AccessTokenLifespan: time.Hour,
		IDTokenIssuer:       issuer,
		// private_key_jwt assertions must name the token endpoint as their
		// audience.
		TokenURL: issuer + "/token",
		// Set here: fosite fills it lazily on first use, which would race.
		JWKSFetcherStrategy:        fosite.NewDefaultJWKSFetcherStrategy(),
		SendDebugMessagesToClients: true,
	}
	as.provider = compose.ComposeAllEnabled(cfg, as.store, key)
	as.jwks, err = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	as.discovery = map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                issuer + "/authorize",
		"token_endpoint":                        issuer + "/token",
		"revocation_endpoint":                   issuer + "/revoke",
		"jwks_uri":                              issuer + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"scopes_supported":                      []string{"openid", "email", "offline_access"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"pushed_authorization_request_endpoint": issuer + "/par",
	}
	for _, m := range mods {
		m(as.discovery)
	}
	// A document that requires pushed authorization requests (a mod sets
	// require_pushed_authorization_requests) gets a server that enforces
	// them: fosite then refuses every unpushed authorization request.
	cfg.IsPushedAuthorizeEnforced = as.discovery["require_pushed_authorization_requests"] == true
	for _, c := range clients {
		as.addClient(t, c)
	}
	as.srv.Start()
	return as
}

// addClient registers c; secrets are stored bcrypt-hashed, as fosite
// wants. The store's client map is not locked, so this runs before Start.
func (as *fositeAS) addClient(t *testing.T, c fositeClient) {
	t.Helper()
	var hash []byte
	if c.Secret != "" {
		var err error
		if hash, err = bcrypt.GenerateFromPassword([]byte(c.Secret), bcrypt.MinCost); err != nil {
			t.Fatal(err)
		}
	}
	as.store.Clients[c.ID] = &fosite.DefaultOpenIDConnectClient{
		DefaultClient: &fosite.DefaultClient{
			ID: c.ID, Secret: hash,
			RedirectURIs:  []string{fositeRedirectURI},
			GrantTypes:    []string{"authorization_code", "refresh_token"},
			ResponseTypes: []string{"code"},
			Scopes:        []string{"openid", "email", "offline_access"},
		},
		TokenEndpointAuthMethod:           c.Method,
		JSONWebKeysURI:                    c.JWKSURI,
		TokenEndpointAuthSigningAlgorithm: c.SigningAlg,
	}
}

// authorizeCode drives the authorization endpoint with a plain GET, as a
// browser would, and returns the code of the redirect after checking its
// state.
func (as *fositeAS) authorizeCode(t *testing.T, authURL, state string) string {
	t.Helper()
	hc := &http.Client{CheckRedirect: noRedirect}
	res, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode/100 != 3 {
		t.Fatalf("authorize: HTTP %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("error") != "" || q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("authorize redirect %s: want a code and state %q", loc.Redacted(), state)
	}
	return q.Get("code")
}

func newFositeSession(subject string) *openid.DefaultSession {
	return &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Subject: subject},
		Headers: &jwt.Headers{},
		Subject: subject,
	}
}

func (as *fositeAS) serveJSON(v func() any) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v())
	}
}

func (as *fositeAS) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := as.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		as.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	resp, err := as.provider.NewAuthorizeResponse(ctx, ar, newFositeSession(fositeSubject))
	if err != nil {
		as.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	as.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// par is fosite's pushed authorization request endpoint (RFC 9126): the
// client authenticates as at the token endpoint, and the request is
// validated as an authorization request and kept for a single use.
func (as *fositeAS) par(w http.ResponseWriter, r *http.Request) {
	as.parHits.Add(1)
	ctx := r.Context()
	ar, err := as.provider.NewPushedAuthorizeRequest(ctx, r)
	if err != nil {
		as.provider.WritePushedAuthorizeError(ctx, w, ar, err)
		return
	}
	resp, err := as.provider.NewPushedAuthorizeResponse(ctx, ar, newFositeSession(""))
	if err != nil {
		as.provider.WritePushedAuthorizeError(ctx, w, ar, err)
		return
	}
	as.provider.WritePushedAuthorizeResponse(ctx, w, ar, resp)
}

func (as *fositeAS) token(w http.ResponseWriter, r *http.Request) {
	as.tokenHits.Add(1)
	if r.ParseForm() == nil && r.PostForm.Get("grant_type") == "refresh_token" {
		as.refreshHits.Add(1)
		if hold := as.beforeRefresh.Load(); hold != nil {
			(*hold)()
		}
	}
	rec := &teeWriter{ResponseWriter: w}
	defer func() { as.record(rec.body.Bytes()) }()
	w = rec
	ctx := r.Context()
	ar, err := as.provider.NewAccessRequest(ctx, r, newFositeSession(""))
	if err != nil {
		as.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	resp, err := as.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		as.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	as.provider.WriteAccessResponse(ctx, w, ar, resp)
}

func (as *fositeAS) revoke(w http.ResponseWriter, r *http.Request) {
	as.revokeHits.Add(1)
	ctx := r.Context()
	as.provider.WriteRevocationResponse(ctx, w, as.provider.NewRevocationRequest(ctx, r))
}

// teeWriter keeps a copy of the body it writes.
type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (tw *teeWriter) Write(p []byte) (int, error) {
	tw.body.Write(p)
	return tw.ResponseWriter.Write(p)
}

// record keeps the tokens of a token response.
func (as *fositeAS) record(body []byte) {
	var resp struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return
	}
	as.issuedMu.Lock()
	defer as.issuedMu.Unlock()
	for _, tok := range []string{resp.AccessToken, resp.RefreshToken, resp.IDToken} {
		if tok != "" {
			as.issued = append(as.issued, tok)
		}
	}
}

// issuedTokens is every token the token endpoint has handed out so far.
func (as *fositeAS) issuedTokens() []string {
	as.issuedMu.Lock()
	defer as.issuedMu.Unlock()
	return append([]string(nil), as.issued...)
}

// introspect is RFC 7662 token introspection, for clients authenticating
// with HTTP Basic.
func (as *fositeAS) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ir, err := as.provider.NewIntrospectionRequest(ctx, r, newFositeSession(""))
	if err != nil {
		as.provider.WriteIntrospectionError(ctx, w, err)
		return
	}
	as.provider.WriteIntrospectionResponse(ctx, w, ir)
}

// active asks fosite, as client c, whether token is active: an access
// token of a revoked grant is not.
func (as *fositeAS) active(t *testing.T, c fositeClient, token string) bool {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, as.srv.URL+"/introspect",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("introspection: HTTP %d: %v", res.StatusCode, err)
	}
	return out.Active
}
