package oauthkittest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Endpoint names a provider endpoint, for Requests and FailNext.
type Endpoint string

// The provider's endpoints. The token endpoint counts as Token for the
// authorization_code grant (and any other grant) and as Refresh for the
// refresh_token grant, so a test can tell a login from a refresh.
const (
	Discovery     Endpoint = "discovery"
	Authorize     Endpoint = "authorize"
	Login         Endpoint = "login" // the provider's login step
	Token         Endpoint = "token"
	Refresh       Endpoint = "refresh"
	UserInfo      Endpoint = "userinfo"
	JWKS          Endpoint = "jwks"
	Revocation    Endpoint = "revocation"
	Introspection Endpoint = "introspection"
	EndSession    Endpoint = "end_session"
)

// Fault is one injected misbehaviour of an endpoint, made by the functions
// below and queued by FailNext.
type Fault struct {
	kind   faultKind
	status int
	body   string
	delay  time.Duration
	mutate func(claims map[string]any)
}

type faultKind int

const (
	faultRespond faultKind = iota // answer status and body instead
	faultHang                     // answer nothing until the request or the provider ends
	faultDelay                    // wait, then answer normally
	faultIDToken                  // answer normally with the ID token's claims changed
)

// OAuthError answers {"error": code, "error_description": description}
// with status 400 (401 for invalid_client), as RFC 6749 §5.2 has the token
// endpoint refuse a grant: OAuthError("invalid_grant", "") is a refresh
// token the provider no longer honours.
func OAuthError(code, description string) Fault {
	status := http.StatusBadRequest
	if code == "invalid_client" {
		status = http.StatusUnauthorized
	}
	return Fault{kind: faultRespond, status: status, body: errorJSON(code, description)}
}

// ErrorInOK answers 200 OK with an error body, as some providers (GitHub's
// token endpoint among them) do: a client must not take the status alone
// as success.
func ErrorInOK(code, description string) Fault {
	return Fault{kind: faultRespond, status: http.StatusOK, body: errorJSON(code, description)}
}

// ServerError answers status (a 5xx) with a non-JSON body, as a proxy in
// front of a failing provider does.
func ServerError(status int) Fault {
	return Fault{kind: faultRespond, status: status, body: "<html><body>upstream unavailable</body></html>"}
}

// Hang answers nothing until the client gives up (its context or timeout)
// or the provider is closed: a provider that stopped responding.
func Hang() Fault { return Fault{kind: faultHang} }

// Delay answers normally after d (or earlier if the client gives up):
// a slow provider.
func Delay(d time.Duration) Fault { return Fault{kind: faultDelay, delay: d} }

// IDTokenClaims answers a Token or Refresh request normally, except that
// mutate changes the ID token's claims before it is signed again with the
// provider's key: the signature verifies, the claims are wrong.
func IDTokenClaims(mutate func(claims map[string]any)) Fault {
	return Fault{kind: faultIDToken, mutate: mutate}
}

// WrongAudience is an ID token issued to another client.
func WrongAudience() Fault {
	return IDTokenClaims(func(c map[string]any) { c["aud"] = "someone-else"; c["azp"] = "someone-else" })
}

// WrongNonce is an ID token whose nonce is not the one the client sent.
func WrongNonce() Fault {
	return IDTokenClaims(func(c map[string]any) { c["nonce"] = "not-the-nonce-you-sent" })
}

// ExpiredIDToken is an ID token that expired an hour ago.
func ExpiredIDToken() Fault {
	return IDTokenClaims(func(c map[string]any) {
		c["exp"] = time.Now().Add(-time.Hour).Unix()
		c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
	})
}

func errorJSON(code, description string) string {
	m := map[string]string{"error": code}
	if description != "" {
		m["error_description"] = description
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// faultBox holds the queued faults and the request counts of one fake
// server, and the middleware that applies them.
type faultBox struct {
	mu      sync.Mutex
	faults  map[Endpoint][]Fault
	counts  map[Endpoint]int
	closing chan struct{} // closed when the server closes: hanging faults return
	// rewriteIDToken applies IDTokenClaims faults; nil where there are no
	// ID tokens (the fault then answers normally).
	rewriteIDToken func(body []byte, mutate func(map[string]any)) ([]byte, error)
}

func newFaultBox() faultBox {
	return faultBox{faults: map[Endpoint][]Fault{}, counts: map[Endpoint]int{}, closing: make(chan struct{})}
}

func (b *faultBox) failNext(e Endpoint, faults []Fault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults[e] = append(b.faults[e], faults...)
}

func (b *faultBox) clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults = map[Endpoint][]Fault{}
}

func (b *faultBox) requests(e Endpoint) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.counts[e]
}

