package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRedactEchoedSecrets: a provider that echoes the credentials it was
// sent (code, verifier, refresh token, revoked token, client secret in the
// form or in Basic auth, bearer token) in its error response never gets
// them into the error: neither Error() nor the OAuthError/HTTPError fields.
func TestRedactEchoedSecrets(t *testing.T) {
	const (
		secret   = "CS-MARK-3"
		code     = "CODE-MARK-4"
		verifier = "VER-MARK-5-verifier-verifier-verifier-verif"
		rt       = "RT-MARK-2"
		at       = "AT-MARK-1"
	)
	marks := []string{secret, code, verifier, rt, at}
	// echo answers with everything it received, in the given shape.
	echo := func(status int, shape string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got := strings.ReplaceAll(string(b)+" "+r.Header.Get("Authorization")+" "+r.URL.RawQuery, `"`, "")
			if _, s, ok := r.BasicAuth(); ok {
				got += " " + s
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			switch shape {
			case "description":
				fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"you sent %s","error_uri":"https://as.example/e?%s"}`, got, got)
			case "html":
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprintf(w, "<p>you sent %s</p>", got)
			}
		}
	}
	for _, method := range []AuthMethod{ClientSecretPost, ClientSecretBasic} {
		for _, c := range []struct {
			name   string
			status int
			shape  string
			call   func(*OAuth2) error
		}{
			{"token 400", 400, "description", func(c *OAuth2) error {
				_, err := c.AccessToken(context.Background(), code, "http://127.0.0.1/cb", verifier)
				return err
			}},
			{"token 200 error member", 200, "description", func(c *OAuth2) error {
				_, err := c.AccessToken(context.Background(), code, "http://127.0.0.1/cb", verifier)
				return err
			}},
			{"token 500 html", 500, "html", func(c *OAuth2) error {
				_, err := c.AccessToken(context.Background(), code, "http://127.0.0.1/cb", verifier)
				return err
			}},
			{"refresh 400", 400, "description", func(c *OAuth2) error {
				_, err := c.RefreshToken(context.Background(), rt)
				return err
			}},
			{"refresh 200 error member", 200, "description", func(c *OAuth2) error {
				_, err := c.RefreshToken(context.Background(), rt)
				return err
			}},
			{"revoke 400", 400, "description", func(c *OAuth2) error {
				return c.RevokeToken(context.Background(), at, "access_token")
			}},
			{"revoke 503 html", 503, "html", func(c *OAuth2) error {
				return c.RevokeToken(context.Background(), rt, "refresh_token")
			}},
		} {
			t.Run(string(method)+"/"+c.name, func(t *testing.T) {
				srv := httptest.NewServer(echo(c.status, c.shape))
				defer srv.Close()
				cl, err := NewOAuth2(Config{
					ClientID: "cid", ClientSecret: secret,
					AuthorizeEndpoint: srv.URL, AccessTokenEndpoint: srv.URL, RefreshTokenEndpoint: srv.URL,
					RevokeTokenEndpoint: srv.URL, TokenEndpointAuthMethod: method, RevocationEndpointAuthMethod: method,
				})
				if err != nil {
					t.Fatal(err)
				}
				err = c.call(cl)
				if err == nil {
					t.Fatal("want an error")
				}
				var oe *OAuthError
				var he *HTTPError
				var text string
				switch {
				case errors.As(err, &oe):
					text = oe.Code + oe.Description + oe.URI
					if !strings.Contains(oe.Description, "you sent") || !strings.Contains(oe.Description, redacted) {
						t.Fatalf("description should keep its text with the secrets redacted: %q", oe.Description)
					}
				case errors.As(err, &he):
					text = he.Body
					if !strings.Contains(he.Body, redacted) {
						t.Fatalf("body excerpt not redacted: %q", he.Body)
					}
				default:
					t.Fatalf("unexpected error %T %v", err, err)
				}
				text += err.Error() + fmt.Sprintf("%+v", err)
				for _, m := range marks {
					if strings.Contains(text, m) {
						t.Fatalf("%s leaked: %s", m, text)
					}
				}
			})
		}
	}

	t.Run("user API bearer token", func(t *testing.T) {
		hc := providerServer(t, echo(401, "description"))
		gh, err := NewGitHub("cid", secret, WithHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = gh.IDEmail(context.Background(), at)
		var oe *OAuthError
		if !errors.As(err, &oe) || strings.Contains(err.Error()+oe.Description+oe.URI, at) {
			t.Fatalf("bearer token echoed: %v", err)
		}
	})
}
