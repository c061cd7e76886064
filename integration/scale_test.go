package integration

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gomodule/redigo/redis"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/pgclaim"
	"github.com/oauthkit/oauthkit/redisclaim"
)

// Provider tokens at scale: three kit instances share a session store,
// TokenStore, RefreshLocks, EndedSessions, SessionIndex and StateClaimer
// (Redis, then PostgreSQL), in front of ory/fosite, which rotates refresh
// tokens and revokes the whole grant when an old one comes back. One
// browser's session is hit by 3 x 50 concurrent requests, each calling
// Kit.Token, plus a background job's TokenFor, just after its access token
// expired: exactly one refresh may reach fosite, or the grant dies.

// scaleClient is the kit's registration at fosite.
var scaleClient = fositeClient{ID: "kit-scale", Secret: fositeSecret, Method: "client_secret_basic"}

// scaleProvider is the kit's name for fosite.
const scaleProvider = "fosite"

// skewClock is the clock every kit of a cluster shares (Config.Now): the
// real time plus an offset the test moves forward to expire tokens at once.
type skewClock struct{ offset atomic.Int64 }

func (c *skewClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// expireEverything moves the clock past the expiry of every access token
// fosite has issued (they live an hour).
func (c *skewClock) expireEverything() { c.offset.Add(int64(2 * time.Hour)) }

// notify tells a waitUntil that something changed, without blocking.
func notify(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// tokenKeys are TokenKeys encrypting under current, decrypting under ids;
// each id's key is 32 copies of its last character.
func tokenKeys(t *testing.T, current string, ids ...string) *oauthkit.TokenKeys {
	t.Helper()
	keys := map[string][]byte{}
	for _, id := range ids {
		keys[id] = bytes.Repeat([]byte(id[len(id)-1:]), 32)
	}
	tk, err := oauthkit.NewTokenKeys(current, keys)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// countingLocks is one kit's view of the shared RefreshLocks, counted.
type countingLocks struct {
	oauthkit.RefreshLocks
	changed                            chan<- struct{}
	won, refused, extended, extendLost atomic.Int64
}

func (l *countingLocks) Acquire(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	ok, err := l.RefreshLocks.Acquire(ctx, key, owner, lease)
	if err == nil {
		if ok {
			l.won.Add(1)
		} else {
			l.refused.Add(1)
		}
	}
	notify(l.changed)
	return ok, err
}

func (l *countingLocks) Extend(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	ok, err := l.RefreshLocks.Extend(ctx, key, owner, lease)
	if ok && err == nil {
		l.extended.Add(1)
	} else {
		l.extendLost.Add(1)
	}
	notify(l.changed)
	return ok, err
}

// rawValue is one value read from a store behind the kit's back.
type rawValue struct {
	where string
	b     []byte
}

// scaleBackend is what the kits of a cluster share, and raw access to it.
type scaleBackend struct {
	store   scs.Store
	claimer oauthkit.StateClaimer
	ended   oauthkit.EndedSessions
	index   oauthkit.SessionIndex
	tokens  oauthkit.TokenStore
	locks   oauthkit.RefreshLocks
	// grants reads every record of the TokenStore.
	grants func(t *testing.T) [][]byte
	// session reads the session record under the session token.
	session func(t *testing.T, token string) []byte
	// dump reads every value the backend holds.
	dump func(t *testing.T) []rawValue
}

type scaleInstance struct {
	srv   *httptest.Server
	kit   *oauthkit.Kit
	locks *countingLocks
}

type scaleCluster struct {
	as      *fositeAS
	be      scaleBackend
	clock   *skewClock
	lease   time.Duration
	changed chan struct{}

	instances []*scaleInstance
	// job is a kit that never serves the user, as a background worker's.
	job     *oauthkit.Kit
	jobLock *countingLocks
	retired []*countingLocks // of the kits build replaced

	token  string // the browser's session token (its cookie value)
	cookie string // the Cookie header carrying it
	userID string

	seenMu sync.Mutex
	seen   map[string]bool // access tokens the instances answered with
	errs   sync.Map        // kit error text -> *atomic.Int64
}

// newScaleCluster starts fosite and three instances on be with keys (nil:
// tokens stored in the clear) and refresh lease (0: the default).
func newScaleCluster(t *testing.T, be scaleBackend, keys *oauthkit.TokenKeys, lease time.Duration) *scaleCluster {
	t.Helper()
	c := &scaleCluster{
		as: newFositeAS(t, []fositeClient{scaleClient}), be: be, clock: &skewClock{},
		lease: lease, changed: make(chan struct{}, 1), seen: map[string]bool{},
	}
	c.build(t, keys)
	return c
}

// build replaces every kit of the cluster with new ones using keys, as a
// deploy does; the stores, and so the users' sessions, stay.
func (c *scaleCluster) build(t *testing.T, keys *oauthkit.TokenKeys) {
	t.Helper()
	for _, inst := range c.instances {
		inst.srv.Close()
	}
	c.retired = append(c.retired, c.allLocks()...)
	c.instances = nil
	for range 3 {
		kit, sm, locks := c.newKit(t, keys)
		mux := http.NewServeMux()
		mux.Handle("/login", kit.LoginHandler(scaleProvider))
		mux.Handle("/callback", kit.CallbackHandler(scaleProvider))
		mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
			tok, err := kit.Token(r.Context())
			if err != nil {
				c.countErr(err)
				oauthkit.DefaultErrorHandler(w, r, err)
				return
			}
			_, _ = io.WriteString(w, tok.AccessToken)
		})
		mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
			u, ok := kit.User(r.Context())
			if !ok {
				http.Error(w, "anonymous", http.StatusUnauthorized)
				return
			}
			_, _ = io.WriteString(w, u.UserID)
		})
		inst := &scaleInstance{srv: httptest.NewServer(sm.LoadAndSave(mux)), kit: kit, locks: locks}
		t.Cleanup(inst.srv.Close)
		c.instances = append(c.instances, inst)
	}
	c.job, _, c.jobLock = c.newKit(t, keys)
	t.Cleanup(transport.CloseIdleConnections)
}

