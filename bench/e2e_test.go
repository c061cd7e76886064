package bench

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gomodule/redigo/redis"
)

// BenchmarkEndToEnd: complete logins through the whole flow over loopback
// HTTP, from 8 parallel browsers (b.RunParallel, see SetParallelism): GET
// /auth/bench/login?next=/profile, 302 to the fake /authorize, 302 to the
// callback, 302 to /profile behind RequireAuth, 200 with the user id. Each
// op is one login by a new browser (fresh cookie jar).
func BenchmarkEndToEnd(b *testing.B) { endToEnd().bench(b) }

func endToEnd() work {
	return work{name: "EndToEnd", contenders: []contender{
		{"oauthkit-memstore", func(b *testing.B) { runEndToEnd(b, newMemstore()) }},
		{"oauthkit-redis", runEndToEndRedis},
	}}
}

func runEndToEndRedis(b *testing.B) {
	raw := os.Getenv("REDIS_URL")
	if raw == "" {
		b.Skip("REDIS_URL is not set (e.g. REDIS_URL=redis://127.0.0.1:6390/0): skipping the Redis store")
	}
	pool := &redis.Pool{
		MaxIdle:     64,
		IdleTimeout: time.Minute,
		Dial:        func() (redis.Conn, error) { return redis.DialURL(raw) },
	}
	b.Cleanup(func() { _ = pool.Close() })
	conn := pool.Get()
	_, err := conn.Do("PING")
	_ = conn.Close()
	if err != nil {
		b.Fatalf("REDIS_URL=%s: %v", raw, err)
	}
	prefix := "oauthkit-bench:" + time.Now().Format("150405.000000") + ":"
	b.Cleanup(func() { deleteKeys(b, pool, prefix) })
	runEndToEnd(b, redisstore.NewWithPrefix(pool, prefix))
}

func runEndToEnd(b *testing.B, store scs.Store) {
	app := httptest.NewUnstartedServer(nil)
	a := newKitApp(b, store, "http://"+app.Listener.Addr().String()+"/auth/bench/callback")
	mux := http.NewServeMux()
	mux.Handle("GET /auth/bench/login", a.kit.LoginHandler("bench"))
	mux.Handle("GET /auth/bench/callback", a.kit.CallbackHandler("bench"))
	mux.Handle("GET /profile", a.kit.RequireAuth(profile(a.kit)))
	app.Config.Handler = a.sm.LoadAndSave(mux)
	app.Start()
	b.Cleanup(app.Close)

	// One transport for the browsers, to the app and the provider alike.
	tr := fp.httpClient().Transport
	start := app.URL + "/auth/bench/login?next=/profile"
	login := func() error {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Transport: tr, Jar: jar}
		res, err := c.Get(start)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/profile" || string(body) != string(pageBody) {
			return &httpStatusError{res.StatusCode}
		}
		return nil
	}
	if err := login(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	// 8 browsers at once on this 2-core machine (the setting):
	// RunParallel starts parallelism × GOMAXPROCS goroutines.
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := login(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// deleteKeys removes the sessions this run left in Redis.
func deleteKeys(tb testing.TB, pool *redis.Pool, prefix string) {
	conn := pool.Get()
	defer conn.Close()
	cursor := "0"
	for {
		vals, err := redis.Values(conn.Do("SCAN", cursor, "MATCH", prefix+"*", "COUNT", 1000))
		if err != nil {
			tb.Logf("redis cleanup: %v", err)
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
}

// BenchmarkPending10k: memory for 10,000 pending logins (10,000 browsers
// that started a login and have not come back), with the default memstore.
// Each op starts the 10,000 logins on a fresh store and reports:
// peak-heap-MB, the highest live+garbage heap above the starting point
// (sampled every 250 logins); retained-MB, the heap still live afterwards
// (store + kit), and retained-B/pending. The peers keep nothing server-side
// for a pending login (their state-B goes to the browser).
func BenchmarkPending10k(b *testing.B) {
	const n = 10_000
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	heap := func() float64 { metrics.Read(sample); return float64(sample[0].Value.Uint64()) }
	var peak, retained float64
	req := newRequest("/auth/bench/login?next=/profile")
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		base := heap()
		b.StartTimer()
		a := newKitApp(b, newMemstore(), redirectURL)
		w := newSink()
		top := base
		for i := range n {
			if err := serve(a.login, w, req, http.StatusFound); err != nil {
				b.Fatal(err)
			}
			if i%250 == 0 {
				top = max(top, heap())
			}
		}
		b.StopTimer()
		top = max(top, heap())
		runtime.GC()
		peak, retained = top-base, heap()-base
		runtime.KeepAlive(a)
		b.StartTimer()
	}
	b.ReportMetric(peak/(1<<20), "peak-heap-MB")
	b.ReportMetric(retained/(1<<20), "retained-MB")
	b.ReportMetric(retained/n, "retained-B/pending")
}
