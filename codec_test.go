package oauthkit_test

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit"
)

// appValue is an application's own session type: SessionCodec has no
// native form for it, so it goes through gob.
type appValue struct {
	Name  string
	Items []int
}

func init() { gob.Register(appValue{}) }

// codecValues is one value of each kind SessionCodec writes, scs's own
// __rememberMe included.
func codecValues() map[string]any {
	return map[string]any{
		"oauthkit.user": `{"provider":"test","id":"42"}`,
		"empty":         "",
		"list":          []string{"a", "", strings.Repeat("x", 300)},
		"nolist":        []string{},
		"__rememberMe":  true,
		"off":           false,
		"int":           -12345,
		"int64":         int64(math.MinInt64),
		"float":         3.25,
		"bytes":         []byte{0, 1, 0xc5, 0xff},
		"when":          time.Date(2026, 5, 4, 3, 2, 1, 987654321, time.UTC),
		"zone":          time.Date(2026, 5, 4, 3, 2, 1, 0, time.FixedZone("", 5*3600+30*60)),
		"zero":          time.Time{},
		"nil":           nil,
		"app":           appValue{Name: "cart", Items: []int{1, 2, 3}},
	}
}

// Every native kind and a gob-registered application type round-trip with
// their types; the record is exactly its length (memory stores keep it as
// it is) and is not a gob stream.
func TestSessionCodecRoundTrip(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(time.Hour).UTC()
	values := codecValues()
	rec, err := oauthkit.SessionCodec{}.Encode(deadline, values)
	require.NoError(t, err)
	assert.Equal(t, len(rec), cap(rec), "spare capacity")

	gotDeadline, got, err := oauthkit.SessionCodec{}.Decode(rec)
	require.NoError(t, err)
	assert.True(t, deadline.Equal(gotDeadline), "%v != %v", gotDeadline, deadline)
	require.Len(t, got, len(values))
	for k, want := range values {
		if w, ok := want.(time.Time); ok {
			g, ok := got[k].(time.Time)
			require.True(t, ok, "%s: %T", k, got[k])
			assert.True(t, w.Equal(g), "%s: %v != %v", k, g, w)
			_, wo := w.Zone()
			_, gotOff := g.Zone()
			assert.Equal(t, wo, gotOff, "%s: zone offset", k)
			continue
		}
		assert.Equal(t, want, got[k], k)
	}

	_, _, err = scs.GobCodec{}.Decode(rec)
	assert.Error(t, err, "gob took a SessionCodec record")
}

// A record written by scs.GobCodec (every session stored before the switch)
// decodes with its values.
func TestSessionCodecReadsGobRecords(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(time.Hour).UTC()
	values := map[string]any{
		"oauthkit.user": `{"id":"42"}`,
		"__rememberMe":  true,
		"n":             7,
		"app":           appValue{Name: "cart"},
	}
	rec, err := scs.GobCodec{}.Encode(deadline, values)
	require.NoError(t, err)
	gotDeadline, got, err := oauthkit.SessionCodec{}.Decode(rec)
	require.NoError(t, err)
	assert.True(t, deadline.Equal(gotDeadline))
	assert.Equal(t, values, got)
}

// switchCodec is the codec of a site in the middle of a rolling deploy:
// gob until switched, SessionCodec after.
type switchCodec struct{ on atomic.Bool }

func (c *switchCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	if c.on.Load() {
		return oauthkit.SessionCodec{}.Encode(deadline, values)
	}
	return scs.GobCodec{}.Encode(deadline, values)
}

func (c *switchCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	if c.on.Load() {
		return oauthkit.SessionCodec{}.Decode(b)
	}
	return scs.GobCodec{}.Decode(b)
}

// A whole kit flow with SessionCodec over loopback HTTP: login with a
// second tab pending, the protected page, a token refresh, the
// application's own data, the other tab's callback, logout; the records in
// the store are SessionCodec's.
func TestSessionCodecSignedInFlow(t *testing.T) {
	t.Parallel()
	a := newApp(t, withSessionCodec())
	a.as.ExpiresIn = 60
	b := a.browser()
	otherTab := a.approve(a.startLogin(b, "/auth/test/login"))
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode, "%v", a.lastErr())
	assert.True(t, a.signedIn(b))
	assert.Equal(t, 1, a.pending(b))
	assert.Equal(t, "test", a.sessionUser(b).Provider)
	raw, found, err := a.backing.Find(a.sessionCookie(b))
	require.NoError(t, err)
	require.True(t, found)
	assert.EqualValues(t, 0xc5, raw[0], "not a SessionCodec record")

	a.clock.Add(61 * time.Second)
	res, tok := a.do(b, http.MethodGet, "/api/token", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, tok, "at-")
	assert.EqualValues(t, 1, a.as.RefreshHits.Load())

	a.putData(b, "cart-7")
	assert.Equal(t, "cart-7", a.data(b))
	assert.Equal(t, http.StatusFound, a.get(b, otherTab).StatusCode, "%v", a.lastErr())
	assert.Equal(t, 0, a.pending(b))
	res, _ = a.do(b, http.MethodPost, "/logout", nil)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.False(t, a.signedIn(b))
}

