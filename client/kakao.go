package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

const (
	kakaoAuthorizeEndpoint = "https://kauth.kakao.com/oauth/authorize"
	kakaoTokenEndpoint     = "https://kauth.kakao.com/oauth/token"
	kakaoUnlinkEndpoint    = "https://kapi.kakao.com/v1/user/unlink"
	kakaoUserEndpoint      = "https://kapi.kakao.com/v2/user/me"
	// kakaoIdentityPropertyKeys is the property_keys query value: upstream
	// asks for ["kakao_account.email"] only, which narrows the answer to the
	// id and the email fields (email, is_email_valid, is_email_verified,
	// ...); kakao_account.profile adds the nickname and picture.
	kakaoIdentityPropertyKeys = `["kakao_account.email","kakao_account.profile"]`
)

// KakaoParams are the extra authorization parameters Kakao documents for
// its authorize endpoint. Zero fields are not sent.
type KakaoParams struct {
	// Prompt is Kakao's comma-separated prompt list: "login" forces the
	// user to authenticate again, "none" fails instead of showing a screen,
	// "create" opens sign-up, "select_account" offers the account picker.
	Prompt string
	// LoginHint pre-fills the Kakao account (email or phone number) on the
	// login screen.
	LoginHint string
}

// AuthParams implements Params.
func (p KakaoParams) AuthParams() url.Values {
	v := url.Values{}
	if p.Prompt != "" {
		v.Set("prompt", p.Prompt)
	}
	if p.LoginHint != "" {
		v.Set("login_hint", p.LoginHint)
	}
	return v
}

// Kakao is the Kakao Login client. RevokeToken unlinks the app from the
// user's Kakao account, see its doc.
//
// Identify: Subject is the member number "id" of /v2/user/me. Email is
// kakao_account.email, and EmailVerified is true only when both
// is_email_valid and is_email_verified are the JSON value true. Name is
// kakao_account.profile.nickname; AvatarURL its profile_image_url (absent
// without the profile_image consent item).
//
// Kakao Login, following Kakao's REST API guide
// (https://developers.kakao.com/docs/latest/en/kakaologin/rest-api) and
// httpx-oauth's kakao.py.
//
// Default scopes: profile_nickname, account_email.
// Id: the member number "id" of POST https://kapi.kakao.com/v2/user/me, as a
// decimal string (kept exact, never through float64).
// Email: kakao_account.email, only when kakao_account.is_email_valid and
// kakao_account.is_email_verified are both the JSON value true; otherwise ""
// (no consent, no email, or an address Kakao has not verified).
type Kakao struct {
	*OAuth2
}

var _ Provider = (*Kakao)(nil)

// NewKakao returns a Kakao client named "kakao" (display name "Kakao") with
// the default scopes profile_nickname and account_email; the REST API key is
// the client id. Tokens are refreshed at the token endpoint; RevokeToken
// calls the unlink API. It does no I/O.
func NewKakao(clientID, clientSecret string, opts ...Option) (*Kakao, error) {
	b, err := newClient("kakao", config{
		ClientID:                     clientID,
		ClientSecret:                 clientSecret,
		AuthorizeEndpoint:            kakaoAuthorizeEndpoint,
		AccessTokenEndpoint:          kakaoTokenEndpoint,
		RefreshTokenEndpoint:         kakaoTokenEndpoint,
		RevokeTokenEndpoint:          kakaoUnlinkEndpoint,
		Name:                         "kakao",
		DisplayName:                  "Kakao",
		BaseScopes:                   []string{"profile_nickname", "account_email"},
		TokenEndpointAuthMethod:      ClientSecretPost,
		RevocationEndpointAuthMethod: ClientSecretPost,
	}, opts)
	if err != nil {
		return nil, err
	}
	return &Kakao{b}, nil
}

// Revoke unlinks the app with t's access token: the provider cannot revoke refresh tokens, so the
// refresh token is never sent. A token without an access token is
// ErrRevokeNotSupported.
func (k *Kakao) Revoke(ctx context.Context, t *Token) error {
	return revokeGrant(ctx, t, true, false, k.RevokeToken)
}

// RevokeToken calls Kakao's unlink API, the revoke endpoint upstream
// configures. Kakao documents it as POST with the access token as a Bearer
// credential and no body; upstream sent an RFC 7009 form (token, client id
// and secret) that Kakao does not read, so this override follows Kakao.
//
// Unlinking is stronger than revoking: it disconnects the app from the
// user's Kakao account, so their next login shows the consent screen again.
// Only an access token can be unlinked: a "refresh_token" hint fails before
// any I/O with an error matching ErrRevokeToken and ErrRevokeNotSupported.
// The body of a 2xx answer ({"id": ...}) is ignored.
func (k *Kakao) RevokeToken(ctx context.Context, token, tokenTypeHint string) error {
	if err := accessTokenOnly(tokenTypeHint); err != nil {
		return err
	}
	endpoint := k.cfg.RevokeTokenEndpoint
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, http.NoBody)
	if err != nil {
		return &RequestError{Op: ErrRevokeToken, Err: redactURLError(err)}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err = k.send(req, ErrRevokeToken)
	return err
}

// Profile returns the whole /v2/user/me document (every field the user
// consented to), fetched with POST as upstream does.
func (k *Kakao) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	raw, _, err := fetchUserObject(ctx, k.OAuth2, ErrGetProfile, apiRequest{
		method: http.MethodPost,
		url:    kakaoUserEndpoint,
		header: bearer(accessToken),
	})
	return raw, err
}

// IDEmail returns the Kakao member number and the account email when Kakao
// reports it valid and verified. It asks only for the email and profile
// fields through property_keys. A missing kakao_account (the user did not
// consent to email) gives an empty email, not an error.
func (k *Kakao) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := k.identity(ctx, accessToken)
	return idEmailOf(id, err, false)
}

// Identify reads /v2/user/me with t's access token; see Kakao.
func (k *Kakao) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return identifyWith(ctx, t, k.identity)
}

func (k *Kakao) identity(ctx context.Context, accessToken string) (*Identity, error) {
	_, m, err := fetchUserObject(ctx, k.OAuth2, ErrGetIDEmail, apiRequest{
		method: http.MethodPost,
		url:    kakaoUserEndpoint + "?" + url.Values{"property_keys": {kakaoIdentityPropertyKeys}}.Encode(),
		header: bearer(accessToken),
	})
	if err != nil {
		return nil, err
	}
	sub, ok := idString(m["id"])
	if !ok {
		return nil, identityError(ErrGetIDEmail, "kakao: id")
	}
	account, _ := m["kakao_account"].(map[string]any)
	profile, _ := account["profile"].(map[string]any)
	return &Identity{
		Subject:       sub,
		Email:         str(account["email"]),
		EmailVerified: account["is_email_valid"] == true && account["is_email_verified"] == true,
		Name:          str(profile["nickname"]),
		AvatarURL:     pictureURL(profile["profile_image_url"]),
	}, nil
}
