package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNaverConstructor(t *testing.T) {
	n, err := NewNaver("CID", "SEC")
	require.NoError(t, err)
	cfg := n.cfg
	assert.Equal(t, "https://nid.naver.com/oauth2.0/authorize", cfg.AuthorizeEndpoint)
	assert.Equal(t, "https://nid.naver.com/oauth2.0/token", cfg.AccessTokenEndpoint)
	assert.Equal(t, "https://nid.naver.com/oauth2.0/token", cfg.RefreshTokenEndpoint)
	assert.Equal(t, "https://nid.naver.com/oauth2.0/token", cfg.RevokeTokenEndpoint)
	assert.Empty(t, cfg.BaseScopes)
	assert.Equal(t, ClientSecretPost, cfg.TokenEndpointAuthMethod)
	assert.Equal(t, ClientSecretPost, cfg.RevocationEndpointAuthMethod)
	assert.Equal(t, "naver", n.Name())
	assert.Equal(t, "Naver", n.DisplayName())
	assert.True(t, n.Capabilities().Refresh)
	assert.True(t, n.Capabilities().Revoke)
}

func TestNaverAuthorizationURL(t *testing.T) {
	n, err := NewNaver("CID", "SEC")
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		opts   AuthURLOptions
		extra  NaverParams
		expect url.Values
	}{
		// Upstream sent an empty "scope=" here.
		{name: "no scope parameter", opts: AuthURLOptions{State: "ST"},
			expect: url.Values{"state": {"ST"}}},
		{name: "reprompt", opts: AuthURLOptions{State: "ST"}, extra: NaverParams{AuthType: "reprompt"},
			expect: url.Values{"state": {"ST"}, "auth_type": {"reprompt"}}},
		{name: "explicit scopes", opts: AuthURLOptions{State: "ST", Scopes: []string{"name", "email"}},
			expect: url.Values{"state": {"ST"}, "scope": {"name email"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := n.AuthCodeURL("https://app.example/cb", tc.opts, tc.extra)
			require.NoError(t, err)
			u, err := url.Parse(raw)
			require.NoError(t, err)
			assert.Equal(t, "nid.naver.com", u.Host)
			assert.Equal(t, "/oauth2.0/authorize", u.Path)
			want := url.Values{"response_type": {"code"}, "client_id": {"CID"}, "redirect_uri": {"https://app.example/cb"}}
			for k, v := range tc.expect {
				want[k] = v
			}
			assert.Equal(t, want, u.Query())
		})
	}
}

func TestNaverRefreshToken(t *testing.T) {
	// Naver sends expires_in as a string and errors under HTTP 200.
	for _, tc := range []struct {
		name    string
		body    string
		wantErr bool
	}{
		{name: "success", body: `{"access_token":"AT2","token_type":"bearer","expires_in":"3600"}`},
		{name: "200 with error", body: `{"error":"invalid_request","error_description":"invalid refresh_token"}`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, srv := newCannedAPI(t, 200, ctJSON, tc.body)
			n, err := NewNaver("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			tok, err := n.RefreshToken(context.Background(), "RT")
			if tc.wantErr {
				assert.ErrorIs(t, err, ErrRefreshToken)
				var oe *OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "invalid_request", oe.Code)
			} else {
				require.NoError(t, err)
				assert.Equal(t, "AT2", tok.AccessToken)
				assert.Equal(t, "RT", tok.RefreshToken)
				assert.False(t, tok.Expiry.IsZero())
			}
			got := srv.only(t)
			assert.Equal(t, "nid.naver.com", got.Host)
			assert.Equal(t, "/oauth2.0/token", got.Path)
			form, err := url.ParseQuery(got.Body)
			require.NoError(t, err)
			assert.Equal(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"RT"},
				"client_id": {"CID"}, "client_secret": {"SEC"}}, form)
		})
	}
}

func TestNaverIDEmail(t *testing.T) {
	for _, tc := range []identityCase{
		// Upstream: POST profile returns response.id and response.email.
		{name: "success", status: 200, contentType: ctJSON,
			body:   `{"resultcode":"00","message":"success","response":{"email":"arthur@camelot.bt","nickname":"Arthur","id":"32742776","name":"Arthur"}}`,
			wantID: "32742776", wantEmail: "arthur@camelot.bt"},
		{name: "opaque id", status: 200, contentType: ctJSON,
			body:   `{"resultcode":"00","message":"success","response":{"id":"mBfMmsLiq2UYxUyHEfVGlB_lTxFBOQUFs4TLZ6e2ZeE"}}`,
			wantID: "mBfMmsLiq2UYxUyHEfVGlB_lTxFBOQUFs4TLZ6e2ZeE"},
		{name: "numeric id stays exact", status: 200, contentType: ctJSON,
			body:   `{"resultcode":"00","message":"success","response":{"id":1234567890123456789}}`,
			wantID: "1234567890123456789"},
		// Upstream: no email gives None.
		{name: "no email", status: 200, contentType: ctJSON,
			body:   `{"resultcode":"00","message":"success","response":{"id":"32742776","nickname":"Arthur"}}`,
			wantID: "32742776"},
		{name: "email not a string", status: 200, contentType: ctJSON,
			body:   `{"resultcode":"00","message":"success","response":{"id":"32742776","email":false}}`,
			wantID: "32742776"},
		// Upstream: 400 is a GetIdEmailError with the response.
		{name: "400", status: 400, contentType: ctJSON, body: `{"resultcode":"010","message":"bad request"}`,
			wantErr: errCauseHTTP, wantStatus: 400},
		{name: "401 authentication failed", status: 401, contentType: ctJSON,
			body: `{"resultcode":"024","message":"Authentication failed"}`, wantErr: errCauseHTTP, wantStatus: 401},
		{name: "HTML error page", status: 500, contentType: ctHTML, body: `<html>error</html>`,
			wantErr: errCauseHTTP, wantStatus: 500},
		{name: "200 with failing resultcode", status: 200, contentType: ctJSON,
			body:    `{"resultcode":"024","message":"Authentication failed"}`,
			wantErr: errCauseOAuth, wantStatus: 200, wantOAuth: "024"},
		{name: "200 without resultcode", status: 200, contentType: ctJSON,
			body:    `{"response":{"id":"32742776"}}`,
			wantErr: errCauseOAuth, wantStatus: 200, wantOAuth: "missing resultcode"},
		{name: "numeric resultcode is not 00", status: 200, contentType: ctJSON,
			body:    `{"resultcode":0,"response":{"id":"32742776"}}`,
			wantErr: errCauseOAuth, wantStatus: 200, wantOAuth: "0"},
		{name: "missing response", status: 200, contentType: ctJSON,
			body: `{"resultcode":"00","message":"success"}`, wantErr: ErrInvalidResponse},
		{name: "response not an object", status: 200, contentType: ctJSON,
			body: `{"resultcode":"00","message":"success","response":"x"}`, wantErr: ErrInvalidResponse},
		{name: "missing id", status: 200, contentType: ctJSON,
			body: `{"resultcode":"00","message":"success","response":{"email":"a@b.kr"}}`, wantErr: ErrMissingID},
		{name: "empty id", status: 200, contentType: ctJSON,
			body: `{"resultcode":"00","message":"success","response":{"id":"","email":"a@b.kr"}}`, wantErr: ErrMissingID},
		{name: "blank id", status: 200, contentType: ctJSON,
			body: `{"resultcode":"00","message":"success","response":{"id":"  "}}`, wantErr: ErrMissingID},
		{name: "zero id", status: 200, contentType: ctJSON,
			body: `{"resultcode":"00","message":"success","response":{"id":0}}`, wantErr: ErrMissingID},
		{name: "not JSON", status: 200, contentType: ctHTML, body: `<html></html>`, wantErr: ErrInvalidResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, srv := newCannedAPI(t, tc.status, tc.contentType, tc.body)
			n, err := NewNaver("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			id, email, err := n.IDEmail(context.Background(), "TOKEN")
			checkIdentityCase(t, tc, id, email, err)

			got := srv.only(t)
			assertRequest(t, got, http.MethodPost, "openapi.naver.com", "/v1/nid/me")
			assert.Empty(t, got.Query)
			assert.Equal(t, "Bearer TOKEN", got.Header.Get("Authorization"))
			assert.Equal(t, "application/json", got.Header.Get("Accept"))
			assert.Empty(t, got.Body)
		})
	}
}

