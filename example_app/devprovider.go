package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// devPassword is the password of the example OP's demo users.
const devPassword = "verysecure"

// devProvider is the embedded development OpenID Connect provider: the
// zitadel/oidc example OP (in-memory storage, a real login form) on a
// loopback port. It supports the authorization code flow with PKCE S256,
// refresh tokens (scope offline_access), revocation, userinfo and discovery.
// It is for local development only: its users and password are public.
type devProvider struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// Users are the demo usernames (password devPassword).
	Users []string

	srv  *http.Server
	done chan struct{}
}

// startDevProvider starts the OP on addr (a loopback address; port 0 picks a
// free one) with one web client whose redirect URIs are redirectURLs.
func startDevProvider(logger *slog.Logger, addr string, redirectURLs ...string) (*devProvider, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded provider: %w", err)
	}
	// The trailing slash is part of the issuer the OP announces.
	issuer := "http://" + ln.Addr().String() + "/"
	d := &devProvider{
		Issuer:       issuer,
		ClientID:     "oauthkit-example",
		ClientSecret: rand.Text(),
		done:         make(chan struct{}),
	}
	users := storage.NewUserStore(issuer)
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	for _, name := range []string{"test-user@" + host, "test-user2"} {
		if users.GetUserByUsername(name) != nil {
			d.Users = append(d.Users, name)
		}
	}
	// NewStorageWithClients, not NewStorage: the latter shares a
	// package-level client map between every OP of the process.
	st := storage.NewStorageWithClients(users, map[string]*storage.Client{
		d.ClientID: storage.WebClient(d.ClientID, d.ClientSecret, redirectURLs...),
	})
	// nil logger: SetupServer would otherwise replace slog's default logger.
	op := exampleop.SetupServer(issuer, st, nil, false)
	d.srv = &http.Server{
		Handler:           frameDeny(op),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		defer close(d.done)
		if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("embedded provider stopped", "error", err)
		}
	}()
	return d, nil
}

// Close stops the provider, waiting briefly for requests in flight.
func (d *devProvider) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if d.srv.Shutdown(ctx) != nil {
		_ = d.srv.Close()
	}
	<-d.done
}

// frameDeny forbids framing of the provider's pages (the login form), so
// another site cannot overlay it (clickjacking).
func frameDeny(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}
