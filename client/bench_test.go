package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// coreBenchClient is a client whose token and refresh endpoints are one
// loopback server answering body.
func coreBenchClient(b *testing.B, body string) *OAuth2 {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	b.Cleanup(srv.Close)
	c, err := newOAuth2(config{
		ClientID:                     coreClientID,
		ClientSecret:                 coreClientSecret,
		AuthorizeEndpoint:            srv.URL + "/authorize",
		AccessTokenEndpoint:          srv.URL + "/access-token",
		RefreshTokenEndpoint:         srv.URL + "/refresh",
		TokenEndpointAuthMethod:      ClientSecretBasic,
		RevocationEndpointAuthMethod: ClientSecretBasic,
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkAccessToken(b *testing.B) {
	c := coreBenchClient(b, coreAccessTokenJSON)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.AccessToken(ctx, "CODE", coreRedirectURI, "CODE_VERIFIER"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRefreshToken(b *testing.B) {
	c := coreBenchClient(b, coreRefreshTokenJSON)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.RefreshToken(ctx, "REFRESH_TOKEN"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthorizationURL(b *testing.B) {
	c, err := newOAuth2(config{
		ClientID:            coreClientID,
		ClientSecret:        coreClientSecret,
		AuthorizeEndpoint:   coreAuthorizeURL,
		AccessTokenEndpoint: coreTokenURL,
		BaseScopes:          []string{"openid", "email", "profile"},
	})
	if err != nil {
		b.Fatal(err)
	}
	opts := AuthURLOptions{State: GenerateState(), CodeChallenge: S256Challenge(GenerateVerifier()), CodeChallengeMethod: "S256"}
	extra := Values{"prompt": {"consent"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.AuthCodeURL(coreRedirectURI, opts, extra); err != nil {
			b.Fatal(err)
		}
	}
}
