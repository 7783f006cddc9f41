package runner

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/behave"
)

// behaviourStats exports the Stats of the behaviours of package behave
// (behave.StatsReporter): entries evicted and expired as counters, entries
// tracked as a gauge summed over the assigned partitions, each labelled
// with the behaviour's name (a fixed set).
type behaviourStats struct {
	names   []string // of the behaviours that report, in their order
	evicted []prometheus.Counter
	expired []prometheus.Counter
}

func newBehaviourStats(m *metrics, bs []detector.Behaviour) *behaviourStats {
	s := &behaviourStats{}
	for _, b := range bs {
		if _, ok := b.(behave.StatsReporter); !ok {
			continue
		}
		s.names = append(s.names, b.Name())
		s.evicted = append(s.evicted, m.behaviourEvictions.WithLabelValues(b.Name()))
		s.expired = append(s.expired, m.behaviourExpired.WithLabelValues(b.Name()))
	}
	return s
}

// behaviourCounts is what one partition's behaviours reported last.
type behaviourCounts struct {
	bs   []detector.Behaviour // the partition's instances
	prev []behave.Stats       // by index of behaviourStats.names
}

// newBehaviourCounts starts counting the growth of bs's stats from now.
func (s *behaviourStats) newBehaviourCounts(bs []detector.Behaviour) behaviourCounts {
	c := behaviourCounts{bs: bs, prev: make([]behave.Stats, len(s.names))}
	s.each(c.bs, func(i int, st behave.Stats) { c.prev[i] = st })
	return c
}

// each calls fn with the stats of each reporting behaviour of bs, by its
// index in names; a behaviour whose name is not there is skipped.
func (s *behaviourStats) each(bs []detector.Behaviour, fn func(i int, st behave.Stats)) {
	j := 0
	for _, b := range bs {
		sr, ok := b.(behave.StatsReporter)
		if !ok {
			continue
		}
		for j < len(s.names) && s.names[j] != b.Name() {
			j++
		}
		if j == len(s.names) {
			return
		}
		fn(j, sr.Stats())
		j++
	}
}

// add exports the growth of c's counters since the last call and stores
// the tracked entries in tracked (one per name).
func (s *behaviourStats) add(c *behaviourCounts, tracked []atomic.Int64) {
	s.each(c.bs, func(i int, st behave.Stats) {
		p := c.prev[i]
		if st.Evicted > p.Evicted {
			s.evicted[i].Add(float64(st.Evicted - p.Evicted))
		}
		if st.Expired > p.Expired {
			s.expired[i].Add(float64(st.Expired - p.Expired))
		}
		c.prev[i] = st
		tracked[i].Store(int64(st.Tracked))
	})
}
