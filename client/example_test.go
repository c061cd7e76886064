package client_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/client"
)

// A generic client builds the URL to send the user to. In a real login the
// state and verifier come from GenerateState and GenerateVerifier and are
// kept in the user's session; fixed values keep this example's output stable.
func ExampleOAuth2_AuthCodeURL() {
	c, err := client.New(client.Config{
		ClientID:            "my-client",
		ClientSecret:        "my-secret",
		AuthorizeEndpoint:   "https://as.example/authorize",
		AccessTokenEndpoint: "https://as.example/token",
	}, client.WithScopes("openid", "email"))
	if err != nil {
		log.Fatal(err)
	}
	u, err := c.AuthCodeURL("https://app.example/callback", client.AuthURLOptions{
		State:               "af0ifjsldkj",
		CodeChallenge:       client.S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
		CodeChallengeMethod: "S256",
	}, client.Values{"prompt": {"consent"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u)
	// Output:
	// https://as.example/authorize?client_id=my-client&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&prompt=consent&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&response_type=code&scope=openid+email&state=af0ifjsldkj
}

// The callback exchanges the code (and the PKCE verifier kept in the
// session) for a token. Here the token endpoint is a local test server.
func ExampleOAuth2_AccessToken() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("code") != "the-code" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"example-access-token","token_type":"Bearer","expires_in":3600}`)
	}))
	defer srv.Close()

	c, err := client.New(client.Config{
		ClientID:            "my-client",
		ClientSecret:        "my-secret",
		AuthorizeEndpoint:   srv.URL + "/authorize",
		AccessTokenEndpoint: srv.URL + "/token",
	}, client.WithTokenEndpointAuthMethod(client.ClientSecretBasic))
	if err != nil {
		log.Fatal(err)
	}
	tok, err := c.AccessToken(context.Background(), "the-code", "https://app.example/callback", client.GenerateVerifier())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.AccessToken)
	fmt.Println(tok.TokenType)
	// Output:
	// example-access-token
	// Bearer
}

// A verifier is 43 characters and so is its S256 challenge; the state is at
// least 26.
func ExampleGenerateVerifier() {
	v := client.GenerateVerifier()
	fmt.Println(len(v), len(client.S256Challenge(v)), len(client.GenerateState()) >= 26)
	// Output: 43 43 true
}

// DiscoverOpenID configures a client for any OpenID Connect issuer from its
// discovery document (here a loopback stand-in; in production an https
// issuer such as https://accounts.example.com). Ask for offline_access when
// the issuer lists it, to receive a refresh token.
func ExampleDiscoverOpenID() {
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,
			"userinfo_endpoint":%q,"jwks_uri":%q,"grant_types_supported":["authorization_code","refresh_token"],
			"token_endpoint_auth_methods_supported":["client_secret_post","client_secret_basic"],
			"authorization_response_iss_parameter_supported":true}`,
			issuer, issuer+"/authorize", issuer+"/token", issuer+"/userinfo", issuer+"/jwks")
	}))
	defer srv.Close()
	issuer = srv.URL

	c, err := client.DiscoverOpenID(context.Background(), issuer, "my-client", "my-secret",
		client.WithScopes("openid", "email", "offline_access"),
		client.WithTokenEndpointAuthMethod(client.ClientSecretBasic)) // as registered at the issuer
	if err != nil {
		log.Fatal(err)
	}
	caps := c.Capabilities()
	fmt.Println(caps.Issuer == issuer, caps.IssParameter, caps.Nonce, caps.Refresh, caps.Revoke)
	token, _ := c.AuthMethods()
	fmt.Println(token)
	// Output:
	// true true true true false
	// client_secret_basic
}