func (c *scaleCluster) newKit(t *testing.T, keys *oauthkit.TokenKeys) (*oauthkit.Kit, *scs.SessionManager, *countingLocks) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), budget(t))
	defer cancel()
	oc, err := client.DiscoverOpenID(ctx, c.as.srv.URL, scaleClient.ID, scaleClient.Secret,
		client.WithTokenEndpointAuthMethod(client.ClientSecretBasic), offline, client.WithName(scaleProvider))
	if err != nil {
		t.Fatal(err)
	}
	sm := scs.New()
	sm.Store = c.be.store
	sm.Lifetime = 10 * time.Minute
	locks := &countingLocks{RefreshLocks: c.be.locks, changed: c.changed}
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:        sm,
		Providers:       []oauthkit.Provider{{Client: oc, RedirectURL: fositeRedirectURI}},
		StateClaimer:    c.be.claimer,
		EndedSessions:   c.be.ended,
		SessionIndex:    c.be.index,
		TokenStore:      c.be.tokens,
		RefreshLocks:    locks,
		TokenKeys:       keys,
		RefreshLease:    c.lease,
		ProviderTimeout: budget(t),
		Now:             c.clock.Now,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			c.countErr(err)
			oauthkit.DefaultErrorHandler(w, r, err)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return kit, sm, locks
}

func (c *scaleCluster) countErr(err error) {
	v, _ := c.errs.LoadOrStore(err.Error(), new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (c *scaleCluster) errorReport() string {
	var b strings.Builder
	c.errs.Range(func(k, v any) bool {
		fmt.Fprintf(&b, "\n  %d x %s", v.(*atomic.Int64).Load(), k)
		return true
	})
	return b.String()
}

// login signs fosite's user in with a new browser: /login on A, fosite's
// authorization endpoint, the callback on B, who the session is on C.
func (c *scaleCluster) login(t *testing.T) {
	t.Helper()
	b := newBrowser()
	a, bi, ci := c.instances[0], c.instances[1], c.instances[2]
	res, _, err := get(b, a.srv.URL+"/login", nil)
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("login: %v %v", res, err)
	}
	authURL := res.Header.Get("Location")
	au, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	state := au.Query().Get("state")
	code := c.as.authorizeCode(t, authURL, state)
	res, _, err = get(b, bi.srv.URL+"/callback?"+url.Values{"code": {code}, "state": {state}}.Encode(), nil)
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("callback: %v %v; kit errors:%s", res, err, c.errorReport())
	}
	u, _ := url.Parse(bi.srv.URL)
	for _, ck := range b.Jar.Cookies(u) {
		if ck.Name == "session" {
			c.token, c.cookie = ck.Value, ck.Name+"="+ck.Value
		}
	}
	if c.token == "" {
		t.Fatal("no session cookie after the callback")
	}
	c.userID = c.me(t, ci)
	if c.userID == "" {
		t.Fatal("not signed in after the callback")
	}
}

