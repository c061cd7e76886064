package client

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMicrosoftConfig(t *testing.T) {
	cases := []struct{ tenant, want string }{
		{"", "common"},
		{"common", "common"},
		{"organizations", "organizations"},
		{"consumers", "consumers"},
		{"contoso.onmicrosoft.com", "contoso.onmicrosoft.com"},
		{"72F988BF-86F1-41AF-91AB-2D7CD011DB47", "72f988bf-86f1-41af-91ab-2d7cd011db47"},
	}
	for _, tc := range cases {
		m, err := NewMicrosoft(tc.tenant, "CID", "SEC", WithMicrosoftAnyTenant())
		require.NoError(t, err)
		cfg := m.cfg
		base := "https://login.microsoftonline.com/" + tc.want + "/oauth2/v2.0/"
		assert.Equal(t, base+"authorize", cfg.AuthorizeEndpoint)
		assert.Equal(t, base+"token", cfg.AccessTokenEndpoint)
		assert.Equal(t, base+"token", cfg.RefreshTokenEndpoint)
		assert.Empty(t, cfg.RevokeTokenEndpoint)
		assert.Equal(t, []string{"openid", "email", "profile", "User.Read"}, cfg.BaseScopes)
		assert.Equal(t, "microsoft", m.Name())
		assert.True(t, m.Capabilities().Nonce)
	}
	for _, bad := range []string{"my_tenant", "common/../x", "evil.com@login", "a/b", "https://contoso.com", "x?y", "single"} {
		_, err := NewMicrosoft(bad, "CID", "SEC")
		assert.ErrorIs(t, err, ErrInvalidConfig, bad)
	}
}

func TestMicrosoftAuthorizationURL(t *testing.T) {
	m, err := NewMicrosoft("common", "CID", "SEC", WithMicrosoftAnyTenant())
	require.NoError(t, err)
	u, err := m.AuthCodeURL("https://app/cb", AuthURLOptions{State: "S", CodeChallenge: "CC", CodeChallengeMethod: "S256"}, nil)
	require.NoError(t, err)
	q := mustQuery(t, u)
	assert.Equal(t, "query", q.Get("response_mode"))
	assert.Equal(t, "CC", q.Get("code_challenge"))

	extra := Values{"response_mode": {"form_post"}}
	u, err = m.AuthCodeURL("https://app/cb", AuthURLOptions{}, extra)
	require.NoError(t, err)
	assert.Equal(t, "form_post", mustQuery(t, u).Get("response_mode"))
	assert.Equal(t, Values{"response_mode": {"form_post"}}, extra, "caller's values not mutated")

	extra = Values{"prompt": {"login"}}
	_, err = m.AuthCodeURL("https://app/cb", AuthURLOptions{}, extra)
	require.NoError(t, err)
	assert.Equal(t, Values{"prompt": {"login"}}, extra, "caller's values not mutated")

	u, err = m.AuthCodeURL("https://app/cb", AuthURLOptions{}, MicrosoftParams{DomainHint: "contoso.com"})
	require.NoError(t, err)
	q = mustQuery(t, u)
	assert.Equal(t, "query", q.Get("response_mode"))
	assert.Equal(t, "contoso.com", q.Get("domain_hint"))
	u, err = m.AuthCodeURL("https://app/cb", AuthURLOptions{}, MicrosoftParams{ResponseMode: "form_post"})
	require.NoError(t, err)
	assert.Equal(t, "form_post", mustQuery(t, u).Get("response_mode"))
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Query()
}

