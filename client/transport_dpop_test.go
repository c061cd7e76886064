package client

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// transportClient is an http.Client whose Transport authorizes with tok
// and sends to s over loopback.
func transportClient(t *testing.T, s http.Handler, tok *Token) (*http.Client, *Transport) {
	t.Helper()
	tr := &Transport{Token: tok, Base: providerServer(t, s).Transport}
	return &http.Client{Transport: tr}, tr
}

func newDPoPToken(t *testing.T, at string) *Token {
	t.Helper()
	k, err := NewDPoPKey()
	require.NoError(t, err)
	return &Token{AccessToken: at, TokenType: "DPoP", DPoPKey: k}
}

func TestTransportBearer(t *testing.T) {
	hc, rec := coreServer(t, 200, "application/json", `{}`)
	c := &http.Client{Transport: &Transport{Token: &Token{AccessToken: "AT-B", TokenType: "Bearer"}, Base: hc.Transport}}
	req, err := http.NewRequest(http.MethodGet, "https://api.camelot.bt/me?x=1", nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	got := rec.only(t)
	assert.Equal(t, "Bearer AT-B", got.Header.Get("Authorization"))
	assert.Empty(t, got.Header.Values("DPoP"))
	assert.Empty(t, req.Header, "the caller's request is not modified")
}

func TestTransportDPoP(t *testing.T) {
	s := &dpopServer{userinfo: `{"sub":"u"}`}
	tok := newDPoPToken(t, "AT-D")
	hc, _ := transportClient(t, s, tok)
	req, err := http.NewRequest(http.MethodGet, "https://api.camelot.bt/api?page=2#top", nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Empty(t, req.Header, "the caller's request is not modified")

	reqs := s.seen()
	require.Len(t, reqs, 1)
	assertRequest(t, reqs[0], http.MethodGet, "api.camelot.bt", "/api")
	assert.Equal(t, "DPoP AT-D", reqs[0].Header.Get("Authorization"))
	p := mustProof(t, reqs[0])
	assert.Equal(t, "dpop+jwt", p.typ)
	assert.Equal(t, tok.DPoPKey.Thumbprint(), p.jkt)
	assert.Equal(t, "GET", p.claims["htm"])
	assert.Equal(t, "https://api.camelot.bt/api", p.claims["htu"])
	assert.Equal(t, athOf("AT-D"), p.claims["ath"])
	assert.NotContains(t, p.claims, "nonce")
}

func TestTransportDPoPNonceRetry(t *testing.T) {
	s := &dpopServer{nonce: "RS-N", userinfo: `{"ok":true}`}
	hc, tr := transportClient(t, s, newDPoPToken(t, "AT-D"))
	req, err := http.NewRequest(http.MethodPost, "https://api.camelot.bt/api", strings.NewReader("a=1"))
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	reqs := s.seen()
	require.Len(t, reqs, 2, "one challenge, one retry")
	assert.Equal(t, "a=1", reqs[1].Body, "the body is sent again")
	p1, p2 := mustProof(t, reqs[0]), mustProof(t, reqs[1])
	assert.Equal(t, "RS-N", p2.claims["nonce"])
	assert.NotEqual(t, p1.claims["jti"], p2.claims["jti"])
	assert.Equal(t, "RS-N", tr.nonces.get("https://api.camelot.bt"))

	// The nonce is remembered for the server.
	resp, err = hc.Get("https://api.camelot.bt/userinfo")
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, s.seen(), 3)
	assert.Equal(t, "RS-N", mustProof(t, s.seen()[2]).claims["nonce"])

	t.Run("repeated challenge", func(t *testing.T) {
		s.mu.Lock()
		s.rotate = true
		s.mu.Unlock()
		resp, err := hc.Get("https://api.camelot.bt/api")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the second 401 is the caller's")
		assert.Len(t, s.seen(), 5, "retried once")
	})
}

func TestTransportDPoPBodyNotRewindable(t *testing.T) {
	s := &dpopServer{nonce: "RS-N", userinfo: `{}`}
	hc, _ := transportClient(t, s, newDPoPToken(t, "AT-D"))
	req, err := http.NewRequest(http.MethodPost, "https://api.camelot.bt/api", io.NopCloser(strings.NewReader("a=1")))
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Len(t, s.seen(), 1, "a body that cannot be sent again is not retried")
}

func TestTransportTokenErrors(t *testing.T) {
	s := &dpopServer{}
	for name, tok := range map[string]*Token{
		"nil token":            nil,
		"empty access token":   {TokenType: "Bearer"},
		"DPoP without its key": {AccessToken: "AT", TokenType: "DPoP"},
		"zero key":             {AccessToken: "AT", TokenType: "DPoP", DPoPKey: &DPoPKey{}},
	} {
		t.Run(name, func(t *testing.T) {
			hc, _ := transportClient(t, s, tok)
			body := &closeRecorder{Reader: strings.NewReader("x")}
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "https://api.camelot.bt/api", body)
			require.NoError(t, err)
			_, err = hc.Do(req)
			assert.ErrorIs(t, err, ErrTransportToken)
			assert.True(t, body.closed, "RoundTrip closes the body on error")
		})
	}
	assert.Empty(t, s.seen())
}

// closeRecorder is a request body that records its Close.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }
