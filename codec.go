package oauthkit

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/alexedwards/scs/v2"
)

// ErrSessionCodec is matched by every error SessionCodec.Decode returns for
// a record it cannot read (truncated, a length beyond the record, an
// unknown version or type tag, unreadable gob) and by the errors of
// SessionCodec.Encode. scs hands it to the session manager's ErrorFunc.
var ErrSessionCodec = errors.New("oauthkit: unreadable session record")

// SessionCodec is an scs.Codec for the values sessions actually hold:
// strings (everything the kit stores is one), []string, bool, int, int64,
// float64, []byte and time.Time are written natively; any other value is
// written with encoding/gob, one value at a time, so an application's own
// types keep working once registered with gob.Register as usual.
//
// scs.GobCodec, scs's default, builds a new gob encoder for every record,
// so every save resends the type descriptors of the record and of each
// value, and every load parses them again and builds a decoding engine
// for them: two hundred allocations and most of the time of a signed-in
// request. SessionCodec reads a kit session in a handful.
//
// Records written by scs.GobCodec still decode, so a rolling deploy can
// switch codecs while sessions are live (records are rewritten in this
// format on their next save). A record starts with a byte no gob stream
// can start with, so neither format is mistaken for the other; a record
// written by SessionCodec does not decode with scs.GobCodec, so roll back
// only to a version that knows it. Lengths in a record are checked against
// the record's size before anything is allocated for them.
//
// New never replaces the application's codec: the session manager is the
// application's, and other code may depend on its format. Opt in with
//
//	sm.Codec = oauthkit.SessionCodec{}
type SessionCodec struct{}

var _ scs.Codec = SessionCodec{}

// A record is codecMagic, codecVersion, the deadline (appendTime), the
// number of values as a uvarint, then per value its key (appendKey), a
// type tag and the value: a string or []byte as a uvarint length and the
// bytes; a []string as a uvarint count and that many strings; an int or
// int64 as a zigzag varint; a float64 as 8 little-endian bytes; a time as
// appendTime; any other value as a uvarint length and a gob stream of
// struct{ V interface{} }. Booleans and nil are their tag alone.
//
// codecMagic starts every record. A gob stream starts with a message
// length: one byte below 0x80, or a byte count from 0xf8 (-8) to 0xff (-1)
// followed by that many bytes; 0xc5 is neither, and gob refuses it.
const (
	codecMagic   = 0xc5
	codecVersion = 1
)

// Type tags: part of the format, so append only.
const (
	tagNil byte = iota
	tagString
	tagStrings
	tagFalse
	tagTrue
	tagInt
	tagInt64
	tagFloat64
	tagBytes
	tagTime
	tagGob
)

// Encode writes the deadline and values into a slice of exactly the
// record's size: memory stores keep the slice as it is, so spare capacity
// would be held for the session's lifetime.
func (SessionCodec) Encode(deadline time.Time, values map[string]interface{}) ([]byte, error) {
	// Values that have no native form are gob-encoded first, so that the
	// record's size is known before it is written.
	var gobbed map[string][]byte
	if !zoneOK(deadline) {
		return nil, fmt.Errorf("%w: deadline zone offset out of range", ErrSessionCodec)
	}
	n := 2 + timeLen(deadline) + uvarintLen(uint64(len(values)))
	for k, v := range values {
		n += keyLen(k) + 1
		switch v := v.(type) {
		case nil, bool:
		case string:
			n += uvarintLen(uint64(len(v))) + len(v)
		case []string:
			n += uvarintLen(uint64(len(v)))
			for _, s := range v {
				n += uvarintLen(uint64(len(s))) + len(s)
			}
		case int:
			n += varintLen(int64(v))
		case int64:
			n += varintLen(v)
		case float64:
			n += 8
		case []byte:
			n += uvarintLen(uint64(len(v))) + len(v)
		case time.Time:
			if !zoneOK(v) {
				return nil, fmt.Errorf("%w: value %q: zone offset out of range", ErrSessionCodec, k)
			}
			n += timeLen(v)
		default:
			b, err := gobValue(v)
			if err != nil {
				return nil, fmt.Errorf("%w: value %q: %w", ErrSessionCodec, k, err)
			}
			if gobbed == nil {
				gobbed = make(map[string][]byte)
			}
			gobbed[k] = b
			n += uvarintLen(uint64(len(b))) + len(b)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, codecMagic, codecVersion)
	b = appendTime(b, deadline)
	b = binary.AppendUvarint(b, uint64(len(values)))
	for k, v := range values {
		b = appendKey(b, k)
		switch v := v.(type) {
		case nil:
			b = append(b, tagNil)
		case string:
			b = appendString(append(b, tagString), v)
		case []string:
			b = binary.AppendUvarint(append(b, tagStrings), uint64(len(v)))
			for _, s := range v {
				b = appendString(b, s)
			}
		case bool:
			if v {
				b = append(b, tagTrue)
			} else {
				b = append(b, tagFalse)
			}
		case int:
			b = binary.AppendVarint(append(b, tagInt), int64(v))
		case int64:
			b = binary.AppendVarint(append(b, tagInt64), v)
		case float64:
			b = binary.LittleEndian.AppendUint64(append(b, tagFloat64), math.Float64bits(v))
		case []byte:
			b = binary.AppendUvarint(append(b, tagBytes), uint64(len(v)))
			b = append(b, v...)
		case time.Time:
			b = appendTime(append(b, tagTime), v)
		default:
			g := gobbed[k]
			b = binary.AppendUvarint(append(b, tagGob), uint64(len(g)))
			b = append(b, g...)
		}
	}
	if len(b) != n {
		// The size pass and the write pass disagree: a bug, never input.
		return nil, fmt.Errorf("%w: encoded %d bytes, sized %d", ErrSessionCodec, len(b), n)
	}
	return b, nil
}

// Decode reads a record written by Encode or by scs.GobCodec.
func (SessionCodec) Decode(b []byte) (time.Time, map[string]interface{}, error) {
	if len(b) == 0 || b[0] != codecMagic {
		return decodeGob(b)
	}
	if len(b) < 2 || b[1] != codecVersion {
		return time.Time{}, nil, fmt.Errorf("%w: unknown version", ErrSessionCodec)
	}
	// One string holds every key and string value of the record, so a
	// record costs one copy, not one per string.
	d := decoder{s: string(b), off: 2}
	deadline := d.time()
	count := d.count(2) // a key length and a tag at least
	// Hints are capped: a count is checked against the record's size, but a
	// map entry or a string header is bigger than the bytes it stands for.
	values := make(map[string]interface{}, min(count, 64))
	for range count {
		k := d.key()
		if d.err != nil {
			break
		}
		var v interface{}
		switch tag := d.byte(); tag {
		case tagNil:
		case tagString:
			v = d.str()
		case tagStrings:
			n := d.count(1)
			ss := make([]string, 0, min(n, 64))
			for range n {
				ss = append(ss, d.str())
			}
			v = ss
		case tagFalse:
			v = false
		case tagTrue:
			v = true
		case tagInt:
			x := d.varint()
			if x < math.MinInt || x > math.MaxInt {
				d.fail("int out of range")
			}
			v = int(x)
		case tagInt64:
			v = d.varint()
		case tagFloat64:
			v = math.Float64frombits(d.uint64())
		case tagBytes:
			v = []byte(d.bytes(d.count(1)))
		case tagTime:
			v = d.time()
		case tagGob:
			v = d.gob()
		default:
			d.fail("unknown type tag")
		}
		if d.err != nil {
			break
		}
		if _, dup := values[k]; dup {
			d.fail("duplicate key")
			break
		}
		values[k] = v
	}
	if d.err == nil && d.off != len(d.s) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return time.Time{}, nil, d.err
	}
	return deadline, values, nil
}

// A time is its Unix seconds and nanoseconds and its zone offset in
// minutes (-1 for UTC), as time.Time.MarshalBinary (and so gob) keeps it:
// the instant and the offset, not the location's name.
func appendTime(b []byte, t time.Time) []byte {
	sec, nsec := unixParts(t)
	b = binary.AppendVarint(b, sec)
	b = binary.AppendUvarint(b, nsec)
	return binary.AppendVarint(b, zoneOffset(t))
}

func timeLen(t time.Time) int {
	sec, nsec := unixParts(t)
	return varintLen(sec) + uvarintLen(nsec) + varintLen(zoneOffset(t))
}

// unixParts is t's Unix seconds and nanoseconds, the nanoseconds below a
// second: time.Time.UnmarshalBinary, and so a gob record, accepts more,
// which Decode would then refuse.
func unixParts(t time.Time) (int64, uint64) {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	return sec + nsec/1e9, uint64(nsec % 1e9)
}

// zoneOK: the zone offset in minutes fits 16 bits, as MarshalBinary
// requires.
func zoneOK(t time.Time) bool {
	off := zoneOffset(t)
	return off >= math.MinInt16 && off <= math.MaxInt16
}

func zoneOffset(t time.Time) int64 {
	if t.Location() == time.UTC {
		return -1
	}
	_, off := t.Zone()
	return int64(off / 60)
}

// knownKeys are the keys every kit session holds, and scs's own: each is
// written as one byte. The list is part of the format: append only, and
// only with a new codecVersion.
var knownKeys = [...]string{
	keyPending, keyUser, keyToken, keyBinding, keyLogout, "__rememberMe",
}

// A key is a uvarint: a known key's index times two plus one, or the
// key's length times two followed by the key.
func appendKey(b []byte, k string) []byte {
	if i := knownKey(k); i >= 0 {
		return binary.AppendUvarint(b, uint64(i)<<1|1)
	}
	return append(binary.AppendUvarint(b, uint64(len(k))<<1), k...)
}