// FailNext queues faults for endpoint e: each of the next requests to e
// gets one, in order; later requests are answered normally.
func (p *Provider) FailNext(e Endpoint, faults ...Fault) { p.fb.failNext(e, faults) }

// ClearFaults drops every fault not yet used.
func (p *Provider) ClearFaults() { p.fb.clear() }

// Requests is how many requests endpoint e has received so far, faulted
// or not: assert that a cached session made no Token or UserInfo request.
func (p *Provider) Requests(e Endpoint) int { return p.fb.requests(e) }

// endpointOf classifies a request; "" is none of the endpoints. The token
// endpoint's form is read (and its body restored) to tell Refresh.
func (p *Provider) endpointOf(r *http.Request) Endpoint {
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		return Discovery
	case p.op.AuthorizationEndpoint().Relative():
		return Authorize
	case loginPath:
		return Login
	case p.op.TokenEndpoint().Relative():
		if form, err := peekForm(r); err == nil && form.Get("grant_type") == "refresh_token" {
			return Refresh
		}
		return Token
	case p.op.UserinfoEndpoint().Relative():
		return UserInfo
	case p.op.KeysEndpoint().Relative():
		return JWKS
	case p.op.RevocationEndpoint().Relative():
		return Revocation
	case p.op.IntrospectionEndpoint().Relative():
		return Introspection
	case p.op.EndSessionEndpoint().Relative():
		return EndSession
	}
	return p.extra[r.URL.Path]
}

// peekForm parses a form body without consuming it.
func peekForm(r *http.Request) (url.Values, error) {
	if r.Body == nil || r.Method != http.MethodPost {
		return url.Values{}, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return url.ParseQuery(string(b))
}

// middleware counts every request per endpoint (as classify names it)
// and applies the next queued fault of its endpoint.
func (b *faultBox) middleware(classify func(*http.Request) Endpoint, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := classify(r)
		if e == "" {
			next.ServeHTTP(w, r)
			return
		}
		b.mu.Lock()
		b.counts[e]++
		q := b.faults[e]
		var f *Fault
		if len(q) > 0 {
			f = &q[0]
			b.faults[e] = q[1:]
		}
		b.mu.Unlock()
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		switch f.kind {
		case faultRespond:
			if strings.HasPrefix(f.body, "{") {
				w.Header().Set("Content-Type", "application/json")
			} else {
				w.Header().Set("Content-Type", "text/html")
			}
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(f.status)
			_, _ = io.WriteString(w, f.body)
		case faultHang:
			select {
			case <-r.Context().Done():
			case <-b.closing:
			}
		case faultDelay:
			t := time.NewTimer(f.delay)
			defer t.Stop()
			select {
			case <-r.Context().Done():
				return
			case <-b.closing:
				return
			case <-t.C:
			}
			next.ServeHTTP(w, r)
		case faultIDToken:
			if b.rewriteIDToken == nil {
				next.ServeHTTP(w, r)
				return
			}
			serveRewritten(w, r, next, func(body []byte) ([]byte, error) { return b.rewriteIDToken(body, f.mutate) })
		}
	})
}

// serveRewritten serves r with next, passing a 200's body through rewrite
// (a failed rewrite keeps the body as it was), for faults and fakes that
// change the ID token of a token response.
func serveRewritten(w http.ResponseWriter, r *http.Request, next http.Handler, rewrite func([]byte) ([]byte, error)) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		if rewritten, err := rewrite(body); err == nil {
			body = rewritten
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// rewriteIDToken changes the claims of the id_token in a token response
// and signs it again with the current signing key.
func (p *Provider) rewriteIDToken(body []byte, mutate func(map[string]any)) ([]byte, error) {
	var resp map[string]any
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, err
	}
	raw, _ := resp["id_token"].(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("no id_token in the response")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	mutate(claims)
	payload, err = json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	k := p.st.keys.signer()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.key, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return nil, err
	}
	resp["id_token"], err = jws.CompactSerialize()
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}
