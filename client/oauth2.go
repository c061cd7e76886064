package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// BaseOAuth2 is the port of httpx-oauth's BaseOAuth2: the OAuth2 protocol
// operations of one provider, generic over the type of its extra
// authorization parameters. It is safe for concurrent use.
type BaseOAuth2[P Params] struct {
	cfg Config
}

// OAuth2 is the generic client, upstream's OAuth2 alias.
type OAuth2 = BaseOAuth2[Values]

// New validates cfg and returns a client. It does no I/O.
func New[P Params](cfg Config) (*BaseOAuth2[P], error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &BaseOAuth2[P]{cfg: cfg}, nil
}

// NewOAuth2 returns a generic client with untyped extra parameters.
func NewOAuth2(cfg Config) (*OAuth2, error) { return New[Values](cfg) }

// newWithOptions is what provider constructors use: defaults, then the
// caller's options, then validation.
func newWithOptions[P Params](cfg Config, opts []Option) (*BaseOAuth2[P], error) {
	for _, o := range opts {
		o(&cfg)
	}
	return New[P](cfg)
}

// String describes the client with its secret redacted: fmt does not call
// Config.String on the unexported field, so without this %v of a client (or
// of a provider embedding it) would print the secret.
func (c *BaseOAuth2[P]) String() string { return "client.BaseOAuth2" + c.cfg.String() }

// GoString redacts the secret from %#v output too.
func (c *BaseOAuth2[P]) GoString() string { return c.String() }

// Name returns the client's name.
func (c *BaseOAuth2[P]) Name() string { return c.cfg.Name }

// DisplayName returns the label for login buttons.
func (c *BaseOAuth2[P]) DisplayName() string { return c.cfg.DisplayName }

// Config returns a copy of the validated configuration.
func (c *BaseOAuth2[P]) Config() Config {
	cfg := c.cfg
	cfg.BaseScopes = append([]string(nil), cfg.BaseScopes...)
	return cfg
}

// SupportsRefresh reports whether RefreshToken can succeed.
func (c *BaseOAuth2[P]) SupportsRefresh() bool { return c.cfg.RefreshTokenEndpoint != "" }

// SupportsRevoke reports whether RevokeToken can succeed.
func (c *BaseOAuth2[P]) SupportsRevoke() bool { return c.cfg.RevokeTokenEndpoint != "" }

// AuthorizationURL builds the URL to send the user to. Typed extra
// parameters may override scope but not the reserved protocol parameters
// (state, PKCE, client and redirect), which is an error.
func (c *BaseOAuth2[P]) AuthorizationURL(redirectURI string, opts AuthURLOptions, extra P) (string, error) {
	var ev url.Values
	if any(extra) != nil {
		ev = extra.AuthParams()
	}
	return c.AuthCodeURL(redirectURI, opts, ev)
}

// AuthCodeURL is AuthorizationURL with untyped extras; it makes every client
// usable through the Provider interface.
func (c *BaseOAuth2[P]) AuthCodeURL(redirectURI string, opts AuthURLOptions, extra url.Values) (string, error) {
	u, err := url.Parse(c.cfg.AuthorizeEndpoint)
	if err != nil {
		return "", fmt.Errorf("%w: authorize endpoint: %v", ErrInvalidConfig, err)
	}
	// Keep parameters the endpoint already carries (upstream concatenated a
	// second "?"), ours win over them.
	q := u.Query()
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
			return "", fmt.Errorf("%w: extra parameter %q would override a protocol parameter", ErrInvalidConfig, k)
		}
		q[k] = append([]string(nil), vs...)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// AccessToken exchanges an authorization code (RFC 6749 §4.1.3). The
// verifier is sent when non-empty. The code is never retried.
func (c *BaseOAuth2[P]) AccessToken(ctx context.Context, code, redirectURI, codeVerifier string) (*Token, error) {
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
// the next refresh.
func (c *BaseOAuth2[P]) RefreshToken(ctx context.Context, refreshToken string) (*Token, error) {
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
func (c *BaseOAuth2[P]) RevokeToken(ctx context.Context, token, tokenTypeHint string) error {
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

// accessTokenOnly refuses a "refresh_token" hint before any I/O, for
// providers whose revocation endpoint takes access tokens only (Kakao,
// Naver, Twitch). The error matches ErrRevokeToken and
// ErrRevokeNotSupported, on which the kit revokes the access token instead.
func accessTokenOnly(tokenTypeHint string) error {
	if tokenTypeHint == "refresh_token" {
		return &RequestError{Op: ErrRevokeToken, Err: ErrRevokeNotSupported}
	}
	return nil
}

// Profile returns the user's raw profile document. The generic client does
// not know the provider's user API.
func (c *BaseOAuth2[P]) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	return nil, ErrProfileNotSupported
}

// IDEmail returns the provider's user id and email ("" when none). The
// generic client does not know the provider's user API.
func (c *BaseOAuth2[P]) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	return "", "", ErrIDEmailNotSupported
}

// Identify fails with an error matching ErrIDEmailNotSupported: the
// generic client does not know the provider's user API. Because of Go
// embedding this method never calls an embedding type's IDEmail, so a type
// that embeds BaseOAuth2 and adds a user API must implement Identify too.
func (c *BaseOAuth2[P]) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return nil, notSupported(c.cfg.Name)
}

func (c *BaseOAuth2[P]) tokenRequest(ctx context.Context, op error, endpoint string, form url.Values) (*Token, error) {
	req, err := c.formRequest(ctx, endpoint, form, c.cfg.TokenEndpointAuthMethod)
	if err != nil {
		return nil, &RequestError{Op: op, Err: err}
	}
	res, err := c.send(req, op)
	if err != nil {
		return nil, err
	}
	m, err := parseTokenBody(res.status, res.contentType, res.body)
	if err != nil {
		var oe *OAuthError
		if errors.As(err, &oe) {
			return nil, &RequestError{Op: op, Err: redactSecrets(req, err)}
		}
		return nil, unusableResponse(op, err, res)
	}
	t, err := tokenFromFields(m, c.cfg.Now())
	if err != nil {
		return nil, unusableResponse(op, err, res)
	}
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
func (c *BaseOAuth2[P]) formRequest(ctx context.Context, endpoint string, form url.Values, method AuthMethod) (*http.Request, error) {
	switch method {
	case ClientSecretPost:
		form.Set("client_id", c.cfg.ClientID)
		form.Set("client_secret", c.cfg.ClientSecret)
	case None:
		form.Set("client_id", c.cfg.ClientID) // a public client: no secret
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

func (c *BaseOAuth2[P]) send(req *http.Request, op error) (*response, error) {
	return doRequest(c.cfg.HTTPClient, c.cfg.UserAgent, req, op)
}
