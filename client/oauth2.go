package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
)

// OAuth2 is the port of httpx-oauth's BaseOAuth2: the OAuth2 protocol
// operations of one provider. It is the generic client, and every provider
// client embeds it. It is safe for concurrent use.
type OAuth2 struct {
	cfg config
	// authURL caches the fixed part of the last authorization URL built
	// (see authCodeURL).
	authURL atomic.Pointer[authTemplate]
}

// New validates cfg and the options and returns a generic client. It does
// no I/O. Provider-specific options are ErrInvalidConfig here.
func New(cfg Config, opts ...Option) (*OAuth2, error) {
	return newClient("", fromConfig(cfg), opts)
}

// newClient is what the constructors use: the provider's defaults in c,
// then the caller's options, then validation.
func newClient(provider string, c config, opts []Option) (*OAuth2, error) {
	c, err := build(provider, c, opts)
	if err != nil {
		return nil, err
	}
	return &OAuth2{cfg: c}, nil
}

// String describes the client with its secret redacted: fmt does not call
// Config.String on the unexported field, so without this %v of a client (or
// of a provider embedding it) would print the secret.
func (c *OAuth2) String() string { return "client.OAuth2" + c.cfg.public().String() }

// GoString redacts the secret from %#v output too.
func (c *OAuth2) GoString() string { return c.String() }

// Name returns the client's name.
func (c *OAuth2) Name() string { return c.cfg.Name }

// DisplayName returns the label for login buttons.
func (c *OAuth2) DisplayName() string { return c.cfg.DisplayName }

// Config returns the client's Config: after discovery, the endpoints the
// metadata named.
func (c *OAuth2) Config() Config { return c.cfg.public() }

// settings returns the validated configuration, for the tests.
func (c *OAuth2) settings() *config { return &c.cfg }

// AuthMethods returns the auth methods the client uses at the token and
// revocation endpoints (revocation "" when it cannot revoke): after
// discovery, the ones chosen from the metadata.
func (c *OAuth2) AuthMethods() (token, revocation AuthMethod) {
	return c.cfg.TokenEndpointAuthMethod, c.cfg.RevocationEndpointAuthMethod
}

// Capabilities reports what the configuration implies: refresh and revoke
// when their endpoints are set, no issuer, nonce or form_post. Provider
// types that know more define their own.
func (c *OAuth2) Capabilities() Capabilities { return c.cfg.capabilities() }

func (c *config) capabilities() Capabilities {
	return Capabilities{Refresh: c.RefreshTokenEndpoint != "", Revoke: c.RevokeTokenEndpoint != "",
		PushedAuthorization: c.pushedAuthorization()}
}

// AuthCodeURL builds the URL to send the user to. params are the extra
// authorization parameters (a provider's typed parameters such as
// GoogleParams, or Values), nil for none. They may override scope but not
// the reserved protocol parameters (state, PKCE, nonce, client and
// redirect), which is ErrInvalidConfig.
func (c *OAuth2) AuthCodeURL(redirectURI string, opts AuthURLOptions, params Params) (string, error) {
	return c.authCodeURL(redirectURI, opts, paramValues(params))
}

// authCodeURL builds the URL from a template of its fixed parameters
// (endpoint, response type, client, redirect, scope, extras), made once
// and kept while the calls ask for the same ones, as a login route does:
// only the per-login values are encoded on each call. The URL is the one
// authParams and authorizeURL give, byte for byte.
func (c *OAuth2) authCodeURL(redirectURI string, opts AuthURLOptions, extra url.Values) (string, error) {
	for k := range extra {
		if reservedParams[k] {
			return "", fmt.Errorf("%w: extra parameter %q would override a protocol parameter", ErrInvalidConfig, k)
		}
	}
	scopes := opts.Scopes
	if scopes == nil {
		scopes = c.cfg.BaseScopes
	}
	var extraKey string
	if len(extra) > 0 {
		extraKey = extra.Encode()
	}
	t := c.authURL.Load()
	if t == nil || t.redirectURI != redirectURI || !slices.Equal(t.scopes, scopes) || t.extra != extraKey {
		var err error
		if t, err = c.newAuthTemplate(redirectURI, scopes, extra, extraKey); err != nil {
			return "", err
		}
		if t == nil {
			// The endpoint carries a per-login parameter or a fragment.
			params, err := c.authParams(redirectURI, opts, extra)
			if err != nil {
				return "", err
			}
			return c.authorizeURL(params)
		}
		c.authURL.Store(t)
	}
	return t.url(opts), nil
}

