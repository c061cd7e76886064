package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// DPoP (RFC 9449) against panva's oidc-provider, which binds the tokens of
// clients registered with dpop_bound_access_tokens to the proof's key and
// requires a server nonce in every proof: the first token request and the
// first UserInfo call of each client meet the use_dpop_nonce challenge.

// exchange is one request a statusRecorder carried.
type exchange struct {
	path   string
	status int
	proof  bool
}

// statusRecorder is a transport that records the path, status and whether
// a DPoP proof was sent, for each request.
type statusRecorder struct {
	mu   sync.Mutex
	seen []exchange
}

func (r *statusRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.seen = append(r.seen, exchange{path: req.URL.Path, status: resp.StatusCode, proof: req.Header.Get("DPoP") != ""})
	r.mu.Unlock()
	return resp, nil
}

// at returns the requests to path.
func (r *statusRecorder) at(path string) []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []exchange
	for _, e := range r.seen {
		if e.path == path {
			out = append(out, e)
		}
	}
	return out
}

// userinfoGet calls UserInfo through a client.Transport authorizing with
// tok, and returns the status and the "sub" of the answer.
func userinfoGet(t *testing.T, userinfoURL string, tr *client.Transport) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Transport: tr}).Get(userinfoURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m.Sub
}

func TestOIDCProviderDPoP(t *testing.T) {
	const redirect = "http://127.0.0.1:9/cb"
	ek := p256Key(t)
	bound := opClient{ID: "kit-dpop", Secret: "secret-of-the-dpop-client", RedirectURIs: []string{redirect}, DPoPBound: true}
	keyed := opClient{ID: "kit-dpop-jwt", RedirectURIs: []string{redirect}, TokenEndpointAuthMethod: "private_key_jwt", DPoPBound: true,
		JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ek.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}}
	op := startOIDCProvider(t, bound, keyed)
	ctx := context.Background()

	rec := &statusRecorder{}
	o, err := client.DiscoverOpenID(ctx, op.Issuer, bound.ID, bound.Secret, opOffline, client.WithDPoP(),
		client.WithHTTPClient(&http.Client{Transport: rec}))
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Userinfo string   `json:"userinfo_endpoint"`
		Algs     []string `json:"dpop_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(o.Metadata(), &md); err != nil || md.Userinfo == "" || len(md.Algs) == 0 {
		t.Fatalf("metadata: userinfo %q, DPoP algs %v (%v)", md.Userinfo, md.Algs, err)
	}

	tok, nonce := opLogin(t, op, o, redirect)
	if tok.TokenType != "DPoP" || tok.DPoPKey == nil || tok.RefreshToken == "" {
		t.Fatalf("token type %q, key %v, refresh token %t; want a DPoP token with its key and a refresh token",
			tok.TokenType, tok.DPoPKey, tok.RefreshToken != "")
	}
	if ex := rec.at("/token"); len(ex) != 2 || ex[0].status != http.StatusBadRequest || ex[1].status != http.StatusOK || !ex[0].proof || !ex[1].proof {
		t.Fatalf("token requests %+v, want a use_dpop_nonce 400 then a 200, both with a proof", ex)
	}

	t.Run("Identify reads UserInfo with DPoP", func(t *testing.T) {
		id, err := o.Identify(ctx, tok, nonce)
		if err != nil {
			t.Fatalf("Identify: %v", err)
		}
		if id.Subject != "alice" || id.Email != "alice@example.test" || !id.EmailVerified {
			t.Fatalf("identity %+v", id)
		}
	})

	var refreshed *client.Token
	t.Run("refresh keeps the key", func(t *testing.T) {
		_, err := o.RefreshToken(ctx, tok.RefreshToken)
		if !errors.Is(err, client.ErrDPoPKeyRequired) {
			t.Fatalf("refresh without the key: got %v, want ErrDPoPKeyRequired", err)
		}
		refreshed, err = o.RefreshToken(client.ContextWithDPoPKey(ctx, tok.DPoPKey), tok.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if refreshed.TokenType != "DPoP" || refreshed.DPoPKey.Thumbprint() != tok.DPoPKey.Thumbprint() {
			t.Fatalf("refreshed token type %q bound to %v, want DPoP bound to %v", refreshed.TokenType, refreshed.DPoPKey, tok.DPoPKey)
		}
		raw, err := o.Profile(client.ContextWithDPoPKey(ctx, refreshed.DPoPKey), refreshed.AccessToken)
		if err != nil {
			t.Fatalf("UserInfo with the refreshed token: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil || m["sub"] != "alice" {
			t.Fatalf("UserInfo %s (%v)", raw, err)
		}
	})
	if refreshed == nil {
		t.FailNow()
	}

	t.Run("Transport", func(t *testing.T) {
		base := &statusRecorder{}
		status, sub := userinfoGet(t, md.Userinfo, &client.Transport{Token: refreshed, Base: base})
		if status != http.StatusOK || sub != "alice" {
			t.Fatalf("UserInfo through Transport: HTTP %d, sub %q", status, sub)
		}
		if ex := base.seen; len(ex) != 2 || ex[0].status != http.StatusUnauthorized {
			t.Fatalf("UserInfo requests %+v, want the nonce challenge then the retry", ex)
		}
	})

	t.Run("the bound token is refused without its key", func(t *testing.T) {
		other, err := client.NewDPoPKey()
		if err != nil {
			t.Fatal(err)
		}
		stolen := *refreshed
		stolen.DPoPKey = other
		if status, _ := userinfoGet(t, md.Userinfo, &client.Transport{Token: &stolen}); status != http.StatusUnauthorized {
			t.Fatalf("with another key: HTTP %d, want 401", status)
		}
		asBearer := &client.Token{AccessToken: refreshed.AccessToken, TokenType: "Bearer"}
		if status, _ := userinfoGet(t, md.Userinfo, &client.Transport{Token: asBearer}); status != http.StatusUnauthorized {
			t.Fatalf("as a Bearer token: HTTP %d, want 401", status)
		}
	})

	t.Run("without WithDPoP the DPoP-bound client gets no token", func(t *testing.T) {
		plain, err := client.DiscoverOpenID(ctx, op.Issuer, bound.ID, bound.Secret, opOffline)
		if err != nil {
			t.Fatal(err)
		}
		code, verifier, _ := opCode(t, op, plain, redirect, "alice")
		if _, err := plain.AccessToken(ctx, code, redirect, verifier); !errors.Is(err, client.ErrGetAccessToken) || oauthErrorCode(err) != "invalid_grant" {
			// oidc-provider: "DPoP proof JWT not provided".
			t.Fatalf("code exchange without a proof: got %v, want invalid_grant", err)
		}
	})

	t.Run("private_key_jwt", func(t *testing.T) {
		// The nonce retry signs a new assertion: oidc-provider refuses a
		// replayed jti, so a replayed assertion would fail the login.
		rec := &statusRecorder{}
		o, err := client.DiscoverOpenID(ctx, op.Issuer, keyed.ID, "", opOffline, client.WithDPoP(),
			client.WithTokenEndpointAuthMethod(client.PrivateKeyJWT), client.WithClientAssertionKey(ek, "k1"),
			client.WithHTTPClient(&http.Client{Transport: rec}))
		if err != nil {
			t.Fatal(err)
		}
		tok, nonce := opLogin(t, op, o, redirect)
		if ex := rec.at("/token"); len(ex) != 2 || ex[0].status != http.StatusBadRequest {
			t.Fatalf("token requests %+v, want the nonce challenge then the retry", ex)
		}
		if _, err := o.Identify(ctx, tok, nonce); err != nil {
			t.Fatalf("Identify: %v", err)
		}
		if _, err := o.RefreshToken(client.ContextWithDPoPKey(ctx, tok.DPoPKey), tok.RefreshToken); err != nil {
			t.Fatalf("refresh: %v", err)
		}
	})
}

// TestKitDPoPOIDCProvider: a DPoP-bound grant through the kit: the login
// binds the tokens to a key the kit keeps server-side, Kit.HTTPClient calls
// UserInfo with proofs (meeting the nonce challenge), and the refresh the
// kit makes when the token expires proves the same key, so the refreshed
// token works too. Once with the token in the session, once in a
// TokenStore with TokenKeys (the key stored encrypted with the grant).
func TestKitDPoPOIDCProvider(t *testing.T) {
	const redirect = "http://127.0.0.1:9/callback"
	reg := opClient{ID: "kit-dpop", Secret: "secret-of-the-dpop-client", RedirectURIs: []string{redirect}, DPoPBound: true}
	op := startOIDCProvider(t, reg)
	keys := tokenKeys(t, "k1", "k1")
	for name, mod := range map[string]func(*oauthkit.Config){
		"session": revokeOnLogout,
		"tokenstore": func(cfg *oauthkit.Config) {
			revokeOnLogout(cfg)
			cfg.TokenStore, cfg.TokenKeys = oauthkit.NewMemoryTokenStore(), keys
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), budget(t))
			defer cancel()
			o, err := client.DiscoverOpenID(ctx, op.Issuer, reg.ID, reg.Secret, opOffline, client.WithName("op"), client.WithDPoP())
			if err != nil {
				t.Fatal(err)
			}
			var md struct {
				Userinfo string `json:"userinfo_endpoint"`
			}
			if err := json.Unmarshal(o.Metadata(), &md); err != nil || md.Userinfo == "" {
				t.Fatalf("metadata: userinfo %q (%v)", md.Userinfo, err)
			}
			s := newKitSite(t, oauthkit.Provider{Client: o, RedirectURL: redirect, LocalLogout: true,
				AuthParams: client.OpenIDParams{Prompt: "consent"}}, mod)
			b := browserClient(t)
			s.login(t, b, func(authURL string) *url.URL { return op.Login(t, b, authURL, "alice") })

			first := s.token(t, b)
			if first.TokenType != "DPoP" || first.DPoPKey == nil {
				t.Fatalf("token type %q, key %v: want a DPoP-bound token with its key", first.TokenType, first.DPoPKey)
			}
			if status, body := s.api(t, b, md.Userinfo); status != http.StatusOK || !strings.Contains(body, `"sub":"alice"`) {
				t.Fatalf("UserInfo through Kit.HTTPClient: %d %s", status, body)
			}

			s.expire()
			refreshed := s.token(t, b)
			if refreshed.AccessToken == first.AccessToken {
				t.Fatal("the kit did not refresh the expired token")
			}
			if refreshed.DPoPKey.Thumbprint() != first.DPoPKey.Thumbprint() {
				t.Fatal("the refreshed token is bound to another key")
			}
			if status, body := s.api(t, b, md.Userinfo); status != http.StatusOK || !strings.Contains(body, `"sub":"alice"`) {
				t.Fatalf("UserInfo with the refreshed token: %d %s", status, body)
			}
			// The access token alone, as a Bearer token, is worthless.
			asBearer := &client.Token{AccessToken: refreshed.AccessToken, TokenType: "Bearer"}
			if status, _ := userinfoGet(t, md.Userinfo, &client.Transport{Token: asBearer}); status != http.StatusUnauthorized {
				t.Fatalf("the DPoP-bound token as Bearer: %d, want 401", status)
			}
			if res := s.logout(t, b); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout: %s", res.Status)
			}
			if s.me(t, b) != "" {
				t.Fatal("still signed in after logout")
			}
			if refreshed.RefreshToken != "" { // the session's copy has it; a TokenStore keeps it to itself
				_, err := o.RefreshToken(client.ContextWithDPoPKey(ctx, refreshed.DPoPKey), refreshed.RefreshToken)
				if !errors.Is(err, client.ErrRefreshToken) || oauthErrorCode(err) != "invalid_grant" {
					t.Fatalf("refresh after logout: got %v, want invalid_grant (revoked at logout)", err)
				}
			}
		})
	}
}