func TestMicrosoftIDEmail(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		id, email  string
		want       []error
	}{
		{name: "mail", status: 200, body: `{"id":"424242","mail":"arthur@camelot.bt","userPrincipalName":"arthur_camelot.bt#EXT#@x.onmicrosoft.com"}`, id: "424242", email: "arthur@camelot.bt"},
		{name: "upn fallback", status: 200, body: `{"id":"424242","mail":null,"userPrincipalName":"arthur@camelot.bt"}`, id: "424242", email: "arthur@camelot.bt"},
		{name: "guest upn is not an email", status: 200, body: `{"id":"424242","userPrincipalName":"arthur_camelot.bt#EXT#@x.onmicrosoft.com"}`, id: "424242"},
		{name: "missing id", status: 200, body: `{"mail":"a@x"}`, want: []error{ErrGetIDEmail, ErrMissingID}},
		{name: "400", status: 400, body: `{"error":{"code":"InvalidAuthenticationToken"}}`, want: []error{ErrGetIDEmail}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, hc := newFakeServer(t)
			f.json("/v1.0/me", tc.status, tc.body)
			m, err := NewMicrosoft("common", "CID", "SEC", WithHTTPClient(hc), WithMicrosoftAnyTenant())
			require.NoError(t, err)
			id, email, err := m.IDEmail(context.Background(), "TOKEN")
			reqs := f.requests("/v1.0/me")
			require.Len(t, reqs, 1)
			assert.Equal(t, "graph.microsoft.com", reqs[0].Host)
			assert.Equal(t, "Bearer TOKEN", reqs[0].Header.Get("Authorization"))
			if tc.want != nil {
				for _, w := range tc.want {
					assert.ErrorIs(t, err, w)
				}
				if tc.status != 200 {
					assert.Equal(t, tc.status, StatusCode(err))
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.id, id)
			assert.Equal(t, tc.email, email)
		})
	}
}

func TestMicrosoftIDToken(t *testing.T) {
	const tidA = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	key := newRSAKey(t, "mskey")
	now := time.Now()
	claims := func(tid string) map[string]any {
		c := idTokenClaims("https://login.microsoftonline.com/"+tid+"/v2.0", "CID", "N", now)
		c["tid"] = tid
		c["oid"] = "00000000-0000-0000-66f3-3332eca7ea81"
		c["sub"] = "pairwise-sub"
		delete(c, "email_verified")
		return c
	}
	const tidB = "11111111-1111-1111-1111-111111111111"
	cases := []struct {
		name, tenant string
		opts         []Option // WithMicrosoftAnyTenant when nil
		mod          func(map[string]any)
		want         error
	}{
		{name: "common any tenant", tenant: "common"},
		{name: "common, listed tenant", tenant: "common", opts: []Option{WithMicrosoftTenants(tidB, strings.ToUpper(tidA))}},
		{name: "common, unlisted tenant", tenant: "common", opts: []Option{WithMicrosoftTenants(tidB)}, want: ErrIDTokenIssuer},
		{name: "organizations, unlisted tenant", tenant: "organizations", opts: []Option{WithMicrosoftTenants(tidB)}, want: ErrIDTokenIssuer},
		{name: "domain tenant, unlisted tenant", tenant: "contoso.onmicrosoft.com", opts: []Option{WithMicrosoftTenants(tidB)}, want: ErrIDTokenIssuer},
		{name: "pinned tenant", tenant: tidA},
		{name: "pinned tenant, other tid", tenant: "11111111-1111-1111-1111-111111111111", want: ErrIDTokenIssuer},
		{name: "consumers requires MSA tenant", tenant: "consumers", want: ErrIDTokenIssuer},
		{name: "consumers MSA tenant", tenant: "consumers", mod: func(c map[string]any) {
			c["tid"] = microsoftMSATenant
			c["iss"] = "https://login.microsoftonline.com/" + microsoftMSATenant + "/v2.0"
		}},
		{name: "organizations refuses MSA", tenant: "organizations", mod: func(c map[string]any) {
			c["tid"] = microsoftMSATenant
			c["iss"] = "https://login.microsoftonline.com/" + microsoftMSATenant + "/v2.0"
		}, want: ErrIDTokenIssuer},
		{name: "iss of another tenant than tid", tenant: "common", mod: func(c map[string]any) {
			c["iss"] = "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0"
		}, want: ErrIDTokenIssuer},
		{name: "iss not microsoft", tenant: "common", mod: func(c map[string]any) { c["iss"] = "https://evil.example/" + tidA + "/v2.0" }, want: ErrIDTokenIssuer},
		{name: "missing tid", tenant: "common", mod: func(c map[string]any) { delete(c, "tid") }, want: ErrIDTokenIssuer},
		{name: "missing oid", tenant: "common", mod: func(c map[string]any) { delete(c, "oid") }, want: ErrIDTokenSubject},
		{name: "wrong audience", tenant: "common", mod: func(c map[string]any) { c["aud"] = "other" }, want: ErrIDTokenAudience},
		{name: "wrong nonce", tenant: "common", mod: func(c map[string]any) { c["nonce"] = "X" }, want: ErrIDTokenNonce},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, hc := newFakeServer(t)
			f.json("/"+tc.tenant+"/discovery/v2.0/keys", 200, jwksBody(t, key))
			opts := tc.opts
			if opts == nil {
				opts = []Option{WithMicrosoftAnyTenant()}
			}
			m, err := NewMicrosoft(tc.tenant, "CID", "SEC", append(opts, WithHTTPClient(hc))...)
			require.NoError(t, err)
			c := claims(tidA)
			if tc.mod != nil {
				tc.mod(c)
			}
			got, err := m.VerifyIDToken(context.Background(), &Token{AccessToken: "AT", IDToken: key.sign(t, c)}, "N")
			if tc.want != nil {
				assert.ErrorIs(t, err, ErrIDToken)
				assert.ErrorIs(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "00000000-0000-0000-66f3-3332eca7ea81", got.Subject)
			assert.False(t, got.EmailVerified)
			reqs := f.requests("/" + tc.tenant + "/discovery/v2.0/keys")
			require.NotEmpty(t, reqs)
			assert.Equal(t, "login.microsoftonline.com", reqs[0].Host)
			assert.NoError(t, checkSubject(got, "00000000-0000-0000-66f3-3332eca7ea81"))
		})
	}
}

