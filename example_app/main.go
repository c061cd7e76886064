// Command example_app is the oauthkit demo site: "Sign in with GitHub /
// Google / any OpenID Connect provider" on server-rendered pages.
//
// With no provider configured it starts an embedded OpenID Connect provider
// (oauthkittest's, with its demo users) on a loopback port, so
//
//	go run ./example_app
//
// works on a fresh clone: open http://localhost:8080 and sign in as
// test-user2 with password verysecure. The environment variables are listed
// in the README ("Example app").
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// The embedded provider logs through slog's default logger.
	slog.SetDefault(logger)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Getenv, logger, nil)
	stop()
	if err != nil {
		// Plain text, not a log record: configuration errors span lines.
		fmt.Fprintf(os.Stderr, "example_app: %v\n", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds the graceful shutdown after SIGINT/SIGTERM.
const shutdownTimeout = 15 * time.Second

// run reads the configuration from getenv, listens on ADDR and serves until
// ctx is done, then shuts down gracefully. ready, when not nil, is called
// with the site's base URL once it accepts requests.
func run(ctx context.Context, getenv func(string) string, logger *slog.Logger, ready func(baseURL string)) error {
	cfg, err := configFromEnv(getenv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	if cfg.BaseURL == "" {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		cfg.BaseURL = "http://localhost:" + port
	}
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()

	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("example_app listening", "addr", ln.Addr().String(), "url", cfg.BaseURL,
		"sessions", a.store, "secure_cookies", cfg.SecureCookies())
	if ready != nil {
		ready(cfg.BaseURL)
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}
