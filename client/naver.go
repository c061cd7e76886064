package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

const (
	naverAuthorizeEndpoint = "https://nid.naver.com/oauth2.0/authorize"
	naverTokenEndpoint     = "https://nid.naver.com/oauth2.0/token"
	naverUserEndpoint      = "https://openapi.naver.com/v1/nid/me"
)

// NaverParams are the extra authorization parameters Naver documents.
// Zero fields are not sent.
type NaverParams struct {
	// AuthType is "reprompt" to show the consent screen again (after the
	// user declined an optional item) or "reauthenticate" to force a fresh
	// login.
	AuthType string
}

// AuthParams implements Params.
func (p NaverParams) AuthParams() url.Values {
	v := url.Values{}
	if p.AuthType != "" {
		v.Set("auth_type", p.AuthType)
	}
	return v
}

// Naver is the Naver Login client. Refresh and revocation both go through
// the token endpoint; revocation uses Naver's own grant_type=delete form.
//
// Identify: Subject is response.id of the profile API, Naver's per-app user
// identifier. Email is response.email with EmailVerified false: Naver's
// profile API documents no verification flag or guarantee for it. Name is
// response.name, else response.nickname; AvatarURL is
// response.profile_image.
//
// Naver Login, following Naver's login API guide
// (https://developers.naver.com/docs/login/api/api.md, profile API
// https://developers.naver.com/docs/login/profile/profile.md) and
// httpx-oauth's naver.py.
//
// Default scopes: none (Naver grants what the app registered; no scope
// parameter is sent, where upstream sent an empty "scope=").
// Id: response.id of POST https://openapi.naver.com/v1/nid/me, Naver's
// per-app user identifier (a string).
// Email: response.email when the user consented to share it, else "". Naver
// has no verification flag for it; key accounts by id, not by this email.
type Naver struct {
	*OAuth2
}

var _ Provider = (*Naver)(nil)

// NewNaver returns a Naver client named "naver" (display name "Naver")
// without default scopes. It does no I/O.
func NewNaver(clientID, clientSecret string, opts ...Option) (*Naver, error) {
	b, err := newClient("naver", config{
		ClientID:                     clientID,
		ClientSecret:                 clientSecret,
		AuthorizeEndpoint:            naverAuthorizeEndpoint,
		AccessTokenEndpoint:          naverTokenEndpoint,
		RefreshTokenEndpoint:         naverTokenEndpoint,
		RevokeTokenEndpoint:          naverTokenEndpoint,
		Name:                         "naver",
		DisplayName:                  "Naver",
		TokenEndpointAuthMethod:      ClientSecretPost,
		RevocationEndpointAuthMethod: ClientSecretPost,
	}, opts)
	if err != nil {
		return nil, err
	}
	return &Naver{b}, nil
}

// Revoke deletes t's access token: the provider cannot revoke refresh tokens, so the
// refresh token is never sent. A token without an access token is
// ErrRevokeNotSupported.
func (n *Naver) Revoke(ctx context.Context, t *Token) error {
	return revokeGrant(ctx, t, true, false, n.RevokeToken)
}

// RevokeToken deletes an access token the way Naver documents (it has no
// RFC 7009 endpoint): a POST to the token endpoint with grant_type=delete,
// access_token, service_provider=NAVER and the client credentials, plus
// token_type_hint when given, as upstream sends it. Naver can only delete
// access tokens: a "refresh_token" hint fails before any I/O with an error
// matching ErrRevokeToken and ErrRevokeNotSupported.
//
// Naver reports failures with HTTP 200 and an "error" member, so unlike RFC
// 7009 the body of a 2xx answer is read: an error member makes the call
// fail with an *OAuthError.
func (n *Naver) RevokeToken(ctx context.Context, token, tokenTypeHint string) error {
	if err := accessTokenOnly(tokenTypeHint); err != nil {
		return err
	}
	form := url.Values{
		"grant_type":       {"delete"},
		"access_token":     {token},
		"service_provider": {"NAVER"},
	}
	if tokenTypeHint != "" {
		form.Set("token_type_hint", tokenTypeHint)
	}
	cfg := n.cfg
	req, err := n.formRequest(ctx, cfg.RevokeTokenEndpoint, form, cfg.RevocationEndpointAuthMethod)
	if err != nil {
		return &RequestError{Op: ErrRevokeToken, Err: redactURLError(err)}
	}
	res, err := n.send(req, ErrRevokeToken)
	if err != nil {
		return err
	}
	if m, derr := decodeBody(res.contentType, res.body); derr == nil {
		if oe := oauthErrorFrom(res.status, m); oe != nil {
			return &RequestError{Op: ErrRevokeToken, Err: redactSecrets(req, oe)}
		}
	}
	return nil
}

// Profile returns the "response" object of Naver's profile API, unwrapping
// its {"resultcode","message","response"} envelope as upstream does. A
// resultcode other than "00" is an *OAuthError (Code the resultcode,
// Description the message) even under HTTP 200.
func (n *Naver) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	raw, _, err := n.profile(ctx, ErrGetProfile, accessToken)
	return raw, err
}

// IDEmail returns response.id and response.email ("" when absent).
func (n *Naver) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := n.identity(ctx, accessToken)
	return idEmailOf(id, err, true)
}

// Identify reads the profile API with t's access token; see Naver.
func (n *Naver) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return identifyWith(ctx, t, n.identity)
}

func (n *Naver) identity(ctx context.Context, accessToken string) (*Identity, error) {
	_, m, err := n.profile(ctx, ErrGetIDEmail, accessToken)
	if err != nil {
		return nil, err
	}
	sub, ok := idString(m["id"])
	if !ok {
		return nil, identityError(ErrGetIDEmail, "naver: response.id")
	}
	return &Identity{
		Subject:   sub,
		Email:     str(m["email"]),
		Name:      firstNonEmpty(str(m["name"]), str(m["nickname"])),
		AvatarURL: pictureURL(m["profile_image"]),
	}, nil
}

func (n *Naver) profile(ctx context.Context, op error, accessToken string) (json.RawMessage, map[string]any, error) {
	var env struct {
		ResultCode any             `json:"resultcode"`
		Message    any             `json:"message"`
		Response   json.RawMessage `json:"response"`
	}
	if err := n.apiJSON(ctx, op, apiRequest{
		method: http.MethodPost,
		url:    naverUserEndpoint,
		header: bearer(accessToken),
	}, &env); err != nil {
		return nil, nil, err
	}
	if code := stringify(env.ResultCode); code != "00" {
		if code == "" {
			code = "missing resultcode"
		}
		return nil, nil, &RequestError{Op: op, Err: redactValues(&OAuthError{
			StatusCode:  http.StatusOK,
			Code:        code,
			Description: stringify(env.Message),
		}, accessToken)}
	}
	m, err := decodeBody("application/json", env.Response)
	if err != nil {
		return nil, nil, &RequestError{Op: op, Err: fmt.Errorf("%w: naver: response is not a JSON object", ErrInvalidResponse)}
	}
	return env.Response, m, nil
}