// me is the user id the session shows on inst, "" when anonymous.
func (c *scaleCluster) me(t *testing.T, inst *scaleInstance) string {
	t.Helper()
	res, body, err := get(&http.Client{Transport: transport}, inst.srv.URL+"/me", http.Header{"Cookie": {c.cookie}})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		return ""
	}
	return body
}

// burst is the outcome of one wave of concurrent calls.
type burst struct {
	statuses map[int]int    // HTTP status -> requests
	tokens   map[string]int // access token -> calls answered with it
	jobErrs  []error        // TokenFor failures
	calls    int            // HTTP requests and TokenFor calls
	jobs     int            // TokenFor calls
}

// fire sends perInstance concurrent GET /token with the browser's cookie to
// every instance and, at the same moment, jobs concurrent TokenFor calls on
// the job kit.
func (c *scaleCluster) fire(t *testing.T, perInstance, jobs int) burst {
	t.Helper()
	var mu sync.Mutex
	out := burst{statuses: map[int]int{}, tokens: map[string]int{}, calls: perInstance*len(c.instances) + jobs, jobs: jobs}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for _, inst := range c.instances {
		for range perInstance {
			wg.Go(func() {
				<-gate
				res, body, err := get(&http.Client{Transport: transport, CheckRedirect: noRedirect},
					inst.srv.URL+"/token", http.Header{"Cookie": {c.cookie}})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					out.statuses[0]++
				case res.StatusCode == http.StatusOK:
					out.statuses[res.StatusCode]++
					out.tokens[body]++
				default:
					out.statuses[res.StatusCode]++
				}
			})
		}
	}
	for range jobs {
		wg.Go(func() {
			<-gate
			ctx, cancel := context.WithTimeout(context.Background(), budget(t))
			defer cancel()
			tok, err := c.job.TokenFor(ctx, c.userID, scaleProvider)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out.jobErrs = append(out.jobErrs, err)
				return
			}
			out.tokens[tok.AccessToken]++
		})
	}
	close(gate)
	wg.Wait()
	c.seenMu.Lock()
	for tok := range out.tokens {
		c.seen[tok] = true
	}
	c.seenMu.Unlock()
	return out
}

// one checks that every call of b succeeded with one and the same access
// token, and returns it.
func (c *scaleCluster) one(t *testing.T, b burst) string {
	t.Helper()
	if len(b.jobErrs) != 0 || len(b.statuses) != 1 || b.statuses[http.StatusOK] != b.calls-b.jobs {
		t.Fatalf("statuses %v, job errors %v; kit errors:%s", b.statuses, b.jobErrs, c.errorReport())
	}
	if len(b.tokens) != 1 {
		t.Fatalf("%d different access tokens in one burst, want 1", len(b.tokens))
	}
	for tok, n := range b.tokens {
		if n != b.calls {
			t.Fatalf("%d of %d calls answered with the token", n, b.calls)
		}
		return tok
	}
	return ""
}

// round expires the access token, fires 3 x 50 requests and 10 TokenFor
// calls, and checks that exactly one refresh reached fosite, everyone got
// its new token, and fosite still honours the grant. It returns the token.
func (c *scaleCluster) round(t *testing.T, prev string) string {
	t.Helper()
	c.clock.expireEverything()
	before := c.as.refreshHits.Load()
	b := c.fire(t, 50, 10)
	if n := c.as.refreshHits.Load() - before; n != 1 {
		t.Fatalf("%d refresh requests reached fosite, want exactly 1; statuses %v; kit errors:%s", n, b.statuses, c.errorReport())
	}
	tok := c.one(t, b)
	if tok == prev {
		t.Fatal("the expired access token was handed out again")
	}
	if !c.as.active(t, scaleClient, tok) {
		t.Fatal("fosite does not accept the new access token: the grant was revoked")
	}
	return tok
}

