package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ErrTransportToken is the cause Transport returns, wrapped around
// ErrMissingAccessToken or ErrDPoPKeyRequired, when its Token cannot
// authorize a request (nil, no access token, a DPoP token without its key).
// No request was sent.
var ErrTransportToken = errors.New("oauthkit/client: Transport has no usable token")

// maxDrain bounds what Transport reads of a refused answer before the
// retry, so the connection can be reused without reading a huge body.
const maxDrain = 64 << 10

// Transport is an http.RoundTripper that authorizes each request with
// Token, as golang.org/x/oauth2.Transport does, for calling a provider's
// APIs with a token of this package: "Authorization: Bearer" for a Bearer
// token; for a DPoP token (Token.DPoPKey set, or token_type DPoP),
// "Authorization: DPoP" and a new proof per request (RFC 9449 §7), bound
// to the access token ("ath"). When a resource server answers 401 with a
// use_dpop_nonce challenge and a DPoP-Nonce, the request is sent once more
// with the nonce, if its body can be sent again (no body, or
// Request.GetBody); otherwise the 401 is returned. Nonces are remembered
// per server, inside the Transport.
//
// It never refreshes the token and never modifies the caller's request.
// A Transport must not be copied after first use.
type Transport struct {
	// Token authorizes the requests. It must not change while requests
	// are in flight.
	Token *Token
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper

	nonces nonceCache
}

// RoundTrip authorizes a copy of req and sends it with Base.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok := t.Token
	fail := func(err error) (*http.Response, error) {
		if req.Body != nil {
			_ = req.Body.Close() // RoundTrip must close the body, even on error
		}
		return nil, fmt.Errorf("%w: %w", ErrTransportToken, err)
	}
	if tok == nil || tok.AccessToken == "" {
		return fail(ErrMissingAccessToken)
	}
	dpop := tok.DPoPKey != nil || strings.EqualFold(tok.TokenType, "DPoP")
	if dpop && !tok.DPoPKey.valid() {
		return fail(ErrDPoPKeyRequired)
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	r := req.Clone(req.Context())
	if !dpop {
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return base.RoundTrip(r)
	}
	nonce := t.nonces.get(origin(req.URL))
	if err := t.prove(r, nonce); err != nil {
		return fail(err)
	}
	resp, err := base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	fresh := responseNonce(&t.nonces, req.URL, resp.Header)
	if resp.StatusCode != http.StatusUnauthorized || !dpopChallenge(resp.Header) || fresh == "" || fresh == nonce {
		return resp, nil
	}
	r2 := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil // the body is gone: the caller sees the 401
		}
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		r2.Body = body
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	if err := t.prove(r2, fresh); err != nil {
		if r2.Body != nil {
			_ = r2.Body.Close()
		}
		return nil, err
	}
	resp, err = base.RoundTrip(r2)
	if err != nil {
		return nil, err
	}
	responseNonce(&t.nonces, req.URL, resp.Header)
	return resp, nil
}

// prove sets the DPoP Authorization and proof headers of r.
func (t *Transport) prove(r *http.Request, nonce string) error {
	p, err := t.Token.DPoPKey.proof(r.Method, r.URL, time.Now(), nonce, t.Token.AccessToken)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "DPoP "+t.Token.AccessToken)
	r.Header.Set("DPoP", p)
	return nil
}
