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
	"github.com/zitadel/oidc/v3/pkg/op"
)

// devPassword is the password of the example OP's demo users.
const devPassword = "verysecure"

// devProvider is the embedded development OpenID Connect provider: the
// zitadel/oidc example OP (in-memory storage, a real login form) on a
// loopback port. It supports the authorization code flow with PKCE S256,
// refresh tokens (scope offline_access), revocation, userinfo, discovery and
// RP-initiated logout (end_session_endpoint; it keeps no login session of
// its own, so ending one deletes the user's tokens issued to the client).
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
// free one) with one web client whose redirect URI is redirectURL and whose
// post-logout redirect URI (RP-initiated logout) is postLogoutURL.
func startDevProvider(logger *slog.Logger, addr, redirectURL, postLogoutURL string) (*devProvider, error) {
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
		d.ClientID: storage.WebClient(d.ClientID, d.ClientSecret, redirectURL),
	})
	// nil logger: SetupServer would otherwise replace slog's default logger.
	h := exampleop.SetupServer(issuer, postLogoutStorage{st, []string{postLogoutURL}}, nil, false)
	d.srv = &http.Server{
		Handler:           frameDeny(h),
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

// postLogoutStorage is the example storage with post-logout redirect URIs
// registered for its clients: storage.WebClient has no way to set them
// (its Client answers none, so the OP would refuse the app's
// post_logout_redirect_uri). Every other method is the example storage's.
type postLogoutStorage struct {
	*storage.Storage
	postLogout []string
}

func (s postLogoutStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return postLogoutClient{c, s.postLogout}, nil
}

// postLogoutClient drops the example client's (empty) redirect globs,
// which are not needed: the URIs are matched exactly.
type postLogoutClient struct {
	op.Client
	postLogout []string
}

func (c postLogoutClient) PostLogoutRedirectURIs() []string { return c.postLogout }
