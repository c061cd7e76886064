// Package fakeas is the one fake authorization server of the kit's tests,
// the integration module and the benchmarks: an OAuth2 server plus a user
// API on loopback that auto-approves every authorization request, checks
// PKCE (S256), redirect_uri and single use of codes like a real one,
// rotates refresh tokens, and counts every request so tests assert which
// requests were (not) made. Fault-injection hooks replace the token and
// revocation endpoints. Client builds the matching client: the only place
// that constructs one. Only tests import it.
//
// EnableOpenID adds an opt-in OpenID Connect mode for the kit's logout
// features: discovery, a JWKS, ID tokens carrying a provider session id
// (sid), UserInfo, an end_session_endpoint that records what it is sent,
// and minted back-channel logout tokens, good or broken on purpose
// (LogoutToken); OpenIDClient builds the real client for it.
//
// Pushed authorization requests (RFC 9126) are served at PARPath: a pushed
// request is kept under a single-use request_uri, which the authorization
// endpoint resolves; RequirePAR refuses requests that were not pushed.
package fakeas

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthkit/oauthkit/client"
)

// The credentials the server accepts, in the form or as HTTP Basic.
const (
	ClientID     = "cid"
	ClientSecret = "csecret"
)

// UserHeader names the request header ("id|email") that picks the user an
// authorization request is approved for, so concurrent logins can be
// distinct users; without it the server's current user is approved.
const UserHeader = "X-Fake-User"

// DefaultUser is the current user of a new server.
var DefaultUser = User{ID: "1234567890123456789", Email: "ada@example.com"}

// User is an account at the fake server. An email starting with
// "unverified" is one the server does not vouch for (email_verified false);
// an all-digit ID is served as a JSON number, "null" as null, any other as
// a string.
type User struct{ ID, Email string }

// grant is what an authorization code or a refresh token stands for.
type grant struct {
	challenge, redirectURI string
	user                   User
	// scope and nonce are those of the authorization request; an ID token
	// is issued only for a scope with "openid" on an OpenID server.
	scope, nonce string
}

// Server is the fake authorization server. Set its hooks before the first
// request.
type Server struct {
	// Srv is the loopback server; URL is its base URL.
	Srv *httptest.Server
	URL string

	mu        sync.Mutex
	codes     map[string]grant
	refreshes map[string]grant
	tokens    map[string]User
	user      User

	// Hit counters. TokenHits counts the token requests that are not
	// refresh grants (code exchanges, failed ones and those TokenHandler
	// answers included), TokenOK the successful code exchanges,
	// RefreshHits the refresh grants.
	AuthorizeHits, TokenHits, TokenOK, RefreshHits, UserHits, RevokeHits atomic.Int64
	// LastRevoked is the token of the last revocation request (a string).
	LastRevoked atomic.Value

	// TokenHandler, when set, answers the token endpoint (fault injection).
	TokenHandler http.HandlerFunc
	// BeforeToken, when set, runs before the server's own token endpoint
	// handles a request (its form parsed): tests hold a refresh in flight
	// or observe it.
	BeforeToken func(r *http.Request)
	// RevokeHandler, when set, answers the revocation endpoint after it is
	// counted and LastRevoked is recorded; unset, revocation answers 200.
	RevokeHandler http.HandlerFunc
	// ExpiresIn is the lifetime of issued access tokens, in seconds.
	ExpiresIn int
	// StaticCode, when set, is a code the token endpoint accepts any number
	// of times without PKCE or redirect_uri checks, for benchmarks that
	// replay one callback.
	StaticCode string
	// PKCEOptional lets authorization requests without a code challenge
	// through, for clients (the benchmarks' peers) that send none.
	PKCEOptional bool

	// RequirePAR makes the authorization endpoint refuse requests that
	// were not pushed, and the metadata say so.
	RequirePAR bool
	// PARHandler, when set, answers the PAR endpoint after it is counted
	// (fault injection).
	PARHandler http.HandlerFunc
	// PARHits counts the requests to the PAR endpoint.
	PARHits atomic.Int64
	pushed  map[string]url.Values // request_uri → pushed parameters, guarded by mu
	pushes  []url.Values          // every accepted push, guarded by mu

	// OpenID Connect mode (EnableOpenID).
	openid      atomic.Bool
	key         *signingKey       // current JWKS key, guarded by mu
	stranger    *signingKey       // a key never published, guarded by mu
	sessions    map[string]string // user id → provider session id, guarded by mu
	endSessions []url.Values      // end_session parameters, guarded by mu

	// EndSessionHits counts the requests to the end_session_endpoint;
	// DiscoveryHits and JWKSHits those of the metadata and the key set.
	EndSessionHits, DiscoveryHits, JWKSHits atomic.Int64
	// IDTokenClaims, when set, edits the claims of every ID token before it
	// is signed, for tests of ID tokens the client must refuse (or of
	// claims the server does not issue).
	IDTokenClaims func(claims map[string]any)
	// Now is the clock stamping the ID and logout tokens (nil: time.Now),
	// so they match a test clock given to the kit.
	Now func() time.Time
}

