package simulate

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// rng is a PCG generator called directly (no interface), with the few
// draws the simulator needs. Every random choice goes through one of the
// simulator's rng streams in a fixed order, which is what makes a run
// reproducible.
type rng struct{ p rand.PCG }

// Streams of one seed: changing how many incidents are injected does not
// change the population or the background traffic.
const (
	streamWorld uint64 = iota + 1
	streamBackground
	streamScenario
	streamIncident
	streamDormant
)

func newRNG(seed, stream uint64) *rng {
	r := &rng{}
	r.p.Seed(seed, stream*0x9e3779b97f4a7c15)
	return r
}

func (r *rng) u64() uint64 { return r.p.Uint64() }

// float returns a uniform float64 in [0, 1).
func (r *rng) float() float64 { return float64(r.p.Uint64()>>11) / (1 << 53) }

// intn returns a uniform int in [0, n); n must be positive. (Lemire's
// multiply without the rejection step: the bias is below 2^-32 for the
// sizes used here.)
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.p.Uint64(), uint64(n))
	return int(hi)
}

// between returns a uniform int in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// poisson draws from a Poisson distribution with mean lambda (Knuth's
// method for small means, a rounded normal approximation for large ones).
func (r *rng) poisson(lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		n := int(math.Round(lambda + math.Sqrt(lambda)*r.normal()))
		return max(n, 0)
	}
	l := math.Exp(-lambda)
	k, p := 0, r.float()
	for p > l {
		k++
		p *= r.float()
	}
	return k
}

// normal draws a standard normal variate (Box-Muller).
func (r *rng) normal() float64 {
	u := 1 - r.float() // (0, 1]
	v := r.float()
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*v)
}

// weights is a cumulative distribution over indexes 0..n-1.
type weights []float64

func newWeights(w ...float64) weights {
	c := make(weights, len(w))
	sum := 0.0
	for i, x := range w {
		sum += x
		c[i] = sum
	}
	for i := range c {
		c[i] /= sum
	}
	return c
}

// pick draws an index with probability proportional to its weight.
func (r *rng) pick(w weights) int {
	u := r.float()
	for i, c := range w {
		if u < c {
			return i
		}
	}
	return len(w) - 1
}

// poissonTable answers Poisson draws for one mean with one uniform draw:
// cdf[k] is P(X ≤ k).
type poissonTable struct {
	cdf [8]float64
	n   int
}

func newPoissonTable(lambda float64) poissonTable {
	var t poissonTable
	if lambda <= 0 {
		return t
	}
	p := math.Exp(-lambda)
	sum := p
	for k := 0; k < len(t.cdf); k++ {
		t.cdf[k] = sum
		t.n = k + 1
		if sum >= 1-1e-12 {
			break
		}
		p *= lambda / float64(k+1)
		sum += p
	}
	return t
}

// draw returns a Poisson variate; means above about 2 lose the tail beyond
// the table, which the callers (per-minute means below 1) never reach.
func (t *poissonTable) draw(r *rng) int {
	if t.n == 0 {
		return 0
	}
	u := r.float()
	for k := 0; k < t.n; k++ {
		if u < t.cdf[k] {
			return k
		}
	}
	return t.n
}

// mix64 is SplitMix64's finaliser: a fixed hash of x, for decisions that
// must be the same whenever they are asked (is this actor off on this
// day?) without a stored table.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
