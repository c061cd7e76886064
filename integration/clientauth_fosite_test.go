package integration

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/oauthkit/oauthkit/client"
)

// private_key_jwt against fosite, which enforces the method per client,
// fetches the client's keys from its jwks_uri (served here by
// client.JWKSHandler), checks "aud" against its token endpoint (at the
// revocation endpoint too) and refuses a "jti" it has seen.

// fositeJWKS serves keys with client.JWKSHandler on loopback.
func fositeJWKS(t *testing.T, keys map[string]crypto.PublicKey) string {
	t.Helper()
	h, err := client.JWKSHandler(keys)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// withPrivateKeyJWT lists private_key_jwt in the discovery document, as
// Hydra does for a server that accepts it.
func withPrivateKeyJWT(doc map[string]any) {
	doc["token_endpoint_auth_methods_supported"] = []string{"client_secret_post", "client_secret_basic", "private_key_jwt"}
}

// assertionRecorder keeps the client_assertion of every request it carries.
type assertionRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *assertionRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			b, _ := io.ReadAll(rc)
			_ = rc.Close()
			if form, err := url.ParseQuery(string(b)); err == nil && form.Get("client_assertion") != "" {
				r.mu.Lock()
				r.seen = append(r.seen, form.Get("client_assertion"))
				r.mu.Unlock()
			}
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *assertionRecorder) assertions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

func TestFositePrivateKeyJWT(t *testing.T) {
	rk := rsaKey(t)
	ek := p256Key(t)
	// fosite verifies RS256 and ES256 assertions (not EdDSA).
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{{"RS256", rk}, {"ES256", ek}} {
		t.Run(tc.alg, func(t *testing.T) {
			jwks := fositeJWKS(t, map[string]crypto.PublicKey{"kit-" + tc.alg: tc.key})
			as := newFositeAS(t, []fositeClient{{ID: "kit-pkjwt", Method: "private_key_jwt", JWKSURI: jwks, SigningAlg: tc.alg}}, withPrivateKeyJWT)
			ctx := context.Background()
			rec := &assertionRecorder{}
			o, err := client.DiscoverOpenID(ctx, as.srv.URL, "kit-pkjwt", "", offline,
				client.WithHTTPClient(&http.Client{Transport: rec}),
				client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT),
				client.WithClientAssertionKey(tc.key, "kit-"+tc.alg))
			if err != nil {
				t.Fatal(err)
			}
			if tm, rm := o.AuthMethods(); tm != client.PrivateKeyJWT || rm != client.PrivateKeyJWT {
				t.Fatalf("methods token %q, revocation %q; want private_key_jwt for both", tm, rm)
			}
			fositeGrantCycle(t, as, o)
			if got := len(rec.assertions()); got != 4 {
				t.Fatalf("%d requests carried an assertion, want 4 (code, refresh, revoke, refresh)", got)
			}
		})
	}
}

// TestFositePrivateKeyJWTWrongKey: an assertion signed with a key the
// server does not hold for the client is invalid_client, the usual
// *OAuthError.
func TestFositePrivateKeyJWTWrongKey(t *testing.T) {
	registered := p256Key(t)
	other := p256Key(t)
	jwks := fositeJWKS(t, map[string]crypto.PublicKey{"k1": registered})
	as := newFositeAS(t, []fositeClient{{ID: "kit-pkjwt", Method: "private_key_jwt", JWKSURI: jwks, SigningAlg: "ES256"}}, withPrivateKeyJWT)
	o, err := client.DiscoverOpenID(context.Background(), as.srv.URL, "kit-pkjwt", "",
		client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT), client.WithClientAssertionKey(other, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	before := as.tokenHits.Load()
	_, err = fositeLogin(t, as, o)
	if !errors.Is(err, client.ErrGetAccessToken) || oauthErrorCode(err) != "invalid_client" {
		t.Fatalf("code exchange with the wrong key: got %v, want invalid_client", err)
	}
	if got := as.tokenHits.Load() - before; got != 1 {
		t.Fatalf("%d token requests, want 1", got)
	}
}

// TestFositePrivateKeyJWTReplay: fosite refuses an assertion whose jti it
// has seen, so the client's fresh jti per request is what lets consecutive
// requests through. The replay is sent by hand, as an attacker who
// captured the assertion would.
func TestFositePrivateKeyJWTReplay(t *testing.T) {
	key := p256Key(t)
	jwks := fositeJWKS(t, map[string]crypto.PublicKey{"k1": key})
	as := newFositeAS(t, []fositeClient{{ID: "kit-pkjwt", Method: "private_key_jwt", JWKSURI: jwks, SigningAlg: "ES256"}}, withPrivateKeyJWT)
	rec := &assertionRecorder{}
	o, err := client.DiscoverOpenID(context.Background(), as.srv.URL, "kit-pkjwt", "", offline,
		client.WithHTTPClient(&http.Client{Transport: rec}),
		client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT), client.WithClientAssertionKey(key, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := fositeLogin(t, as, o)
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	used := rec.assertions()
	if len(used) != 1 {
		t.Fatalf("%d assertions sent, want 1", len(used))
	}
	res, err := http.Post(as.srv.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader(url.Values{
		"grant_type":            {"refresh_token"},
		"refresh_token":         {tok.RefreshToken},
		"client_id":             {"kit-pkjwt"},
		"client_assertion_type": {client.ClientAssertionType},
		"client_assertion":      {used[0]},
	}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != http.StatusBadRequest || body.Error != "jti_known" {
		t.Fatalf("replayed assertion: HTTP %d, error %q; want 400 jti_known", res.StatusCode, body.Error)
	}
	// The client itself never replays: its refresh carries a new jti.
	if _, err := o.RefreshToken(context.Background(), tok.RefreshToken); err != nil {
		t.Fatalf("refresh with a fresh assertion: %v", err)
	}
}
