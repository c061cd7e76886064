package client

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGitLabConstructor(t *testing.T) {
	g, err := NewGitLab("CID", "SEC")
	require.NoError(t, err)
	cfg := g.cfg
	assert.Equal(t, "https://gitlab.com/oauth/authorize", cfg.AuthorizeEndpoint)
	assert.Equal(t, "https://gitlab.com/oauth/token", cfg.AccessTokenEndpoint)
	assert.Equal(t, "https://gitlab.com/oauth/token", cfg.RefreshTokenEndpoint)
	assert.Equal(t, "https://gitlab.com/oauth/revoke", cfg.RevokeTokenEndpoint)
	assert.Equal(t, []string{"read_user"}, cfg.BaseScopes)
	assert.Equal(t, ClientSecretPost, cfg.TokenEndpointAuthMethod)
	assert.Equal(t, ClientSecretPost, cfg.RevocationEndpointAuthMethod)
	assert.Equal(t, "gitlab", g.Name())
	assert.Equal(t, "GitLab", g.DisplayName())
	assert.True(t, g.Capabilities().Refresh)
	assert.True(t, g.Capabilities().Revoke)
	assert.Equal(t, "https://gitlab.com", g.BaseURL())
}

func TestGitLabSelfHosted(t *testing.T) {
	for _, tc := range []struct {
		base, wantBase, wantHost, wantPathPrefix string
	}{
		{"https://git.example.com", "https://git.example.com", "git.example.com", ""},
		{"https://git.example.com/", "https://git.example.com", "git.example.com", ""},
		{"https://example.com/gitlab/", "https://example.com/gitlab", "example.com", "/gitlab"},
		{"https://git.example.com:8443", "https://git.example.com:8443", "git.example.com:8443", ""},
	} {
		t.Run(tc.base, func(t *testing.T) {
			hc, srv := newCannedAPI(t, 200, ctJSON, `{"id":7,"email":"a@example.com","confirmed_at":"2024-01-01T00:00:00Z"}`)
			g, err := NewGitLabAt(tc.base, "CID", "SEC", WithHTTPClient(hc), WithName("corp-gitlab"))
			require.NoError(t, err)
			assert.Equal(t, tc.wantBase, g.BaseURL())
			cfg := g.cfg
			assert.Equal(t, tc.wantBase+"/oauth/authorize", cfg.AuthorizeEndpoint)
			assert.Equal(t, tc.wantBase+"/oauth/token", cfg.AccessTokenEndpoint)
			assert.Equal(t, tc.wantBase+"/oauth/token", cfg.RefreshTokenEndpoint)
			assert.Equal(t, tc.wantBase+"/oauth/revoke", cfg.RevokeTokenEndpoint)
			assert.Equal(t, "corp-gitlab", g.Name())
			assert.Equal(t, "GitLab", g.DisplayName())

			id, email, err := g.IDEmail(context.Background(), "TOKEN")
			require.NoError(t, err)
			assert.Equal(t, "7", id)
			assert.Equal(t, "a@example.com", email)
			got := srv.only(t)
			assert.Equal(t, tc.wantHost, got.Host)
			assert.Equal(t, tc.wantPathPrefix+"/api/v4/user", got.Path)
		})
	}
}

func TestGitLabBaseURLValidation(t *testing.T) {
	for _, base := range []string{
		"", "gitlab.com", "//gitlab.com", "http://gitlab.example.com", "ftp://gitlab.example.com",
		"https://", "https:///gitlab", "https://user:pw@gitlab.example.com", "https://user@gitlab.example.com",
		"https://gitlab.example.com?x=1", "https://gitlab.example.com/?", "https://gitlab.example.com#frag",
		"https://gitlab.example.com/#", "https://gitlab.example.com/a/../b", "https://gitlab.example.com/./x",
		"https:gitlab.example.com", "https://gitlab.example.com:port", "https://gitlab example.com",
		"https://gitlab.example.com\n", "javascript:alert(1)",
	} {
		t.Run(base, func(t *testing.T) {
			g, err := NewGitLabAt(base, "CID", "SEC")
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Nil(t, g)
		})
	}
}

