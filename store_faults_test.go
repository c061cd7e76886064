package oauthkit_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// Session store faults (security.md item 71, catalogue row 30, goal G13):
// with the store failing, no protected content is served, no browser is sent
// to the provider without its pending login saved, no callback signs anyone
// in, nothing panics; once the store recovers the next login works.

var errStoreDown = errors.New("session store down (test fault)")

// faultStore is an scs.Store whose operations can be switched to fail; a
// fault injector for the third-party interface, backed by memstore.
type faultStore struct {
	inner                         *memstore.MemStore
	failFind, failCommit, failDel atomic.Bool
	// commitOK lets this many more commits succeed while failCommit is set
	// (to fail a later commit of the same request).
	commitOK                     atomic.Int64
	finds, commits, dels, failed atomic.Int64
}

var _ scs.Store = (*faultStore)(nil)

func newFaultStore() *faultStore {
	return &faultStore{inner: memstore.NewWithCleanupInterval(time.Hour)}
}

func (s *faultStore) Find(token string) ([]byte, bool, error) {
	s.finds.Add(1)
	if s.failFind.Load() {
		s.failed.Add(1)
		return nil, false, errStoreDown
	}
	return s.inner.Find(token)
}

func (s *faultStore) Commit(token string, b []byte, expiry time.Time) error {
	s.commits.Add(1)
	if s.failCommit.Load() && s.commitOK.Add(-1) < 0 {
		s.failed.Add(1)
		return errStoreDown
	}
	return s.inner.Commit(token, b, expiry)
}

func (s *faultStore) Delete(token string) error {
	s.dels.Add(1)
	if s.failDel.Load() {
		s.failed.Add(1)
		return errStoreDown
	}
	return s.inner.Delete(token)
}

func (s *faultStore) heal() {
	s.failFind.Store(false)
	s.failCommit.Store(false)
	s.failDel.Store(false)
	s.commitOK.Store(0)
}

// sfApp is the harness app on a faultStore, with a counting protected page
// and scs's ErrorFunc counting (and answering 500) instead of logging.
type sfApp struct {
	*app
	store     *faultStore
	served    atomic.Int64 // protected handler invocations
	scsErrors atomic.Int64
}

func newStoreFaultApp(t *testing.T) *sfApp {
	s := &sfApp{store: newFaultStore()}
	logs := &syncBuffer{}
	s.app = newApp(t, withLogs(logs), func(cfg *oauthkit.Config) { cfg.Sessions.Store = s.store })
	s.sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		s.scsErrors.Add(1)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
	// A failed lazy commit makes scs answer 500 before the kit's own
	// WriteHeader, which net/http reports as superfluous: keep it quiet.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	mux := http.NewServeMux()
	mux.Handle("/auth/test/login", s.kit.LoginHandler("test"))
	mux.Handle("/auth/test/callback", s.kit.CallbackHandler("test"))
	mux.Handle("/logout", s.kit.LogoutHandler())
	mux.Handle("/profile", s.kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.served.Add(1)
		u, _ := s.kit.User(r.Context())
		_, _ = fmt.Fprintf(w, "secret page of %s|%s", u.Provider, u.ID)
	})))
	s.srv.Config.Handler = s.sm.LoadAndSave(mux)
	t.Cleanup(func() { assert.NotContains(t, logs.String(), "panic") })
	return s
}

// is5xx asserts a server-error answer that carries nothing protected and
// no redirect to the provider.
func (s *sfApp) is5xx(t *testing.T, res *http.Response, body string) {
	t.Helper()
	assert.GreaterOrEqual(t, res.StatusCode, 500, "status")
	assert.Less(t, res.StatusCode, 600, "status")
	assert.NotContains(t, body, "secret page")
	assert.False(t, strings.HasPrefix(res.Header.Get("Location"), s.as.Srv.URL), "no Location to the AS: %q", res.Header.Get("Location"))
}

func TestStoreFaultRequireAuth(t *testing.T) {
	s := newStoreFaultApp(t)
	b := s.browser()
	require.Equal(t, http.StatusFound, s.login(b, "/auth/test/login").StatusCode)
	res, body := s.do(b, http.MethodGet, "/profile", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "secret page")
	require.EqualValues(t, 1, s.served.Load())

	s.store.failFind.Store(true)
	for _, hdr := range []http.Header{nil, {"Accept": {"application/json"}}} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
			res, body := s.do(b, method, "/profile", hdr)
			s.is5xx(t, res, body)
		}
	}
	assert.EqualValues(t, 1, s.served.Load(), "protected handler not reached while the store fails")
	assert.EqualValues(t, 6, s.scsErrors.Load())

	s.store.heal()
	res, body = s.do(b, http.MethodGet, "/profile", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode, "the session survived the outage")
	assert.Contains(t, body, "secret page of test|")
}

