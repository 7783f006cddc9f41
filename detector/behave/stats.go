package behave

import (
	"math"
	"math/bits"
	"slices"
)

// Hashes kept in state (subjects, devices, networks, accounts) and the
// keys of the tables come from strHash: a fixed-seed multiply-xorshift
// hash over eight bytes at a time, stable across processes and versions
// (hash/maphash seeds are not, so its values could not be snapshotted),
// and fast enough to run several times per event.
const (
	seedA = 0x9e3779b97f4a7c15
	seedB = 0xc2b2ae3d27d4eb4f
	mulA  = 0xff51afd7ed558ccd
	mulB  = 0xc4ceb9fe1a85ec53
)

// strHash continues hash h with the bytes of s (and their number, so
// that ("ab", "c") and ("a", "bc") differ when chained).
func strHash(h uint64, s string) uint64 {
	h ^= uint64(len(s)) * mulA
	for len(s) >= 8 {
		v := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = mix(h ^ v)
		s = s[8:]
	}
	if len(s) > 0 {
		var v uint64
		for i := 0; i < len(s); i++ {
			v |= uint64(s[i]) << (8 * i)
		}
		h = mix(h ^ v ^ 0xff<<56)
	}
	return h
}

// mix is the MurmurHash3 finaliser: every input bit affects every output
// bit.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= mulA
	h ^= h >> 33
	h *= mulB
	h ^= h >> 33
	return h
}

// hashString is the 64-bit hash of s kept in state.
func hashString(s string) uint64 { return strHash(seedA, s) }

// hkey is what the tables index: two independent 64-bit hashes of a key,
// so that a lookup compares 16 bytes instead of following the key's
// strings (a collision of both needs about 2^64 keys).
type hkey struct{ a, b uint64 }

// nonzero maps a hash to a non-zero value, zero marking empty set slots.
func nonzero(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// hashSet is an open-addressing set of non-zero 64-bit hashes, bounded
// at maxHashSet members; add beyond that reports every value as new.
type hashSet struct {
	slots []uint64
	n     int
}

const maxHashSet = 1024

// reset empties the set, keeping its memory unless it grew far beyond
// what it held (a burst hour should not cost its actor 16 KiB forever).
func (s *hashSet) reset() {
	if len(s.slots) > 256 && s.n < len(s.slots)/16 {
		s.slots = nil
	}
	clear(s.slots)
	s.n = 0
}

// add inserts h (non-zero) and reports whether it was new. A full set
// counts every unknown value as new without storing it.
func (s *hashSet) add(h uint64) bool {
	if len(s.slots) == 0 {
		s.slots = make([]uint64, 16)
	}
	if (s.n+1)*2 > len(s.slots) {
		if len(s.slots) >= 2*maxHashSet {
			return !s.has(h)
		}
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return false
		case 0:
			s.slots[i] = h
			s.n++
			return true
		}
	}
}

func (s *hashSet) has(h uint64) bool {
	if len(s.slots) == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (s *hashSet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	s.n = 0
	for _, h := range old {
		if h != 0 {
			s.add(h)
		}
	}
}

// sorted appends the members in increasing order (a canonical form for
// snapshots).
func (s *hashSet) sorted(dst []uint64) []uint64 {
	start := len(dst)
	for _, h := range s.slots {
		if h != 0 {
			dst = append(dst, h)
		}
	}
	slices.Sort(dst[start:])
	return dst
}

// Hourly counts are kept in a log-linear histogram: exact below 16, then
// four bins per doubling (at most 12.5% apart) up to 2^18 and one bin
// above. Quantiles read from it are within a bin of the exact ones, which
// is all a threshold several times the median needs, in 144 bytes per
// metric instead of one number per hour.
const nBins = 72

type hist struct {
	c [nBins]uint16
	n uint32 // sum of c
}

func binOf(v uint32) int {
	if v < 16 {
		return int(v)
	}
	e := bits.Len32(v) - 1 // ≥ 4
	b := 16 + (e-4)*4 + int(v>>(e-2)&3)
	return min(b, nBins-1)
}

// binLow is the smallest value in bin b.
func binLow(b int) float64 {
	if b < 16 {
		return float64(b)
	}
	e := 4 + (b-16)/4
	return float64(uint32(4+(b-16)%4) << (e - 2))
}

// binMid is the value a bin stands for: itself below 16, else its middle.
func binMid(b int) float64 {
	if b < 16 {
		return float64(b)
	}
	if b == nBins-1 {
		return binLow(b)
	}
	return (binLow(b) + binLow(b+1) - 1) / 2
}

// add counts one observation; when n reaches limit every bin is halved
// (rounding up non-empty bins), so old hours weigh less and counts stay
// small.
func (h *hist) add(v uint32, limit uint32) {
	b := binOf(v)
	if h.c[b] < math.MaxUint16 {
		h.c[b]++
		h.n++
	}
	if h.n >= limit {
		h.n = 0
		for i, c := range h.c {
			c = (c + 1) / 2
			h.c[i] = c
			h.n += uint32(c)
		}
	}
}

// quantile returns the value of the q-quantile (0 < q ≤ 1) of the
// observations; 0 when there are none.
func (h *hist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint32(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var cum uint32
	for b, c := range h.c {
		cum += uint32(c)
		if cum >= rank {
			return binMid(b)
		}
	}
	return binMid(nBins - 1)
}

// medianMAD returns the median and the median absolute deviation from it.
func (h *hist) medianMAD() (med, mad float64) {
	if h.n == 0 {
		return 0, 0
	}
	med = h.quantile(0.5)
	type dev struct {
		d float64
		c uint16
	}
	var devs [nBins]dev
	k := 0
	for b, c := range h.c {
		if c > 0 {
			devs[k] = dev{math.Abs(binMid(b) - med), c}
			k++
		}
	}
	ds := devs[:k]
	// Insertion sort: at most 64 elements, no allocation.
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j].d < ds[j-1].d; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
	rank := (h.n + 1) / 2
	var cum uint32
	for _, d := range ds {
		cum += uint32(d.c)
		if cum >= rank {
			return med, d.d
		}
	}
	return med, 0
}

func (h *hist) write(w *wbuf) {
	k := 0
	for _, c := range h.c {
		if c > 0 {
			k++
		}
	}
	w.u(uint64(k))
	for b, c := range h.c {
		if c > 0 {
			w.u(uint64(b))
			w.u(uint64(c))
		}
	}
}

func (h *hist) read(r *rbuf) {
	*h = hist{}
	k := r.n(nBins)
	for range k {
		b := r.n(nBins - 1)
		c := r.n(math.MaxUint16)
		if r.err != nil {
			return
		}
		h.c[b] = uint16(c)
		h.n += uint32(c)
	}
}

// haversineKm is the great-circle distance between two points in degrees.
func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	const earthKm = 6371.0088
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	s1, s2 := math.Sin(dLat/2), math.Sin(dLon/2)
	a := s1*s1 + math.Cos(lat1*rad)*math.Cos(lat2*rad)*s2*s2
	return 2 * earthKm * math.Asin(math.Sqrt(min(1, a)))
}
