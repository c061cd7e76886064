package oauthkit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func pendingSample() []pendingLogin {
	t0 := time.Date(2026, 12, 2, 3, 4, 5, 6, time.UTC)
	return []pendingLogin{
		newPendingLogin("github", false, "/orders?id=7|x:y", t0),
		newPendingLogin("op:tenant", true, "", t0.Add(time.Second)),
		{State: "s", Provider: "p", Verifier: "v", Created: t0.Add(-time.Hour)},
	}
}

func samePending(t *testing.T, want, got []pendingLogin) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		assert.True(t, w.Created.Equal(g.Created), "created %d", i)
		w.Created, g.Created = time.Time{}, time.Time{}
		assert.Equal(t, w, g)
	}
}

func TestPendingRoundTrip(t *testing.T) {
	want := pendingSample()
	enc := encodePending(want)
	require.True(t, strings.HasPrefix(enc, pendingMagic))
	samePending(t, want, decodePending(enc))
	assert.Nil(t, decodePending(encodePending(nil)), "an empty list")
	assert.Nil(t, decodePending(""), "no value")
}

// TestPendingReadsJSON: the lists earlier versions wrote still decode, so
// logins started before a deploy complete after it.
func TestPendingReadsJSON(t *testing.T) {
	want := pendingSample()
	b, err := json.Marshal(want)
	require.NoError(t, err)
	samePending(t, want, decodePending(string(b)))
}

func TestPendingUnreadable(t *testing.T) {
	valid := encodePending(pendingSample()[:1])
	for _, s := range []string{
		"P2", "P", "X1:a", "[", "[{", `[{"s":1}]`, "{}",
		"P11:a", "P1:a", "P1-1:a", "P1+1:a", "P101:a", "P1 1:a", "P9999999999:a",
		"P11:s1:p1:v0:0:1:x", // created not a number
		"P11:s1:p1:v0:0:",    // a field short
		valid[:len(valid)-1], // truncated
		valid + "1",          // trailing bytes
		valid + valid[2:3],   // half an entry
	} {
		assert.Nil(t, decodePending(s), "%q", s)
	}
}

func FuzzPendingDecode(f *testing.F) {
	f.Add(encodePending(pendingSample()))
	b, _ := json.Marshal(pendingSample())
	f.Add(string(b))
	f.Add("P11:a")
	f.Fuzz(func(t *testing.T, s string) {
		list := decodePending(s)
		if list == nil || strings.HasPrefix(s, "[") {
			return
		}
		// Whatever decodes re-encodes to itself: the form has one
		// spelling per list.
		if got := encodePending(list); got != s {
			t.Fatalf("decode(%q) re-encodes as %q", s, got)
		}
	})
}