// New starts a server closed at the end of t.
func New(t testing.TB) *Server {
	s := Start()
	t.Cleanup(func() { s.Srv.Close() }) // the server Restart made, if any
	return s
}

// Start starts a server the caller closes (Srv.Close), for a TestMain.
func Start() *Server {
	s := &Server{
		codes:     map[string]grant{},
		refreshes: map[string]grant{},
		sessions:  map[string]string{},
		tokens:    map[string]User{},
		pushed:    map[string]url.Values{},
		user:      DefaultUser,
		ExpiresIn: 3600,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if h := s.TokenHandler; h != nil {
			s.TokenHits.Add(1)
			h(w, r)
			return
		}
		if h := s.BeforeToken; h != nil {
			_ = r.ParseForm()
			h(r)
		}
		s.token(w, r)
	})
	mux.HandleFunc("GET /user", s.userinfo)
	mux.HandleFunc("POST "+PARPath, s.par)
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeHits.Add(1)
		_ = r.ParseForm()
		s.LastRevoked.Store(r.PostForm.Get("token"))
		if h := s.RevokeHandler; h != nil {
			h(w, r)
		}
	})
	s.openIDRoutes(mux)
	s.Srv = httptest.NewServer(mux)
	s.URL = s.Srv.URL
	return s
}

// Stop takes the server down, as an outage does: its port refuses
// connections until Restart. The issuer URL stays the same.
func (s *Server) Stop() {
	s.Srv.CloseClientConnections()
	_ = s.Srv.Listener.Close()
	s.Srv.Close()
}

// Restart brings a stopped server back on the same address, with its
// state (users, grants, keys, counters) as it was.
func (s *Server) Restart() error {
	l, err := net.Listen("tcp", s.Srv.Listener.Addr().String())
	if err != nil {
		return err
	}
	srv := httptest.NewUnstartedServer(s.Srv.Config.Handler)
	srv.Listener = l
	srv.Start()
	s.Srv = srv
	return nil
}

// SetUser changes the user approved when a request names none.
func (s *Server) SetUser(u User) { s.mu.Lock(); s.user = u; s.mu.Unlock() }

