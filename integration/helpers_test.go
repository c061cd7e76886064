package integration

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
)

// fakeAS is the shared fake authorization server of the kit's tests
// (internal/fakeas): it approves authorization requests for the user named
// in the X-Fake-User header ("id|email"), checks PKCE, redirect_uri and
// single use of codes, and serves the user API.
type fakeAS = fakeas.Server

// fakeUser is an account at the fake AS.
type fakeUser = fakeas.User

func newFakeAS(t *testing.T) *fakeAS { return fakeas.New(t) }

// fakeProvider is the fake AS's client, reaching it through hc.
func fakeProvider(t *testing.T, as *fakeAS, hc *http.Client) *fakeas.Provider {
	t.Helper()
	p, err := as.Client("test", hc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randomString() string { return client.GenerateState() }

// budget is what is left of the test binary's -timeout, less a margin for
// the report: the bound of provider calls under load, so a slow machine
// makes a test slower, never failing. The HTTP clients of the tests have
// no timeout of their own: the binary's -timeout ends a stuck request with
// every goroutine's stack.
func budget(t *testing.T) time.Duration {
	dl, ok := t.Deadline()
	if !ok {
		return time.Hour
	}
	return max(time.Until(dl)-20*time.Second, time.Second)
}

// cutProxy forwards loopback TCP connections to a server until cut: then
// it drops every open connection and closes new ones at once, so the
// clients behind it find the server unreachable, until restored.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

// newCutProxy forwards to target (host:port) from a new loopback port.
func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { _ = ln.Close(); p.setCut(true) })
	go p.serve()
	return p
}

// addr is where clients connect.
func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c] = true
		p.mu.Unlock()
		go p.forward(c)
	}
}

func (p *cutProxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		_ = c.Close()
		_ = s.Close()
		return
	}
	p.conns[s] = true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(s, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, s); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// setCut cuts (true) or restores (false) the connection to the server.
func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			_ = c.Close()
		}
	}
}

// waitUntil waits for cond, rechecking whenever changed receives, for at
// most budget(t); it reports whether cond came true. It does not end the
// test, so it serves in a server's goroutine too.
func waitUntil(t *testing.T, changed <-chan struct{}, cond func() bool) bool {
	deadline := time.NewTimer(budget(t))
	defer deadline.Stop()
	for !cond() {
		select {
		case <-changed:
		case <-deadline.C:
			return cond()
		}
	}
	return true
}

// Test keys for client assertions and DPoP, one per algorithm family.

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func p256Key(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ed25519Key(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
