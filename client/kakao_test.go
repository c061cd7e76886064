package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cannedAPI is a provider server that answers every request with one canned
// response and records what it saw.
type cannedAPI struct {
	mu   sync.Mutex
	reqs []recorded
}

func newCannedAPI(t *testing.T, status int, contentType, body string) (*http.Client, *cannedAPI) {
	t.Helper()
	c := &cannedAPI{}
	hc := providerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.reqs = append(c.reqs, recorded{
			Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: string(b),
		})
		c.mu.Unlock()
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	return hc, c
}

// only returns the single request the server saw.
func (c *cannedAPI) only(t *testing.T) recorded {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Len(t, c.reqs, 1, "requests seen by the provider server")
	return c.reqs[0]
}

func (c *cannedAPI) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

// identityCase is one user-API answer and what IDEmail must make of it.
type identityCase struct {
	name        string
	status      int
	contentType string
	body        string
	wantID      string
	wantEmail   string
	wantErr     error // matched with errors.Is besides ErrGetIDEmail
	wantStatus  int   // StatusCode(err) when wantErr is set
	wantOAuth   string
}

const (
	ctJSON = "application/json"
	ctHTML = "text/html; charset=utf-8"
)

// checkIdentityCase asserts the outcome of one identityCase.
func checkIdentityCase(t *testing.T, tc identityCase, id, email string, err error) {
	t.Helper()
	if tc.wantErr == nil {
		require.NoError(t, err)
		assert.Equal(t, tc.wantID, id)
		assert.Equal(t, tc.wantEmail, email)
		return
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrGetIDEmail)
	assertCause(t, err, tc.wantErr)
	assert.Equal(t, tc.wantStatus, StatusCode(err))
	assert.Empty(t, id)
	assert.Empty(t, email)
	if tc.wantOAuth != "" {
		var oe *OAuthError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, tc.wantOAuth, oe.Code)
	}
	assert.NotContains(t, err.Error(), "TOKEN")
}

// errCauseHTTP and errCauseOAuth stand for "any *HTTPError / *OAuthError cause" in
// the wantErr fields of the table tests; assertCause checks them with errors.As.
var (
	errCauseHTTP  = errors.New("want an *HTTPError cause")
	errCauseOAuth = errors.New("want an *OAuthError cause")
)

// assertCause asserts that err has the cause a table case expects.
func assertCause(t *testing.T, err, want error) {
	t.Helper()
	switch want {
	case errCauseHTTP:
		var he *HTTPError
		assert.ErrorAs(t, err, &he)
	case errCauseOAuth:
		var oe *OAuthError
		assert.ErrorAs(t, err, &oe)
	default:
		assert.ErrorIs(t, err, want)
	}
}

func TestKakaoConstructor(t *testing.T) {
	k, err := NewKakao("CID", "SEC")
	require.NoError(t, err)
	cfg := k.cfg
	assert.Equal(t, "https://kauth.kakao.com/oauth/authorize", cfg.AuthorizeEndpoint)
	assert.Equal(t, "https://kauth.kakao.com/oauth/token", cfg.AccessTokenEndpoint)
	assert.Equal(t, "https://kauth.kakao.com/oauth/token", cfg.RefreshTokenEndpoint)
	assert.Equal(t, "https://kapi.kakao.com/v1/user/unlink", cfg.RevokeTokenEndpoint)
	assert.Equal(t, []string{"profile_nickname", "account_email"}, cfg.BaseScopes)
	assert.Equal(t, ClientSecretPost, cfg.TokenEndpointAuthMethod)
	assert.Equal(t, "kakao", k.Name())
	assert.Equal(t, "Kakao", k.DisplayName())
	assert.True(t, k.Capabilities().Refresh)
	assert.True(t, k.Capabilities().Revoke)

	k2, err := NewKakao("CID", "SEC", WithScopes("account_email"), WithName("kakao-biz"))
	require.NoError(t, err)
	assert.Equal(t, []string{"account_email"}, k2.cfg.BaseScopes)
	assert.Equal(t, "kakao-biz", k2.Name())
	assert.Equal(t, "Kakao", k2.DisplayName())
}

func TestKakaoAuthorizationURL(t *testing.T) {
	k, err := NewKakao("CID", "SEC")
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		extra KakaoParams
		want  url.Values
	}{
		{"no extras", KakaoParams{}, url.Values{}},
		{"prompt and login hint", KakaoParams{Prompt: "login,select_account", LoginHint: "arthur@camelot.bt"},
			url.Values{"prompt": {"login,select_account"}, "login_hint": {"arthur@camelot.bt"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := k.AuthCodeURL("https://app.example/cb", AuthURLOptions{State: "ST"}, tc.extra)
			require.NoError(t, err)
			u, err := url.Parse(raw)
			require.NoError(t, err)
			assert.Equal(t, "kauth.kakao.com", u.Host)
			assert.Equal(t, "/oauth/authorize", u.Path)
			want := url.Values{
				"response_type": {"code"}, "client_id": {"CID"}, "redirect_uri": {"https://app.example/cb"},
				"state": {"ST"}, "scope": {"profile_nickname account_email"},
			}
			for k, v := range tc.want {
				want[k] = v
			}
			assert.Equal(t, want, u.Query())
		})
	}
}

func TestKakaoAccessToken(t *testing.T) {
	hc, srv := newCannedAPI(t, 200, ctJSON,
		`{"token_type":"bearer","access_token":"AT","expires_in":43199,"refresh_token":"RT","refresh_token_expires_in":5183999,"scope":"account_email profile_nickname"}`)
	k, err := NewKakao("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	tok, err := k.AccessToken(context.Background(), "CODE", "https://app.example/cb", "VERIFIER")
	require.NoError(t, err)
	assert.Equal(t, "AT", tok.AccessToken)
	assert.Equal(t, "RT", tok.RefreshToken)
	got := srv.only(t)
	assertRequest(t, got, http.MethodPost, "kauth.kakao.com", "/oauth/token")
	form, err := url.ParseQuery(got.Body)
	require.NoError(t, err)
	assert.Equal(t, url.Values{
		"grant_type": {"authorization_code"}, "code": {"CODE"}, "redirect_uri": {"https://app.example/cb"},
		"code_verifier": {"VERIFIER"}, "client_id": {"CID"}, "client_secret": {"SEC"},
	}, form)
}

func TestKakaoIDEmail(t *testing.T) {
	for _, tc := range []identityCase{
		// Upstream: int id turned into a string, email returned.
		{name: "success", status: 200, contentType: ctJSON,
			body:   `{"id":4242424242,"connected_at":"2022-04-11T01:45:28Z","kakao_account":{"email_needs_agreement":false,"is_email_valid":true,"is_email_verified":true,"email":"arthur@camelot.bt"}}`,
			wantID: "4242424242", wantEmail: "arthur@camelot.bt"},
		{name: "large id stays exact", status: 200, contentType: ctJSON,
			body:   `{"id":1234567890123456789,"kakao_account":{"is_email_valid":true,"is_email_verified":true,"email":"a@b.kr"}}`,
			wantID: "1234567890123456789", wantEmail: "a@b.kr"},
		// Upstream: kakao_account {} gives no email.
		{name: "empty kakao_account", status: 200, contentType: ctJSON,
			body: `{"id":4242424242,"kakao_account":{}}`, wantID: "4242424242"},
		// Upstream raised KeyError here.
		{name: "no kakao_account", status: 200, contentType: ctJSON,
			body: `{"id":4242424242}`, wantID: "4242424242"},
		{name: "kakao_account null", status: 200, contentType: ctJSON,
			body: `{"id":4242424242,"kakao_account":null}`, wantID: "4242424242"},
		{name: "email needs agreement", status: 200, contentType: ctJSON,
			body: `{"id":4242424242,"kakao_account":{"email_needs_agreement":true}}`, wantID: "4242424242"},
		{name: "email not verified", status: 200, contentType: ctJSON,
			body:   `{"id":4242424242,"kakao_account":{"is_email_valid":true,"is_email_verified":false,"email":"arthur@camelot.bt"}}`,
			wantID: "4242424242"},
		{name: "email not valid", status: 200, contentType: ctJSON,
			body:   `{"id":4242424242,"kakao_account":{"is_email_valid":false,"is_email_verified":true,"email":"arthur@camelot.bt"}}`,
			wantID: "4242424242"},
		{name: "flags missing", status: 200, contentType: ctJSON,
			body: `{"id":4242424242,"kakao_account":{"email":"arthur@camelot.bt"}}`, wantID: "4242424242"},
		{name: "flags as strings are not true", status: 200, contentType: ctJSON,
			body:   `{"id":4242424242,"kakao_account":{"is_email_valid":"true","is_email_verified":"true","email":"arthur@camelot.bt"}}`,
			wantID: "4242424242"},
		// Upstream: 400 {"msg":...} is a GetIdEmailError with the response.
		{name: "400 msg", status: 400, contentType: ctJSON, body: `{"msg":"failed message"}`,
			wantErr: errCauseHTTP, wantStatus: 400},
		{name: "401 invalid token", status: 401, contentType: ctJSON,
			body: `{"msg":"this access token does not exist","code":-401}`, wantErr: errCauseHTTP, wantStatus: 401},
		{name: "HTML error page", status: 502, contentType: ctHTML,
			body: `<html><body>Bad Gateway</body></html>`, wantErr: errCauseHTTP, wantStatus: 502},
		{name: "OAuth error body", status: 401, contentType: ctJSON,
			body: `{"error":"invalid_token","error_description":"expired"}`, wantErr: errCauseOAuth, wantStatus: 401, wantOAuth: "invalid_token"},
		{name: "missing id", status: 200, contentType: ctJSON, body: `{"kakao_account":{}}`, wantErr: ErrMissingID},
		{name: "id zero", status: 200, contentType: ctJSON, body: `{"id":0}`, wantErr: ErrMissingID},
		{name: "id empty string", status: 200, contentType: ctJSON, body: `{"id":""}`, wantErr: ErrMissingID},
		{name: "id null", status: 200, contentType: ctJSON, body: `{"id":null}`, wantErr: ErrMissingID},
		{name: "id object", status: 200, contentType: ctJSON, body: `{"id":{"n":1}}`, wantErr: ErrMissingID},
		{name: "not an object", status: 200, contentType: ctJSON, body: `[1,2]`, wantErr: ErrInvalidResponse},
		{name: "not JSON", status: 200, contentType: ctHTML, body: `<html>ok</html>`, wantErr: ErrInvalidResponse},
		{name: "null body", status: 200, contentType: ctJSON, body: `null`, wantErr: ErrInvalidResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, srv := newCannedAPI(t, tc.status, tc.contentType, tc.body)
			k, err := NewKakao("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			id, email, err := k.IDEmail(context.Background(), "TOKEN")
			checkIdentityCase(t, tc, id, email, err)

			got := srv.only(t)
			assertRequest(t, got, http.MethodPost, "kapi.kakao.com", "/v2/user/me")
			assert.Equal(t, "property_keys=%5B%22kakao_account.email%22%2C%22kakao_account.profile%22%5D", got.Query)
			assert.Equal(t, "Bearer TOKEN", got.Header.Get("Authorization"))
			assert.Equal(t, "application/json", got.Header.Get("Accept"))
			assert.Equal(t, DefaultUserAgent, got.Header.Get("User-Agent"))
			assert.Empty(t, got.Body)
		})
	}
}

func TestKakaoProfile(t *testing.T) {
	body := `{"id":4242424242,"properties":{"nickname":"Arthur"},"kakao_account":{"profile":{"nickname":"Arthur"}}}`
	hc, srv := newCannedAPI(t, 200, ctJSON, body)
	k, err := NewKakao("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	raw, err := k.Profile(context.Background(), "TOKEN")
	require.NoError(t, err)
	assert.JSONEq(t, body, string(raw))
	got := srv.only(t)
	assertRequest(t, got, http.MethodPost, "kapi.kakao.com", "/v2/user/me")
	assert.Empty(t, got.Query, "the full profile is asked without property_keys")
	assert.Equal(t, "Bearer TOKEN", got.Header.Get("Authorization"))

	hc, _ = newCannedAPI(t, 401, ctJSON, `{"msg":"this access token does not exist","code":-401}`)
	k, err = NewKakao("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	_, err = k.Profile(context.Background(), "TOKEN")
	assert.ErrorIs(t, err, ErrGetProfile)
	assert.Equal(t, 401, StatusCode(err))
}

func TestKakaoRevokeToken(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		body       string
		hint       string
		wantErr    error
		wantStatus int
	}{
		{name: "unlinked", status: 200, body: `{"id":4242424242}`},
		{name: "unlinked with access token hint", status: 200, body: `{"id":4242424242}`, hint: "access_token"},
		{name: "empty 200 body is fine", status: 200, body: ``},
		{name: "401", status: 401, body: `{"msg":"this access token does not exist","code":-401}`,
			wantErr: errCauseHTTP, wantStatus: 401},
		{name: "HTML 500", status: 500, body: `<html>oops</html>`, wantErr: errCauseHTTP, wantStatus: 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, srv := newCannedAPI(t, tc.status, ctJSON, tc.body)
			k, err := NewKakao("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			err = k.RevokeToken(context.Background(), "TOKEN", tc.hint)
			if tc.wantErr == nil {
				require.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrRevokeToken)
				assertCause(t, err, tc.wantErr)
				assert.Equal(t, tc.wantStatus, StatusCode(err))
			}
			got := srv.only(t)
			assertRequest(t, got, http.MethodPost, "kapi.kakao.com", "/v1/user/unlink")
			assert.Empty(t, got.Query)
			assert.Equal(t, "Bearer TOKEN", got.Header.Get("Authorization"))
			assert.Empty(t, got.Body, "no token or client secret in the body")
		})
	}

	t.Run("refresh token cannot be unlinked", func(t *testing.T) {
		hc, srv := newCannedAPI(t, 200, ctJSON, `{}`)
		k, err := NewKakao("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		err = k.RevokeToken(context.Background(), "RT", "refresh_token")
		assert.ErrorIs(t, err, ErrRevokeToken)
		assert.ErrorIs(t, err, ErrRevokeNotSupported)
		assert.Zero(t, srv.count())
	})
}
