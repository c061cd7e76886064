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
		{State: "s2", Provider: "p", Verifier: "v", Created: t0, MaxAge: "0", ACR: "urn:a 2:b"},
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

// TestPendingReadsP1: lists in the previous compact form (six fields, no
// step-up) still decode, so logins started before a deploy complete after
// it, and are written back in the current form.
func TestPendingReadsP1(t *testing.T) {
	t0 := time.Unix(0, 1764644645000000006)
	p1 := "P11:s6:github1:v0:12:/orders?id=719:1764644645000000006" + "2:s21:p1:v1:n0:19:1764644645000000006"
	want := []pendingLogin{
		{State: "s", Provider: "github", Verifier: "v", ReturnTo: "/orders?id=7", Created: t0},
		{State: "s2", Provider: "p", Verifier: "v", Nonce: "n", Created: t0},
	}
	got := decodePending(p1)
	samePending(t, want, got)
	enc := encodePending(got)
	require.True(t, strings.HasPrefix(enc, "P2"))
	samePending(t, want, decodePending(enc))
}

func TestPendingUnreadable(t *testing.T) {
	valid := encodePending(pendingSample()[:1])
	for _, s := range []string{
		"P2", "P", "X1:a", "[", "[{", `[{"s":1}]`, "{}",
		"P11:a", "P1:a", "P1-1:a", "P1+1:a", "P101:a", "P1 1:a", "P9999999999:a",
		"P11:s1:p1:v0:0:1:x",       // created not a number
		"P11:s1:p1:v0:0:",          // a field short
		valid[:len(valid)-1],       // truncated
		valid + "1",                // trailing bytes
		valid + valid[2:3],         // half an entry
		"P21:s1:p1:v0:0:1:10:",     // a step-up field short
		"P21:s1:p1:v0:0:1:12:-10:", // max_age not one
		"P21:s1:p1:v0:0:1:12:010:", // max_age not canonical
	} {
		assert.Nil(t, decodePending(s), "%q", s)
	}
}

func FuzzPendingDecode(f *testing.F) {
	f.Add(encodePending(pendingSample()))
	b, _ := json.Marshal(pendingSample())
	f.Add(string(b))
	f.Add("P11:a")
	f.Add("P11:s1:p1:v0:0:1:1")
	f.Fuzz(func(t *testing.T, s string) {
		list := decodePending(s)
		if list == nil || strings.HasPrefix(s, "[") {
			return
		}
		if strings.HasPrefix(s, pendingMagicV1) {
			// An earlier form is written back in the current one, losing
			// nothing.
			samePending(t, list, decodePending(encodePending(list)))
			return
		}
		// Whatever decodes re-encodes to itself: the form has one
		// spelling per list.
		if got := encodePending(list); got != s {
			t.Fatalf("decode(%q) re-encodes as %q", s, got)
		}
	})
}
