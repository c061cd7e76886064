package integration

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// TestMain starts the servers the environment does not name: a Redis when
// REDIS_URL is unset and redis-server is installed, a throwaway PostgreSQL
// cluster when DATABASE_URL is unset and initdb/pg_ctl are. After the run it
// prints one line saying which servers were used and what was skipped and
// why, so a run whose server tests all skipped says so.
func TestMain(m *testing.M) {
	var stops []func()
	servers := []string{}
	if os.Getenv("REDIS_URL") != "" {
		servers = append(servers, "Redis from REDIS_URL")
	} else if url, stop, err := startRedis(); err != nil {
		servers = append(servers, "Redis: none ("+err.Error()+")")
	} else {
		stops = append(stops, stop)
		os.Setenv("REDIS_URL", url)
		servers = append(servers, "Redis: own server ("+url+")")
	}
	if os.Getenv("DATABASE_URL") != "" {
		servers = append(servers, "PostgreSQL from DATABASE_URL")
	} else if url, stop, err := startPostgres(); err != nil {
		servers = append(servers, "PostgreSQL: none ("+err.Error()+")")
	} else {
		stops = append(stops, stop)
		os.Setenv("DATABASE_URL", url)
		servers = append(servers, "PostgreSQL: own cluster ("+url+")")
	}
	code := m.Run()
	for _, stop := range stops {
		stop()
	}
	fmt.Printf("integration: %s; %s\n", strings.Join(servers, "; "), skipped.summary())
	os.Exit(code)
}

// skipped counts the tests skipped for want of a server, by reason.
var skipped skipLog

type skipLog struct {
	mu      sync.Mutex
	reasons map[string]int
}

// skip skips t for reason and counts it for the summary line.
func skip(t *testing.T, reason string) {
	t.Helper()
	skipped.mu.Lock()
	if skipped.reasons == nil {
		skipped.reasons = map[string]int{}
	}
	skipped.reasons[reason]++
	skipped.mu.Unlock()
	t.Skip(reason)
}

func (s *skipLog) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reasons) == 0 {
		return "no test skipped"
	}
	var parts []string
	for r, n := range s.reasons {
		parts = append(parts, fmt.Sprintf("%d skipped: %s", n, r))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// freePort is a loopback port nothing listens on (the usual race with
// another process taking it first is accepted: the start then fails loudly).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls ready until it succeeds or a minute passes: a generous
// bound for a server's start-up, which no test's outcome depends on.
func waitFor(ready func() error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := ready()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startRedis() (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("REDIS_URL unset and no redis-server on PATH")
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "oauthkit-redis-")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("redis-server: %v", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); os.RemoveAll(dir) }
	url := "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"
	if err := waitFor(func() error {
		c, err := redis.DialURL(url)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Do("PING")
		return err
	}); err != nil {
		stop()
		return "", nil, fmt.Errorf("own redis-server does not answer: %v", err)
	}
	return url, stop, nil
}

// pgTool finds a PostgreSQL server program on PATH or in Debian's
// /usr/lib/postgresql/<version>/bin.
func pgTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) == 0 {
		return "", fmt.Errorf("DATABASE_URL unset and no %s on PATH or in /usr/lib/postgresql/*/bin", name)
	}
	sort.Strings(matches)
	return matches[len(matches)-1], nil
}

func startPostgres() (string, func(), error) {
	initdb, err := pgTool("initdb")
	if err != nil {
		return "", nil, err
	}
	pgctl, err := pgTool("pg_ctl")
	if err != nil {
		return "", nil, err
	}
	// PostgreSQL refuses to run as root: as root (CI), the cluster runs as
	// the postgres system user.
	var as []string
	dir, err := os.MkdirTemp("", "oauthkit-pg-")
	if err != nil {
		return "", nil, err
	}
	if os.Geteuid() == 0 {
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("running as root and no runuser to start PostgreSQL as postgres")
		}
		pg, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("running as root and no postgres user to start PostgreSQL as")
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
		as = []string{runuser, "-u", "postgres", "--"}
	}
	run := func(args ...string) error {
		full := append(append([]string{}, as...), args...)
		out, err := exec.Command(full[0], full[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", filepath.Base(args[0]), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	data := filepath.Join(dir, "data")
	if err := run(initdb, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off", port, dir)
	if err := run(pgctl, "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "120", "start"); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop := func() {
		_ = run(pgctl, "-D", data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	}
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := waitFor(func() error {
		db, err := sql.Open("postgres", url)
		if err != nil {
			return err
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return db.PingContext(ctx)
	}); err != nil {
		stop()
		return "", nil, fmt.Errorf("own PostgreSQL does not answer: %v", err)
	}
	return url, stop, nil
}
