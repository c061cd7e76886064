package oauthkittest

import (
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// server is the loopback HTTP server of the provider and of the fakes:
// Close makes hanging faults return (closing), closes the connections and
// waits for every handler, so a test's cleanup leaves nothing running.
type server struct {
	srv      *http.Server
	served   chan struct{} // closed when Serve returns
	inflight sync.WaitGroup
	once     sync.Once
	closing  chan struct{}
}

// serve starts serving h on ln; closing is closed first by Close.
func (s *server) serve(ln net.Listener, h http.Handler, closing chan struct{}) {
	s.served, s.closing = make(chan struct{}), closing
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.inflight.Add(1)
			defer s.inflight.Done()
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
}

// close stops the server; safe to call twice.
func (s *server) close() {
	s.once.Do(func() {
		close(s.closing)
		_ = s.srv.Close()
		<-s.served
		s.inflight.Wait()
	})
}