func TestGitLabAuthorizationURL(t *testing.T) {
	g, err := NewGitLab("CID", "SEC")
	require.NoError(t, err)
	raw, err := g.AuthCodeURL("https://app.example/cb", AuthURLOptions{
		State: "ST", CodeChallenge: "CH", CodeChallengeMethod: "S256",
	}, GitLabParams{})
	require.NoError(t, err)
	u, err := url.Parse(raw)
	require.NoError(t, err)
	assert.Equal(t, "gitlab.com", u.Host)
	assert.Equal(t, "/oauth/authorize", u.Path)
	assert.Equal(t, url.Values{
		"response_type": {"code"}, "client_id": {"CID"}, "redirect_uri": {"https://app.example/cb"},
		"state": {"ST"}, "scope": {"read_user"}, "code_challenge": {"CH"}, "code_challenge_method": {"S256"},
	}, u.Query())
}

func TestGitLabTokenEndpoints(t *testing.T) {
	t.Run("access token", func(t *testing.T) {
		hc, srv := newCannedAPI(t, 200, ctJSON,
			`{"access_token":"AT","token_type":"Bearer","expires_in":7200,"refresh_token":"RT","scope":"read_user","created_at":1607635748}`)
		g, err := NewGitLab("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		tok, err := g.AccessToken(context.Background(), "CODE", "https://app.example/cb", "VERIFIER")
		require.NoError(t, err)
		assert.Equal(t, "AT", tok.AccessToken)
		assert.Equal(t, "RT", tok.RefreshToken)
		got := srv.only(t)
		assertRequest(t, got, http.MethodPost, "gitlab.com", "/oauth/token")
		form, err := url.ParseQuery(got.Body)
		require.NoError(t, err)
		assert.Equal(t, url.Values{"grant_type": {"authorization_code"}, "code": {"CODE"},
			"redirect_uri": {"https://app.example/cb"}, "code_verifier": {"VERIFIER"},
			"client_id": {"CID"}, "client_secret": {"SEC"}}, form)
	})

	// The closed upstream PR noted that GitLab may answer a refresh with 200
	// and an error member.
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		wantOAuth string
	}{
		{name: "refresh ok", status: 200, body: `{"access_token":"AT2","token_type":"Bearer","expires_in":7200,"refresh_token":"RT2"}`},
		{name: "refresh 200 with error", status: 200, body: `{"error":"invalid_grant","error_description":"The provided authorization grant is invalid"}`, wantOAuth: "invalid_grant"},
		{name: "refresh 400", status: 400, body: `{"error":"invalid_grant"}`, wantOAuth: "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, srv := newCannedAPI(t, tc.status, ctJSON, tc.body)
			g, err := NewGitLab("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			tok, err := g.RefreshToken(context.Background(), "RT")
			if tc.wantOAuth != "" {
				assert.ErrorIs(t, err, ErrRefreshToken)
				var oe *OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, tc.wantOAuth, oe.Code)
				assert.Equal(t, tc.status, oe.StatusCode)
			} else {
				require.NoError(t, err)
				assert.Equal(t, "AT2", tok.AccessToken)
				assert.Equal(t, "RT2", tok.RefreshToken)
			}
			got := srv.only(t)
			assert.Equal(t, "gitlab.com", got.Host)
			assert.Equal(t, "/oauth/token", got.Path)
			form, err := url.ParseQuery(got.Body)
			require.NoError(t, err)
			assert.Equal(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"RT"},
				"client_id": {"CID"}, "client_secret": {"SEC"}}, form)
		})
	}
}

func TestGitLabRevokeToken(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		body       string
		hint       string
		wantForm   url.Values
		wantErr    error
		wantStatus int
	}{
		{name: "revoked", status: 200, body: `{}`, hint: "refresh_token",
			wantForm: url.Values{"token": {"TOKEN"}, "token_type_hint": {"refresh_token"}, "client_id": {"CID"}, "client_secret": {"SEC"}}},
		{name: "body ignored per RFC 7009", status: 200, body: `{"error":"x"}`,
			wantForm: url.Values{"token": {"TOKEN"}, "client_id": {"CID"}, "client_secret": {"SEC"}}},
		{name: "403 unauthorized client", status: 403, body: `{"error":"unauthorized_client","error_description":"You are not authorized to revoke this token"}`,
			wantErr: errCauseOAuth, wantStatus: 403},
		{name: "503", status: 503, body: `<html>maintenance</html>`, wantErr: errCauseHTTP, wantStatus: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, srv := newCannedAPI(t, tc.status, ctJSON, tc.body)
			g, err := NewGitLab("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			err = g.RevokeToken(context.Background(), "TOKEN", tc.hint)
			if tc.wantErr == nil {
				require.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrRevokeToken)
				assertCause(t, err, tc.wantErr)
				assert.Equal(t, tc.wantStatus, StatusCode(err))
			}
			got := srv.only(t)
			assertRequest(t, got, http.MethodPost, "gitlab.com", "/oauth/revoke")
			assert.Empty(t, got.Header.Get("Authorization"))
			if tc.wantForm != nil {
				form, err := url.ParseQuery(got.Body)
				require.NoError(t, err)
				assert.Equal(t, tc.wantForm, form)
			}
		})
	}
}

