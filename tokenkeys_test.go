package oauthkit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func tokenKeys(t *testing.T, current string, ids ...string) *oauthkit.TokenKeys {
	t.Helper()
	m := map[string][]byte{}
	for i, id := range ids {
		m[id] = key(byte(i + 1))
	}
	tk, err := oauthkit.NewTokenKeys(current, m)
	require.NoError(t, err)
	return tk
}

func TestNewTokenKeysRefusals(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		current string
		keys    map[string][]byte
	}{
		"current missing": {"k2", map[string][]byte{"k1": key(1)}},
		"no keys":         {"k1", nil},
		"short key":       {"k1", map[string][]byte{"k1": key(1)[:16]}},
		"dot in id":       {"k.1", map[string][]byte{"k.1": key(1)}},
		"space in id":     {"k 1", map[string][]byte{"k 1": key(1)}},
		"empty id":        {"", map[string][]byte{"": key(1)}},
	} {
		_, err := oauthkit.NewTokenKeys(tc.current, tc.keys)
		assert.ErrorIs(t, err, oauthkit.ErrInvalidConfig, name)
	}
}

// rawRecord is the backing store's record of b's session, undecoded: what
// a dump of the session store shows.
func (a *app) rawRecord(b *http.Client) []byte {
	a.t.Helper()
	raw, found, err := a.backing.Find(a.sessionCookie(b))
	require.NoError(a.t, err)
	require.True(a.t, found)
	return raw
}

// accessToken asks /api/token for b's provider access token.
func (a *app) accessToken(b *http.Client) string {
	a.t.Helper()
	res, body := a.do(b, http.MethodGet, "/api/token", nil)
	require.Equal(a.t, http.StatusOK, res.StatusCode, body)
	return body
}

// With TokenKeys, a dump of the session store holds none of the provider
// tokens, the kit reads them back, and a refreshed token is stored
// encrypted too.
func TestTokensEncryptedInSession(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(c *oauthkit.Config) { c.TokenKeys = tokenKeys(t, "k1", "k1") })
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	stored, _ := a.session(b)["oauthkit.token"].(string)
	assert.True(t, strings.HasPrefix(stored, "oauthkit1.k1."), stored)
	at := a.accessToken(b)
	raw := a.rawRecord(b)
	assert.NotContains(t, string(raw), at)
	assert.NotContains(t, string(raw), "RefreshToken")

	a.clock.Add(2 * time.Hour)
	at2 := a.accessToken(b)
	require.NotEqual(t, at, at2, "refreshed")
	raw = a.rawRecord(b)
	assert.NotContains(t, string(raw), at2)
	assert.True(t, strings.HasPrefix(a.session(b)["oauthkit.token"].(string), "oauthkit1.k1."))
}

// site is another instance of a's site on a's session store, with its own
// kit configuration: what a deployment with new settings is.
func (a *app) site(cfg func(*oauthkit.Config)) (*oauthkit.Kit, string) {
	a.t.Helper()
	sm := scs.New()
	sm.Store = a.backing
	sm.Cookie.Secure = true
	c := oauthkit.Config{
		Sessions:  sm,
		Providers: []oauthkit.Provider{{Client: provider(a.t, a.as, "test"), RedirectURL: a.srv.URL + "/auth/test/callback"}},
		Now:       a.clock.Now,
	}
	cfg(&c)
	kit, err := oauthkit.New(c)
	require.NoError(a.t, err)
	mux := http.NewServeMux()
	mux.Handle("/api/token", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := kit.Token(r.Context())
		if err != nil {
			http.Error(w, err.Error(), oauthkit.HTTPStatus(err))
			return
		}
		_, _ = w.Write([]byte(tok.AccessToken))
	})))
	srv := httptest.NewUnstartedServer(sm.LoadAndSave(mux))
	srv.StartTLS() // httptest's one certificate: a's browsers trust it
	a.t.Cleanup(srv.Close)
	return kit, srv.URL
}