// Approve sends the authorization request authURL as a browser would, for
// u (zero: the current user), and returns the redirect back to the app (the
// callback URL with code and state).
func (s *Server) Approve(authURL string, u User) (*url.URL, error) {
	req, err := http.NewRequest(http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	if u.ID != "" {
		req.Header.Set(UserHeader, u.ID+"|"+u.Email)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	res, err := noFollow.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("fakeas: authorize answered %d", res.StatusCode)
	}
	return url.Parse(res.Header.Get("Location"))
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	s.AuthorizeHits.Add(1)
	q := r.URL.Query()
	if uri := q.Get("request_uri"); uri != "" {
		s.mu.Lock()
		pushed, ok := s.pushed[uri]
		delete(s.pushed, uri) // single use
		s.mu.Unlock()
		if !ok || len(q) != 2 || q.Get("client_id") != pushed.Get("client_id") {
			http.Error(w, "unknown, used or mismatched request_uri", http.StatusBadRequest)
			return
		}
		q = pushed
	} else if s.RequirePAR {
		http.Error(w, "authorization requests must be pushed", http.StatusBadRequest)
		return
	}
	pkce := q.Get("code_challenge_method") == "S256" && len(q.Get("code_challenge")) == 43
	noPKCE := s.PKCEOptional && q.Get("code_challenge") == "" && q.Get("code_challenge_method") == ""
	if q.Get("response_type") != "code" || q.Get("client_id") != ClientID || q.Get("state") == "" || !(pkce || noPKCE) {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || q.Get("redirect_uri") == "" {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	code := client.GenerateState()
	s.mu.Lock()
	user := s.user
	if id, email, ok := strings.Cut(r.Header.Get(UserHeader), "|"); ok {
		user = User{ID: id, Email: email}
	}
	s.codes[code] = grant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), user: user,
		scope: q.Get("scope"), nonce: q.Get("nonce")}
	s.mu.Unlock()
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f := r.PostForm
	w.Header().Set("Content-Type", "application/json")
	fail := func(code string) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"error":%q}`, code)
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	var g grant
	switch f.Get("grant_type") {
	case "refresh_token":
		s.RefreshHits.Add(1)
		if id != ClientID || secret != ClientSecret {
			fail("invalid_client")
			return
		}
		s.mu.Lock()
		rg, ok := s.refreshes[f.Get("refresh_token")]
		delete(s.refreshes, f.Get("refresh_token")) // rotation
		s.mu.Unlock()
		if !ok {
			fail("invalid_grant")
			return
		}
		// OIDC Core §12.2: a refreshed ID token carries no nonce.
		g = grant{user: rg.user, scope: rg.scope}
	default:
		s.TokenHits.Add(1)
		if id != ClientID || secret != ClientSecret {
			fail("invalid_client")
			return
		}
		if f.Get("grant_type") != "authorization_code" {
			fail("unsupported_grant_type")
			return
		}
		code := f.Get("code")
		if s.StaticCode != "" && code == s.StaticCode {
			// Fixed answers, stored nowhere: a benchmark replaying the
			// code costs the server the same small work every time.
			s.mu.Lock()
			u := s.user
			s.mu.Unlock()
			s.TokenOK.Add(1)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"access_token":  "at-" + u.ID + "-" + u.Email + "-static",
				"token_type":    "Bearer",
				"refresh_token": "rt-static",
				"expires_in":    s.ExpiresIn,
				"scope":         "user",
			})
			return
		} else {
			s.mu.Lock()
			cg, ok := s.codes[code]
			delete(s.codes, code) // single use, like a real AS
			s.mu.Unlock()
			if !ok || cg.redirectURI != f.Get("redirect_uri") ||
				(cg.challenge != "" && client.S256Challenge(f.Get("code_verifier")) != cg.challenge) ||
				(cg.challenge == "" && f.Get("code_verifier") != "") {
				fail("invalid_grant")
				return
			}
			g = cg
		}
		s.TokenOK.Add(1)
	}
	u := g.user
	at := "at-" + u.ID + "-" + u.Email + "-" + client.GenerateState()
	rt := "rt-" + client.GenerateState()
	s.mu.Lock()
	s.refreshes[rt] = g
	s.tokens[at] = u
	s.mu.Unlock()
	body := map[string]any{
		"access_token":  at,
		"token_type":    "Bearer",
		"refresh_token": rt,
		"expires_in":    s.ExpiresIn,
		"scope":         "user",
	}
	if s.openid.Load() && slices.Contains(strings.Fields(g.scope), "openid") {
		body["id_token"] = s.idToken(g)
		body["scope"] = g.scope
	}
	_ = json.NewEncoder(w).Encode(body)
}

// userinfo serves the profile of the user a token was issued to. A token
// the server did not issue (a TokenHandler's) names its user itself:
// "at-<id>-<email>-<anything>".
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	s.UserHits.Add(1)
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	u, ok := s.tokens[at]
	s.mu.Unlock()
	if !ok {
		rest, prefixed := strings.CutPrefix(at, "at-")
		parts := strings.SplitN(rest, "-", 3)
		if !prefixed || len(parts) < 2 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		u = User{ID: parts[0], Email: parts[1]}
	}
	id := u.ID
	if id != "null" && strings.Trim(id, "0123456789") != "" || id == "" {
		id = fmt.Sprintf("%q", id)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"id":%s,"login":%q,"email":%q,"email_verified":%t,"name":%q,"avatar_url":%q}`,
		id, "user"+u.ID, u.Email, u.Email != "" && !strings.HasPrefix(u.Email, "unverified"),
		"User "+u.ID, "https://avatars.example/"+u.ID+".png")
}

