package redisclaim_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/alexedwards/scs/v2"
	"github.com/gomodule/redigo/redis"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/redisclaim"
)

// Several instances behind a load balancer share one Redis: the sessions
// (scs's redisstore on the same pool), the state claims, the record of
// ended sessions, the index of who is signed in where, each user's grant
// and the locks that let one instance at a time refresh it. The pool dials
// lazily; an anonymous visit to a protected page touches none of it.
func Example() {
	pool := &redis.Pool{DialContext: func(ctx context.Context) (redis.Conn, error) {
		return redis.DialURLContext(ctx, "redis://127.0.0.1:6379/0")
	}}
	sm := scs.New()
	sm.Cookie.Secure = true
	// sm.Store = redisstore.New(pool)

	github, err := client.NewGitHub("Iv1.example-id", "example-secret")
	if err != nil {
		log.Fatal(err)
	}
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:      sm,
		Providers:     []oauthkit.Provider{{Client: github, RedirectURL: "https://app.example/auth/github/callback"}},
		LoginPath:     "/auth/github/login",
		StateClaimer:  &redisclaim.Claimer{Pool: pool},
		EndedSessions: &redisclaim.EndedSessions{Pool: pool},
		SessionIndex:  &redisclaim.SessionIndex{Pool: pool},
		TokenStore:    &redisclaim.TokenStore{Pool: pool},
		RefreshLocks:  &redisclaim.RefreshLocks{Pool: pool},
	})
	if err != nil {
		log.Fatal(err)
	}
	handler := sm.LoadAndSave(kit.RequireAuth(http.NotFoundHandler()))

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/orders", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output: 302 /auth/github/login?next=%2Forders
}
