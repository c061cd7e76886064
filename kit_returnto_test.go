package oauthkit_test

// Return-to values (security.md item 61, catalogue rows 31-37, goals G1 and
// G2): the oauth2-proxy open-redirect corpus, the Go-specific extras and the
// legitimate paths, each checked on SafeReturnTo and end to end through a
// real login, with the item-61 oracle applied to every emitted Location.

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// openRedirects returns the corpus lines, without the empty first line.
func openRedirects(tb testing.TB) []string {
	tb.Helper()
	f, err := os.Open("testdata/openredirects.txt")
	require.NoError(tb, err)
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	require.NoError(tb, s.Err())
	require.Len(tb, lines, 559)
	require.Empty(tb, lines[0])
	return lines[1:]
}

// redirectOracle is security.md item 61's test oracle for an emitted
// Location: "/" or a local path whose second byte is neither "/" nor "\",
// with no "\" and no control byte, that url.Parse sees without scheme or
// host.
func redirectOracle(loc string) error {
	if loc == "/" {
		return nil
	}
	switch {
	case !strings.HasPrefix(loc, "/"):
		return errors.New("does not start with /")
	case len(loc) > 1 && (loc[1] == '/' || loc[1] == '\\'):
		return errors.New("second byte is / or \\")
	case strings.Contains(loc, "\\"):
		return errors.New("contains \\")
	case strings.ContainsFunc(loc, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("contains a control byte")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	if u.Scheme != "" || u.Host != "" {
		return fmt.Errorf("scheme %q host %q", u.Scheme, u.Host)
	}
	return nil
}

// legitimate are local paths that must come back byte for byte (row 37, G2).
var legitimate = []string{
	"/",
	"/dashboard",
	"/dashboard?tab=1",
	"/a%20b",
	"/x/y/z",
	"/search?q=a+b&page=2",
	"/caf%C3%A9",
	"/%E6%97%A5%E6%9C%AC/%E8%AA%9E",
	"/wiki/%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0",
	"/users/42/edit",
	"/a-b_c.d~e",
	"/trailing/slash/",
	"/items?sort=desc&filter=a%26b",
	"/q?x=%2F",
	"/files/report.v2.pdf",
	"/settings/profile?section=email&highlight=true",
	"/p/a:b@c",
	"/search?q=%E2%9C%93",
	"/a/b?x=1&x=2",
	"/api-docs#section", // the fragment is dropped, below
	"/emoji/%F0%9F%98%80",
	"/~user/page",
	"/path/..hidden",
}

// wantKept is what SafeReturnTo returns for a legitimate path.
func wantKept(p string) string {
	p, _, _ = strings.Cut(p, "#")
	return p
}

func TestSafeReturnToRejectsOpenRedirectCorpus(t *testing.T) {
	for _, line := range openRedirects(t) {
		out, ok := oauthkit.SafeReturnTo(line)
		assert.False(t, ok, "%q accepted as %q", line, out)
		assert.Empty(t, out)
	}
}

func TestSafeReturnToKeepsLocalPaths(t *testing.T) {
	require.GreaterOrEqual(t, len(legitimate), 20)
	for _, p := range legitimate {
		out, ok := oauthkit.SafeReturnTo(p)
		assert.True(t, ok, p)
		assert.Equal(t, wantKept(p), out)
		assert.NoError(t, redirectOracle(out), p)
	}
	// A raw (unescaped) unicode path is kept, re-serialised escaped.
	out, ok := oauthkit.SafeReturnTo("/café?x=ü")
	assert.True(t, ok)
	assert.Equal(t, "/caf%C3%A9?x=ü", out)
	for _, empty := range []string{"", "#frag"} {
		_, ok := oauthkit.SafeReturnTo(empty)
		assert.False(t, ok, "%q falls back to the default", empty)
	}
}

// Rows 31-36: each must end on the default "/" (the /%2F%2F and /%5C forms
// of row 35 may be kept escaped; the kit refuses them, which is stricter).
var returnToRows = map[int][]string{
	31: {"//evil.com", "///evil.com", "////evil.com/", "//evil.com@app.example"},
	32: {`/\evil.com`, `/\/evil.com`, `\/\/evil.com/`, `\\evil.com`},
	33: {"https://evil.com", "HTTPS://evil.com", "https:evil.com", "http://app.example@evil.com", "http://app.example.evil.com/"},
	34: {"javascript:alert(1)", "JaVaScRiPt:alert(1)", "java%0ascript:alert(1)", "java\nscript:alert(1)", "data:text/html;base64,PHNjcmlwdD4="},
	35: {"%2F%2Fevil.com", "%252F%252Fevil.com", "/%2F%2Fevil.com", "/%5Cevil.com", "/%09/evil.com", `/a/../\evil.com`, `/./\evil.com`, "//foo//example.com", "/a/..//evil.com", "/%2e%2e//evil.com"},
	36: {"/\t/evil.com", "/\n/evil.com", "/\r/evil.com", "/ /evil.com", "/\v/evil.com", "/%00", "/a%0d%0aSet-Cookie:%20x=y", "/\x00", "/a\r\nSet-Cookie: x=y", "/\x7f/evil.com"},
}

func TestReturnToCatalogueRows(t *testing.T) {
	a := newApp(t)
	for row, values := range returnToRows {
		for _, v := range values {
			out, ok := oauthkit.SafeReturnTo(v)
			assert.False(t, ok, "row %d: %q accepted as %q", row, v, out)

			// As /login?next=<value>, URL-encoded once.
			b := a.browser()
			res := a.login(b, "/auth/test/login?next="+url.QueryEscape(v))
			require.Equal(t, http.StatusFound, res.StatusCode, "row %d %q: %v", row, v, a.lastErr())
			assert.Equal(t, "/", res.Header.Get("Location"), "row %d %q", row, v)
			for _, c := range res.Header.Values("Set-Cookie") {
				assert.False(t, strings.HasPrefix(c, "x="), "row %d %q: injected header", row, v)
			}

			// As the path a RequireAuth redirect captures.
			a.requireAuthCaptures(t, v, "/")
		}
	}
	// Row 37: valid paths come back byte for byte; empty or missing → "/".
	for _, p := range []string{"/dashboard?tab=1", "/a%20b"} {
		res := a.login(a.browser(), "/auth/test/login?next="+url.QueryEscape(p))
		assert.Equal(t, p, res.Header.Get("Location"))
		a.requireAuthCaptures(t, p, p)
	}
	for _, path := range []string{"/auth/test/login?next=", "/auth/test/login", "/auth/test/login?next=%2F"} {
		res := a.login(a.browser(), path)
		assert.Equal(t, "/", res.Header.Get("Location"), path)
	}
}

// requireAuthCaptures sends an anonymous GET for target to RequireAuth, as a
// server would parse the request line, follows its redirect through a whole
// login and asserts that the final Location is want and that every emitted
// Location passes the oracle. Targets a server refuses to parse (control
// characters) never reach the kit and are skipped.
func (a *app) requireAuthCaptures(t *testing.T, target, want string) {
	t.Helper()
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.URL, req.RequestURI = u, target
	rec := httptest.NewRecorder()
	a.kit.RequireAuth(http.NotFoundHandler()).ServeHTTP(rec, a.withSession(req))
	require.Equal(t, http.StatusFound, rec.Code, target)
	loc := rec.Header().Get("Location")
	require.True(t, strings.HasPrefix(loc, "/auth/test/login"), loc)
	lu, err := url.Parse(loc)
	require.NoError(t, err)
	if next := lu.Query().Get("next"); next != "" {
		assert.NoError(t, redirectOracle(next), "%q captured as next=%q", target, next)
	}
	res := a.login(a.browser(), lu.RequestURI())
	require.Equal(t, http.StatusFound, res.StatusCode)
	assert.Equal(t, want, res.Header.Get("Location"), "RequireAuth captured %q", target)
}

// withSession loads an empty session into req's context, as LoadAndSave does.
func (a *app) withSession(req *http.Request) *http.Request {
	ctx, err := a.sm.Load(req.Context(), "")
	require.NoError(a.t, err)
	return req.WithContext(ctx)
}

// The whole corpus end to end: /auth/test/login?next=<line>, then the
// login completes and lands exactly on the default "/".
func TestOpenRedirectCorpusEndToEnd(t *testing.T) {
	a := newApp(t)
	lines := openRedirects(t)
	type result struct {
		line, loc string
		err       error
	}
	work := make(chan string)
	results := make(chan result, len(lines))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for line := range work {
				res, err := a.tryLogin(a.browser(), "/auth/test/login?next="+url.QueryEscape(line), fakeUser{})
				r := result{line: line, err: err}
				if err == nil {
					r.loc = res.Header.Get("Location")
					if res.StatusCode != http.StatusFound {
						r.err = fmt.Errorf("callback status %d", res.StatusCode)
					}
				}
				results <- r
			}
		})
	}
	for _, l := range lines {
		work <- l
	}
	close(work)
	wg.Wait()
	close(results)
	n := 0
	for r := range results {
		n++
		if !assert.NoError(t, r.err, "%q", r.line) {
			continue
		}
		assert.Equal(t, "/", r.loc, "%q", r.line)
		assert.NoError(t, redirectOracle(r.loc), "%q", r.line)
	}
	assert.Equal(t, 558, n)
	assert.EqualValues(t, 558, a.as.TokenHits.Load())
	assert.Zero(t, a.drainErrs())
}

