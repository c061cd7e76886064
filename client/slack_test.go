package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlackConfig(t *testing.T) {
	s, err := NewSlack("CID", "SEC")
	require.NoError(t, err)
	cfg := s.cfg
	assert.Equal(t, "https://slack.com/openid/connect/authorize", cfg.AuthorizeEndpoint)
	assert.Equal(t, "https://slack.com/api/openid.connect.token", cfg.AccessTokenEndpoint)
	assert.Equal(t, []string{"openid", "email", "profile"}, cfg.BaseScopes)
	assert.Equal(t, "slack", s.Name())
	assert.Equal(t, "https://slack.com", s.Capabilities().Issuer)
	assert.False(t, s.Capabilities().Revoke)
}

func TestSlackIDEmail(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		id, email  string
		code       string
		want       []error
	}{
		{name: "success", status: 200, body: `{"ok":true,"sub":"U0R7JM","https://slack.com/user_id":"U0R7JM","https://slack.com/team_id":"T0R7GR","email":"krane@slack-corp.com","email_verified":true,"name":"krane"}`,
			id: "U0R7JM", email: "krane@slack-corp.com"},
		{name: "unverified", status: 200, body: `{"ok":true,"sub":"U0R7JM","email":"krane@slack-corp.com","email_verified":false}`, id: "U0R7JM"},
		{name: "ok false invalid_auth", status: 200, body: `{"ok":false,"error":"invalid_auth"}`, code: "invalid_auth", want: []error{ErrGetIDEmail}},
		{name: "ok false without error", status: 200, body: `{"ok":false}`, code: "ok_false", want: []error{ErrGetIDEmail}},
		{name: "http 500", status: 500, body: `<html>`, want: []error{ErrGetIDEmail}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, hc := newFakeServer(t)
			f.json("/api/openid.connect.userInfo", tc.status, tc.body)
			s, err := NewSlack("CID", "SEC", WithHTTPClient(hc))
			require.NoError(t, err)
			id, email, err := s.IDEmail(context.Background(), "TOKEN")
			reqs := f.requests("/api/openid.connect.userInfo")
			require.Len(t, reqs, 1)
			assert.Equal(t, "slack.com", reqs[0].Host)
			assert.Equal(t, "Bearer TOKEN", reqs[0].Header.Get("Authorization"))
			if tc.want != nil {
				for _, w := range tc.want {
					assert.ErrorIs(t, err, w)
				}
				if tc.code != "" {
					var oe *OAuthError
					require.True(t, errors.As(err, &oe))
					assert.Equal(t, tc.code, oe.Code)
					assert.Equal(t, 200, oe.StatusCode)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.id, id)
			assert.Equal(t, tc.email, email)
		})
	}
	t.Run("profile ok false", func(t *testing.T) {
		f, hc := newFakeServer(t)
		f.json("/api/openid.connect.userInfo", 200, `{"ok":false,"error":"invalid_auth"}`)
		s, err := NewSlack("CID", "SEC", WithHTTPClient(hc))
		require.NoError(t, err)
		_, err = s.Profile(context.Background(), "TOKEN")
		assert.ErrorIs(t, err, ErrGetProfile)
	})
}

func TestSlackAccessTokenOKFalse(t *testing.T) {
	f, hc := newFakeServer(t)
	f.json("/api/openid.connect.token", 200, `{"ok":false,"error":"invalid_code"}`)
	s, err := NewSlack("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	_, err = s.AccessToken(context.Background(), "CODE", "https://app/cb", "VERIFIER")
	assert.ErrorIs(t, err, ErrGetAccessToken)
	var oe *OAuthError
	require.True(t, errors.As(err, &oe))
	assert.Equal(t, "invalid_code", oe.Code)
	reqs := f.requests("/api/openid.connect.token")
	require.Len(t, reqs, 1)
	assert.Equal(t, "slack.com", reqs[0].Host)
	assert.Contains(t, reqs[0].Body, "client_secret=SEC")
}

func TestSlackIDToken(t *testing.T) {
	key := newRSAKey(t, "sk")
	f, hc := newFakeServer(t)
	f.json("/openid/connect/keys", 200, jwksBody(t, key))
	s, err := NewSlack("CID", "SEC", WithHTTPClient(hc))
	require.NoError(t, err)
	c, err := s.VerifyIDToken(context.Background(), &Token{IDToken: key.sign(t, idTokenClaims("https://slack.com", "CID", "N", time.Now()))}, "N")
	require.NoError(t, err)
	assert.Equal(t, "https://slack.com", c.Issuer)
	_, err = s.VerifyIDToken(context.Background(), &Token{IDToken: key.sign(t, idTokenClaims("https://slack.com", "CID", "N", time.Now()))}, "M")
	assert.ErrorIs(t, err, ErrIDTokenNonce)
}