func TestNaverProfile(t *testing.T) {
	hc, _ := newCannedAPI(t, 200, ctJSON,
		`{"resultcode":"00","message":"success","response":{"id":"32742776","nickname":"Arthur","age":"40-49"}}`)
	n, err := NewNaver("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	raw, err := n.Profile(context.Background(), "TOKEN")
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"32742776","nickname":"Arthur","age":"40-49"}`, string(raw))

	hc, _ = newCannedAPI(t, 200, ctJSON, `{"resultcode":"028","message":"Authentication header not exists"}`)
	n, err = NewNaver("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	_, err = n.Profile(context.Background(), "TOKEN")
	assert.ErrorIs(t, err, ErrGetProfile)
	var oe *OAuthError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "028", oe.Code)
	assert.Equal(t, "Authentication header not exists", oe.Description)
}

func TestNaverRevokeToken(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		body       string
		hint       string
		wantForm   url.Values
		wantErr    error
		wantStatus int
		wantOAuth  string
	}{
		// Upstream: form body with access_token=TOKEN and the hint.
		{name: "with hint", status: 200, body: `{"access_token":"TOKEN","result":"success"}`, hint: "TOKEN_TYPE_HINT",
			wantForm: url.Values{"grant_type": {"delete"}, "access_token": {"TOKEN"}, "service_provider": {"NAVER"},
				"token_type_hint": {"TOKEN_TYPE_HINT"}, "client_id": {"CID"}, "client_secret": {"SEC"}}},
		{name: "exact body without hint", status: 200, body: `{"access_token":"TOKEN","result":"success"}`,
			wantForm: url.Values{"grant_type": {"delete"}, "access_token": {"TOKEN"}, "service_provider": {"NAVER"},
				"client_id": {"CID"}, "client_secret": {"SEC"}}},
		// Upstream: 400 is a RevokeTokenError with the response.
		{name: "400", status: 400, body: `{"error":"invalid_request","error_description":"bad"}`,
			wantErr: errCauseOAuth, wantStatus: 400, wantOAuth: "invalid_request"},
		{name: "400 without error document", status: 400, body: `<html>bad</html>`,
			wantErr: errCauseHTTP, wantStatus: 400},
		{name: "200 with error", status: 200, body: `{"error":"invalid_request","error_description":"no valid data in session"}`,
			wantErr: errCauseOAuth, wantStatus: 200, wantOAuth: "invalid_request"},
		{name: "200 non-JSON body is success", status: 200, body: `ok`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, srv := newCannedAPI(t, tc.status, ctJSON, tc.body)
			n, err := NewNaver("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			err = n.RevokeToken(context.Background(), "TOKEN", tc.hint)
			if tc.wantErr == nil {
				require.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrRevokeToken)
				assertCause(t, err, tc.wantErr)
				assert.Equal(t, tc.wantStatus, StatusCode(err))
				if tc.wantOAuth != "" {
					var oe *OAuthError
					require.ErrorAs(t, err, &oe)
					assert.Equal(t, tc.wantOAuth, oe.Code)
				}
			}
			got := srv.only(t)
			assertRequest(t, got, http.MethodPost, "nid.naver.com", "/oauth2.0/token")
			assert.Equal(t, "application/x-www-form-urlencoded", got.Header.Get("Content-Type"))
			assert.Equal(t, "application/json", got.Header.Get("Accept"))
			assert.Empty(t, got.Header.Get("Authorization"))
			if tc.wantForm != nil {
				form, err := url.ParseQuery(got.Body)
				require.NoError(t, err)
				assert.Equal(t, tc.wantForm, form)
			}
		})
	}

	// Upstream: a transport error is a RevokeTokenError without response.
	t.Run("transport error", func(t *testing.T) {
		boom := errors.New("connection reset")
		hc := failingClient(boom)
		n, err := NewNaver("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		err = n.RevokeToken(context.Background(), "TOKEN", "")
		assert.ErrorIs(t, err, ErrRevokeToken)
		assert.ErrorIs(t, err, boom)
		assert.Zero(t, StatusCode(err))
		assert.NotContains(t, err.Error(), "TOKEN")
		assert.NotContains(t, err.Error(), "SEC")
	})

	t.Run("refresh token cannot be deleted", func(t *testing.T) {
		hc, srv := newCannedAPI(t, 200, ctJSON, `{}`)
		n, err := NewNaver("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		err = n.RevokeToken(context.Background(), "RT", "refresh_token")
		assert.ErrorIs(t, err, ErrRevokeToken)
		assert.ErrorIs(t, err, ErrRevokeNotSupported)
		assert.Zero(t, srv.count())
	})
}