func TestLegitimateReturnToEndToEnd(t *testing.T) {
	a := newApp(t)
	for _, p := range legitimate {
		res := a.login(a.browser(), "/auth/test/login?next="+url.QueryEscape(p))
		require.Equal(t, http.StatusFound, res.StatusCode, p)
		loc := res.Header.Get("Location")
		assert.Equal(t, wantKept(p), loc)
		assert.NoError(t, redirectOracle(loc), p)
	}
}

func FuzzSafeReturnTo(f *testing.F) {
	for _, line := range openRedirects(f) {
		f.Add(line)
	}
	for _, p := range legitimate {
		f.Add(p)
	}
	for _, vs := range returnToRows {
		for _, v := range vs {
			f.Add(v)
		}
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, ok := oauthkit.SafeReturnTo(raw)
		if !ok {
			if out != "" {
				t.Fatalf("rejected %q but returned %q", raw, out)
			}
			return
		}
		if err := redirectOracle(out); err != nil {
			t.Fatalf("SafeReturnTo(%q) = %q: %v", raw, out, err)
		}
		if again, ok := oauthkit.SafeReturnTo(out); !ok || again != out {
			t.Fatalf("SafeReturnTo(%q) = %q is not a fixed point (%q, %v)", raw, out, again, ok)
		}
	})
}