func TestStoreFaultLogin(t *testing.T) {
	t.Run("commit fails, new browser", func(t *testing.T) {
		s := newStoreFaultApp(t)
		s.store.failCommit.Store(true)
		b := s.browser()
		for range 5 {
			res, body := s.do(b, http.MethodGet, "/auth/test/login?next=%2Fprofile", nil)
			s.is5xx(t, res, body)
			assert.Empty(t, res.Header.Get("Location"))
			assert.ErrorIs(t, s.takeErr(), oauthkit.ErrSession)
			assert.Equal(t, http.StatusInternalServerError, oauthkit.HTTPStatus(oauthkit.ErrSession))
		}
		assert.Zero(t, s.as.AuthorizeHits.Load())
		assert.Empty(t, s.sessionCookie(b), "no cookie for a session that was never saved")
		all, err := s.store.inner.All()
		require.NoError(t, err)
		assert.Empty(t, all, "nothing saved")
	})

	t.Run("find fails, returning browser", func(t *testing.T) {
		s := newStoreFaultApp(t)
		b := s.browser()
		s.startLogin(b, "/auth/test/login") // the browser now has a session
		s.store.failFind.Store(true)
		res, body := s.do(b, http.MethodGet, "/auth/test/login", nil)
		s.is5xx(t, res, body)
		assert.Empty(t, res.Header.Get("Location"))
		assert.EqualValues(t, 1, s.scsErrors.Load())
	})

	t.Run("lazy commit fails after the explicit one", func(t *testing.T) {
		// scs commits again when the handler writes its header, and item 71
		// notes the consequence: if only that second commit fails, scs
		// answers 500 while the kit's Location header is already set. A 500
		// is never followed by browsers, and the pending login was saved by
		// the kit's explicit commit, so no browser reaches the AS without it.
		s := newStoreFaultApp(t)
		s.store.failCommit.Store(true)
		s.store.commitOK.Store(1)
		b := s.browser()
		res, body := s.do(b, http.MethodGet, "/auth/test/login", nil)
		assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
		assert.NotContains(t, body, "secret page")
		assert.EqualValues(t, 2, s.store.commits.Load(), "explicit commit, then scs's lazy one")
		assert.EqualValues(t, 1, s.scsErrors.Load())
		assert.Zero(t, s.as.AuthorizeHits.Load())
		all, err := s.store.inner.All()
		require.NoError(t, err)
		assert.Len(t, all, 1, "the pending login was saved before any Location was set")
		assert.Empty(t, s.sessionCookie(b), "no cookie: the orphan expires with PendingTTL")
	})

	t.Run("recovery", func(t *testing.T) {
		s := newStoreFaultApp(t)
		s.store.failCommit.Store(true)
		b := s.browser()
		res, body := s.do(b, http.MethodGet, "/auth/test/login", nil)
		s.is5xx(t, res, body)
		s.store.heal()
		res = s.login(b, "/auth/test/login")
		require.Equal(t, http.StatusFound, res.StatusCode, "first login after recovery: %v", s.lastErr())
		assert.True(t, s.signedIn(b))
		assert.EqualValues(t, 1, s.as.TokenHits.Load())
	})
}

func TestStoreFaultCallback(t *testing.T) {
	cases := []struct {
		name   string
		fail   func(*faultStore)
		tokens int64 // code exchanges the fault allows
		kitErr bool  // the kit (not scs's LoadAndSave) reports the failure
	}{
		// The session cannot be loaded: scs answers before the kit runs.
		{"find fails", func(s *faultStore) { s.failFind.Store(true) }, 0, false},
		// Consuming the pending login cannot be saved: refused before the
		// exchange, so a replay elsewhere cannot exchange the code either.
		{"commit fails", func(s *faultStore) { s.failCommit.Store(true) }, 0, true},
		// The old session cannot be deleted at token renewal (fixation
		// defence), after the exchange: no login.
		{"delete fails", func(s *faultStore) { s.failDel.Store(true) }, 1, true},
		// The signed-in session cannot be saved (the lazy commit after the
		// kit's explicit one): scs answers 500, the login is lost.
		{"final commit fails", func(s *faultStore) { s.failCommit.Store(true); s.commitOK.Store(1) }, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStoreFaultApp(t)
			b := s.browser()
			cb := s.approve(s.startLogin(b, "/auth/test/login?next=%2Fprofile"))
			s.drainErrs()
			c.fail(s.store)
			res, body := s.do(b, http.MethodGet, cb, nil)
			s.is5xx(t, res, body)
			if c.kitErr || c.tokens == 0 {
				assert.Empty(t, res.Header.Get("Location"))
			} // else scs's 500 carries the kit's inert Location (item 71)
			assert.Equal(t, c.tokens, s.as.TokenHits.Load(), "code exchanges")
			if c.kitErr {
				assert.ErrorIs(t, s.takeErr(), oauthkit.ErrSession)
			} else {
				assert.Positive(t, s.scsErrors.Load())
			}
			assert.Zero(t, s.served.Load())

			s.store.heal()
			assert.False(t, s.signedIn(b), "no login from a failed callback")
			assert.Zero(t, s.served.Load())
			res = s.login(b, "/auth/test/login")
			require.Equal(t, http.StatusFound, res.StatusCode, "first login after recovery: %v", s.lastErr())
			res, body = s.do(b, http.MethodGet, "/profile", nil)
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Contains(t, body, "secret page of test|")
		})
	}
}

func TestStoreFaultLogout(t *testing.T) {
	s := newStoreFaultApp(t)
	b := s.browser()
	require.Equal(t, http.StatusFound, s.login(b, "/auth/test/login").StatusCode)
	s.store.failDel.Store(true)
	res, body := s.do(b, http.MethodPost, "/logout", nil)
	s.is5xx(t, res, body)
	assert.ErrorIs(t, s.takeErr(), oauthkit.ErrSession, "a logout that could not destroy the session says so")
	s.store.heal()
	res, _ = s.do(b, http.MethodPost, "/logout", nil)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.False(t, s.signedIn(b))
}