// authTemplate is an authorization URL without its per-login parameters:
// the encoded fixed parameters, in the order url.Values.Encode writes all
// of them (by key), split where the per-login keys go.
type authTemplate struct {
	redirectURI string
	scopes      []string
	extra       string // the extras, encoded
	base        string // the endpoint up to its "?"
	// chunks[i] are the fixed parameters sorting between perLoginKeys[i-1]
	// and perLoginKeys[i].
	chunks [len(perLoginKeys) + 1]string
}

// perLoginKeys are the parameters drawn for each login, sorted.
var perLoginKeys = [...]string{"code_challenge", "code_challenge_method", "nonce", "state"}

// newAuthTemplate returns nil, and no error, for an endpoint whose own
// query holds a per-login key (authorizeURL lets an empty option keep it)
// or that has a fragment.
func (c *OAuth2) newAuthTemplate(redirectURI string, scopes []string, extra url.Values, extraKey string) (*authTemplate, error) {
	params, err := c.authParams(redirectURI, AuthURLOptions{Scopes: scopes}, extra)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(c.cfg.AuthorizeEndpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: authorize endpoint: %v", ErrInvalidConfig, err)
	}
	q := u.Query()
	for _, k := range perLoginKeys {
		if _, ok := q[k]; ok {
			return nil, nil
		}
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return nil, nil
	}
	for k, vs := range params {
		q[k] = vs
	}
	t := &authTemplate{redirectURI: redirectURI, scopes: slices.Clone(scopes), extra: extraKey}
	u.RawQuery, u.ForceQuery = "", false
	t.base = u.String() + "?"
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	i := 0
	for _, k := range keys {
		for i < len(perLoginKeys) && k > perLoginKeys[i] {
			i++
		}
		t.chunks[i] = joinQuery(t.chunks[i], url.Values{k: q[k]}.Encode())
	}
	return t, nil
}