// current reads the session's access token on every instance without a
// refresh, checking that they agree.
func (c *scaleCluster) current(t *testing.T) string {
	t.Helper()
	before := c.as.refreshHits.Load()
	tok := c.one(t, c.fire(t, 1, 1))
	if n := c.as.refreshHits.Load() - before; n != 0 {
		t.Fatalf("%d refreshes of a valid token", n)
	}
	return tok
}

// issued is every token fosite issued, oldest first.
func (c *scaleCluster) issued() []string { return c.as.issuedTokens() }

// secrets is every token the test saw: fosite's access, refresh and ID
// tokens and the access tokens the instances answered with.
func (c *scaleCluster) secrets() []string {
	set := map[string]bool{}
	for _, tok := range c.issued() {
		set[tok] = true
	}
	c.seenMu.Lock()
	for tok := range c.seen {
		set[tok] = true
	}
	c.seenMu.Unlock()
	out := make([]string, 0, len(set))
	for tok := range set {
		out = append(out, tok)
	}
	sort.Strings(out)
	return out
}

// leaks lists the values of dump holding one of secrets, or one of their
// dot-separated parts of 16 characters or more (a JWT's signature, a
// fosite token's signature).
func leaks(dump []rawValue, secrets []string) []string {
	var needles []string
	for _, s := range secrets {
		needles = append(needles, s)
		for _, part := range strings.Split(s, ".") {
			if len(part) >= 16 && !strings.HasPrefix(part, "eyJ") { // JWT headers are no secret
				needles = append(needles, part)
			}
		}
	}
	var out []string
	for _, v := range dump {
		for _, n := range needles {
			if bytes.Contains(v.b, []byte(n)) {
				out = append(out, fmt.Sprintf("%s holds %.12s...", v.where, n))
				break
			}
		}
	}
	return out
}

// assertGrantKey checks that the stored grant, raw, is encrypted under id.
func (c *scaleCluster) assertGrantKey(t *testing.T, id string) {
	t.Helper()
	recs := c.be.grants(t)
	if len(recs) != 1 {
		t.Fatalf("%d grant records, want 1", len(recs))
	}
	if want := "oauthkit1." + id + "."; !bytes.HasPrefix(recs[0], []byte(want)) {
		t.Fatalf("stored grant starts %.14q, want %q", recs[0], want)
	}
}

// assertSessionKey checks that the session record, raw, holds the token
// encrypted under id and none under the other ids.
func (c *scaleCluster) assertSessionKey(t *testing.T, id string, others ...string) {
	t.Helper()
	rec := c.be.session(t, c.token)
	if !bytes.Contains(rec, []byte("oauthkit1."+id+".")) {
		t.Fatalf("the session record holds no token encrypted under %s", id)
	}
	for _, o := range others {
		if bytes.Contains(rec, []byte("oauthkit1."+o+".")) {
			t.Fatalf("the session record still holds a token encrypted under %s", o)
		}
	}
}