// Key rotation logs nobody out: a deployment whose current key is k2 and
// which still has k1 reads the sessions k1 encrypted, and re-encrypts with
// k2 when it writes. Sessions from before TokenKeys (plain JSON) are read
// too. A deployment missing the key, or a tampered value, gets a typed 500
// and leaves the session as it is.
func TestTokenKeysRotation(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(c *oauthkit.Config) { c.TokenKeys = tokenKeys(t, "k1", "k1") })
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode)
	at := a.accessToken(b)

	_, rotated := a.site(func(c *oauthkit.Config) { c.TokenKeys = tokenKeys(t, "k2", "k1", "k2") })
	res, body := getAt(t, b, rotated+"/api/token")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, at, body, "k1's session read under k2")
	a.clock.Add(2 * time.Hour)
	res, body = getAt(t, b, rotated+"/api/token")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.True(t, strings.HasPrefix(a.session(b)["oauthkit.token"].(string), "oauthkit1.k2."), "rewritten with the current key")

	_, onlyK1 := a.site(func(c *oauthkit.Config) { c.TokenKeys = tokenKeys(t, "k1", "k1") })
	res, body = getAt(t, b, onlyK1+"/api/token")
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.Contains(t, body, oauthkit.ErrTokenKeyUnknown.Error())
	_, plain := a.site(func(*oauthkit.Config) {})
	res, _ = getAt(t, b, plain+"/api/token")
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode, "no keys at all cannot read encrypted tokens")
	res, _ = getAt(t, b, rotated+"/api/token")
	assert.Equal(t, http.StatusOK, res.StatusCode, "the failed reads lost nothing")

	// A session from before TokenKeys: plain JSON, readable once keys are on.
	p := newApp(t)
	pb := p.browser()
	require.Equal(t, http.StatusFound, p.login(pb, "/auth/test/login").StatusCode)
	pat := p.accessToken(pb)
	assert.Contains(t, string(p.rawRecord(pb)), pat, "without keys the dump shows the token (what the keys prevent)")
	var plainTok struct{ AccessToken string }
	require.NoError(t, json.Unmarshal([]byte(p.session(pb)["oauthkit.token"].(string)), &plainTok))
	_, withKeys := p.site(func(c *oauthkit.Config) { c.TokenKeys = tokenKeys(t, "k1", "k1") })
	res, body = getAt(t, pb, withKeys+"/api/token")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, pat, body)
}

// A ciphertext that was tampered with, or copied from another user's
// session, does not decrypt: ErrTokenDecrypt, 500, session untouched.
func TestTokenTampered(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(c *oauthkit.Config) { c.TokenKeys = tokenKeys(t, "k1", "k1") })
	ada, bob := a.browser(), a.browser()
	require.Equal(t, http.StatusFound, a.login(ada, "/auth/test/login").StatusCode)
	_, err := a.tryLogin(bob, "/auth/test/login", fakeUser{ID: "42", Email: "bob@example.com"})
	require.NoError(t, err)

	a.mux.HandleFunc("PUT /set-token", func(w http.ResponseWriter, r *http.Request) {
		a.sm.Put(r.Context(), "oauthkit.token", r.URL.Query().Get("v"))
	})
	adaTok := a.session(ada)["oauthkit.token"].(string)
	set := func(b *http.Client, v string) {
		req, err := http.NewRequest(http.MethodPut, a.srv.URL+"/set-token?v="+v, nil)
		require.NoError(t, err)
		res, err := b.Do(req)
		require.NoError(t, err)
		res.Body.Close()
	}
	set(bob, adaTok)
	res, body := a.do(bob, http.MethodGet, "/api/token", nil)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode, "ada's token in bob's session")
	assert.Contains(t, body, oauthkit.ErrTokenDecrypt.Error())

	flipped := []byte(adaTok)
	flipped[len(flipped)-3] ^= 1
	set(ada, string(flipped))
	res, body = a.do(ada, http.MethodGet, "/api/token", nil)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.Contains(t, body, oauthkit.ErrTokenDecrypt.Error())
	assert.True(t, a.signedIn(ada), "still signed in: the failure is the operator's to fix, not the user's")
}

// getAt is a GET of an absolute URL from b, body read.
func getAt(t *testing.T, b *http.Client, u string) (*http.Response, string) {
	t.Helper()
	res, err := b.Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

// Whatever a store holds, reading it gives a token or a typed error, never
// a panic.
func FuzzOpenToken(f *testing.F) {
	tk, err := oauthkit.NewTokenKeys("k1", map[string][]byte{"k1": key(1), "k2": key(2)})
	require.NoError(f, err)
	for _, s := range []string{"", "{}", `{"AccessToken":"x"}`, "oauthkit1.", "oauthkit1.k1.", "oauthkit1.k1.AAAA", "oauthkit1.k9.AAAA", "oauthkit1.k1.!!!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		err := oauthkit.OpenToken(tk, v, "session\x00u")
		if err != nil && !errors.Is(err, oauthkit.ErrTokenDecrypt) && !errors.Is(err, oauthkit.ErrTokenKeyUnknown) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
