package oauthkittest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"testing"
)

// MicrosoftTenant is the tenant id (tid) of users whose Claims name none.
const MicrosoftTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// microsoftHosts are the hosts of the identity platform and of Graph.
var microsoftHosts = []string{"login.microsoftonline.com", "graph.microsoft.com"}

const microsoftLogin = "https://login.microsoftonline.com/"

// microsoftPath is /{tenant}/oauth2/v2.0/{authorize,token} or
// /{tenant}/discovery/v2.0/keys; the tenant segment is any of GUID,
// domain, common, organizations, consumers.
var microsoftPath = regexp.MustCompile(`^/[A-Za-z0-9.-]+/(oauth2/v2\.0/(authorize|token)|discovery/v2\.0/keys)$`)

// Microsoft is a Provider shaped as the Microsoft identity platform (v2.0
// endpoints of login.microsoftonline.com, any tenant segment) and Graph's
// GET /v1.0/me (and /beta/me), which counts as UserInfo. Each user belongs
// to a tenant: User.Claims "tid" (default MicrosoftTenant) and "oid" (the
// object id, default derived from the Subject); ID tokens carry both and
// the issuer https://login.microsoftonline.com/{tid}/v2.0 of the user's
// tenant, as the multi-tenant endpoints issue them. Graph /me answers id
// (the oid), displayName (Name), mail (Email) and userPrincipalName
// (Claims "upn", default Email). Transport routes those hosts to the fake.
type Microsoft struct {
	*Provider
}

// StartMicrosoft starts a Microsoft fake; Close stops it.
func StartMicrosoft(opts ...Option) (*Microsoft, error) {
	p, err := start(opts, shape{
		issuer: microsoftLogin + "oauthkittest/v2.0",
		hosts:  microsoftHosts,
		front:  microsoftFront,
		routes: map[string]shapeRoute{"/v1.0/me": {UserInfo, microsoftMe}, "/beta/me": {UserInfo, microsoftMe}},
	})
	if err != nil {
		return nil, err
	}
	return &Microsoft{p}, nil
}

// NewMicrosoft starts a Microsoft fake for a test and closes it when the
// test ends.
func NewMicrosoft(t testing.TB, opts ...Option) *Microsoft {
	t.Helper()
	m, err := StartMicrosoft(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// Transport routes requests for Microsoft's hosts to the fake and others
// to base (nil: http.DefaultTransport).
func (m *Microsoft) Transport(base http.RoundTripper) http.RoundTripper { return m.route(base) }

// HTTPClient is an *http.Client with Transport(nil).
func (m *Microsoft) HTTPClient() *http.Client { return &http.Client{Transport: m.Transport(nil)} }

// microsoftFront maps Microsoft's paths to the op's, strips the op's
// issuer path from its own URLs (login step, authorize callback), and
// gives the ID tokens of token answers their user's tenant.
func microsoftFront(p *Provider, next http.Handler) http.Handler {
	const own = "/oauthkittest/v2.0"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		token := false
		if m := microsoftPath.FindStringSubmatch(path); m != nil {
			switch m[2] {
			case "authorize":
				path = "/authorize"
			case "token":
				path, token = "/oauth/token", true
			default:
				path = "/keys"
			}
		} else if len(path) > len(own) && path[:len(own)] == own {
			path = path[len(own):]
		}
		if path != r.URL.Path {
			r = r.Clone(r.Context())
			r.URL.Path, r.URL.RawPath = path, ""
		}
		if !token {
			next.ServeHTTP(w, r)
			return
		}
		serveRewritten(w, r, next, func(body []byte) ([]byte, error) { return p.rewriteIDToken(body, p.microsoftClaims) })
	})
}

// microsoftClaims sets tid, oid and the tenant's issuer on an ID token
// whose issuer is still the op's (a fault may have changed it).
func (p *Provider) microsoftClaims(c map[string]any) {
	if c["iss"] != p.issuer {
		return
	}
	sub, _ := c["sub"].(string)
	u, ok := p.user(sub)
	if !ok {
		return
	}
	tid, oid := microsoftIDs(u)
	c["tid"], c["oid"] = tid, oid
	c["iss"] = microsoftLogin + tid + "/v2.0"
	c["ver"] = "2.0"
}

// microsoftIDs are the user's tenant and object ids.
func microsoftIDs(u *User) (tid, oid string) {
	tid, _ = u.Claims["tid"].(string)
	if tid == "" {
		tid = MicrosoftTenant
	}
	oid, _ = u.Claims["oid"].(string)
	if oid == "" {
		h := sha256.Sum256([]byte(u.Subject))
		oid = fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	}
	return tid, oid
}

// microsoftMe is Graph's GET /me for the access token's user.
func microsoftMe(p *Provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := p.userOfAccessToken(r)
		w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"InvalidAuthenticationToken","message":"Access token validation failure."}}`))
			return
		}
		_, oid := microsoftIDs(&u)
		upn, _ := u.Claims["upn"].(string)
		if upn == "" {
			upn = u.Email
		}
		nullable := func(s string) any {
			if s == "" {
				return nil
			}
			return s
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"@odata.context":    "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
			"id":                oid,
			"displayName":       nullable(u.Name),
			"mail":              nullable(u.Email),
			"userPrincipalName": upn,
		})
	}
}
