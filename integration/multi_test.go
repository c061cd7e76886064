package integration

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gomodule/redigo/redis"
	_ "github.com/lib/pq"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/pgclaim"
	"github.com/oauthkit/oauthkit/redisclaim"
)

// Several kit instances sharing one session store (security.md goals G5 and
// G11). Every login is spread over the instances (/login on A, the callback
// on B, the protected page on C); the fake provider hands out a distinct
// user per login, so a lost login or a user seeing another user's identity
// is counted exactly.

// redirectURL is the callback URL registered at the fake provider; it is
// the same for every instance, as behind a load balancer. Browsers are
// sent to whichever instance the test picks.
const redirectURL = "http://127.0.0.1/auth/test/callback"

// transport is shared by every client of the tests: enough idle
// connections per host that thousands of logins reuse them instead of
// exhausting ephemeral ports.
var transport = &http.Transport{
	MaxIdleConns:        512,
	MaxIdleConnsPerHost: 128,
	IdleConnTimeout:     30 * time.Second,
}

var noRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

type instance struct {
	srv  *httptest.Server
	kit  *oauthkit.Kit
	late *lateWriter
}

type cluster struct {
	as        *fakeAS
	instances []*instance
	errs      sync.Map // error text -> *atomic.Int64, for failure reports
}

// shared makes every instance of a cluster use the same StateClaimer and
// EndedSessions (nil: the kit's in-process defaults).
type shared struct {
	claimer oauthkit.StateClaimer
	ended   oauthkit.EndedSessions
}

// newCluster starts n instances on store, sharing what sh names.
func newCluster(t *testing.T, n int, store scs.Store, sh shared) *cluster {
	t.Helper()
	c := &cluster{as: newFakeAS(t)}
	hc := &http.Client{Transport: transport, CheckRedirect: noRedirect}
	for range n {
		sm := scs.New()
		sm.Store = store
		sm.Lifetime = 10 * time.Minute
		cfg := oauthkit.Config{
			Sessions:  sm,
			Providers: []oauthkit.Provider{{Client: fakeProvider(t, c.as, hc), RedirectURL: redirectURL}},
			LoginPath: "/auth/test/login",
			// Thousands of logins on a loaded 2-core machine: bounded by
			// the test's budget, not the default 10 s.
			ProviderTimeout: budget(t),
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				v, _ := c.errs.LoadOrStore(err.Error(), new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
				oauthkit.DefaultErrorHandler(w, r, err)
			},
		}
		cfg.StateClaimer = sh.claimer
		cfg.EndedSessions = sh.ended
		kit, err := oauthkit.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/auth/test/login", kit.LoginHandler("test"))
		mux.Handle("/auth/test/callback", kit.CallbackHandler("test"))
		mux.Handle("/profile", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, _ := kit.User(r.Context())
			_, _ = fmt.Fprintf(w, "%s|%s|%s", u.Provider, u.ID, u.Email)
		})))
		mux.Handle("/logout", kit.LogoutHandler())
		inst := &instance{kit: kit, late: newLateWriter()}
		mux.Handle("/late", inst.late.handler(sm))
		inst.srv = httptest.NewServer(sm.LoadAndSave(mux))
		t.Cleanup(inst.srv.Close)
		c.instances = append(c.instances, inst)
	}
	t.Cleanup(transport.CloseIdleConnections)
	return c
}

func (c *cluster) errorReport() string {
	var b strings.Builder
	c.errs.Range(func(k, v any) bool {
		fmt.Fprintf(&b, "\n  %d x %s", v.(*atomic.Int64).Load(), k)
		return true
	})
	return b.String()
}

func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: transport, Jar: jar, CheckRedirect: noRedirect}
}

func get(c *http.Client, u string, hdr http.Header) (*http.Response, string, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body), err
}

