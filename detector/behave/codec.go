package behave

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// State format. Every behaviour's MarshalState writes a header — the magic
// "VBS", a format version and the behaviour's name — followed by its own
// fields as varints, length-prefixed strings and IEEE 754 bits, with table
// entries least recently used first. UnmarshalState refuses another
// version, another behaviour's state and trailing or missing bytes.
const (
	stateMagic   = "VBS"
	stateVersion = 1
)

// maxStateLen bounds a length read from a state (strings, counts), so that
// corrupt input fails instead of allocating without limit.
const maxStateLen = 1 << 28

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("corrupt behaviour state")

// wbuf appends a state.
type wbuf struct{ b []byte }

func newWbuf(name string) *wbuf {
	w := &wbuf{b: make([]byte, 0, 256)}
	w.b = append(w.b, stateMagic...)
	w.u(stateVersion)
	w.s(name)
	return w
}

func (w *wbuf) u(v uint64)  { w.b = binary.AppendUvarint(w.b, v) }
func (w *wbuf) i(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *wbuf) f(v float64) { w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v)) }
func (w *wbuf) h(v uint64)  { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *wbuf) s(v string)  { w.u(uint64(len(v))); w.b = append(w.b, v...) }
func (w *wbuf) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}
func (w *wbuf) key(k key) { w.s(k.org); w.s(k.id) }

// rbuf reads a state; the first error sticks and later reads return zero
// values.
type rbuf struct {
	b   []byte
	err error
}

func newRbuf(b []byte, name string) *rbuf {
	r := &rbuf{b: b}
	if len(b) < len(stateMagic) || string(b[:len(stateMagic)]) != stateMagic {
		r.fail("no state header")
		return r
	}
	r.b = r.b[len(stateMagic):]
	if v := r.u(); r.err == nil && v != stateVersion {
		r.fail("state format version %d, want %d", v, stateVersion)
	}
	if n := r.s(); r.err == nil && n != name {
		r.fail("state of behaviour %q, want %q", n, name)
	}
	return r
}

func (r *rbuf) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
	}
	r.b = nil
}

func (r *rbuf) u() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rbuf) i() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rbuf) h() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *rbuf) f() float64 { return math.Float64frombits(r.h()) }

func (r *rbuf) bool() bool {
	if r.err != nil {
		return false
	}
	if len(r.b) < 1 || r.b[0] > 1 {
		r.fail("bad bool")
		return false
	}
	v := r.b[0] == 1
	r.b = r.b[1:]
	return v
}

func (r *rbuf) s() string {
	v := r.u()
	if r.err == nil && v > uint64(len(r.b)) {
		r.fail("string of %d bytes, %d left", v, len(r.b))
	}
	if r.err != nil {
		return ""
	}
	n := int(v)
	str := string(r.b[:n])
	r.b = r.b[n:]
	return str
}

// n reads a count or length and checks it is at most limit.
func (r *rbuf) n(limit int) int {
	v := r.u()
	if r.err == nil && (v > maxStateLen || v > uint64(limit)) {
		r.fail("length %d out of range", v)
		return 0
	}
	return int(v)
}

func (r *rbuf) key() key { return key{r.s(), r.s()} }

// done reports the sticky error, or an error if bytes are left over.
func (r *rbuf) done() error {
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	return r.err
}

// marshalTable writes the state shape most behaviours share: the hour of
// the last sweep, then each entry of t (key, touch time) followed by what
// body writes of its value.
func marshalTable[V any](name string, lastSweep int64, t *table[key, V], body func(w *wbuf, v *V)) []byte {
	w := newWbuf(name)
	w.i(lastSweep)
	w.u(uint64(t.len()))
	t.each(func(k key, touched int64, v *V) {
		w.key(k)
		w.i(touched)
		body(w, v)
	})
	return w.b
}

// unmarshalTable restores what marshalTable wrote into t and *lastSweep,
// body reading each value. nil data resets to a fresh state; bad data is
// refused and also leaves a fresh state.
func unmarshalTable[V any](data []byte, name string, lastSweep *int64, t *table[key, V], body func(r *rbuf, v *V)) error {
	t.clear()
	*lastSweep = noHour
	if data == nil {
		return nil
	}
	r := newRbuf(data, name)
	*lastSweep = r.i()
	n := r.n(len(r.b))
	for range n {
		k := r.key()
		touched := r.i()
		if r.err != nil {
			break
		}
		v, _ := t.get(k, touched)
		body(r, v)
	}
	if err := r.done(); err != nil {
		t.clear()
		*lastSweep = noHour
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
