package fakeas_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
)

const callback = "http://127.0.0.1:1/cb"

// openIDServer is an OpenID Connect fake and the real client discovered
// from it.
func openIDServer(t *testing.T) (*fakeas.Server, *client.OpenID) {
	t.Helper()
	s := fakeas.New(t)
	s.EnableOpenID()
	c, err := s.OpenIDClient(t.Context(), "fake", nil)
	require.NoError(t, err)
	return s, c
}

// login runs the authorization code flow for u (zero: the current user)
// with nonce as the kit does and returns the token response.
func login(t *testing.T, s *fakeas.Server, c *client.OpenID, u fakeas.User, nonce string) *client.Token {
	t.Helper()
	verifier := client.GenerateVerifier()
	authURL, err := c.AuthCodeURL(callback, client.AuthURLOptions{
		State: client.GenerateState(), Nonce: nonce,
		CodeChallenge: client.S256Challenge(verifier), CodeChallengeMethod: "S256",
	}, nil)
	require.NoError(t, err)
	back, err := s.Approve(authURL, u)
	require.NoError(t, err)
	tok, err := c.AccessToken(t.Context(), back.Query().Get("code"), callback, verifier)
	require.NoError(t, err)
	return tok
}

// verifier is go-oidc's verifier for s's tokens, reading s's JWKS; now nil
// is time.Now.
func verifier(s *fakeas.Server, now func() time.Time) *oidc.IDTokenVerifier {
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), s.Srv.Client()), s.URL+fakeas.JWKSPath)
	return oidc.NewVerifier(s.URL, keys, &oidc.Config{ClientID: fakeas.ClientID, Now: now})
}

// idClaims verifies an ID token with go-oidc and returns all its claims.
func idClaims(t *testing.T, s *fakeas.Server, raw string) map[string]any {
	t.Helper()
	idt, err := verifier(s, nil).Verify(t.Context(), raw)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, idt.Claims(&m))
	return m
}

func TestOpenIDDiscovery(t *testing.T) {
	s, c := openIDServer(t)
	var md map[string]any
	require.NoError(t, json.Unmarshal(c.Metadata(), &md))
	assert.Equal(t, s.URL, md["issuer"])
	assert.Equal(t, s.URL+fakeas.EndSessionPath, md["end_session_endpoint"])
	assert.Equal(t, s.URL+fakeas.JWKSPath, md["jwks_uri"])
	assert.Equal(t, s.URL+fakeas.UserinfoPath, md["userinfo_endpoint"])
	assert.Equal(t, s.URL+"/revoke", md["revocation_endpoint"])
	assert.Equal(t, []any{"RS256"}, md["id_token_signing_alg_values_supported"])
	for _, flag := range []string{"backchannel_logout_supported", "backchannel_logout_session_supported",
		"frontchannel_logout_supported", "frontchannel_logout_session_supported"} {
		assert.Equal(t, true, md[flag], flag)
	}
	caps := c.Capabilities()
	assert.Equal(t, s.URL, caps.Issuer)
	assert.True(t, caps.Nonce)
}

// A server never enabled keeps its OAuth2-only behaviour: no OpenID
// endpoint, no ID token.
func TestOpenIDIsOptIn(t *testing.T) {
	s := fakeas.New(t)
	for _, path := range []string{fakeas.DiscoveryPath, fakeas.JWKSPath, fakeas.UserinfoPath, fakeas.EndSessionPath} {
		res, err := s.Srv.Client().Get(s.URL + path)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusNotFound, res.StatusCode, path)
	}
	_, err := s.OpenIDClient(t.Context(), "fake", nil)
	require.ErrorIs(t, err, client.ErrOpenIDConfiguration)

	// The OAuth2 client asks for scope "user": no ID token even once the
	// server speaks OpenID Connect.
	p, err := s.Client("fake", nil)
	require.NoError(t, err)
	for _, enabled := range []bool{false, true} {
		if enabled {
			s.EnableOpenID()
		}
		verifier := client.GenerateVerifier()
		authURL, err := p.AuthCodeURL(callback, client.AuthURLOptions{State: "st",
			CodeChallenge: client.S256Challenge(verifier), CodeChallengeMethod: "S256"}, nil)
		require.NoError(t, err)
		back, err := s.Approve(authURL, fakeas.User{})
		require.NoError(t, err)
		tok, err := p.AccessToken(t.Context(), back.Query().Get("code"), callback, verifier)
		require.NoError(t, err)
		assert.Empty(t, tok.IDToken, "enabled=%v", enabled)
		assert.Equal(t, "user", tok.Scope)
	}
}