// url is the template with the per-login values of opts.
func (t *authTemplate) url(opts AuthURLOptions) string {
	values := [len(perLoginKeys)]string{opts.CodeChallenge, opts.CodeChallengeMethod, opts.Nonce, opts.State}
	var b strings.Builder
	n := len(t.base) + len(t.chunks)
	for i, v := range values {
		n += len(t.chunks[i]) + len(perLoginKeys[i]) + len(v) + 2
	}
	b.Grow(n + len(t.chunks[len(perLoginKeys)]) + 16)
	b.WriteString(t.base)
	sep := false
	part := func(s string) {
		if sep {
			b.WriteByte('&')
		}
		b.WriteString(s)
		sep = true
	}
	for i, v := range values {
		if t.chunks[i] != "" {
			part(t.chunks[i])
		}
		if v != "" {
			part(perLoginKeys[i])
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	if last := t.chunks[len(perLoginKeys)]; last != "" {
		part(last)
	}
	return b.String()
}

func joinQuery(a, b string) string {
	if a == "" {
		return b
	}
	return a + "&" + b
}

// authParams builds the parameters of an authorization request, the same
// whether they go in the URL (AuthCodeURL) or are pushed (PushAuthCodeURL).
func (c *OAuth2) authParams(redirectURI string, opts AuthURLOptions, extra url.Values) (url.Values, error) {
	q := url.Values{}
	q.Set("response_type", "code")
	q.Set("client_id", c.cfg.ClientID)
	q.Set("redirect_uri", redirectURI)
	if opts.State != "" {
		q.Set("state", opts.State)
	}
	scopes := opts.Scopes
	if scopes == nil {
		scopes = c.cfg.BaseScopes
	}
	if len(scopes) > 0 {
		q.Set("scope", strings.Join(scopes, " "))
	}
	if opts.CodeChallenge != "" {
		q.Set("code_challenge", opts.CodeChallenge)
	}
	if opts.CodeChallengeMethod != "" {
		q.Set("code_challenge_method", opts.CodeChallengeMethod)
	}
	if opts.Nonce != "" {
		q.Set("nonce", opts.Nonce)
	}
	for k, vs := range extra {
		if reservedParams[k] {
			return nil, fmt.Errorf("%w: extra parameter %q would override a protocol parameter", ErrInvalidConfig, k)
		}
		q[k] = append([]string(nil), vs...)
	}
	return q, nil
}

// authorizeURL writes params into the authorize endpoint's URL.
func (c *OAuth2) authorizeURL(params url.Values) (string, error) {
	u, err := url.Parse(c.cfg.AuthorizeEndpoint)
	if err != nil {
		return "", fmt.Errorf("%w: authorize endpoint: %v", ErrInvalidConfig, err)
	}
	// Keep parameters the endpoint already carries (upstream concatenated a
	// second "?"), ours win over them.
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// AccessToken exchanges an authorization code (RFC 6749 §4.1.3). The
// verifier is sent when non-empty. The code is never retried, except by a
// WithDPoP client whose proof the server refused for want of its nonce
// (use_dpop_nonce: the code was not consumed). A WithDPoP client signs the
// proof with the key of ContextWithDPoPKey, or with a new one, which the
// Token keeps in DPoPKey.
func (c *OAuth2) AccessToken(ctx context.Context, code, redirectURI, codeVerifier string) (*Token, error) {
	form := url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {code},
		"redirect_uri": {redirectURI},
	}
	if codeVerifier != "" {
		form.Set("code_verifier", codeVerifier)
	}
	return c.tokenRequest(ctx, ErrGetAccessToken, c.cfg.AccessTokenEndpoint, form)
}

// RefreshToken uses a refresh token (RFC 6749 §6). When the response has no
// new refresh token the old one is kept, so the result is always usable for
// the next refresh. A WithDPoP client needs the grant's key in ctx
// (ContextWithDPoPKey; ErrDPoPKeyRequired before any I/O otherwise), and
// the new Token keeps it.
func (c *OAuth2) RefreshToken(ctx context.Context, refreshToken string) (*Token, error) {
	if c.cfg.RefreshTokenEndpoint == "" {
		return nil, ErrRefreshNotSupported
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	}
	t, err := c.tokenRequest(ctx, ErrRefreshToken, c.cfg.RefreshTokenEndpoint, form)
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}

// RevokeToken revokes a token (RFC 7009) with the revocation auth method.
// tokenTypeHint ("access_token" or "refresh_token") is sent when non-empty.
// Per RFC 7009 §2.2 the body of a 2xx answer is ignored.
func (c *OAuth2) RevokeToken(ctx context.Context, token, tokenTypeHint string) error {
	if c.cfg.RevokeTokenEndpoint == "" {
		return ErrRevokeNotSupported
	}
	form := url.Values{"token": {token}}
	if tokenTypeHint != "" {
		form.Set("token_type_hint", tokenTypeHint)
	}
	req, err := c.formRequest(ctx, c.cfg.RevokeTokenEndpoint, form, c.cfg.RevocationEndpointAuthMethod)
	if err != nil {
		return &RequestError{Op: ErrRevokeToken, Err: err}
	}
	_, err = c.send(req, ErrRevokeToken)
	return err
}

// Revoke ends the grant of t (RFC 7009 §2.1): it revokes the refresh token
// when there is one, else the access token. It fails with an error
// matching ErrRevokeNotSupported, before any I/O, when the client has no
// revocation endpoint or t holds no token.
func (c *OAuth2) Revoke(ctx context.Context, t *Token) error {
	return revokeGrant(ctx, t, c.cfg.RevokeTokenEndpoint != "", true, c.RevokeToken)
}

// revokeGrant is the Revoke of every client: revoke is the client's
// RevokeToken; refreshRevocable is false for providers whose endpoint
// takes access tokens only (Kakao, Naver, Twitch). A refresh-token
// revocation refused as unsupported falls back to the access token, for
// clients that wrap one of this package.
func revokeGrant(ctx context.Context, t *Token, canRevoke, refreshRevocable bool, revoke func(ctx context.Context, token, tokenTypeHint string) error) error {
	if !canRevoke {
		return ErrRevokeNotSupported
	}
	if t == nil || (t.AccessToken == "" && (t.RefreshToken == "" || !refreshRevocable)) {
		return &RequestError{Op: ErrRevokeToken, Err: fmt.Errorf("%w: no token to revoke", ErrRevokeNotSupported)}
	}
	if t.RefreshToken != "" && refreshRevocable {
		// RFC 7009 §2.1: revoking the refresh token should end the grant.
		err := revoke(ctx, t.RefreshToken, "refresh_token")
		if !errors.Is(err, ErrRevokeNotSupported) || t.AccessToken == "" {
			return err
		}
	}
	return revoke(ctx, t.AccessToken, "access_token")
}

// accessTokenOnly refuses a "refresh_token" hint before any I/O, for
// providers whose revocation endpoint takes access tokens only (Kakao,
// Naver, Twitch). The error matches ErrRevokeToken and
// ErrRevokeNotSupported; their Revoke revokes the access token instead.
func accessTokenOnly(tokenTypeHint string) error {
	if tokenTypeHint == "refresh_token" {
		return &RequestError{Op: ErrRevokeToken, Err: ErrRevokeNotSupported}
	}
	return nil
}

// Profile returns the user's raw profile document. The generic client does
// not know the provider's user API.
func (c *OAuth2) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	return nil, ErrProfileNotSupported
}

// IDEmail returns the provider's user id and email ("" when none). The
// generic client does not know the provider's user API.
func (c *OAuth2) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	return "", "", ErrIDEmailNotSupported
}

