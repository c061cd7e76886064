package oauthkit

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestUserCacheDecode(t *testing.T) {
	var c userCache
	want := User{Provider: "github", ID: "42", Email: "ada@example.com", EmailVerified: true, UserID: "u1",
		LoginAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // decoded, then cached
		u, ok := c.decode(string(b))
		if !ok || *u != want {
			t.Fatalf("decode %d: %+v %t, want %+v", i, u, ok, want)
		}
		// A caller changing its User changes no one else's.
		u.Email, u.UserID = "mallory@example.com", "u2"
	}
	for _, bad := range []string{"", "null-ish", `{"ID":`, `[1,2]`} {
		if u, ok := c.decode(bad); ok {
			t.Fatalf("decode(%q) = %+v, want not a user", bad, u)
		}
	}
}

func TestUserCacheBounded(t *testing.T) {
	var c userCache
	for i := range 3 * userCacheSize {
		if _, ok := c.decode(fmt.Sprintf(`{"ID":"%d"}`, i)); !ok {
			t.Fatal("decode failed")
		}
	}
	if n := len(c.m); n == 0 || n > userCacheSize {
		t.Fatalf("%d cached users, want 1..%d", n, userCacheSize)
	}
	u, ok := c.decode(`{"ID":"7"}`)
	if !ok || u.ID != "7" {
		t.Fatalf("after evictions: %+v %t", u, ok)
	}
}
