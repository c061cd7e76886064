package integration

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"

	"github.com/oauthkit/oauthkit/pgclaim"
	"github.com/oauthkit/oauthkit/redisclaim"
)

// lateWriter is GET /late on one instance: each request loads its session,
// reports it, waits for release and then writes to it, as a slow page does
// when it answers after the user logged out on another instance.
type lateWriter struct {
	loaded  chan struct{}
	release chan struct{}
}

func newLateWriter() *lateWriter {
	return &lateWriter{loaded: make(chan struct{}, 64), release: make(chan struct{})}
}

func (lw *lateWriter) handler(sm *scs.SessionManager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = sm.GetString(r.Context(), "app.data")
		lw.loaded <- struct{}{}
		<-lw.release
		sm.Put(r.Context(), "app.data", "written late")
	})
}

// logoutSticks logs a browser in on instance 0, holds n late writers on
// instance 1, logs out on instance 2, releases the writers, and reports how
// many instances still sign the old cookie in.
func (c *cluster) logoutSticks(t *testing.T, n int) int {
	t.Helper()
	br := newBrowser()
	cb, err := c.startLogin(br, c.instances[0], fakeUser{ID: randomString(), Email: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if res, _, err := get(br, c.instances[0].srv.URL+cb, nil); err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("callback: %v %v", res, err)
	}
	u, _ := url.Parse(c.instances[0].srv.URL)
	cookies := br.Jar.Cookies(u)
	if len(cookies) != 1 {
		t.Fatalf("%d cookies after login", len(cookies))
	}
	old := http.Header{"Cookie": {cookies[0].Name + "=" + cookies[0].Value}}
	plain := &http.Client{Transport: transport, CheckRedirect: noRedirect}

	lw := c.instances[1].late
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, _, err := get(plain, c.instances[1].srv.URL+"/late", old); err != nil {
				t.Error(err)
			}
		})
	}
	for range n {
		<-lw.loaded
	}
	req, _ := http.NewRequest(http.MethodPost, c.instances[2].srv.URL+"/logout", nil)
	res, err := br.Do(req)
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %v %v", res, err)
	}
	res.Body.Close()
	close(lw.release)
	wg.Wait()
	lw.release = make(chan struct{})

	signedIn := 0
	for _, inst := range c.instances {
		res, _, err := get(plain, inst.srv.URL+"/profile", old)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode == http.StatusOK {
			signedIn++
		}
	}
	return signedIn
}

// A logout on one instance sticks on every instance sharing Redis, however
// late another instance writes the session back.
func TestRedisLogoutSticksAcrossInstances(t *testing.T) {
	pool := redisPool(t)
	prefix := redisPrefix(t, pool)
	c := newCluster(t, 3, redisstore.NewWithPrefix(pool, prefix+"session:"),
		shared{ended: &redisclaim.EndedSessions{Pool: pool, Prefix: prefix + "ended:"}})
	for trial := range 10 {
		if n := c.logoutSticks(t, 4); n != 0 {
			t.Fatalf("trial %d: %d instances sign the old cookie in after logout", trial, n)
		}
	}
}

// The same on PostgreSQL, with pgclaim's shared record.
func TestPostgresLogoutSticksAcrossInstances(t *testing.T) {
	db := postgres(t)
	c := newCluster(t, 3, postgresstore.NewWithCleanupInterval(db, 0), shared{ended: &pgclaim.EndedSessions{DB: db}})
	for trial := range 10 {
		if n := c.logoutSticks(t, 4); n != 0 {
			t.Fatalf("trial %d: %d instances sign the old cookie in after logout", trial, n)
		}
	}
}

// Without a shared record the late write on another instance does bring the
// session back: the reason the shared record exists (and proof that the
// test above can fail).
func TestRedisLogoutWithoutSharedRecordIsUndone(t *testing.T) {
	pool := redisPool(t)
	prefix := redisPrefix(t, pool)
	c := newCluster(t, 3, redisstore.NewWithPrefix(pool, prefix+"session:"), shared{})
	if n := c.logoutSticks(t, 4); n == 0 {
		t.Fatal("a late write on another instance did not resurrect the session; the shared-record tests prove nothing")
	}
}
