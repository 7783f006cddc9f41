package behave

import "strings"

// key identifies what a behaviour keeps state for: an org and an actor,
// device or account id of that org.
type key struct{ org, id string }

// clone returns k with its own copies of the strings, so that a key kept
// in a table never aliases an event's (possibly reused) memory.
func (k key) clone() key { return key{strings.Clone(k.org), strings.Clone(k.id)} }

func (k key) hash() hkey {
	return hkey{strHash(strHash(seedA, k.org), k.id), strHash(strHash(seedB, k.org), k.id)}
}

// peerKey identifies a peer group: org, role and department.
type peerKey struct{ org, role, dept string }

func (k peerKey) clone() peerKey {
	return peerKey{strings.Clone(k.org), strings.Clone(k.role), strings.Clone(k.dept)}
}

func (k peerKey) hash() hkey {
	return hkey{strHash(strHash(strHash(seedA, k.org), k.role), k.dept),
		strHash(strHash(strHash(seedB, k.org), k.role), k.dept)}
}

// tableKey is what a table can key by.
type tableKey[K any] interface {
	comparable
	clone() K
	hash() hkey
}

// table is a bounded map with least-recently-used eviction: at most max
// entries, and adding one more evicts the entry touched longest ago
// (counted in evictions). Entries live in a slice linked into a list,
// most recent first, and a freed slot is reused with its value's
// capacity, so that a full table adds entries without allocating (except
// the key's strings).
//
// The order of the list depends only on the order of get calls, so it is
// deterministic, and marshalling walks it, so that a restored table
// evicts the same entries as the original would.
type table[K tableKey[K], V any] struct {
	max       int
	idx       map[hkey]int32
	slots     []slot[K, V]
	head      int32 // most recently used; -1 when empty
	tail      int32 // least recently used; -1 when empty
	free      []int32
	reset     func(*V) // clears a value for reuse, keeping its capacity
	evictions uint64   // entries dropped because the table was full
	expired   uint64   // entries dropped because they were idle too long
}

type slot[K tableKey[K], V any] struct {
	k          K
	hk         hkey
	prev, next int32
	touched    int64 // event time (Unix ms) of the last get, for expiry
	v          V
}

func newTable[K tableKey[K], V any](max int, reset func(*V)) *table[K, V] {
	return &table[K, V]{max: max, idx: make(map[hkey]int32), head: -1, tail: -1, reset: reset}
}

// len returns the number of entries.
func (t *table[K, V]) len() int { return len(t.idx) }

// peek returns the value of k without touching it, or nil.
func (t *table[K, V]) peek(k K) *V {
	if i, ok := t.idx[k.hash()]; ok {
		return &t.slots[i].v
	}
	return nil
}

// get returns the value of k, creating a fresh one (evicting the least
// recently used entry when the table is full) if k is not present, and
// makes k the most recently used entry. created reports a new entry. The
// pointer is valid until the next call that adds an entry.
func (t *table[K, V]) get(k K, at int64) (v *V, created bool) {
	hk := k.hash()
	if i, ok := t.idx[hk]; ok {
		t.moveToFront(i)
		s := &t.slots[i]
		s.touched = max(s.touched, at)
		return &s.v, false
	}
	i := t.alloc()
	s := &t.slots[i]
	s.k, s.hk = k.clone(), hk
	s.touched = at
	t.idx[hk] = i
	t.pushFront(i)
	return &s.v, true
}

// alloc returns a free slot with a reset value, evicting if needed.
func (t *table[K, V]) alloc() int32 {
	if len(t.idx) >= t.max && t.tail >= 0 {
		t.remove(t.tail)
		t.evictions++
	}
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		t.slots = append(t.slots, slot[K, V]{})
		i = int32(len(t.slots) - 1)
	}
	t.reset(&t.slots[i].v)
	return i
}

// remove unlinks slot i and frees it.
func (t *table[K, V]) remove(i int32) {
	s := &t.slots[i]
	delete(t.idx, s.hk)
	t.unlink(i)
	var zero K
	s.k = zero
	t.free = append(t.free, i)
}

// expire drops entries from the least recently used end while their last
// touch is before cutoff; it stops at the first entry touched since. It
// returns how many it dropped.
func (t *table[K, V]) expire(cutoff int64) int {
	n := 0
	for t.tail >= 0 && t.slots[t.tail].touched < cutoff {
		t.remove(t.tail)
		t.expired++
		n++
	}
	return n
}

func (t *table[K, V]) unlink(i int32) {
	s := &t.slots[i]
	if s.prev >= 0 {
		t.slots[s.prev].next = s.next
	} else {
		t.head = s.next
	}
	if s.next >= 0 {
		t.slots[s.next].prev = s.prev
	} else {
		t.tail = s.prev
	}
	s.prev, s.next = -1, -1
}

func (t *table[K, V]) pushFront(i int32) {
	s := &t.slots[i]
	s.prev, s.next = -1, t.head
	if t.head >= 0 {
		t.slots[t.head].prev = i
	}
	t.head = i
	if t.tail < 0 {
		t.tail = i
	}
}

func (t *table[K, V]) moveToFront(i int32) {
	if t.head == i {
		return
	}
	t.unlink(i)
	t.pushFront(i)
}

// each calls f for every entry, least recently used first (the order in
// which inserting them again rebuilds the same list).
func (t *table[K, V]) each(f func(k K, touched int64, v *V)) {
	for i := t.tail; i >= 0; i = t.slots[i].prev {
		s := &t.slots[i]
		f(s.k, s.touched, &s.v)
	}
}

// clear drops every entry (not counted as evictions).
func (t *table[K, V]) clear() {
	clear(t.idx)
	t.slots = t.slots[:0]
	t.free = t.free[:0]
	t.head, t.tail = -1, -1
}
