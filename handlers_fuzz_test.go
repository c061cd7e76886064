package oauthkit_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/oauthkit/oauthkit"
)

// FuzzCallbackQuery sends arbitrary raw query strings to the callback
// through the real handler chain (scs LoadAndSave, the kit's handlers, a
// fake AS on loopback), in a session that holds a pending login (security.md
// catalogue row 48, goal G10). Its seed corpus runs in every `go test`; CI
// fuzzes it with
//
//	go test -run '^$' -fuzz '^FuzzCallbackQuery$' -fuzztime 30s .
//
// In the query, the placeholders STATE and CODE are replaced by the pending
// state and by a code the fake AS really issued for it, so the fuzzer
// reaches the exchange as well as every rejection path. Invariants: no
// panic; status 302, 400, 403 or 502; a 302 only when the query carries the
// pending state exactly once, for this provider; every failure typed (a kit
// sentinel, with HTTPStatus equal to the status sent); no token request
// unless the state was pending.
func FuzzCallbackQuery(f *testing.F) {
	seeds := []struct {
		query string
		other uint8 // odd: the login was started with the other provider
	}{
		{"code=CODE&state=STATE", 0},
		{"state=STATE&code=CODE&iss=", 0},
		{"code=CODE&state=STATE", 1},
		{"code=CODE", 0},
		{"state=STATE", 0},
		{"code=&state=STATE", 0},
		{"code=CODE&state=STATE&state=STATE", 0},
		{"code=CODE&state=X&state=STATE", 0},
		{"code=CODE&state=STATE&code=CODE", 0},
		{"code=CODE&state=" + strings.Repeat("A", 43), 0},
		{"code=CODE&state=" + strings.Repeat("S", 300), 0},
		{"code=" + strings.Repeat("c", 5000) + "&state=STATE", 0},
		{"error=access_denied&error_description=%3Cscript%3E&state=STATE", 0},
		{"error=access_denied", 0},
		{"code=CODE&error=server_error&state=STATE", 0},
		{"error=%00%ff&state=STATE", 0},
		{"code=CODE;state=STATE", 0},
		{"state=%zz&code=CODE", 0},
		{"code=%ff%fe&state=STATE", 0},
		{"code=CODE&state=STATE%00", 0},
		{"code=CODE&state=STATE&iss=https%3A%2F%2Fevil.example", 0},
		{"code=CODE&state=STATE&iss=a&iss=b", 0},
		{"code=wrong&state=STATE", 0},
		{"code=CODE+&state=STATE", 0},
		{"&&&=&=", 0},
		{"", 0},
		{"%", 0},
		{"state=STATE&" + strings.Repeat("x=1&", 5000), 0},
	}
	for _, s := range seeds {
		f.Add(s.query, s.other)
	}

	as := newFakeAS(f)
	sm := scs.New()
	store := memstore.NewWithCleanupInterval(0)
	sm.Store = store
	sm.Cookie.Secure = true
	var (
		errsMu sync.Mutex
		errs   = map[string]error{}
	)
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions: sm,
		Providers: []oauthkit.Provider{
			{Client: provider(f, as, "test"), RedirectURL: "https://app.example/auth/test/callback"},
			{Client: provider(f, as, "other"), RedirectURL: "https://app.example/auth/other/callback"},
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			errsMu.Lock()
			errs[r.Header.Get("X-Fuzz-ID")] = err
			errsMu.Unlock()
			oauthkit.DefaultErrorHandler(w, r, err)
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range kit.Providers() {
		mux.Handle("/auth/"+p.Name+"/login", kit.LoginHandler(p.Name))
		mux.Handle("/auth/"+p.Name+"/callback", kit.CallbackHandler(p.Name))
	}
	app := sm.LoadAndSave(mux)
	var seq atomic.Int64

	f.Fuzz(func(t *testing.T, query string, other uint8) {
		id := strconv.FormatInt(seq.Add(1), 10)
		provider := "test"
		if other%2 == 1 {
			provider = "other"
		}
		// Start a login in a fresh session and let the fake AS approve it
		// (both in-process) to get the pending state and a real code.
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://app.example/auth/"+provider+"/login", nil))
		if rec.Code != http.StatusFound {
			t.Fatalf("login: %d", rec.Code)
		}
		cookies := rec.Result().Cookies()
		authURL, err := url.Parse(rec.Header().Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		state := authURL.Query().Get("state")
		rec = httptest.NewRecorder()
		as.Srv.Config.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, authURL.String(), nil))
		back, err := url.Parse(rec.Header().Get("Location"))
		if err != nil || rec.Code != http.StatusFound {
			t.Fatalf("authorize: %d %v", rec.Code, err)
		}
		code := back.Query().Get("code")

		raw := strings.ReplaceAll(strings.ReplaceAll(query, "STATE", state), "CODE", code)
		req := httptest.NewRequest(http.MethodGet, "https://app.example/auth/test/callback", nil)
		req.URL.RawQuery = raw
		req.RequestURI = ""
		req.Header.Set("X-Fuzz-ID", id)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		tokensBefore := as.TokenHits.Load()
		rec = httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		tokens := as.TokenHits.Load() - tokensBefore

		errsMu.Lock()
		kerr := errs[id]
		delete(errs, id)
		errsMu.Unlock()

		q, perr := url.ParseQuery(raw)
		pending := perr == nil && len(q["state"]) == 1 && q["state"][0] == state
		switch rec.Code {
		case http.StatusFound:
			if kerr != nil {
				t.Fatalf("302 with an error: %v", kerr)
			}
			if !pending || provider != "test" {
				t.Fatalf("302 for a state that was not pending for this provider (query %q)", raw)
			}
			if tokens != 1 {
				t.Fatalf("302 after %d token requests", tokens)
			}
			if loc := rec.Header().Get("Location"); loc != "/" {
				t.Fatalf("302 to %q", loc)
			}
		case http.StatusBadRequest, http.StatusForbidden, http.StatusBadGateway:
			if kerr == nil {
				t.Fatalf("status %d without a kit error", rec.Code)
			}
			if s := oauthkit.HTTPStatus(kerr); s != rec.Code {
				t.Fatalf("status %d but HTTPStatus(err) = %d: %v", rec.Code, s, kerr)
			}
			if !kitSentinel(kerr) {
				t.Fatalf("untyped error %T: %v", kerr, kerr)
			}
			if strings.Contains(rec.Body.String(), "<script>") {
				t.Fatal("markup reflected in the error page")
			}
		default:
			t.Fatalf("status %d (err %v) for query %q", rec.Code, kerr, raw)
		}
		if query == "code=CODE&state=STATE" && provider == "test" && rec.Code != http.StatusFound {
			t.Fatalf("the genuine callback failed: %d %v", rec.Code, kerr)
		}
		if !pending && tokens != 0 {
			t.Fatalf("%d token requests for a state that was not pending", tokens)
		}
		if tokens > 1 {
			t.Fatalf("%d token requests for one callback", tokens)
		}
	})
}

// kitSentinel reports whether err matches one of the kit's documented errors.
func kitSentinel(err error) bool {
	for _, s := range []error{
		oauthkit.ErrMethodNotAllowed, oauthkit.ErrInvalidCallback,
		oauthkit.ErrStateNotFound, oauthkit.ErrStateExpired, oauthkit.ErrProviderMismatch,
		oauthkit.ErrIssuerMismatch, oauthkit.ErrMissingCode, oauthkit.ErrAccessDenied,
		oauthkit.ErrProvider, oauthkit.ErrExchange, oauthkit.ErrIdentity, oauthkit.ErrLoginRefused, oauthkit.ErrPolicyDenied,
		oauthkit.ErrSession, oauthkit.ErrNotSignedIn, oauthkit.ErrReauthRequired, oauthkit.ErrCrossOrigin,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