func TestOpenIDLoginIdentify(t *testing.T) {
	s, c := openIDServer(t)
	nonce := client.GenerateState()
	tok := login(t, s, c, fakeas.User{}, nonce)
	require.NotEmpty(t, tok.IDToken)

	id, err := c.Identify(t.Context(), tok, nonce)
	require.NoError(t, err)
	assert.Equal(t, fakeas.DefaultUser.ID, id.Subject)
	assert.Equal(t, fakeas.DefaultUser.Email, id.Email)
	assert.True(t, id.EmailVerified)
	assert.Equal(t, "User "+fakeas.DefaultUser.ID, id.Name)

	// The nonce is the authorization request's: another one is refused.
	_, err = c.Identify(t.Context(), tok, "other")
	require.ErrorIs(t, err, client.ErrIDTokenNonce)

	m := idClaims(t, s, tok.IDToken)
	assert.Equal(t, nonce, m["nonce"])
	assert.Equal(t, fakeas.DefaultUser.ID, m["sub"])
	assert.Equal(t, fakeas.ClientID, m["aud"])
	assert.Equal(t, true, m["email_verified"])
}

func TestOpenIDUnverifiedEmail(t *testing.T) {
	s, c := openIDServer(t)
	u := fakeas.User{ID: "u-7", Email: "unverified7@example.com"}
	tok := login(t, s, c, u, "n")
	id, err := c.Identify(t.Context(), tok, "n")
	require.NoError(t, err)
	assert.Equal(t, "u-7", id.Subject)
	assert.False(t, id.EmailVerified)
	assert.Equal(t, false, idClaims(t, s, tok.IDToken)["email_verified"])
}

// sid names the provider session of the user: the same across logins of
// one user, another for another user.
func TestOpenIDSessionID(t *testing.T) {
	s, c := openIDServer(t)
	other := fakeas.User{ID: "u-2", Email: "bob@example.com"}
	first := idClaims(t, s, login(t, s, c, fakeas.User{}, "n1").IDToken)["sid"]
	second := idClaims(t, s, login(t, s, c, fakeas.User{}, "n2").IDToken)["sid"]
	bob := idClaims(t, s, login(t, s, c, other, "n3").IDToken)["sid"]
	assert.Equal(t, s.SessionID(fakeas.DefaultUser.ID), first)
	assert.Equal(t, first, second)
	assert.Equal(t, s.SessionID(other.ID), bob)
	assert.NotEqual(t, first, bob)
}

// A refresh answers a new ID token for the same user and session, without
// nonce (OIDC Core §12.2).
func TestOpenIDRefresh(t *testing.T) {
	s, c := openIDServer(t)
	tok := login(t, s, c, fakeas.User{}, "n")
	fresh, err := c.RefreshToken(t.Context(), tok.RefreshToken)
	require.NoError(t, err)
	require.NotEmpty(t, fresh.IDToken)
	m := idClaims(t, s, fresh.IDToken)
	assert.Equal(t, fakeas.DefaultUser.ID, m["sub"])
	assert.Equal(t, s.SessionID(fakeas.DefaultUser.ID), m["sid"])
	assert.NotContains(t, m, "nonce")
	assert.Equal(t, int64(1), s.RefreshHits.Load())
}