// TestMicrosoftTenantOptions: the multi-tenant endpoints need an explicit
// choice of who may sign in, and contradictory or malformed choices are
// configuration errors.
func TestMicrosoftTenantOptions(t *testing.T) {
	const tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	for _, tc := range []struct {
		tenant string
		opts   []Option
		ok     bool
	}{
		{"", nil, false},
		{"common", nil, false},
		{"organizations", nil, false},
		{"consumers", nil, true},
		{tid, nil, true},
		{"contoso.onmicrosoft.com", nil, true},
		{"common", []Option{WithMicrosoftAnyTenant()}, true},
		{"common", []Option{WithMicrosoftTenants(tid)}, true},
		{"organizations", []Option{WithMicrosoftTenants(strings.ToUpper(tid))}, true},
		{"contoso.onmicrosoft.com", []Option{WithMicrosoftTenants(tid)}, true},
		{"common", []Option{WithMicrosoftTenants(tid), WithMicrosoftAnyTenant()}, false},
		{"common", []Option{WithMicrosoftTenants()}, false},
		{"common", []Option{WithMicrosoftTenants("contoso.com")}, false},
		{"common", []Option{WithMicrosoftTenants(tid, "")}, false},
		{tid, []Option{WithMicrosoftTenants(tid)}, false},
		{"consumers", []Option{WithMicrosoftTenants(tid)}, false},
	} {
		_, err := NewMicrosoft(tc.tenant, "CID", "SEC", tc.opts...)
		if tc.ok {
			assert.NoError(t, err, "%q %d options", tc.tenant, len(tc.opts))
		} else {
			assert.ErrorIs(t, err, ErrInvalidConfig, "%q %d options", tc.tenant, len(tc.opts))
		}
	}
	for _, opt := range []Option{WithMicrosoftTenants(tid), WithMicrosoftAnyTenant()} {
		_, err := NewGitHub("CID", "SEC", opt)
		assert.ErrorIs(t, err, ErrInvalidConfig, "another constructor refuses the Microsoft options")
	}
}