// oneRefreshAtScale is the scenario on backend (made fresh by
// newBackend, so the keyless control run has stores of its own).
func oneRefreshAtScale(t *testing.T, newBackend func(t *testing.T) scaleBackend) {
	c := newScaleCluster(t, newBackend(t), tokenKeys(t, "k1", "k1"), 0)
	c.login(t)
	tok := c.current(t)

	// A background job on a kit that never served the user.
	ctx, cancel := context.WithTimeout(t.Context(), budget(t))
	jt, err := c.job.TokenFor(ctx, c.userID, scaleProvider)
	cancel()
	if err != nil || jt.AccessToken != tok {
		t.Fatalf("TokenFor on a kit that never served the user: %v (same token: %v)", err, err == nil && jt.AccessToken == tok)
	}
	if !c.as.active(t, scaleClient, jt.AccessToken) {
		t.Fatal("TokenFor's token is not active at fosite")
	}
	c.assertGrantKey(t, "k1")
	c.assertSessionKey(t, "k1")

	const rounds = 20
	for r := range rounds {
		if r == rounds/2 {
			// Key rotation: every instance redeployed with k2 current, k1
			// kept for what it encrypted. The user stays signed in and the
			// k1 values are read without a refresh.
			c.assertGrantKey(t, "k1")
			c.build(t, tokenKeys(t, "k2", "k1", "k2"))
			if got := c.current(t); got != tok {
				t.Fatal("after the rotation the session's token changed without a refresh")
			}
		}
		tok = c.round(t, tok)
		if r == rounds/2 {
			c.assertGrantKey(t, "k2")
			c.assertSessionKey(t, "k2", "k1")
		}
	}
	c.assertGrantKey(t, "k2")
	if who := c.me(t, c.instances[0]); who != c.userID {
		t.Fatalf("after the rounds the session shows %q, want %q", who, c.userID)
	}
	if logins := c.as.tokenHits.Load() - c.as.refreshHits.Load(); logins != 1 {
		t.Fatalf("%d code exchanges, want the one login", logins)
	}
	t.Logf("%d rounds of 3x50 Token + 10 TokenFor: %d refresh requests at fosite, %d token requests in all; locks won %d, refused %d",
		rounds, c.as.refreshHits.Load(), c.as.tokenHits.Load(), c.locksWon(), c.locksRefused())

	// Nothing the test saw is in the stores.
	secrets := c.secrets()
	dump := c.be.dump(t)
	if l := leaks(dump, secrets); len(l) != 0 {
		t.Fatalf("%d stored values hold tokens:\n  %s", len(l), strings.Join(l, "\n  "))
	}
	t.Logf("raw dump: %d values, none holding any of %d tokens", len(dump), len(secrets))

	// The check of every round can fail: an old refresh token sent again,
	// as a second refresh would, makes fosite revoke the grant, and the
	// latest access token is no longer active.
	oc, err := client.DiscoverOpenID(t.Context(), c.as.srv.URL, scaleClient.ID, scaleClient.Secret,
		client.WithTokenEndpointAuthMethod(client.ClientSecretBasic), offline)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oc.RefreshToken(t.Context(), c.firstRefreshToken(t)); oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("reusing the login's refresh token: %v, want invalid_grant", err)
	}
	if c.as.active(t, scaleClient, tok) {
		t.Fatal("fosite still accepts the latest access token after a refresh-token reuse: the round check could not fail")
	}

	t.Run("without TokenKeys the dump finds the tokens", func(t *testing.T) {
		c := newScaleCluster(t, newBackend(t), nil, 0)
		c.login(t)
		tok := c.round(t, c.current(t))
		var at, rt, idt string
		for _, s := range c.issued() {
			switch {
			case s == tok:
				at = s
			case strings.HasPrefix(s, "eyJ"):
				idt = s
			case strings.HasPrefix(s, "ory_rt_"):
				rt = s
			}
		}
		dump := c.be.dump(t)
		for name, s := range map[string]string{"access": at, "refresh": rt, "ID": idt} {
			if s == "" {
				t.Fatalf("no %s token issued by fosite", name)
			}
			if len(leaks(dump, []string{s})) == 0 {
				t.Errorf("the dump does not find the %s token stored in the clear", name)
			}
		}
	})
}

// firstRefreshToken is the refresh token of the login.
func (c *scaleCluster) firstRefreshToken(t *testing.T) string {
	t.Helper()
	for _, s := range c.issued() {
		if strings.HasPrefix(s, "ory_rt_") {
			return s
		}
	}
	t.Fatal("fosite issued no refresh token")
	return ""
}

// allLocks is the lock counters of the current kits.
func (c *scaleCluster) allLocks() []*countingLocks {
	var out []*countingLocks
	if c.jobLock != nil {
		out = append(out, c.jobLock)
	}
	for _, inst := range c.instances {
		out = append(out, inst.locks)
	}
	return out
}

