package oauthkittest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionAlgs are the signature algorithms accepted in client assertions.
var assertionAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// authenticateClients enforces, at the token and revocation endpoints,
// the one authentication method each client is registered with (the op
// accepts either secret method from any secret client), and verifies
// private_key_jwt assertions itself: their audience may be the issuer or
// the endpoint (RFC 7523 §3, OpenID Connect Core §9), each assertion id
// is accepted once. A verified assertion reaches the op as basic
// authentication with the client's internal secret.
func (p *Provider) authenticateClients(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		endpoint := ""
		switch r.URL.Path {
		case p.op.TokenEndpoint().Relative():
			endpoint = p.op.TokenEndpoint().Absolute(p.issuer)
		case p.op.RevocationEndpoint().Relative():
			endpoint = p.op.RevocationEndpoint().Absolute(p.issuer)
		}
		if endpoint == "" || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		form, err := peekForm(r)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		used, id := "", form.Get("client_id")
		basicID, _, basic := r.BasicAuth()
		switch {
		case basic:
			used = string(AuthMethodBasic)
			if u, err := url.QueryUnescape(basicID); err == nil {
				id = u
			}
		case form.Get("client_assertion_type") == jwtBearer:
			used = string(AuthMethodPrivateKeyJWT)
		case form.Get("client_secret") != "":
			used = string(AuthMethodPost)
		default:
			used = string(AuthMethodNone)
		}
		var assertion map[string]any
		if used == string(AuthMethodPrivateKeyJWT) {
			assertion = unverifiedClaims(form.Get("client_assertion"))
			if iss, _ := assertion["iss"].(string); id == "" {
				id = iss
			}
		}
		p.st.mu.Lock()
		c, ok := p.st.clients[id]
		p.st.mu.Unlock()
		if !ok {
			next.ServeHTTP(w, r) // the op refuses the unknown client
			return
		}
		if string(c.AuthMethod) != used {
			invalidClient(w, fmt.Sprintf("client %q is registered for %s, not %s", id, c.AuthMethod, used))
			return
		}
		if used != string(AuthMethodPrivateKeyJWT) {
			next.ServeHTTP(w, r)
			return
		}
		if err := p.verifyAssertion(c, form.Get("client_assertion"), endpoint); err != nil {
			invalidClient(w, err.Error())
			return
		}
		form.Del("client_assertion")
		form.Del("client_assertion_type")
		form.Del("client_id")
		enc := form.Encode()
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(strings.NewReader(enc))
		r.ContentLength = int64(len(enc))
		r.Header.Set("Content-Length", fmt.Sprint(len(enc)))
		r.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.internalSecret))
		next.ServeHTTP(w, r)
	})
}

// verifyAssertion checks a private_key_jwt client assertion: signature by
// the registered key, iss = sub = client id, aud, exp, and a jti not seen
// before.
func (p *Provider) verifyAssertion(c *registeredClient, assertion, endpoint string) error {
	jws, err := jose.ParseSignedCompact(assertion, assertionAlgs)
	if err != nil {
		return fmt.Errorf("client assertion: %v", err)
	}
	payload, err := jws.Verify(c.PublicKey)
	if err != nil {
		return fmt.Errorf("client assertion: signature does not verify with the registered key")
	}
	var claims struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp int64           `json:"exp"`
		Jti string          `json:"jti"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return fmt.Errorf("client assertion: %v", err)
	}
	if claims.Iss != c.ID || claims.Sub != c.ID {
		return fmt.Errorf("client assertion: iss and sub must be the client id")
	}
	var auds []string
	var one string
	if json.Unmarshal(claims.Aud, &one) == nil {
		auds = []string{one}
	} else {
		_ = json.Unmarshal(claims.Aud, &auds)
	}
	if !slices.Contains(auds, p.issuer) && !slices.Contains(auds, endpoint) && !slices.Contains(auds, p.TokenURL()) {
		return fmt.Errorf("client assertion: aud %v is neither the issuer nor the endpoint", auds)
	}
	now := time.Now()
	exp := time.Unix(claims.Exp, 0)
	if claims.Exp == 0 || now.After(exp) {
		return fmt.Errorf("client assertion: expired or without exp")
	}
	if claims.Jti == "" {
		return fmt.Errorf("client assertion: no jti")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, until := range p.jtis {
		if now.After(until) {
			delete(p.jtis, k)
		}
	}
	key := c.ID + " " + claims.Jti
	if _, seen := p.jtis[key]; seen {
		return fmt.Errorf("client assertion: jti replayed")
	}
	p.jtis[key] = exp
	return nil
}

// unverifiedClaims reads a JWT's claims without checking it, only to
// learn which client it claims to be.
func unverifiedClaims(token string) map[string]any {
	jws, err := jose.ParseSignedCompact(token, assertionAlgs)
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &m)
	return m
}

func invalidClient(w http.ResponseWriter, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("WWW-Authenticate", `Basic realm="oauthkittest"`)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, errorJSON("invalid_client", description))
}