// Identify fails with an error matching ErrIDEmailNotSupported: the
// generic client does not know the provider's user API. Because of Go
// embedding this method never calls an embedding type's IDEmail, so a type
// that embeds OAuth2 and adds a user API must implement Identify too.
func (c *OAuth2) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return nil, notSupported(c.cfg.Name)
}

func (c *OAuth2) tokenRequest(ctx context.Context, op error, endpoint string, form url.Values) (*Token, error) {
	key, err := c.cfg.grantKey(ctx, op)
	if err != nil {
		return nil, err
	}
	req, res, err := c.sendToken(ctx, op, endpoint, form, key)
	if err != nil {
		return nil, err
	}
	t, err := tokenFromBody(res.status, res.contentType, res.body, c.cfg.Now(), key != nil)
	if err != nil {
		var oe *OAuthError
		if errors.As(err, &oe) {
			return nil, &RequestError{Op: op, Err: redactSecrets(req, err)}
		}
		return nil, unusableResponse(op, err, res)
	}
	t.DPoPKey = key
	return t, nil
}

// unusableResponse keeps the 2xx response that could not be turned into a
// token next to the cause (upstream's error.response), so StatusCode and
// errors.As(*HTTPError) report what the server answered. The body is left
// out: a 2xx token response may hold live tokens.
func unusableResponse(op, cause error, res *response) error {
	he := &HTTPError{StatusCode: res.status, ContentType: res.contentType}
	return &RequestError{Op: op, Err: fmt.Errorf("%w: %w", cause, he)}
}

// formRequest builds a POST with exactly one client authentication method.
// The JWT methods sign a fresh assertion (new jti) for each request, so a
// retried request never replays one.
func (c *OAuth2) formRequest(ctx context.Context, endpoint string, form url.Values, method AuthMethod) (*http.Request, error) {
	switch method {
	case ClientSecretPost:
		form.Set("client_id", c.cfg.ClientID)
		form.Set("client_secret", c.cfg.ClientSecret)
	case None:
		form.Set("client_id", c.cfg.ClientID) // a public client: no secret
	case PrivateKeyJWT, ClientSecretJWT:
		if err := c.cfg.setClientAssertion(ctx, form, method, endpoint); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if method == ClientSecretBasic {
		// RFC 6749 §2.3.1: form-encode before base64 (upstream does not).
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	}
	return req, nil
}

func (c *OAuth2) send(req *http.Request, op error) (*response, error) {
	return doRequest(c.cfg.HTTPClient, c.cfg.UserAgent, req, op)
}