// locksWon and locksRefused count over every kit the cluster had.
func (c *scaleCluster) locksWon() (n int64) {
	for _, l := range append(c.allLocks(), c.retired...) {
		n += l.won.Load()
	}
	return n
}

func (c *scaleCluster) locksRefused() (n int64) {
	for _, l := range append(c.allLocks(), c.retired...) {
		n += l.refused.Load()
	}
	return n
}

// refreshOutlivesLease: fosite holds the refresh until the holder has
// renewed its 2 s lease four times (past the lease) and the two other
// instances have been refused the lock; still one refresh, and the grant
// lives on.
func refreshOutlivesLease(t *testing.T, be scaleBackend) {
	c := newScaleCluster(t, be, tokenKeys(t, "k1", "k1"), 2*time.Second) // renewed every 2/3 s: 1.3 s to spare on a loaded machine
	c.login(t)
	tok := c.current(t)
	var held atomic.Int64
	hold := func() {
		held.Add(1)
		ok := waitUntil(t, c.changed, func() bool {
			var extended int64
			refusedBy := 0
			for _, inst := range c.instances {
				extended += inst.locks.extended.Load()
				if inst.locks.refused.Load() > 0 {
					refusedBy++
				}
			}
			// A second refresh is a failure already: stop holding.
			return extended >= 4 && refusedBy >= 2 || held.Load() > 1
		})
		if !ok || held.Load() > 1 {
			t.Errorf("the held refresh's lease was not renewed 4 times, no other instance waited, or another refresh came")
		}
	}
	c.as.beforeRefresh.Store(&hold)
	c.clock.expireEverything()
	before := c.as.refreshHits.Load()
	b := c.fire(t, 50, 0)
	c.as.beforeRefresh.Store(nil)
	if n := c.as.refreshHits.Load() - before; n != 1 || held.Load() != 1 {
		t.Fatalf("%d refresh requests (%d held), want exactly 1; kit errors:%s", n, held.Load(), c.errorReport())
	}
	next := c.one(t, b)
	if next == tok || !c.as.active(t, scaleClient, next) {
		t.Fatal("after the held refresh fosite does not accept the new token")
	}
	var extended, lost int64
	for _, l := range c.allLocks() {
		extended += l.extended.Load()
		lost += l.extendLost.Load()
	}
	if lost != 0 {
		t.Fatalf("%d lease renewals failed", lost)
	}
	t.Logf("held refresh: %d lease renewals, %d refused acquisitions", extended, c.locksRefused())
	c.round(t, next) // the rotated refresh token still works
}

// storeUnreachable: with the TokenStore behind proxy cut, an expired token
// gives 500 (ErrSession for TokenFor) and nothing reaches fosite; restored,
// the user is still signed in and one refresh serves everyone.
func storeUnreachable(t *testing.T, be scaleBackend, proxy *cutProxy) {
	c := newScaleCluster(t, be, tokenKeys(t, "k1", "k1"), 0)
	c.login(t)
	tok := c.round(t, c.current(t))
	c.clock.expireEverything()
	proxy.setCut(true)
	before := c.as.refreshHits.Load()
	b := c.fire(t, 10, 5)
	if b.statuses[http.StatusInternalServerError] != 30 || len(b.statuses) != 1 {
		t.Fatalf("with the TokenStore unreachable: statuses %v, want 30 x 500", b.statuses)
	}
	if len(b.jobErrs) != 5 {
		t.Fatalf("%d TokenFor failures, want 5", len(b.jobErrs))
	}
	for _, err := range b.jobErrs {
		if !errors.Is(err, oauthkit.ErrSession) {
			t.Fatalf("TokenFor with the TokenStore unreachable: %v, want ErrSession", err)
		}
	}
	if n := c.as.refreshHits.Load() - before; n != 0 {
		t.Fatalf("%d refresh requests with the TokenStore unreachable", n)
	}
	if who := c.me(t, c.instances[1]); who != c.userID {
		t.Fatalf("with the TokenStore unreachable the session shows %q", who)
	}
	proxy.setCut(false)
	// The clock has already moved: round moves it again, which changes
	// nothing (the token is expired either way).
	next := c.round(t, tok)
	if who := c.me(t, c.instances[2]); who != c.userID {
		t.Fatalf("after the TokenStore came back the session shows %q", who)
	}
	if c.current(t) != next {
		t.Fatal("the refreshed token is not the session's")
	}
}

