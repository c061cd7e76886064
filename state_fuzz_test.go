package oauthkit_test

import (
	"testing"

	"github.com/oauthkit/oauthkit"
)

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