// A rolling deploy: a browser signed in while the site wrote gob stays
// signed in, with its data, once the site reads and writes SessionCodec.
func TestSessionCodecRollingDeploy(t *testing.T) {
	t.Parallel()
	codec := &switchCodec{}
	a := newApp(t, func(c *oauthkit.Config) { c.Sessions.Codec = codec })
	b := a.browser()
	require.Equal(t, http.StatusFound, a.login(b, "/auth/test/login").StatusCode, "%v", a.lastErr())
	a.putData(b, "before")
	raw, _, err := a.backing.Find(a.sessionCookie(b))
	require.NoError(t, err)
	require.NotEqualValues(t, 0xc5, raw[0])

	codec.on.Store(true)
	assert.True(t, a.signedIn(b))
	assert.Equal(t, "before", a.data(b))
	a.putData(b, "after")
	raw, _, err = a.backing.Find(a.sessionCookie(b))
	require.NoError(t, err)
	assert.EqualValues(t, 0xc5, raw[0], "rewritten as SessionCodec")
	assert.True(t, a.signedIn(b))
	assert.Equal(t, "after", a.data(b))
}

// uv is a uvarint, for hand-made records.
func uv(x uint64) []byte { return binary.AppendUvarint(nil, x) }

func rec(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Corrupt records fail with ErrSessionCodec, never a panic, and a forged
// length allocates nothing near what it claims.
func TestSessionCodecCorruptRecords(t *testing.T) {
	head := []byte{0xc5, 1}
	deadline := []byte{0, 0, 1}  // the Unix epoch, UTC
	k := rec(uv(2), []byte("k")) // the key "k"
	good, err := oauthkit.SessionCodec{}.Encode(time.Now(), map[string]any{"k": "v", "l": []string{"a"}, "g": appValue{}})
	require.NoError(t, err)
	gobRec, err := scs.GobCodec{}.Encode(time.Now(), map[string]any{"k": "v"})
	require.NoError(t, err)
	huge := uv(1 << 62)
	badNanos := rec(uv(0), uv(1e9), uv(1))
	badZone := rec(uv(0), uv(0), binary.AppendVarint(nil, 1<<15))

	// The hand-made records below are this one, broken.
	d, v, err := oauthkit.SessionCodec{}.Decode(rec(head, deadline, uv(1), k, []byte{1}, uv(1), []byte("v")))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"k": "v"}, v)
	assert.True(t, d.Equal(time.Unix(0, 0)))

	cases := map[string][]byte{
		"empty":              {},
		"magic only":         {0xc5},
		"unknown version":    {0xc5, 2},
		"no deadline":        head,
		"short deadline":     rec(head, []byte{0, 0x80}),
		"bad nanoseconds":    rec(head, badNanos, uv(0)),
		"bad zone":           rec(head, badZone, uv(0)),
		"no count":           rec(head, deadline),
		"count beyond":       rec(head, deadline, uv(5), k, []byte{1}, uv(0)),
		"huge count":         rec(head, deadline, huge),
		"varint overflow":    rec(head, deadline, bytes.Repeat([]byte{0xff}, 11)),
		"huge key length":    rec(head, deadline, uv(1), huge),
		"key beyond":         rec(head, deadline, uv(1), uv(18), []byte("k")),
		"unknown key index":  rec(head, deadline, uv(1), uv(99), []byte{1}, uv(0)),
		"no tag":             rec(head, deadline, uv(1), k),
		"unknown tag":        rec(head, deadline, uv(1), k, []byte{99}),
		"huge string":        rec(head, deadline, uv(1), k, []byte{1}, huge),
		"string beyond":      rec(head, deadline, uv(1), k, []byte{1}, uv(4), []byte("ab")),
		"huge list":          rec(head, deadline, uv(1), k, []byte{2}, huge),
		"list beyond":        rec(head, deadline, uv(1), k, []byte{2}, uv(3), uv(0)),
		"short float":        rec(head, deadline, uv(1), k, []byte{7}, []byte{1, 2}),
		"huge bytes":         rec(head, deadline, uv(1), k, []byte{8}, huge),
		"short time":         rec(head, deadline, uv(1), k, []byte{9}, []byte{0, 0}),
		"huge gob":           rec(head, deadline, uv(1), k, []byte{10}, huge),
		"garbage gob":        rec(head, deadline, uv(1), k, []byte{10}, uv(3), []byte{2, 0xff, 0xff}),
		"empty gob":          rec(head, deadline, uv(1), k, []byte{10}, uv(0)),
		"duplicate key":      rec(head, deadline, uv(2), k, []byte{3}, k, []byte{4}),
		"trailing bytes":     rec(head, deadline, uv(0), []byte{0}),
		"truncated":          good[:len(good)-1],
		"extended":           rec(good, []byte{0}),
		"gob truncated":      gobRec[:len(gobRec)-3],
		"gob forged length":  {0xfc, 0x3f, 0xff, 0xff, 0xff, 0x00},
		"gob length beyond":  {0x7f, 1, 2, 3},
		"gob zero length":    {0x00},
		"gob bad byte count": {0xf7, 1},
		"gob garbage":        {0x03, 0xff, 0xff, 0xff},
		"gob forged count":   forgedGobCount(t),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, values, err := oauthkit.SessionCodec{}.Decode(b)
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, oauthkit.ErrSessionCodec)
			assert.Nil(t, values)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "allocated for a forged length")
		})
	}
}