// --- Redis -------------------------------------------------------------

// redisScaleBackend shares everything on Redis under a prefix of the test;
// tokens, when not nil, is the TokenStore's own pool.
func redisScaleBackend(t *testing.T, pool, tokens *redis.Pool) scaleBackend {
	t.Helper()
	prefix := redisPrefix(t, pool)
	if tokens == nil {
		tokens = pool
	}
	return scaleBackend{
		store:   redisstore.NewWithPrefix(pool, prefix+"session:"),
		claimer: &redisclaim.Claimer{Pool: pool, Prefix: prefix + "state:"},
		ended:   &redisclaim.EndedSessions{Pool: pool, Prefix: prefix + "ended:"},
		index:   &redisclaim.SessionIndex{Pool: pool, Prefix: prefix + "index:"},
		tokens:  &redisclaim.TokenStore{Pool: tokens, Prefix: prefix + "tokens:"},
		locks:   &redisclaim.RefreshLocks{Pool: pool, Prefix: prefix + "locks:"},
		grants: func(t *testing.T) [][]byte {
			var out [][]byte
			for _, v := range redisDump(t, pool, prefix+"tokens:") {
				out = append(out, v.b)
			}
			return out
		},
		session: func(t *testing.T, token string) []byte {
			conn := pool.Get()
			defer conn.Close()
			b, err := redis.Bytes(conn.Do("GET", prefix+"session:"+token))
			if err != nil {
				t.Fatalf("GET the session: %v", err)
			}
			return b
		},
		dump: func(t *testing.T) []rawValue {
			vals := redisDump(t, pool, prefix)
			for i, v := range vals { // the key names too: no token may be part of one
				vals[i].b = append([]byte(v.where+"\x00"), v.b...)
			}
			return vals
		},
	}
}

// redisDump reads every key under prefix with the command of its type.
func redisDump(t *testing.T, pool *redis.Pool, prefix string) []rawValue {
	t.Helper()
	conn := pool.Get()
	defer conn.Close()
	var keys []string
	cursor := "0"
	for {
		vals, err := redis.Values(conn.Do("SCAN", cursor, "MATCH", prefix+"*", "COUNT", 1000))
		if err != nil {
			t.Fatal(err)
		}
		cursor, _ = redis.String(vals[0], nil)
		ks, _ := redis.Strings(vals[1], nil)
		keys = append(keys, ks...)
		if cursor == "0" {
			break
		}
	}
	sort.Strings(keys)
	var out []rawValue
	for _, k := range keys {
		typ, err := redis.String(conn.Do("TYPE", k))
		if err != nil {
			t.Fatal(err)
		}
		var parts [][]byte
		switch typ {
		case "none": // expired since the SCAN
		case "string":
			b, err := redis.Bytes(conn.Do("GET", k))
			if err != nil && !errors.Is(err, redis.ErrNil) {
				t.Fatal(err)
			}
			parts = [][]byte{b}
		case "zset":
			parts, err = redis.ByteSlices(conn.Do("ZRANGE", k, 0, -1, "WITHSCORES"))
		case "set":
			parts, err = redis.ByteSlices(conn.Do("SMEMBERS", k))
		case "hash":
			parts, err = redis.ByteSlices(conn.Do("HGETALL", k))
		case "list":
			parts, err = redis.ByteSlices(conn.Do("LRANGE", k, 0, -1))
		default:
			t.Fatalf("key %s of type %s: the dump cannot read it", k, typ)
		}
		if err != nil {
			t.Fatalf("reading %s %s: %v", typ, k, err)
		}
		out = append(out, rawValue{where: k, b: bytes.Join(parts, []byte{0})})
	}
	return out
}

func TestRedisOneRefreshAtScale(t *testing.T) {
	pool := redisPool(t)
	oneRefreshAtScale(t, func(t *testing.T) scaleBackend { return redisScaleBackend(t, pool, nil) })
}