// A client registered for private_key_jwt signs an assertion with its key
// for each token request instead of sending a secret. Here the key is a
// PKCS #8 PEM file, as "openssl genpkey -algorithm EC -pkeyopt
// ec_paramgen_curve:P-256 -out client-key.pem" writes it (this one is a
// throwaway: never use it elsewhere); any crypto.Signer works, a KMS key
// included. The server registered the public half, or fetches it from a
// JWKSHandler.
func ExampleWithClientAssertionKey() {
	keyPEM, err := os.ReadFile("testdata/client-key.pem")
	if err != nil {
		log.Fatal(err)
	}
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		log.Fatal("no PEM block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		log.Fatal(err)
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		log.Fatal("not a signing key")
	}

	// A stand-in token endpoint that shows what it received.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		fmt.Println("client_id:", r.PostForm.Get("client_id"))
		fmt.Println("client_assertion_type:", r.PostForm.Get("client_assertion_type"))
		fmt.Println("client_secret sent:", r.PostForm.Has("client_secret"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"AT","token_type":"Bearer"}`)
	}))
	defer srv.Close()

	c, err := client.New(client.Config{
		ClientID:            "my-client",
		AuthorizeEndpoint:   srv.URL + "/authorize",
		AccessTokenEndpoint: srv.URL + "/token",
	},
		client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT),
		client.WithClientAssertionKey(key, "2026-01"),
	)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := c.AccessToken(context.Background(), "CODE", "https://app.example/callback", "VERIFIER")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("access token:", tok.AccessToken)
	// Output:
	// client_id: my-client
	// client_assertion_type: urn:ietf:params:oauth:client-assertion-type:jwt-bearer
	// client_secret sent: false
	// access token: AT
}

// A client made WithDPoP binds each grant's tokens to a key of its own
// (RFC 9449). The key comes back in Token.DPoPKey: store it with the token
// and hand it back with ContextWithDPoPKey to refresh. Here a loopback
// stand-in for the server asks for its nonce first (use_dpop_nonce), as
// servers that require nonces do; the client retries once with it.
func ExampleWithDPoP() {
	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("DPoP-Nonce", "server-nonce-1")
		if r.Header.Get("DPoP") == "" || requests == 1 {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"use_dpop_nonce"}`)
			return
		}
		_, _ = io.WriteString(w, `{"access_token":"bound-token","token_type":"DPoP","refresh_token":"rt","expires_in":300}`)
	}))
	defer srv.Close()

	c, err := client.New(client.Config{
		ClientID:             "my-client",
		ClientSecret:         "my-secret",
		AuthorizeEndpoint:    srv.URL + "/authorize",
		AccessTokenEndpoint:  srv.URL + "/token",
		RefreshTokenEndpoint: srv.URL + "/token",
	}, client.WithDPoP())
	if err != nil {
		log.Fatal(err)
	}
	tok, err := c.AccessToken(context.Background(), "the-code", "https://app.example/callback", client.GenerateVerifier())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.TokenType, requests)

	// Later, from the store: the refresh proves possession of the same key.
	ctx := client.ContextWithDPoPKey(context.Background(), tok.DPoPKey)
	refreshed, err := c.RefreshToken(ctx, tok.RefreshToken)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(refreshed.DPoPKey.Thumbprint() == tok.DPoPKey.Thumbprint(), requests)
	// Output:
	// DPoP 2
	// true 3
}

// With pushed authorization requests (RFC 9126) the parameters go to the
// server directly, authenticated, and the user is sent with a request_uri
// only. Here the server is a local test server.
func ExampleOAuth2_PushAuthCodeURL() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if err := r.ParseForm(); err != nil || !ok || id != "my-client" || secret != "my-secret" || r.PostForm.Get("state") == "" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"request_uri":"urn:ietf:params:oauth:request_uri:bwc4JK-ESC0w8acc191e-Y1LTC2","expires_in":60}`)
	}))
	defer srv.Close()

	c, err := client.New(client.Config{
		ClientID:                    "my-client",
		ClientSecret:                "my-secret",
		AuthorizeEndpoint:           srv.URL + "/authorize",
		AccessTokenEndpoint:         srv.URL + "/token",
		PushedAuthorizationEndpoint: srv.URL + "/par",
	}, client.WithPushedAuthorization(), client.WithTokenEndpointAuthMethod(client.ClientSecretBasic))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Capabilities().PushedAuthorization)
	u, err := c.PushAuthCodeURL(context.Background(), "https://app.example/callback", client.AuthURLOptions{
		State:               "af0ifjsldkj",
		CodeChallenge:       client.S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
		CodeChallengeMethod: "S256",
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.TrimPrefix(u, srv.URL))
	// Output:
	// true
	// /authorize?client_id=my-client&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Abwc4JK-ESC0w8acc191e-Y1LTC2
}

// A client discovered on first use: LazyOpenID does no I/O, so the server
// starts while the issuer is down, and the kit resolves the client at the
// first login. Here the issuer is a local test server.
func ExampleLazyOpenID() {
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q}`,
			issuer, issuer+"/authorize", issuer+"/token", issuer+"/jwks")
	}))
	defer srv.Close()
	issuer = srv.URL

	c, err := client.LazyOpenID(issuer, "my-client", "my-secret",
		client.WithName("corp"), client.WithDisplayName("Corp SSO"),
		client.WithLazy(client.WithLazyRefresh(6*time.Hour)))
	if err != nil {
		log.Fatal(err) // only a bad configuration fails here
	}
	fmt.Println(c.Name(), c.DisplayName(), c.Capabilities().Issuer == "")

	// What the kit does for each login: resolve with the request's context.
	p, err := c.Resolve(context.Background())
	if errors.Is(err, client.ErrProviderUnavailable) {
		log.Print("login temporarily unavailable: ", err) // answer 503, retry later
		return
	}
	fmt.Println(p.Name(), p.Capabilities().Issuer == issuer)
	// Output:
	// corp Corp SSO true
	// corp true
}