func TestOpenIDHooks(t *testing.T) {
	s := fakeas.New(t)
	at := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	var foreign atomic.Bool
	s.Now = func() time.Time { return at }
	s.IDTokenClaims = func(m map[string]any) {
		if foreign.Load() {
			m["aud"] = "someone-else"
		}
	}
	s.EnableOpenID()
	c, err := s.OpenIDClient(t.Context(), "fake", nil)
	require.NoError(t, err)

	foreign.Store(true)
	tok := login(t, s, c, fakeas.User{}, "n")
	_, err = c.Identify(t.Context(), tok, "n")
	require.ErrorIs(t, err, client.ErrIDTokenAudience)

	foreign.Store(false)
	tok = login(t, s, c, fakeas.User{}, "n")
	_, err = c.Identify(t.Context(), tok, "n")
	require.ErrorIs(t, err, client.ErrIDTokenExpired, "stamped three hours ago, valid one hour")
	idt, err := verifier(s, s.Now).Verify(t.Context(), tok.IDToken)
	require.NoError(t, err)
	assert.Equal(t, at, idt.IssuedAt)
}

// validLogout is the default logout token for the default user.
func validLogout(s *fakeas.Server) fakeas.LogoutTokenOptions {
	return fakeas.LogoutTokenOptions{Subject: fakeas.DefaultUser.ID, SessionID: s.SessionID(fakeas.DefaultUser.ID)}
}

func TestLogoutTokenVerifies(t *testing.T) {
	s, _ := openIDServer(t)
	raw := s.LogoutToken(validLogout(s))
	lt, err := verifier(s, nil).VerifyLogout(t.Context(), raw)
	require.NoError(t, err)
	assert.Equal(t, s.URL, lt.Issuer)
	assert.Equal(t, []string{fakeas.ClientID}, lt.Audience)
	assert.Equal(t, fakeas.DefaultUser.ID, lt.Subject)
	assert.Equal(t, s.SessionID(fakeas.DefaultUser.ID), lt.SessionID)
	assert.NotEmpty(t, lt.TokenID)
	assert.Equal(t, 2*time.Minute, lt.Expiry.Sub(lt.IssuedAt))
	var m map[string]any
	require.NoError(t, lt.Claims(&m))
	assert.Equal(t, map[string]any{fakeas.BackChannelLogoutEvent: map[string]any{}}, m["events"])

	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	assert.Equal(t, s.KeyID(), jws.Signatures[0].Header.KeyID)
	assert.Equal(t, "logout+jwt", jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType])

	again, err := verifier(s, nil).VerifyLogout(t.Context(), s.LogoutToken(validLogout(s)))
	require.NoError(t, err)
	assert.NotEqual(t, lt.TokenID, again.TokenID, "jti is random")

	for _, o := range []fakeas.LogoutTokenOptions{{Subject: "u"}, {SessionID: "s"}} {
		_, err := verifier(s, nil).VerifyLogout(t.Context(), s.LogoutToken(o))
		require.NoError(t, err, "sub or sid alone is enough: %+v", o)
	}
}