// Provider is the generic client plus the fake server's user API: a real
// client doing real HTTP, like the provider clients of package client.
type Provider struct {
	*client.OAuth2
	// UserURL is the user API the identity is read from.
	UserURL string
	hc      *http.Client
	// clientHC is the hc Client was given, for PAR's rebuilt client.
	clientHC *http.Client
}

// Options are the client options Client uses, for tests that rebuild the
// client with changes (WithOAuth2).
func Options(name string, hc *http.Client) []client.Option {
	opts := []client.Option{
		client.WithRevocationEndpointAuthMethod(client.ClientSecretPost),
		client.WithName(name),
		client.WithScopes("user"),
	}
	if hc != nil {
		opts = append(opts, client.WithHTTPClient(hc))
	}
	return opts
}

// Client builds the client registered at s (ClientID, ClientSecret, scope
// "user"; the kit's clock stamps token expiry) named name, reaching s through hc (nil: the
// client package's default; the user API then goes through the test
// server's client). Every test builds its fake provider client here.
func (s *Server) Client(name string, hc *http.Client) (*Provider, error) {
	c, err := client.New(client.Config{
		ClientID: ClientID, ClientSecret: ClientSecret,
		AuthorizeEndpoint:    s.URL + "/authorize",
		AccessTokenEndpoint:  s.URL + "/token",
		RefreshTokenEndpoint: s.URL + "/token",
		RevokeTokenEndpoint:  s.URL + "/revoke",
	}, Options(name, hc)...)
	if err != nil {
		return nil, err
	}
	clientHC := hc
	if hc == nil {
		hc = s.Srv.Client()
	}
	return &Provider{OAuth2: c, UserURL: s.URL + "/user", hc: hc, clientHC: clientHC}, nil
}

// IDEmail reads the user API.
func (p *Provider) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := p.identity(ctx, accessToken)
	if err != nil {
		return "", "", err
	}
	return id.Subject, id.Email, nil
}

// Identify reads the user API: the generic client's Identify knows none.
func (p *Provider) Identify(ctx context.Context, t *client.Token, nonce string) (*client.Identity, error) {
	return p.identity(ctx, t.AccessToken)
}

