package oauthkittest

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// loopbackKey is the context key of the loopback URIs a request asks to
// be redirected to (loopbackURIs).
type loopbackKey struct{}

// loopbackURIs are the redirect_uri and post_logout_redirect_uri of an
// authorize or end-session request that isLoopbackRedirect accepts.
type loopbackURIs struct {
	redirect, postLogout string
}

// loopbackRedirects hands the loopback redirect URIs of authorize and
// end-session requests to GetClientByClientID, through the request's
// context: the op matches redirect URIs against a client's list only, so
// the client of an AnyLoopbackRedirect registration lists the one the
// request asks for when it qualifies.
func (p *Provider) loopbackRedirects(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != p.op.AuthorizationEndpoint().Relative() && r.URL.Path != p.op.EndSessionEndpoint().Relative() {
			next.ServeHTTP(w, r)
			return
		}
		form, err := peekForm(r)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		query := r.URL.Query()
		pick := func(name string) string {
			v := form.Get(name)
			if v == "" {
				v = query.Get(name)
			}
			if !isLoopbackRedirect(v) {
				return ""
			}
			return v
		}
		l := loopbackURIs{redirect: pick("redirect_uri"), postLogout: pick("post_logout_redirect_uri")}
		if l != (loopbackURIs{}) {
			r = r.WithContext(context.WithValue(r.Context(), loopbackKey{}, l))
		}
		next.ServeHTTP(w, r)
	})
}

// isLoopbackRedirect reports whether raw is an absolute http or https URI
// whose host is localhost or a loopback IP address, with no user
// information (which would make "http://localhost:1@evil.example" look
// local) and no fragment (RFC 6749 §3.1.2).
func isLoopbackRedirect(raw string) bool {
	if raw == "" || strings.Contains(raw, "#") || strings.Contains(raw, `\`) {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Opaque != "" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackFrom is the loopback URIs loopbackRedirects put in ctx.
func loopbackFrom(ctx context.Context) loopbackURIs {
	l, _ := ctx.Value(loopbackKey{}).(loopbackURIs)
	return l
}