func TestRedisRefreshOutlivesLease(t *testing.T) {
	pool := redisPool(t)
	refreshOutlivesLease(t, redisScaleBackend(t, pool, nil))
}

func TestRedisTokenStoreUnreachableLosesNothing(t *testing.T) {
	pool := redisPool(t)
	u, err := url.Parse(os.Getenv("REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.addr()
	tokens := redisPoolURL(t, u.String())
	tokens.MaxIdle = 0 // every command dials: no connection outlives a cut
	storeUnreachable(t, redisScaleBackend(t, pool, tokens), proxy)
}

// --- PostgreSQL --------------------------------------------------------

// pgScaleBackend shares everything on PostgreSQL; tokens, when not nil, is
// the TokenStore's own database handle. The tables of the grant path are
// emptied first: every user of fosite is the same user.
func pgScaleBackend(t *testing.T, db, tokens *sql.DB) scaleBackend {
	t.Helper()
	for _, table := range []string{"oauthkit_tokens", "oauthkit_refresh_locks"} {
		if _, err := db.ExecContext(t.Context(), `DELETE FROM `+table); err != nil {
			t.Fatal(err)
		}
	}
	if tokens == nil {
		tokens = db
	}
	return scaleBackend{
		store:   postgresstore.NewWithCleanupInterval(db, 0),
		claimer: &pgclaim.Claimer{DB: db},
		ended:   &pgclaim.EndedSessions{DB: db},
		index:   &pgclaim.SessionIndex{DB: db},
		tokens:  &pgclaim.TokenStore{DB: tokens},
		locks:   &pgclaim.RefreshLocks{DB: db},
		grants: func(t *testing.T) [][]byte {
			rows, err := db.QueryContext(t.Context(), `SELECT record FROM oauthkit_tokens`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out [][]byte
			for rows.Next() {
				var b []byte
				if err := rows.Scan(&b); err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		},
		session: func(t *testing.T, token string) []byte {
			var b []byte
			if err := db.QueryRowContext(t.Context(), `SELECT data FROM sessions WHERE token = $1`, token).Scan(&b); err != nil {
				t.Fatalf("reading the session: %v", err)
			}
			return b
		},
		dump: func(t *testing.T) []rawValue { return pgDump(t, db) },
	}
}

// pgDump reads every row of every table of the schema, one value per row:
// its bytea columns as stored, the others as text.
func pgDump(t *testing.T, db *sql.DB) []rawValue {
	t.Helper()
	ctx := t.Context()
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string][]string{}
	var tables []string
	for rows.Next() {
		var tn, cn, dt string
		if err := rows.Scan(&tn, &cn, &dt); err != nil {
			t.Fatal(err)
		}
		if _, ok := cols[tn]; !ok {
			tables = append(tables, tn)
		}
		expr := `"` + cn + `"`
		if dt != "bytea" {
			expr += "::text"
		}
		cols[tn] = append(cols[tn], expr)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	var out []rawValue
	for _, tn := range tables {
		rows, err := db.QueryContext(ctx, `SELECT `+strings.Join(cols[tn], ", ")+` FROM "`+tn+`"`)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; rows.Next(); i++ {
			vals := make([][]byte, len(cols[tn]))
			ptrs := make([]any, len(vals))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out = append(out, rawValue{where: fmt.Sprintf("%s row %d", tn, i), b: bytes.Join(vals, []byte{0})})
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestPostgresOneRefreshAtScale(t *testing.T) {
	db := postgres(t)
	oneRefreshAtScale(t, func(t *testing.T) scaleBackend { return pgScaleBackend(t, db, nil) })
}

func TestPostgresRefreshOutlivesLease(t *testing.T) {
	db := postgres(t)
	refreshOutlivesLease(t, pgScaleBackend(t, db, nil))
}

func TestPostgresTokenStoreUnreachableLosesNothing(t *testing.T) {
	db := postgres(t)
	u, err := url.Parse(os.Getenv("DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.addr()
	tokens, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tokens.Close() })
	tokens.SetMaxIdleConns(0) // every query connects: no connection outlives a cut
	storeUnreachable(t, pgScaleBackend(t, db, tokens), proxy)
}