// forgedGobCount is an scs.GobCodec record whose map claims 2^24 values
// (gob sizes a map it makes from that count: about a gigabyte).
func forgedGobCount(t *testing.T) []byte {
	b, err := scs.GobCodec{}.Encode(time.Now(), map[string]any{"k": "v"})
	require.NoError(t, err)
	last := 0 // the value message, the last of the stream
	for off := 0; off < len(b); off += 1 + int(b[off]) {
		require.Less(t, b[off], byte(0x80), "a short message length")
		last = off
	}
	// In the value message, the map's count 1 precedes the key "k".
	i := bytes.LastIndex(b, []byte{1, 1, 'k'})
	require.Greater(t, i, last)
	forged := rec(b[:i], []byte{0xfc, 0x01, 0, 0, 0}, b[i+1:])
	forged[last] += 4
	return forged
}

// A value gob cannot encode, or a time whose zone offset does not fit the
// format (nor MarshalBinary's), fails Encode with ErrSessionCodec.
func TestSessionCodecEncodeError(t *testing.T) {
	t.Parallel()
	_, err := oauthkit.SessionCodec{}.Encode(time.Now(), map[string]any{"f": func() {}})
	require.ErrorIs(t, err, oauthkit.ErrSessionCodec)
	var unregistered struct{ X int }
	_, err = oauthkit.SessionCodec{}.Encode(time.Now(), map[string]any{"u": unregistered})
	require.ErrorIs(t, err, oauthkit.ErrSessionCodec)
	farZone := time.Now().In(time.FixedZone("", 1<<15*60))
	_, err = oauthkit.SessionCodec{}.Encode(farZone, nil)
	require.ErrorIs(t, err, oauthkit.ErrSessionCodec)
	_, err = oauthkit.SessionCodec{}.Encode(time.Now(), map[string]any{"t": farZone})
	require.ErrorIs(t, err, oauthkit.ErrSessionCodec)
}

// Decode never panics; what it accepts it encodes again, and that record
// decodes to as many values.
func FuzzSessionCodecDecode(f *testing.F) {
	for _, v := range []map[string]any{codecValues(), {}, {"oauthkit.pending": `[{"s":"x"}]`}} {
		b, err := oauthkit.SessionCodec{}.Encode(time.Now(), v)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, v := range []map[string]any{{}, {"k": "v", "__rememberMe": true, "app": appValue{Name: "x"}}} {
		g, err := scs.GobCodec{}.Encode(time.Now(), v)
		require.NoError(f, err)
		f.Add(g)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		deadline, values, err := oauthkit.SessionCodec{}.Decode(b)
		if err != nil {
			if !errors.Is(err, oauthkit.ErrSessionCodec) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := oauthkit.SessionCodec{}.Encode(deadline, values)
		if err != nil {
			t.Fatalf("decoded %v but cannot encode it: %v", values, err)
		}
		_, round, err := oauthkit.SessionCodec{}.Decode(again)
		if err != nil || len(round) != len(values) {
			t.Fatalf("re-encoded record: %d values, %v (had %d)", len(round), err, len(values))
		}
	})
}