func keyLen(k string) int {
	if knownKey(k) >= 0 {
		return 1
	}
	return uvarintLen(uint64(len(k))<<1) + len(k)
}

func knownKey(k string) int {
	for i, kk := range knownKeys {
		if k == kk {
			return i
		}
	}
	return -1
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func varintLen(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return uvarintLen(ux)
}

// gobValue gob-encodes one value as an interface, so that its registered
// type name travels with it.
func gobValue(v interface{}) ([]byte, error) {
	var buf bytes.Buffer
	aux := struct{ V interface{} }{v}
	if err := gob.NewEncoder(&buf).Encode(&aux); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decoder reads a record; the first error sticks and every later read
// returns a zero value, so Decode checks once per value.
type decoder struct {
	s   string
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrSessionCodec, what, d.off)
	}
	d.off = len(d.s)
}

func (d *decoder) byte() byte {
	if d.err != nil || d.off >= len(d.s) {
		d.fail("truncated")
		return 0
	}
	c := d.s[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	for shift := uint(0); ; shift += 7 {
		c := d.byte()
		if d.err != nil {
			return 0
		}
		if shift == 63 && c > 1 {
			d.fail("varint overflow")
			return 0
		}
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
}

func (d *decoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// count reads a count of items of at least min bytes each, refusing one
// the rest of the record cannot hold: a forged count never allocates more
// than the record's size.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64((len(d.s)-d.off)/min) {
		d.fail("length beyond the record")
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(n int) string {
	if d.err != nil {
		return ""
	}
	if n > len(d.s)-d.off {
		d.fail("truncated")
		return ""
	}
	s := d.s[d.off : d.off+n]
	d.off += n
	return s
}

// uint64 reads 8 little-endian bytes.
func (d *decoder) uint64() uint64 {
	b := d.bytes(8)
	if len(b) < 8 {
		return 0
	}
	return binary.LittleEndian.Uint64([]byte(b))
}

func (d *decoder) str() string { return d.bytes(d.count(1)) }

func (d *decoder) key() string {
	h := d.uvarint()
	if h&1 == 1 {
		if h>>1 >= uint64(len(knownKeys)) {
			d.fail("unknown key index")
			return ""
		}
		return knownKeys[h>>1]
	}
	if h>>1 > uint64(len(d.s)-d.off) {
		d.fail("length beyond the record")
		return ""
	}
	return d.bytes(int(h >> 1))
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	offset := d.varint()
	if d.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		d.fail("bad time")
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	switch {
	case offset == -1:
		return t.UTC()
	case offset < math.MinInt16 || offset > math.MaxInt16:
		d.fail("bad time zone")
		return time.Time{}
	default:
		// As time.Time.UnmarshalBinary: the local zone when its offset
		// matches, a nameless fixed zone otherwise.
		if _, local := t.Local().Zone(); local == int(offset)*60 {
			return t.Local()
		}
		return t.In(time.FixedZone("", int(offset)*60))
	}
}

func (d *decoder) gob() interface{} {
	s := d.bytes(d.count(1))
	if d.err != nil {
		return nil
	}
	b := []byte(s)
	if err := gobFramed(b); err != nil {
		d.fail(err.Error())
		return nil
	}
	var aux struct{ V interface{} }
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&aux); err != nil {
		d.fail("gob value: " + err.Error())
		return nil
	}
	return aux.V
}

// decodeGob reads a record written by scs.GobCodec, as GobCodec.Decode
// does but into a map made beforehand: gob sizes a map it makes from the
// record's count, which a forged record could set to billions.
func decodeGob(b []byte) (time.Time, map[string]interface{}, error) {
	if err := gobFramed(b); err != nil {
		return time.Time{}, nil, fmt.Errorf("%w: %s", ErrSessionCodec, err)
	}
	aux := struct {
		Deadline time.Time
		Values   map[string]interface{}
	}{Values: make(map[string]interface{})}
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&aux); err != nil {
		return time.Time{}, nil, fmt.Errorf("%w: gob: %w", ErrSessionCodec, err)
	}
	return aux.Deadline, aux.Values, nil
}

// gobFramed checks that every message length of the gob stream b lies
// within b: the gob decoder allocates a message's buffer from its length
// before reading it, so a forged length would allocate up to a gigabyte.
// (What gob makes for the types inside values, an application's own map
// types for one, it sizes itself.)
func gobFramed(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty record")
	}
	for len(b) > 0 {
		// A gob uint: one byte below 0x80, or the negated count of the
		// big-endian bytes that follow.
		var n uint64
		c := b[0]
		b = b[1:]
		if c < 0x80 {
			n = uint64(c)
		} else {
			k := int(-int8(c))
			if k < 1 || k > 8 || k > len(b) {
				return errors.New("bad gob message length")
			}
			for _, x := range b[:k] {
				n = n<<8 | uint64(x)
			}
			b = b[k:]
		}
		if n == 0 || n > uint64(len(b)) {
			return errors.New("gob message length beyond the record")
		}
		b = b[n:]
	}
	return nil
}
