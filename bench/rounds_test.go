package bench

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// Interleaved rounds: every contender of every work item is sampled once
// per round (testing.Benchmark, -test.benchtime each), and each ratio is
// taken within a round, so the drift of a shared machine over minutes
// (2× is common on the 2-core CI host) moves numerator and denominator
// together instead of landing in one of them. Run:
//
//	go test -run '^TestRounds$' -rounds 10 -benchtime 1s -timeout 60m . > rounds.md
//
// Without -rounds it runs one short round as a smoke test (CI) and checks
// that every contender produced a sample.
var (
	rounds   = flag.Int("rounds", 0, "interleaved rounds for TestRounds (0: one smoke round)")
	roundsTo = flag.String("rounds.out", "", "file for TestRounds' table (default: standard output with -rounds, none without)")
)

// sample is one contender's result in one round.
type sample struct {
	ns, bytes, allocs float64
	extra             map[string]float64
}

func TestRounds(t *testing.T) {
	n := *rounds
	if n == 0 {
		n = 1
		bt := flag.Lookup("test.benchtime")
		old := bt.Value.String()
		if err := bt.Value.Set("3x"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bt.Value.Set(old) })
	}
	ws := works()
	got := map[string][]sample{} // "work/contender" -> one sample per round
	skipped := map[string]bool{}
	for round := range n {
		for _, w := range ws {
			// Rotate the order each round, so no contender always runs
			// right after the same neighbour (caches, GC debt).
			order := slices.Clone(w.contenders)
			k := round % len(order)
			order = append(order[k:], order[:k]...)
			for _, c := range order {
				key := w.name + "/" + c.name
				if skipped[key] {
					continue
				}
				r := testing.Benchmark(c.run)
				if r.N == 0 {
					// testing.Benchmark reports a failed or skipped run as
					// zero; the Redis contender skips without REDIS_URL.
					if c.name == "oauthkit-redis" && os.Getenv("REDIS_URL") == "" {
						skipped[key] = true
						continue
					}
					t.Fatalf("round %d: %s produced no result (it failed; run its Benchmark to see why)", round, key)
				}
				got[key] = append(got[key], sample{
					ns: float64(r.T.Nanoseconds()) / float64(r.N), bytes: float64(r.MemBytes) / float64(r.N),
					allocs: float64(r.MemAllocs) / float64(r.N), extra: r.Extra,
				})
			}
		}
	}
	var out io.Writer = io.Discard
	switch {
	case *roundsTo != "":
		f, err := os.Create(*roundsTo)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		out = f
	case *rounds > 0:
		out = os.Stdout
	}
	writeRounds(out, ws, got, n)
	for _, w := range ws {
		for _, c := range w.contenders {
			key := w.name + "/" + c.name
			if !skipped[key] && len(got[key]) != n {
				t.Errorf("%s: %d samples, want %d", key, len(got[key]), n)
			}
		}
	}
}

// writeRounds prints one markdown table: medians per contender, and for
// each reference the median and range of the per-round ratios.
func writeRounds(out io.Writer, ws []work, got map[string][]sample, n int) {
	fmt.Fprintf(out, "%d interleaved rounds, %s, medians; ratios are per round: median (min..max).\n\n", n, time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintln(out, "| benchmark | ns/op | B/op | allocs/op | ratio | other |")
	fmt.Fprintln(out, "| --- | ---: | ---: | ---: | --- | --- |")
	for _, w := range ws {
		for _, c := range w.contenders {
			s := got[w.name+"/"+c.name]
			if len(s) == 0 {
				continue
			}
			var ratios []string
			for _, ref := range w.refs {
				rs := got[w.name+"/"+ref]
				if ref == c.name || len(rs) != len(s) {
					continue
				}
				per := make([]float64, len(s))
				for i := range s {
					per[i] = s[i].ns / rs[i].ns
				}
				lo, hi := slices.Min(per), slices.Max(per)
				ratios = append(ratios, fmt.Sprintf("%.2f× %s (%.2f..%.2f)", median(per), ref, lo, hi))
			}
			var extra []string
			for unit := range s[0].extra {
				extra = append(extra, fmt.Sprintf("%.0f %s", median(pick(s, func(x sample) float64 { return x.extra[unit] })), unit))
			}
			slices.Sort(extra)
			fmt.Fprintf(out, "| %s/%s | %.0f | %.0f | %.0f | %s | %s |\n", w.name, c.name,
				median(pick(s, func(x sample) float64 { return x.ns })),
				median(pick(s, func(x sample) float64 { return x.bytes })),
				median(pick(s, func(x sample) float64 { return x.allocs })),
				strings.Join(ratios, "; "), strings.Join(extra, ", "))
		}
	}
}

func pick(s []sample, f func(sample) float64) []float64 {
	v := make([]float64, len(s))
	for i := range s {
		v[i] = f(s[i])
	}
	return v
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
