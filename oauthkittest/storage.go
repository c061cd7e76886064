package oauthkittest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage is the provider's op.Storage: clients, users, authorization
// requests, codes, tokens and signing keys, all in memory and guarded by
// one mutex. Tokens belong to a grant (one authorization code exchange and
// the refreshes that follow it), so that a replayed code, a reused refresh
// token, a revocation or an end-session ends every token of the grant.
type storage struct {
	p *Provider

	mu        sync.Mutex
	clients   map[string]*registeredClient
	users     map[string]*User // by subject
	requests  map[string]*authRequest
	codes     map[string]string // code → authorization request id
	usedCodes map[string]string // exchanged code → grant id
	access    map[string]*accessToken
	refresh   map[string]*refreshToken // by token value
	grants    map[string]*grant
	keys      *keyRing
}

// grant is one authorization: the code exchange and its refreshes.
type grant struct {
	id       string
	clientID string
	subject  string
	ended    bool
}

// authRequest is an authorization request between /authorize and the code
// exchange. It implements op.AuthRequest.
type authRequest struct {
	id            string
	clientID      string
	redirectURI   string
	scopes        []string
	state         string
	nonce         string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge
	loginHint     string
	acrValues     []string

	subject  string
	authTime time.Time
	acr      string
	amr      []string
	done     bool
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return a.acr }
func (a *authRequest) GetAMR() []string                      { return a.amr }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

// accessToken is the server side of an opaque access token (the op
// encrypts "id:subject" into the token the client sees).
type accessToken struct {
	id       string
	grantID  string
	clientID string
	subject  string
	scopes   []string
	expiry   time.Time
}

// refreshToken is one refresh token of a grant. rotated is set once it
// has been exchanged: presenting it again is reuse.
type refreshToken struct {
	token    string
	grantID  string
	clientID string
	subject  string
	scopes   []string
	authTime time.Time
	amr      []string
	expiry   time.Time
	rotated  bool
}

// refreshRequest is what a refresh token stands for during one refresh
// grant. It implements op.RefreshTokenRequest.
type refreshRequest struct {
	rt     refreshToken
	scopes []string
}

func (r *refreshRequest) GetAMR() []string                 { return r.rt.amr }
func (r *refreshRequest) GetAudience() []string            { return []string{r.rt.clientID} }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.rt.authTime }
func (r *refreshRequest) GetClientID() string              { return r.rt.clientID }
func (r *refreshRequest) GetScopes() []string              { return r.scopes }
func (r *refreshRequest) GetSubject() string               { return r.rt.subject }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }

// errNotFound is the storage's plain "no such thing" error; the op turns
// it into the OAuth error of the endpoint (invalid_grant, invalid_client).
var errNotFound = errors.New("oauthkittest: not found")

func newStorage(p *Provider) (*storage, error) {
	keys, err := newKeyRing()
	if err != nil {
		return nil, err
	}
	return &storage{
		p:         p,
		clients:   map[string]*registeredClient{},
		users:     map[string]*User{},
		requests:  map[string]*authRequest{},
		codes:     map[string]string{},
		usedCodes: map[string]string{},
		access:    map[string]*accessToken{},
		refresh:   map[string]*refreshToken{},
		grants:    map[string]*grant{},
		keys:      keys,
	}, nil
}

// endGrant revokes every token of the grant. The caller holds s.mu.
func (s *storage) endGrant(id string) {
	if g, ok := s.grants[id]; ok {
		g.ended = true
	}
	for k, t := range s.access {
		if t.grantID == id {
			delete(s.access, k)
		}
	}
	for k, t := range s.refresh {
		if t.grantID == id {
			delete(s.refresh, k)
		}
	}
}