func (p *Provider) identity(ctx context.Context, accessToken string) (*client.Identity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.UserURL, nil)
	if err != nil {
		return nil, &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	res, err := p.hc.Do(req)
	if err != nil {
		return nil, &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, &client.RequestError{Op: client.ErrGetIDEmail, Err: &client.HTTPError{StatusCode: res.StatusCode}}
	}
	dec := json.NewDecoder(io.LimitReader(res.Body, client.MaxResponseBytes))
	dec.UseNumber()
	var v struct {
		ID            any    `json:"id"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
		AvatarURL     string `json:"avatar_url"`
	}
	if err := dec.Decode(&v); err != nil {
		return nil, &client.RequestError{Op: client.ErrGetIDEmail, Err: err}
	}
	var sub string
	switch id := v.ID.(type) {
	case json.Number:
		sub = id.String()
	case string:
		sub = id
	}
	return &client.Identity{Subject: sub, Email: v.Email, EmailVerified: v.EmailVerified, Name: v.Name, AvatarURL: v.AvatarURL}, nil
}

// ForgetRefreshTokens drops every refresh token issued so far, as a
// provider does when the user revokes the app's grant.
func (s *Server) ForgetRefreshTokens() { s.mu.Lock(); clear(s.refreshes); s.mu.Unlock() }

// WithOAuth2 is p with its OAuth2 client replaced by c (a client rebuilt
// from p's configuration), keeping the user API.
func (p *Provider) WithOAuth2(c *client.OAuth2) *Provider {
	q := *p
	q.OAuth2 = c
	return &q
}

// --- OpenID Connect mode ---------------------------------------------------

// The OpenID Connect endpoints, served once EnableOpenID is called (404
// before).
const (
	DiscoveryPath  = "/.well-known/openid-configuration"
	JWKSPath       = "/jwks"
	UserinfoPath   = "/userinfo"
	EndSessionPath = "/end_session"
)

// BackChannelLogoutEvent is the event a logout token must carry
// (OpenID Connect Back-Channel Logout 1.0 §2.4).
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// signingKey is an RSA key with the kid it is published under.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

// newSigningKey generates a key. It cannot fail: crypto/rand never does
// (since Go 1.24) and 2048 bits is a valid size, hence the panic on an
// error that would mean a broken runtime.
func newSigningKey() *signingKey {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("fakeas: generating an RSA key: " + err.Error())
	}
	return &signingKey{kid: "k-" + client.GenerateState()[:12], priv: priv}
}

// EnableOpenID turns the server into an OpenID Connect provider, for the
// kit's logout tests: it then serves the discovery document, the JWKS (one
// RSA key, see RotateKey), UserInfo and the end_session_endpoint, and adds
// an ID token to every token response of a grant whose scope has
// "openid" (refreshes included, without nonce). The OAuth2 behaviour
// (codes, PKCE, the /user API, counters, hooks) is unchanged, and a server
// never enabled answers 404 on the OpenID endpoints. Call it before the
// first request; calling it again does nothing.
func (s *Server) EnableOpenID() {
	s.currentKey()
	s.openid.Store(true)
}

// currentKey returns the published key, generating it on first use.
func (s *Server) currentKey() *signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key == nil {
		s.key = newSigningKey()
	}
	return s.key
}

// strangerKey returns a key the JWKS never publishes, generated once.
func (s *Server) strangerKey() *signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stranger == nil {
		s.stranger = newSigningKey()
	}
	return s.stranger
}

// KeyID is the kid of the published key (generating it if needed), for
// tests that assert which key signed a token.
func (s *Server) KeyID() string { return s.currentKey().kid }

// RotateKey replaces the published key by a new one under a new kid and
// returns that kid. The old key is dropped from the JWKS at once, so tokens
// signed before fail to verify once a client refetches the JWKS, and new
// ones need the client to refetch it (an unknown kid).
func (s *Server) RotateKey() string {
	k := newSigningKey()
	s.mu.Lock()
	s.key = k
	s.mu.Unlock()
	return k.kid
}

// SessionID is the provider session ("sid") of userID: one random value
// per user for the server's lifetime, the same in every ID token of that
// user and the one to put in logout tokens.
func (s *Server) SessionID(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sid, ok := s.sessions[userID]
	if !ok {
		sid = "sid-" + client.GenerateState()
		s.sessions[userID] = sid
	}
	return sid
}

// EndSessionRequests returns the parameters of every end_session_endpoint
// request so far (query and form merged), oldest first.
func (s *Server) EndSessionRequests() []url.Values { return s.recorded(&s.endSessions) }

// recorded returns a copy of one of the server's request records, taken
// under its lock.
func (s *Server) recorded(list *[]url.Values) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]url.Values, len(*list))
	for i, v := range *list {
		out[i] = maps.Clone(v)
	}
	return out
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) openIDRoutes(mux *http.ServeMux) {
	only := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !s.openid.Load() {
				http.NotFound(w, r)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET "+DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
		s.DiscoveryHits.Add(1)
		only(s.discovery)(w, r)
	})
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, r *http.Request) {
		s.JWKSHits.Add(1)
		only(s.jwks)(w, r)
	})
	mux.HandleFunc("GET "+UserinfoPath, only(s.oidcUserinfo))
	mux.HandleFunc("GET "+EndSessionPath, only(s.endSession))
	mux.HandleFunc("POST "+EndSessionPath, only(s.endSession))
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                s.URL,
		"authorization_endpoint":                s.URL + "/authorize",
		"token_endpoint":                        s.URL + "/token",
		"userinfo_endpoint":                     s.URL + UserinfoPath,
		"jwks_uri":                              s.URL + JWKSPath,
		"revocation_endpoint":                   s.URL + "/revoke",
		"end_session_endpoint":                  s.URL + EndSessionPath,
		"pushed_authorization_request_endpoint": s.URL + PARPath,
		"require_pushed_authorization_requests": s.RequirePAR,
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile", "offline_access"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nonce", "sid", "email", "email_verified", "name"},
		"backchannel_logout_supported":          true,
		"backchannel_logout_session_supported":  true,
		"frontchannel_logout_supported":         true,
		"frontchannel_logout_session_supported": true,
	})
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	k := s.currentKey()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig",
	}}})
}

// oidcUserinfo is UserInfo (OIDC Core §5.3) for the tokens /user accepts.
func (s *Server) oidcUserinfo(w http.ResponseWriter, r *http.Request) {
	s.UserHits.Add(1)
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	u, issued := s.tokens[at]
	s.mu.Unlock()
	if !ok || !issued {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sub":            u.ID,
		"email":          u.Email,
		"email_verified": u.verified(),
		"name":           "User " + u.ID,
		"picture":        "https://avatars.example/" + u.ID + ".png",
	})
}

// verified is the email_verified the server vouches for.
func (u User) verified() bool { return u.Email != "" && !strings.HasPrefix(u.Email, "unverified") }

// endSession is the RP-Initiated Logout endpoint: it records the request
// and validates nothing (the tests assert what the kit sent), then sends
// the browser to post_logout_redirect_uri, with state when given, or
// answers 200 without it.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	s.EndSessionHits.Add(1)
	_ = r.ParseForm()
	s.mu.Lock()
	s.endSessions = append(s.endSessions, maps.Clone(r.Form))
	s.mu.Unlock()
	back := r.Form.Get("post_logout_redirect_uri")
	if back == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "signed out\n")
		return
	}
	u, err := url.Parse(back)
	if err != nil || !u.IsAbs() {
		http.Error(w, "bad post_logout_redirect_uri", http.StatusBadRequest)
		return
	}
	if st := r.Form.Get("state"); st != "" {
		q := u.Query()
		q.Set("state", st)
		u.RawQuery = q.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// idToken is the ID token of a grant (OIDC Core §2).
func (s *Server) idToken(g grant) string {
	k := s.currentKey()
	now := s.now()
	u := g.user
	claims := map[string]any{
		"iss":            s.URL,
		"sub":            u.ID,
		"aud":            ClientID,
		"iat":            now.Unix(),
		"auth_time":      now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
		"sid":            s.SessionID(u.ID),
		"email":          u.Email,
		"email_verified": u.verified(),
		"name":           "User " + u.ID,
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	if h := s.IDTokenClaims; h != nil {
		h(claims)
	}
	return sign(k.priv, k.kid, "JWT", claims)
}

// sign is the compact RS256 JWS of claims, typed typ, with kid. It cannot
// fail for a valid RSA key and JSON claims; a claim that is not JSON (set
// by a test through a hook or Claims) is the one panic.
func sign(priv *rsa.PrivateKey, kid, typ string, claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: priv},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader(jose.HeaderKey("kid"), kid))
	if err == nil {
		var jws *jose.JSONWebSignature
		if jws, err = signer.Sign(mustJSON(claims)); err == nil {
			var out string
			if out, err = jws.CompactSerialize(); err == nil {
				return out
			}
		}
	}
	panic("fakeas: signing: " + err.Error())
}

// mustJSON marshals what a test put in a token; a value that is not JSON
// is the test's bug, reported at once.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("fakeas: token claims are not JSON: " + err.Error())
	}
	return b
}

// LogoutTokenOptions shape a logout token (OpenID Connect Back-Channel
// Logout 1.0 §2.4). The zero value is a valid token naming neither sub nor
// sid (which the spec forbids): set Subject, SessionID or both. Every other
// field is a knob that breaks one rule, so tests can prove the kit refuses
// each bad token.
type LogoutTokenOptions struct {
	// Subject is the "sub" claim and SessionID the "sid" claim, each
	// omitted when empty.
	Subject, SessionID string

	// Issuer replaces "iss" (default: the server's URL).
	Issuer string
	// Audience replaces "aud" (default: ClientID).
	Audience string
	// IssuedAt replaces "iat" (default: the server's clock now), such as a
	// time in the future.
	IssuedAt time.Time
	// ExpiresAt replaces "exp" (default: IssuedAt plus two minutes), such
	// as a time in the past.
	ExpiresAt time.Time
	// Nonce, when set, adds a "nonce" claim, which a logout token must not
	// have (it would let an ID token pass for one).
	Nonce string
	// NoEvents omits the "events" claim; Events, when non-nil, replaces
	// it (default: {BackChannelLogoutEvent: {}}).
	NoEvents bool
	Events   map[string]any
	// NoJTI omits "jti"; JTI replaces the random default.
	NoJTI bool
	JTI   string
	// Claims are set last, over everything above (nil values delete).
	Claims map[string]any

	// UnknownKey signs with a key the JWKS does not publish, under its own
	// kid unless KeyID is set.
	UnknownKey bool
	// KeyID replaces the kid header (such as a kid the JWKS does not have,
	// or the published kid on a token UnknownKey signs).
	KeyID string
	// Type replaces the typ header (default "logout+jwt", §2.4).
	Type string
	// Alg other than "" and "RS256" writes that alg header over an
	// unverifiable signature: empty for "none", the bytes "garbage" for any
	// other (such as "HS256").
	Alg string
}

// LogoutToken mints a back-channel logout token as the server would send
// it, shaped by opts. It generates the signing key if EnableOpenID has not.
func (s *Server) LogoutToken(opts LogoutTokenOptions) string {
	iat := opts.IssuedAt
	if iat.IsZero() {
		iat = s.now()
	}
	exp := opts.ExpiresAt
	if exp.IsZero() {
		exp = iat.Add(2 * time.Minute)
	}
	claims := map[string]any{
		"iss": cmp.Or(opts.Issuer, s.URL),
		"aud": cmp.Or(opts.Audience, ClientID),
		"iat": iat.Unix(),
		"exp": exp.Unix(),
	}
	if !opts.NoJTI {
		claims["jti"] = cmp.Or(opts.JTI, "jti-"+client.GenerateState())
	}
	if !opts.NoEvents {
		events := opts.Events
		if events == nil {
			events = map[string]any{BackChannelLogoutEvent: map[string]any{}}
		}
		claims["events"] = events
	}
	if opts.Subject != "" {
		claims["sub"] = opts.Subject
	}
	if opts.SessionID != "" {
		claims["sid"] = opts.SessionID
	}
	if opts.Nonce != "" {
		claims["nonce"] = opts.Nonce
	}
	for name, v := range opts.Claims {
		if v == nil {
			delete(claims, name)
		} else {
			claims[name] = v
		}
	}
	keyOf := s.currentKey
	if opts.UnknownKey {
		keyOf = s.strangerKey
	}
	k := keyOf()
	kid := cmp.Or(opts.KeyID, k.kid)
	typ := cmp.Or(opts.Type, "logout+jwt")
	if opts.Alg != "" && opts.Alg != string(jose.RS256) {
		return unverifiable(opts.Alg, kid, typ, claims)
	}
	return sign(k.priv, kid, typ, claims)
}

// unverifiable is a compact JWS with alg over a signature no key verifies.
func unverifiable(alg, kid, typ string, claims map[string]any) string {
	enc := base64.RawURLEncoding.EncodeToString
	sig := ""
	if alg != "none" {
		sig = enc([]byte("garbage"))
	}
	return enc(mustJSON(map[string]string{"alg": alg, "kid": kid, "typ": typ})) + "." + enc(mustJSON(claims)) + "." + sig
}

// BackChannelLogout POSTs token as logout_token to the RP's
// backchannel_logout_uri uri through hc (nil: the test server's client), as
// an OP does (§2.5). The caller closes the response body.
func (s *Server) BackChannelLogout(ctx context.Context, hc *http.Client, uri, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri,
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.do(hc, req)
}

// FrontChannelLogout loads the RP's frontchannel_logout_uri uri with the
// iss and sid parameters (OpenID Connect Front-Channel Logout 1.0 §2), as
// the OP's logout page does in an iframe, through hc (nil: the test
// server's client, which has no cookies; pass the browser's client to
// send them). An empty sid sends neither parameter. The caller closes the
// response body.
func (s *Server) FrontChannelLogout(ctx context.Context, hc *http.Client, uri, sid string) (*http.Response, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	if sid != "" {
		q := u.Query()
		q.Set("iss", s.URL)
		q.Set("sid", sid)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	return s.do(hc, req)
}

func (s *Server) do(hc *http.Client, req *http.Request) (*http.Response, error) {
	if hc == nil {
		hc = s.Srv.Client()
	}
	return hc.Do(req)
}

// OpenIDOptions are the client options OpenIDClient uses, for tests that
// rebuild the client with changes.
func OpenIDOptions(name string, hc *http.Client) []client.Option {
	opts := []client.Option{client.WithName(name)}
	if hc != nil {
		opts = append(opts, client.WithHTTPClient(hc))
	}
	return opts
}

// OpenIDClient discovers s (EnableOpenID first) with the real generic
// OpenID Connect client, registered as ClientID and ClientSecret, named
// name, reaching s through hc (nil: the client package's default). Its
// scopes are the client's defaults ("openid email"), so every login gets
// an ID token.
func (s *Server) OpenIDClient(ctx context.Context, name string, hc *http.Client) (*client.OpenID, error) {
	return client.DiscoverOpenID(ctx, s.URL, ClientID, ClientSecret, OpenIDOptions(name, hc)...)
}

// --- pushed authorization requests ---------------------------------------

// PARPath is the pushed authorization request endpoint (RFC 9126).
const PARPath = "/par"

// parLifetime is the expires_in of issued request_uri values, in seconds.
const parLifetime = 60

// par accepts a pushed authorization request from the registered client
// (form or Basic credentials) and answers 201 with a fresh request_uri.
func (s *Server) par(w http.ResponseWriter, r *http.Request) {
	s.PARHits.Add(1)
	if h := s.PARHandler; h != nil {
		h(w, r)
		return
	}
	_ = r.ParseForm()
	f := r.PostForm
	w.Header().Set("Content-Type", "application/json")
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	if id != ClientID || secret != ClientSecret || (f.Has("client_id") && f.Get("client_id") != ClientID) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	if f.Has("request_uri") {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid_request"}`)
		return
	}
	params := maps.Clone(f)
	delete(params, "client_secret")
	params.Set("client_id", ClientID)
	uri := "urn:ietf:params:oauth:request_uri:" + client.GenerateState()
	s.mu.Lock()
	s.pushed[uri] = params
	s.pushes = append(s.pushes, maps.Clone(params))
	s.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"request_uri": uri, "expires_in": parLifetime})
}

// Pushed returns the parameters of every accepted push, in order, without
// the client secret.
func (s *Server) Pushed() []url.Values { return s.recorded(&s.pushes) }

// PAR is p (a Client of a Server) with pushed authorization requests on:
// the server's PAR endpoint configured and client.WithPushedAuthorization
// given.
func (p *Provider) PAR() (*Provider, error) {
	cfg := p.Config()
	cfg.PushedAuthorizationEndpoint = strings.TrimSuffix(cfg.AuthorizeEndpoint, "/authorize") + PARPath
	c, err := client.New(cfg, append(Options(p.Name(), p.clientHC), client.WithPushedAuthorization())...)
	if err != nil {
		return nil, err
	}
	return p.WithOAuth2(c), nil
}
