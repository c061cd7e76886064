// Command oauthkit-dev runs an OpenID Connect provider on a fixed local
// port for developing an application's login on one's own machine, with
// no account at a real provider and no internet:
//
//	go run github.com/oauthkit/oauthkit/oauthkittest/cmd/oauthkit-dev
//
// It prints the issuer, the client id and the client secret to configure
// (client.DiscoverOpenID or client.LazyOpenID), and the users one can sign
// in as. The client accepts any redirect URI on localhost, 127.0.0.1 or
// [::1], on any port, so the application needs no registration step. The
// login page lists the users, one click each, and has a password form.
//
// It is oauthkittest's provider: discovery, authorize with PKCE S256
// required, the token endpoint with client_secret_basic, refresh tokens
// that rotate, revocation, UserInfo, JWKS and end-session. Everything is
// in memory and lost when it stops.
//
// Flags:
//
//	-addr host:port       where to listen (default 127.0.0.1:9999); loopback only
//	-client-id id         the client id (default oauthkit-dev)
//	-client-secret s      the client secret (default oauthkit-dev-secret)
//	-users file.json      users instead of the demo users (see below)
//
// The demo users are test-user, test-user2, admin (groups admins and
// users) and unverified (an email that is not verified), each with the
// password verysecure. A -users file is a JSON array of users:
//
//	[{"sub": "ada", "email": "ada@example.com", "email_verified": true,
//	  "name": "Ada Lovelace", "groups": ["admins"], "acr": "urn:example:mfa",
//	  "password": "secret", "claims": {"tenant": "t1"}}]
//
// where only "sub" is required; a user without "password" signs in with
// the click only.
//
// The users, the password and the secret are public: the command refuses
// to listen on anything but a loopback address.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/oauthkit/oauthkit/oauthkittest"
)

// The defaults of the flags: stable, so an application's development
// configuration can name them once.
const (
	defaultAddr     = "127.0.0.1:9999"
	defaultClientID = "oauthkit-dev"
	defaultSecret   = "oauthkit-dev-secret"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "oauthkit-dev:", err)
		os.Exit(1)
	}
}

// errNotLoopback is an -addr other than a loopback address.
var errNotLoopback = errors.New("-addr must be a loopback address (127.0.0.1, [::1] or localhost): the demo users and the client secret are public")

// run starts the provider as args say, prints how to use it on stdout,
// and serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("oauthkit-dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", defaultAddr, "`host:port` to listen on (loopback only; port 0 picks a free one)")
	clientID := fs.String("client-id", defaultClientID, "the client `id` to configure in the application")
	secret := fs.String("client-secret", defaultSecret, "the client `secret` to configure in the application")
	usersFile := fs.String("users", "", "JSON `file` of users (default: the demo users, password "+oauthkittest.DemoPassword+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	users := oauthkittest.DemoUsers()
	if *usersFile != "" {
		var err error
		if users, err = readUsers(*usersFile); err != nil {
			return err
		}
	}
	// zitadel/oidc logs refused requests (a wrong secret, a bad redirect
	// URI) at slog's default logger: to stderr, where they help.
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, nil)))
	opts := []oauthkittest.Option{
		oauthkittest.WithAddr(*addr),
		oauthkittest.WithClient(oauthkittest.Client{ID: *clientID, Secret: *secret, AnyLoopbackRedirect: true}),
	}
	for _, u := range users {
		opts = append(opts, oauthkittest.WithUser(u))
	}
	p, err := oauthkittest.Start(opts...)
	if err != nil {
		return err
	}
	defer p.Close()
	printUsage(stdout, p.Issuer(), *clientID, *secret, users)
	<-ctx.Done()
	return nil
}

// checkLoopback refuses listen addresses other people could reach.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-addr %q: %w", addr, errNotLoopback)
	}
	return nil
}

// fileUser is a user of a -users file, in the claims' names.
type fileUser struct {
	Subject       string         `json:"sub"`
	Email         string         `json:"email"`
	EmailVerified bool           `json:"email_verified"`
	Name          string         `json:"name"`
	Groups        []string       `json:"groups"`
	ACR           string         `json:"acr"`
	AMR           []string       `json:"amr"`
	AuthTime      int64          `json:"auth_time"`
	Password      string         `json:"password"`
	Claims        map[string]any `json:"claims"`
}

// readUsers reads a -users file; an unknown field is an error, so that a
// misspelt claim does not go unnoticed.
func readUsers(name string) ([]oauthkittest.User, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var fus []fileUser
	if err := dec.Decode(&fus); err != nil {
		return nil, fmt.Errorf("-users %s: %w", name, err)
	}
	if len(fus) == 0 {
		return nil, fmt.Errorf("-users %s: no users", name)
	}
	users := make([]oauthkittest.User, 0, len(fus))
	seen := map[string]bool{}
	for i, fu := range fus {
		if fu.Subject == "" {
			return nil, fmt.Errorf("-users %s: user %d has no \"sub\"", name, i+1)
		}
		if seen[fu.Subject] {
			return nil, fmt.Errorf("-users %s: \"sub\" %q twice", name, fu.Subject)
		}
		seen[fu.Subject] = true
		u := oauthkittest.User{
			Subject: fu.Subject, Email: fu.Email, EmailVerified: fu.EmailVerified, Name: fu.Name,
			Groups: fu.Groups, ACR: fu.ACR, AMR: fu.AMR, Password: fu.Password, Claims: fu.Claims,
		}
		if fu.AuthTime != 0 {
			u.AuthTime = time.Unix(fu.AuthTime, 0)
		}
		users = append(users, u)
	}
	return users, nil
}

// printUsage says what to configure in the application, and who can sign in.
func printUsage(w io.Writer, issuer, clientID, secret string, users []oauthkittest.User) {
	fmt.Fprintf(w, "oauthkit-dev: an OpenID Connect provider for local development (its users and secret are public)\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  issuer\t%s\n", issuer)
	fmt.Fprintf(tw, "  client id\t%s\n", clientID)
	fmt.Fprintf(tw, "  client secret\t%s\n", secret)
	fmt.Fprintf(tw, "  redirect URIs\tany http://localhost:<port>/..., http://127.0.0.1:<port>/... or http://[::1]:<port>/...\n")
	_ = tw.Flush()
	fmt.Fprintf(w, "\n  users (one click on the login page, or the password form):\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, u := range users {
		pw := "no password (click only)"
		if u.Password != "" {
			pw = "password " + u.Password
		}
		var about []string
		if u.Email != "" {
			e := u.Email
			if !u.EmailVerified {
				e += " (unverified)"
			}
			about = append(about, e)
		}
		if len(u.Groups) > 0 {
			about = append(about, "groups "+strings.Join(u.Groups, ","))
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", u.Subject, pw, strings.Join(about, ", "))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nIn the application: client.LazyOpenID(%q, %q, %q), redirect URL http://localhost:<port>/<callback path>.\nStop with Ctrl-C.\n", issuer, clientID, secret)
}