// Each knob breaks the token the way it says: go-oidc refuses it for that
// reason.
func TestLogoutTokenKnobs(t *testing.T) {
	s, _ := openIDServer(t)
	now := time.Now()
	for name, tc := range map[string]struct {
		edit func(*fakeas.LogoutTokenOptions)
		want string
	}{
		"wrong iss":       {func(o *fakeas.LogoutTokenOptions) { o.Issuer = "https://evil.example" }, "issued by a different provider"},
		"wrong aud":       {func(o *fakeas.LogoutTokenOptions) { o.Audience = "other-client" }, "expected logout token audience"},
		"nonce":           {func(o *fakeas.LogoutTokenOptions) { o.Nonce = "n" }, "must not contain a 'nonce'"},
		"no events":       {func(o *fakeas.LogoutTokenOptions) { o.NoEvents = true }, "backchannel-logout event"},
		"other event":     {func(o *fakeas.LogoutTokenOptions) { o.Events = map[string]any{"urn:other": map[string]any{}} }, "backchannel-logout event"},
		"no jti":          {func(o *fakeas.LogoutTokenOptions) { o.NoJTI = true }, "'jti'"},
		"no sub, no sid":  {func(o *fakeas.LogoutTokenOptions) { o.Subject, o.SessionID = "", "" }, "'sub' claim, a 'sid' claim, or both"},
		"expired":         {func(o *fakeas.LogoutTokenOptions) { o.ExpiresAt = now.Add(-time.Minute) }, "token is expired"},
		"no exp (Claims)": {func(o *fakeas.LogoutTokenOptions) { o.Claims = map[string]any{"exp": nil} }, "must contain an 'exp'"},
		"unknown key":     {func(o *fakeas.LogoutTokenOptions) { o.UnknownKey = true }, "failed to verify signature"},
		"unknown key, published kid": {func(o *fakeas.LogoutTokenOptions) { o.UnknownKey, o.KeyID = true, s.KeyID() },
			"failed to verify signature"},
		"alg none":           {func(o *fakeas.LogoutTokenOptions) { o.Alg = "none" }, "malformed jwt"},
		"HS256 with garbage": {func(o *fakeas.LogoutTokenOptions) { o.Alg = "HS256" }, "malformed jwt"},
	} {
		t.Run(name, func(t *testing.T) {
			o := validLogout(s)
			tc.edit(&o)
			_, err := verifier(s, nil).VerifyLogout(t.Context(), s.LogoutToken(o))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// go-oidc's VerifyLogout does not check iat: a token issued in the future
// passes it, so the kit must refuse it itself. The knob does set iat.
func TestLogoutTokenFutureIAT(t *testing.T) {
	s, _ := openIDServer(t)
	future := time.Now().Add(time.Hour).Truncate(time.Second)
	o := validLogout(s)
	o.IssuedAt = future
	lt, err := verifier(s, nil).VerifyLogout(t.Context(), s.LogoutToken(o))
	require.NoError(t, err, "go-oidc v3.21.0 ignores iat; if it starts refusing, this knob is covered by TestLogoutTokenKnobs")
	assert.Equal(t, future, lt.IssuedAt)
	assert.Equal(t, future.Add(2*time.Minute), lt.Expiry)
}

func TestRotateKey(t *testing.T) {
	s, c := openIDServer(t)
	old := s.KeyID()
	before := s.LogoutToken(validLogout(s))
	idBefore := login(t, s, c, fakeas.User{}, "n")
	kid := s.RotateKey()
	assert.NotEqual(t, old, kid)
	assert.Equal(t, kid, s.KeyID())

	res, err := s.Srv.Client().Get(s.URL + fakeas.JWKSPath)
	require.NoError(t, err)
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	require.NoError(t, json.NewDecoder(res.Body).Decode(&set))
	require.Len(t, set.Keys, 1)
	assert.Equal(t, kid, set.Keys[0].KeyID)

	v := verifier(s, nil)
	_, err = v.VerifyLogout(t.Context(), before)
	require.ErrorContains(t, err, "failed to verify signature")
	_, err = v.VerifyLogout(t.Context(), s.LogoutToken(validLogout(s)))
	require.NoError(t, err)

	// The client fetched the old JWKS for nothing yet: a token signed after
	// the rotation makes it refetch.
	after := login(t, s, c, fakeas.User{}, "n")
	_, err = c.Identify(t.Context(), after, "n")
	require.NoError(t, err)
	_, err = c.Identify(t.Context(), idBefore, "n")
	require.ErrorIs(t, err, client.ErrIDTokenSignature)
}

func TestEndSession(t *testing.T) {
	s, _ := openIDServer(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	end := s.URL + fakeas.EndSessionPath
	send := func(method string, v url.Values) *http.Response {
		t.Helper()
		var req *http.Request
		var err error
		if method == http.MethodGet {
			req, err = http.NewRequest(method, end+"?"+v.Encode(), nil)
		} else {
			req, err = http.NewRequest(method, end, strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		require.NoError(t, err)
		res, err := noFollow.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	get := url.Values{"id_token_hint": {"h1"}, "post_logout_redirect_uri": {"https://app.example/bye?x=1"}, "state": {"s1"}}
	post := url.Values{"client_id": {fakeas.ClientID}, "post_logout_redirect_uri": {"https://app.example/bye"}, "state": {"s2"}}
	noState := url.Values{"post_logout_redirect_uri": {"https://app.example/bye"}}
	bare := url.Values{"id_token_hint": {"h3"}}

	res := send(http.MethodGet, get)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "https://app.example/bye?state=s1&x=1", res.Header.Get("Location"))
	res = send(http.MethodPost, post)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "https://app.example/bye?state=s2", res.Header.Get("Location"))
	res = send(http.MethodGet, noState)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "https://app.example/bye", res.Header.Get("Location"))
	res = send(http.MethodGet, bare)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	res = send(http.MethodPost, url.Values{"post_logout_redirect_uri": {"/relative"}})
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)

	assert.Equal(t, int64(5), s.EndSessionHits.Load())
	got := s.EndSessionRequests()
	require.Len(t, got, 5)
	assert.Equal(t, []url.Values{get, post, noState, bare, {"post_logout_redirect_uri": {"/relative"}}}, got)
	got[0].Set("state", "changed")
	assert.Equal(t, "s1", s.EndSessionRequests()[0].Get("state"), "a copy")
}

// rp records what an OP's logout requests bring.
type rp struct {
	mu   sync.Mutex
	seen []*http.Request
	form []url.Values
}

func (p *rp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	p.mu.Lock()
	p.seen = append(p.seen, r)
	p.form = append(p.form, r.Form)
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func TestBackChannelLogout(t *testing.T) {
	s, _ := openIDServer(t)
	p := &rp{}
	site := httptest.NewServer(p)
	defer site.Close()
	token := s.LogoutToken(validLogout(s))
	res, err := s.BackChannelLogout(t.Context(), nil, site.URL+"/backchannel", token)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	require.Len(t, p.seen, 1)
	assert.Equal(t, http.MethodPost, p.seen[0].Method)
	assert.Equal(t, "/backchannel", p.seen[0].URL.Path)
	assert.Equal(t, "application/x-www-form-urlencoded", p.seen[0].Header.Get("Content-Type"))
	assert.Equal(t, url.Values{"logout_token": {token}}, p.form[0])
	_, err = verifier(s, nil).VerifyLogout(t.Context(), p.form[0].Get("logout_token"))
	require.NoError(t, err)

	_, err = s.BackChannelLogout(t.Context(), nil, "://bad", token)
	require.Error(t, err)
}

func TestFrontChannelLogout(t *testing.T) {
	s, _ := openIDServer(t)
	p := &rp{}
	site := httptest.NewServer(p)
	defer site.Close()
	sid := s.SessionID(fakeas.DefaultUser.ID)
	res, err := s.FrontChannelLogout(t.Context(), nil, site.URL+"/frontchannel?keep=1", sid)
	require.NoError(t, err)
	res.Body.Close()
	res, err = s.FrontChannelLogout(t.Context(), nil, site.URL+"/frontchannel", "")
	require.NoError(t, err)
	res.Body.Close()
	require.Len(t, p.seen, 2)
	assert.Equal(t, http.MethodGet, p.seen[0].Method)
	assert.Equal(t, url.Values{"iss": {s.URL}, "sid": {sid}, "keep": {"1"}}, p.form[0])
	assert.Empty(t, p.form[1])
}

func TestOpenIDUserinfo(t *testing.T) {
	s, c := openIDServer(t)
	tok := login(t, s, c, fakeas.User{}, "n")
	raw, err := c.Profile(t.Context(), tok.AccessToken)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, fakeas.DefaultUser.ID, m["sub"])
	_, err = c.Profile(t.Context(), "at-forged")
	var he *client.HTTPError
	require.True(t, errors.As(err, &he), "%v", err)
	assert.Equal(t, http.StatusUnauthorized, he.StatusCode)
}