func TestGitLabIDEmail(t *testing.T) {
	for _, tc := range []identityCase{
		{name: "success", status: 200, contentType: ctJSON,
			body:   `{"id":1,"username":"john_smith","email":"john@example.com","name":"John Smith","state":"active","confirmed_at":"2012-05-23T09:05:22Z","public_email":"","commit_email":"john@example.com"}`,
			wantID: "1", wantEmail: "john@example.com"},
		{name: "large id stays exact", status: 200, contentType: ctJSON,
			body: `{"id":1234567890123456789,"email":"a@b.c","confirmed_at":"2024-01-01T00:00:00Z"}`, wantID: "1234567890123456789", wantEmail: "a@b.c"},
		{name: "unconfirmed email", status: 200, contentType: ctJSON,
			body: `{"id":42,"email":"john@example.com","confirmed_at":null}`, wantID: "42"},
		{name: "no confirmed_at", status: 200, contentType: ctJSON,
			body: `{"id":42,"email":"john@example.com"}`, wantID: "42"},
		{name: "no email", status: 200, contentType: ctJSON,
			body: `{"id":42,"confirmed_at":"2024-01-01T00:00:00Z"}`, wantID: "42"},
		{name: "401 message", status: 401, contentType: ctJSON, body: `{"message":"401 Unauthorized"}`,
			wantErr: errCauseHTTP, wantStatus: 401},
		{name: "401 invalid token", status: 401, contentType: ctJSON,
			body:    `{"error":"invalid_token","error_description":"Token is expired. You can either do re-authorization or token refresh."}`,
			wantErr: errCauseOAuth, wantStatus: 401, wantOAuth: "invalid_token"},
		{name: "403 insufficient scope", status: 403, contentType: ctJSON,
			body:    `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api read_user"}`,
			wantErr: errCauseOAuth, wantStatus: 403, wantOAuth: "insufficient_scope"},
		{name: "HTML error page", status: 502, contentType: ctHTML, body: `<html>502 Whoops, GitLab is taking too much time to respond.</html>`,
			wantErr: errCauseHTTP, wantStatus: 502},
		{name: "missing id", status: 200, contentType: ctJSON, body: `{"email":"a@b.c"}`, wantErr: ErrMissingID},
		{name: "zero id", status: 200, contentType: ctJSON, body: `{"id":0}`, wantErr: ErrMissingID},
		{name: "null id", status: 200, contentType: ctJSON, body: `{"id":null}`, wantErr: ErrMissingID},
		{name: "array", status: 200, contentType: ctJSON, body: `[{"id":1}]`, wantErr: ErrInvalidResponse},
		{name: "not JSON", status: 200, contentType: ctHTML, body: `<html>sign in</html>`, wantErr: ErrInvalidResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, srv := newCannedAPI(t, tc.status, tc.contentType, tc.body)
			g, err := NewGitLab("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			id, email, err := g.IDEmail(context.Background(), "TOKEN")
			checkIdentityCase(t, tc, id, email, err)

			got := srv.only(t)
			assertRequest(t, got, http.MethodGet, "gitlab.com", "/api/v4/user")
			assert.Empty(t, got.Query)
			assert.Equal(t, "Bearer TOKEN", got.Header.Get("Authorization"))
			assert.Equal(t, "application/json", got.Header.Get("Accept"))
		})
	}
}

func TestGitLabProfile(t *testing.T) {
	body := `{"id":1,"username":"john_smith","name":"John Smith"}`
	hc, _ := newCannedAPI(t, 200, ctJSON, body)
	g, err := NewGitLab("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	raw, err := g.Profile(context.Background(), "TOKEN")
	require.NoError(t, err)
	assert.JSONEq(t, body, string(raw))

	hc, _ = newCannedAPI(t, 401, ctJSON, `{"message":"401 Unauthorized"}`)
	g, err = NewGitLab("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	_, err = g.Profile(context.Background(), "TOKEN")
	assert.ErrorIs(t, err, ErrGetProfile)
	assert.Equal(t, 401, StatusCode(err))
}
