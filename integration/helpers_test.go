package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit/client"
	"github.com/oauthkit/oauthkit/internal/fakeas"
)

// fakeAS is the shared fake authorization server of the kit's tests
// (internal/fakeas): it approves authorization requests for the user named
// in the X-Fake-User header ("id|email"), checks PKCE, redirect_uri and
// single use of codes, and serves the user API.
type fakeAS = fakeas.Server

// fakeUser is an account at the fake AS.
type fakeUser = fakeas.User

func newFakeAS(t *testing.T) *fakeAS { return fakeas.New(t) }

// fakeProvider is the fake AS's client, reaching it through hc.
func fakeProvider(t *testing.T, as *fakeAS, hc *http.Client) *fakeas.Provider {
	t.Helper()
	p, err := as.Client("test", hc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randomString() string { return client.GenerateState() }

// budget is what is left of the test binary's -timeout, less a margin for
// the report: the bound of provider calls under load, so a slow machine
// makes a test slower, never failing. The HTTP clients of the tests have
// no timeout of their own: the binary's -timeout ends a stuck request with
// every goroutine's stack.
func budget(t *testing.T) time.Duration {
	dl, ok := t.Deadline()
	if !ok {
		return time.Hour
	}
	return max(time.Until(dl)-20*time.Second, time.Second)
}
