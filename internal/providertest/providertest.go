// Package providertest holds what the client's and the kit's tests share
// when they stand in for a provider: transports that aim fixed production
// URLs at a loopback test server, a transport that always fails, hostile
// response bodies, and the heap and goroutine checks that prove a fault
// left nothing behind. Only tests import it.
package providertest

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
)

// HugeBytes is the size of the oversized bodies: 100 MiB, a hundred times
// the client's cap.
const HugeBytes = 100 << 20

var bomb = sync.OnceValue(func() []byte {
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	mib := member(bytes.Repeat([]byte{'a'}, 1<<20))
	out := member([]byte(`{"access_token":"`))
	for range HugeBytes >> 20 {
		out = append(out, mib...)
	}
	return out
})

// GzipBomb is ~100 KiB of gzip that expands to HugeBytes of JSON string: a
// header member and 100 copies of one 1 MiB member (gzip readers, Go's
// included, read concatenated members as one stream), so building it
// compresses 1 MiB once.
func GzipBomb() []byte { return bomb() }

// WriteHuge streams an endless-looking JSON string until HugeBytes are sent
// or the client goes away.
func WriteHuge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"access_token":"`))
	chunk := bytes.Repeat([]byte{'A'}, 32<<10)
	for sent := 0; sent < HugeBytes; sent += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// Loopback sends every request to the test server at Target (host:port)
// over plain HTTP, whatever host its URL names, keeping the path, the query
// and the production host in r.Host, so tests assert the real URLs over
// real HTTP. Base defaults to http.DefaultTransport.
type Loopback struct {
	Target string
	Base   http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Loopback) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Host = req.URL.Host
	r.URL.Scheme = "http"
	r.URL.Host = t.Target
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// Failing fails every request at the transport with Err, as a network
// failure would.
type Failing struct{ Err error }

// RoundTrip implements http.RoundTripper.
func (f Failing) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.Err }

// Rewrite sends every request to Scheme://Host, keeping the path and query
// but not the production host, for fault servers (TLS ones included) that
// answer whatever host is asked.
type Rewrite struct{ Scheme, Host string }

// RoundTrip implements http.RoundTripper over http.DefaultTransport.
func (f Rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = f.Scheme, f.Host, f.Host
	return http.DefaultTransport.RoundTrip(r)
}

// Heap returns the live heap after a GC and the bytes allocated so far.
func Heap() (heap, total uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.TotalAlloc
}

// Settle waits up to 1 s for the goroutine count to come back within 2 of
// base, calling closeIdle (and closing http.DefaultTransport's idle
// connections) before each look, and fails t with every stack otherwise.
func Settle(t testing.TB, base int, closeIdle ...func()) {
	t.Helper()
	closeAll := func() {
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		for _, f := range closeIdle {
			f()
		}
	}
	deadline := time.Now().Add(time.Second)
	closeAll()
	n := runtime.NumGoroutine()
	for n > base+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		closeAll()
		n = runtime.NumGoroutine()
	}
	if n > base+2 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("goroutines: %d, baseline %d (+2 allowed)\n%s", n, base, buf)
	}
}

// Drip answers 200 with JSON headers and prefix, then one space every 20 ms
// until the client goes away: a provider that never finishes its body, so
// only the client's deadline can end the call.
func Drip(w http.ResponseWriter, r *http.Request, prefix string) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, prefix)
	w.(http.Flusher).Flush()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}
}