// CreateAuthRequest stores a validated authorization request. PKCE with
// S256 is required of every client: the op only checks the method when a
// challenge is present.
func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256")
	}
	if slices.Contains(req.Prompt, oidc.PromptNone) && userID == "" {
		return nil, oidc.ErrLoginRequired().WithDescription("prompt=none without an id_token_hint: this provider keeps no login session")
	}
	a := &authRequest{
		id:            rand.Text(),
		clientID:      req.ClientID,
		redirectURI:   req.RedirectURI,
		scopes:        slices.Clone(req.Scopes),
		state:         req.State,
		nonce:         req.Nonce,
		responseType:  req.ResponseType,
		responseMode:  req.ResponseMode,
		codeChallenge: &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod},
		loginHint:     req.LoginHint,
		acrValues:     slices.Clone(req.ACRValues),
		subject:       userID,
	}
	s.mu.Lock()
	s.requests[a.id] = a
	s.mu.Unlock()
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return nil, fmt.Errorf("authorization request %q: %w", id, errNotFound)
	}
	return a, nil
}

// AuthRequestByCode finds the request a code was issued for. A code that
// was already exchanged ends the grant it produced (RFC 6749 §4.1.2).
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gid, used := s.usedCodes[code]; used {
		s.endGrant(gid)
		return nil, errors.New("authorization code replayed: the grant it produced is revoked")
	}
	id, ok := s.codes[code]
	if !ok {
		return nil, fmt.Errorf("code: %w", errNotFound)
	}
	a, ok := s.requests[id]
	if !ok || !a.done {
		return nil, fmt.Errorf("code: %w", errNotFound)
	}
	return a, nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.requests[id]; !ok {
		return fmt.Errorf("authorization request %q: %w", id, errNotFound)
	}
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest is called once the code has been exchanged: the code
// is kept as used, so that its replay is detected.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
			s.usedCodes[code] = id
		}
	}
	return nil
}

// grantOf returns the grant a token request belongs to, creating the
// grant of a code exchange. The caller holds s.mu.
func (s *storage) grantOf(req op.TokenRequest) (*grant, error) {
	switch r := req.(type) {
	case *authRequest:
		g, ok := s.grants[r.id]
		if !ok {
			g = &grant{id: r.id, clientID: r.clientID, subject: r.subject}
			s.grants[r.id] = g
		}
		if g.ended {
			return nil, oidc.ErrInvalidGrant().WithDescription("the grant has been revoked")
		}
		return g, nil
	case *refreshRequest:
		g, ok := s.grants[r.rt.grantID]
		if !ok || g.ended {
			return nil, oidc.ErrInvalidGrant().WithDescription("the grant has been revoked")
		}
		return g, nil
	default:
		return nil, oidc.ErrUnsupportedGrantType()
	}
}

// newAccessToken stores an access token of g. The caller holds s.mu.
func (s *storage) newAccessToken(g *grant, scopes []string) *accessToken {
	t := &accessToken{
		id:       rand.Text(),
		grantID:  g.id,
		clientID: g.clientID,
		subject:  g.subject,
		scopes:   slices.Clone(scopes),
		expiry:   time.Now().Add(s.p.opts.accessTokenLifetime),
	}
	s.access[t.id] = t
	return t
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.grantOf(req)
	if err != nil {
		return "", time.Time{}, err
	}
	t := s.newAccessToken(g, req.GetScopes())
	return t.id, t.expiry, nil
}

// CreateAccessAndRefreshTokens issues an access token and a new refresh
// token; on a refresh, the presented token is rotated out. Two refreshes
// racing with one token: the second is reuse, and ends the grant.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.grantOf(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	authTime, amr := time.Time{}, []string(nil)
	switch r := req.(type) {
	case *authRequest:
		authTime, amr = r.authTime, r.amr
	case *refreshRequest:
		authTime, amr = r.rt.authTime, r.rt.amr
	}
	if current != "" {
		old, ok := s.refresh[current]
		if !ok || old.grantID != g.id {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("unknown refresh token")
		}
		if old.rotated {
			s.endGrant(g.id)
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token reused: the grant is revoked")
		}
		old.rotated = true
	}
	t := s.newAccessToken(g, req.GetScopes())
	rt := &refreshToken{
		token:    rand.Text(),
		grantID:  g.id,
		clientID: g.clientID,
		subject:  g.subject,
		scopes:   slices.Clone(req.GetScopes()),
		authTime: authTime,
		amr:      amr,
		expiry:   time.Now().Add(s.p.opts.refreshTokenLifetime),
	}
	s.refresh[rt.token] = rt
	return t.id, rt.token, t.expiry, nil
}

// TokenRequestByRefreshToken resolves a refresh token. A rotated one is
// reuse (a stolen copy, or a client that lost the race): the grant ends.
func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok {
		return nil, fmt.Errorf("refresh token: %w", errNotFound)
	}
	if rt.rotated {
		s.endGrant(rt.grantID)
		return nil, errors.New("refresh token reused: the grant is revoked")
	}
	if time.Now().After(rt.expiry) {
		return nil, errors.New("refresh token expired")
	}
	return &refreshRequest{rt: *rt, scopes: slices.Clone(rt.scopes)}, nil
}

// TerminateSession is RP-initiated logout: the provider keeps no login
// session, so it ends every grant of the user at the client.
func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, g := range s.grants {
		if g.subject == userID && g.clientID == clientID {
			s.endGrant(id)
		}
	}
	return nil
}

// RevokeToken is RFC 7009: a refresh token ends its grant, an access
// token only itself. Unknown tokens are not an error.
func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt, ok := s.refresh[tokenOrID]; ok {
		if rt.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		s.endGrant(rt.grantID)
		return nil
	}
	if t, ok := s.access[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.access, tokenOrID)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok || rt.clientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.token, nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return s.keys.signing(), nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return s.keys.published(), nil
}

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("client %q: %w", id, errNotFound)
	}
	return opClient{c, s.p, loopbackFrom(ctx)}, nil
}

// AuthorizeClientIDSecret checks a client_secret_basic or
// client_secret_post secret. Clients of private_key_jwt reach it with the
// internal secret the client-authentication middleware substitutes once
// it has verified their assertion.
func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	c, ok := s.clients[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("client %q: %w", id, errNotFound)
	}
	want := c.Secret
	if c.AuthMethod == AuthMethodPrivateKeyJWT {
		want = c.internalSecret
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 {
		return errors.New("wrong client secret")
	}
	return nil
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims, and its "sid": the
// grant, which back-channel logout tokens name.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.fillUserinfo(info, req.GetSubject(), scopes); err != nil {
		return err
	}
	switch r := req.(type) {
	case *authRequest:
		info.AppendClaims("sid", r.id)
	case *refreshRequest:
		info.AppendClaims("sid", r.rt.grantID)
	}
	return nil
}

// SetUserinfoFromToken answers UserInfo for a live access token.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	t, ok := s.access[tokenID]
	s.mu.Unlock()
	if !ok || t.subject != subject {
		return errors.New("access token revoked or unknown")
	}
	if time.Now().After(t.expiry) {
		return errors.New("access token expired")
	}
	return s.fillUserinfo(info, subject, t.scopes)
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	t, ok := s.access[tokenID]
	s.mu.Unlock()
	if !ok || t.subject != subject || time.Now().After(t.expiry) {
		return errors.New("access token revoked or unknown")
	}
	info := new(oidc.UserInfo)
	if err := s.fillUserinfo(info, subject, t.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope = t.scopes
	resp.ClientID = t.clientID
	resp.Audience = []string{t.clientID}
	resp.Expiration = oidc.FromTime(t.expiry)
	resp.Active = true
	return nil
}

// fillUserinfo sets the user's claims that scopes release: profile (name),
// email (email, email_verified); groups and custom claims always.
func (s *storage) fillUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	s.mu.Lock()
	u, ok := s.users[subject]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("user %q: %w", subject, errNotFound)
	}
	info.Subject = u.Subject
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile, googleProfileScope:
			info.Name = u.Name
		case oidc.ScopeEmail, googleEmailScope:
			info.Email = u.Email
			info.EmailVerified = oidc.Bool(u.EmailVerified)
			if u.Email != "" && !u.EmailVerified {
				// The field is omitempty: say false out loud.
				info.AppendClaims("email_verified", false)
			}
		}
	}
	if len(u.Groups) > 0 {
		info.AppendClaims("groups", slices.Clone(u.Groups))
	}
	for k, v := range u.Claims {
		info.AppendClaims(k, v)
	}
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID is not used: private_key_jwt assertions are
// verified by the client-authentication middleware.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotFound
}

func (s *storage) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	return scopes, nil
}

func (s *storage) Health(context.Context) error { return nil }
