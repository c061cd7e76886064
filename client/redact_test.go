package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
				cl, err := newOAuth2(config{
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

// TestRedactEchoedCredentialForms: a provider echoing what it received
// verbatim (the raw Authorization header, whose Basic credential is
// base64("id:secret") of the form-encoded pair, or the raw form body, where
// the secret is percent-encoded) cannot put the credentials into errors in
// any of the forms they were sent in.
func TestRedactEchoedCredentialForms(t *testing.T) {
	const (
		id     = "client id/1"
		secret = "CS+MARK/3=&é"
		rt     = "RT+MARK/2="
	)
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
	forms := []string{secret, url.QueryEscape(secret), rt, url.QueryEscape(rt), basic}
	for _, method := range []AuthMethod{ClientSecretBasic, ClientSecretPost} {
		for _, shape := range []string{"description", "html"} {
			t.Run(string(method)+"/"+shape, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					b, _ := io.ReadAll(r.Body)
					got := r.Header.Get("Authorization") + " " + string(b)
					if shape == "html" {
						w.Header().Set("Content-Type", "text/html")
						w.WriteHeader(http.StatusInternalServerError)
						fmt.Fprintf(w, "<p>you sent %s</p>", got)
						return
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					_ = json.NewEncoder(w).Encode(map[string]string{
						"error": "invalid_client", "error_description": "you sent " + got, "error_uri": "https://as.example/?" + got,
					})
				}))
				defer srv.Close()
				c, err := newOAuth2(config{
					ClientID: id, ClientSecret: secret,
					AuthorizeEndpoint: srv.URL, AccessTokenEndpoint: srv.URL, RefreshTokenEndpoint: srv.URL,
					TokenEndpointAuthMethod: method,
				})
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.RefreshToken(context.Background(), rt)
				if err == nil {
					t.Fatal("want an error")
				}
				text := err.Error() + fmt.Sprintf("%+v %#v", err, err)
				var oe *OAuthError
				var he *HTTPError
				switch {
				case errors.As(err, &oe):
					text += oe.Code + oe.Description + oe.URI
				case errors.As(err, &he):
					text += he.Body
				default:
					t.Fatalf("unexpected error %T %v", err, err)
				}
				if !strings.Contains(text, "you sent") || !strings.Contains(text, redacted) {
					t.Fatalf("the echo should be kept with the credentials redacted: %s", text)
				}
				for _, f := range forms {
					if strings.Contains(text, f) {
						t.Fatalf("%q leaked: %s", f, text)
					}
				}
			})
		}
	}
}

// TestRedactBeforeExcerpt: the body excerpt of an *HTTPError is cut at 512
// bytes; an echoed secret straddling the cut must not leave its first bytes
// behind, so credentials are removed from the whole body before it is cut.
func TestRedactBeforeExcerpt(t *testing.T) {
	const secret = "CS-MARK-3-a-long-client-secret"
	for pad := maxExcerpt - len(secret) + 1; pad < maxExcerpt; pad += 7 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, strings.Repeat("x", pad)+r.FormValue("client_secret")+" and more")
		}))
		c, err := newOAuth2(config{ClientID: "cid", ClientSecret: secret, AuthorizeEndpoint: srv.URL, AccessTokenEndpoint: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.AccessToken(context.Background(), "CODE", "http://127.0.0.1/cb", "")
		srv.Close()
		var he *HTTPError
		if !errors.As(err, &he) {
			t.Fatalf("want an *HTTPError, got %v", err)
		}
		if strings.Contains(he.Body, secret[:6]) {
			t.Fatalf("pad %d: the start of the secret is left in the excerpt: %q", pad, he.Body[pad-4:])
		}
	}
}