// startLogin runs /login on inst and the provider's approval for u, and
// returns the callback path+query the provider sends the browser to.
func (c *cluster) startLogin(b *http.Client, inst *instance, u fakeUser) (string, error) {
	res, _, err := get(b, inst.srv.URL+"/auth/test/login?next=%2Fprofile", nil)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusFound {
		return "", fmt.Errorf("login: status %d", res.StatusCode)
	}
	res, _, err = get(&http.Client{Transport: transport, CheckRedirect: noRedirect}, res.Header.Get("Location"),
		http.Header{"X-Fake-User": {u.ID + "|" + u.Email}})
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusFound {
		return "", fmt.Errorf("authorize: status %d", res.StatusCode)
	}
	cb, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		return "", err
	}
	return cb.RequestURI(), nil
}

// outcome of one spread login.
type outcome int

const (
	ok outcome = iota
	lost
	mixup
)

// spreadLogin logs user u in: /login on a, callback on b, protected page on c.
func (c *cluster) spreadLogin(a, b, p *instance, u fakeUser) (outcome, error) {
	br := newBrowser()
	cb, err := c.startLogin(br, a, u)
	if err != nil {
		return lost, err
	}
	res, _, err := get(br, b.srv.URL+cb, nil)
	if err != nil {
		return lost, err
	}
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/profile" {
		return lost, fmt.Errorf("callback: status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, body, err := get(br, p.srv.URL+"/profile", nil)
	if err != nil {
		return lost, err
	}
	if res.StatusCode != http.StatusOK {
		return lost, fmt.Errorf("profile: status %d", res.StatusCode)
	}
	if want := "test|" + u.ID + "|" + u.Email; body != want {
		return mixup, fmt.Errorf("profile shows %q, want %q", body, want)
	}
	return ok, nil
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q is not a positive integer", name, v)
	}
	return n
}

