package integration

import (
	"net/http"
	"testing"

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