// soak runs n spread logins with a pool of workers and asserts 0 lost
// logins and 0 mix-ups.
func soak(t *testing.T, c *cluster, n, workers int) {
	t.Helper()
	var okN, lostN, mixN atomic.Int64
	var firstErr sync.Once
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				k := len(c.instances)
				u := fakeUser{ID: "u" + strconv.Itoa(i), Email: "user" + strconv.Itoa(i) + "@example.com"}
				o, err := c.spreadLogin(c.instances[i%k], c.instances[(i+1)%k], c.instances[(i+2)%k], u)
				switch o {
				case ok:
					okN.Add(1)
				case lost:
					lostN.Add(1)
				case mixup:
					mixN.Add(1)
				}
				if err != nil {
					firstErr.Do(func() { t.Errorf("login %d: %v", i, err) })
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d logins over %d instances with %d workers in %v (%.0f logins/s)",
		n, len(c.instances), workers, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	if lostN.Load() != 0 || mixN.Load() != 0 || okN.Load() != int64(n) {
		t.Fatalf("%d ok, %d lost, %d mix-ups out of %d; kit errors:%s", okN.Load(), lostN.Load(), mixN.Load(), n, c.errorReport())
	}
	if got := c.as.TokenHits.Load(); got != int64(n) {
		t.Fatalf("%d token requests for %d logins", got, n)
	}
}

// replayStorm sends one callback n times at once, spread over the
// instances, with the browser's cookie; it returns how many signed in.
func (c *cluster) replayStorm(t *testing.T, n int) (logins int64) {
	t.Helper()
	br := newBrowser()
	cb, err := c.startLogin(br, c.instances[0], fakeUser{ID: "victim", Email: "victim@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(c.instances[0].srv.URL)
	var cookie string
	for _, ck := range br.Jar.Cookies(u) {
		cookie = ck.Name + "=" + ck.Value
	}
	if cookie == "" {
		t.Fatal("no session cookie after /login")
	}
	var wins, refused, other atomic.Int64
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		inst := c.instances[i%len(c.instances)]
		wg.Go(func() {
			<-gate
			res, _, err := get(&http.Client{Transport: transport, CheckRedirect: noRedirect},
				inst.srv.URL+cb, http.Header{"Cookie": {cookie}})
			switch {
			case err != nil:
				other.Add(1)
			case res.StatusCode == http.StatusFound:
				wins.Add(1)
			case res.StatusCode == http.StatusBadRequest:
				refused.Add(1)
			default:
				other.Add(1)
			}
		})
	}
	close(gate)
	wg.Wait()
	t.Logf("%d replays: %d logins, %d refused (400), %d other; token requests %d (successful %d)",
		n, wins.Load(), refused.Load(), other.Load(), c.as.TokenHits.Load(), c.as.TokenOK.Load())
	if other.Load() != 0 {
		t.Fatalf("%d replays ended neither in a login nor in a 400; kit errors:%s", other.Load(), c.errorReport())
	}
	return wins.Load()
}

// --- Redis -------------------------------------------------------------

func redisPool(t *testing.T) *redis.Pool {
	t.Helper()
	raw := os.Getenv("REDIS_URL")
	if raw == "" {
		skip(t, "REDIS_URL unset and no redis-server to start")
	}
	return redisPoolURL(t, raw)
}

// redisPoolURL is a pool of connections to the Redis at raw, which must
// answer.
func redisPoolURL(t *testing.T, raw string) *redis.Pool {
	t.Helper()
	pool := &redis.Pool{
		MaxIdle:   64,
		MaxActive: 256,
		Wait:      true,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialURLContext(ctx, raw, redis.DialConnectTimeout(5*time.Second),
				redis.DialReadTimeout(5*time.Second), redis.DialWriteTimeout(5*time.Second))
		},
	}
	conn := pool.Get()
	_, err := conn.Do("PING")
	conn.Close()
	if err != nil {
		pool.Close()
		t.Fatalf("REDIS_URL=%s is set but Redis does not answer: %v", raw, err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	return pool
}

// redisPrefix is a key prefix unique to one test, removed afterwards.
func redisPrefix(t *testing.T, pool *redis.Pool) string {
	t.Helper()
	prefix := "oauthkit-itest:" + randomString()[:12] + ":"
	t.Cleanup(func() {
		conn := pool.Get()
		defer conn.Close()
		cursor := "0"
		for {
			vals, err := redis.Values(conn.Do("SCAN", cursor, "MATCH", prefix+"*", "COUNT", 1000))
			if err != nil {
				return
			}
			cursor, _ = redis.String(vals[0], nil)
			keys, _ := redis.Strings(vals[1], nil)
			for _, k := range keys {
				_, _ = conn.Do("DEL", k)
			}
			if cursor == "0" {
				return
			}
		}
	})
	return prefix
}

// TestRedisSpreadLogins is G11: 3 instances on one Redis, each login spread
// A -> B -> C, KIT_SOAK_LOGINS (default 3,000) logins with 32 workers:
// 0 lost, 0 mix-ups, exactly one code exchange per login.
func TestRedisSpreadLogins(t *testing.T) {
	pool := redisPool(t)
	prefix := redisPrefix(t, pool)
	c := newCluster(t, 3, redisstore.NewWithPrefix(pool, prefix+"session:"),
		shared{claimer: &redisclaim.Claimer{Pool: pool, Prefix: prefix + "state:"}})
	soak(t, c, envInt(t, "KIT_SOAK_LOGINS", 3000), 32)
}

// TestRedisReplayAcrossInstances is G5: 300 concurrent replays of one
// callback spread over 3 instances sharing Redis.
func TestRedisReplayAcrossInstances(t *testing.T) {
	pool := redisPool(t)
	t.Run("in-process claimers", func(t *testing.T) {
		// Each instance's default claimer lets at most one replay through,
		// so up to 3 exchanges reach the provider; its single-use codes
		// keep it to at most one login.
		prefix := redisPrefix(t, pool)
		c := newCluster(t, 3, redisstore.NewWithPrefix(pool, prefix+"session:"), shared{})
		logins := c.replayStorm(t, 300)
		if logins > 1 {
			t.Fatalf("%d logins from one callback", logins)
		}
		if n := c.as.TokenHits.Load(); n > 3 {
			t.Fatalf("%d token requests with 3 in-process claimers", n)
		}
	})
	t.Run("redis claimer", func(t *testing.T) {
		prefix := redisPrefix(t, pool)
		c := newCluster(t, 3, redisstore.NewWithPrefix(pool, prefix+"session:"),
			shared{claimer: &redisclaim.Claimer{Pool: pool, Prefix: prefix + "state:"}})
		logins := c.replayStorm(t, 300)
		if logins != 1 {
			t.Fatalf("%d logins from one callback, want exactly 1", logins)
		}
		if n := c.as.TokenHits.Load(); n != 1 {
			t.Fatalf("%d token requests, want exactly 1", n)
		}
	})
}

// TestRedisStateClaimer checks redisclaim.Claimer alone: one winner among
// concurrent claims, expiry after the TTL.
func TestRedisStateClaimer(t *testing.T) {
	pool := redisPool(t)
	cl := &redisclaim.Claimer{Pool: pool, Prefix: redisPrefix(t, pool)}
	ctx := context.Background()
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			won, err := cl.Claim(ctx, "state-1", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if won {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners, want 1", wins.Load())
	}
	won, err := cl.Claim(ctx, "state-2", 50*time.Millisecond)
	if err != nil || !won {
		t.Fatalf("fresh state: %v %v", won, err)
	}
	time.Sleep(150 * time.Millisecond)
	won, err = cl.Claim(ctx, "state-2", time.Minute)
	if err != nil || !won {
		t.Fatalf("claim after the TTL: %v %v", won, err)
	}
}

// --- PostgreSQL --------------------------------------------------------

const sessionsTable = `CREATE TABLE IF NOT EXISTS sessions (
	token TEXT PRIMARY KEY,
	data BYTEA NOT NULL,
	expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);`

func postgres(t *testing.T) *sql.DB {
	t.Helper()
	raw := os.Getenv("DATABASE_URL")
	if raw == "" {
		skip(t, "DATABASE_URL unset and no PostgreSQL to start")
	}
	db, err := sql.Open("postgres", raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(24)
	db.SetMaxIdleConns(24)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, sessionsTable); err != nil {
		t.Fatalf("DATABASE_URL is set but the sessions table cannot be created: %v", err)
	}
	if _, err := db.ExecContext(ctx, pgclaim.Schema); err != nil {
		t.Fatalf("DATABASE_URL is set but pgclaim's table cannot be created: %v", err)
	}
	return db
}

// closedPostgres is a closed *sql.DB: every query fails without a server
// (sql.Open does not connect), for the unreachable-store tests.
func closedPostgres(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	return db
}

// TestPostgresSpreadLogins is G11 on PostgreSQL: KIT_SOAK_PG_LOGINS (default
// 300) spread logins over 3 instances, 0 lost, 0 mix-ups.
func TestPostgresSpreadLogins(t *testing.T) {
	db := postgres(t)
	c := newCluster(t, 3, postgresstore.NewWithCleanupInterval(db, 0), shared{})
	soak(t, c, envInt(t, "KIT_SOAK_PG_LOGINS", 300), 16)
}

// TestPostgresReplayAcrossInstances is G5 on PostgreSQL with the kit's
// in-process claimers: at most one login.
func TestPostgresReplayAcrossInstances(t *testing.T) {
	db := postgres(t)
	c := newCluster(t, 3, postgresstore.NewWithCleanupInterval(db, 0), shared{})
	if logins := c.replayStorm(t, 300); logins > 1 {
		t.Fatalf("%d logins from one callback", logins)
	}
	if n := c.as.TokenHits.Load(); n > 3 {
		t.Fatalf("%d token requests with 3 in-process claimers", n)
	}
}
