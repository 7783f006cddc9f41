package simulate

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// testKey is the pseudonymisation key of the tests.
var testKey = bytes.Repeat([]byte{0x5a}, 32)

// dataset is one run, as NDJSON and decoded with the collector's
// validation.
type dataset struct {
	cfg                    Config
	access, device, labels []byte
	acc                    []event.AccessEvent
	dev                    []event.DeviceEvent
	lbl                    []Label
	accByID                map[string]*event.AccessEvent
	devByID                map[string]*event.DeviceEvent
	inIncident             map[string]*Label
	stats                  Stats
	zones                  map[string]*time.Location
	orgs                   []Org
	invalid                []string // problems found while decoding
}

// generate runs cfg into NDJSON buffers.
func generate(t testing.TB, cfg Config) (*Simulator, []byte, []byte, []byte) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var a, d, l bytes.Buffer
	if err := s.Run(context.Background(), NewWriterSink(&a, &d, &l)); err != nil {
		t.Fatal(err)
	}
	return s, a.Bytes(), d.Bytes(), l.Bytes()
}

// decode reads a run back as the collector would.
func decode(s *Simulator, a, d, l []byte) *dataset {
	ds := &dataset{cfg: s.cfg, access: a, device: d, labels: l, stats: s.Stats(), zones: s.TimeZones(), orgs: s.Orgs(),
		accByID: map[string]*event.AccessEvent{}, devByID: map[string]*event.DeviceEvent{}}
	lines := func(b []byte, f func(line []byte)) {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f(sc.Bytes())
		}
	}
	lines(a, func(b []byte) {
		e, p := event.DecodeAccess(b)
		if len(p) > 0 && len(ds.invalid) < 20 {
			ds.invalid = append(ds.invalid, fmt.Sprintf("%s: %s", b, p))
		}
		ds.acc = append(ds.acc, e)
	})
	lines(d, func(b []byte) {
		e, p := event.DecodeDevice(b)
		if len(p) > 0 && len(ds.invalid) < 20 {
			ds.invalid = append(ds.invalid, fmt.Sprintf("%s: %s", b, p))
		}
		ds.dev = append(ds.dev, e)
	})
	for i := range ds.acc {
		ds.accByID[ds.acc[i].EventID] = &ds.acc[i]
	}
	for i := range ds.dev {
		ds.devByID[ds.dev[i].EventID] = &ds.dev[i]
	}
	lbl, err := ReadLabels(bytes.NewReader(l))
	if err != nil {
		ds.invalid = append(ds.invalid, err.Error())
	}
	ds.lbl = lbl
	ds.inIncident = IndexByEvent(ds.lbl)
	return ds
}

// fixtureConfig is the run most tests read: a day of four hospitals with
// every kind of incident once an hour.
var fixtureConfig = Config{Seed: 7, Rate: 1, Key: testKey}

var fixtureOnce struct {
	sync.Once
	ds *dataset
}

func fixture(t testing.TB) *dataset {
	t.Helper()
	fixtureOnce.Do(func() {
		s, a, d, l := generate(t, fixtureConfig)
		fixtureOnce.ds = decode(s, a, d, l)
	})
	if fixtureOnce.ds == nil {
		t.Fatal("fixture run failed")
	}
	return fixtureOnce.ds
}

// background returns the access events of no incident.
func (ds *dataset) background() []*event.AccessEvent {
	var out []*event.AccessEvent
	for i := range ds.acc {
		if ds.inIncident[ds.acc[i].EventID] == nil {
			out = append(out, &ds.acc[i])
		}
	}
	return out
}

func (ds *dataset) localHour(org string, ts event.Timestamp) int {
	return ts.In(ds.zones[org]).Hour()
}

func actorKey(e *event.AccessEvent) string { return e.Org + "/" + e.Actor.ID }

// maxInWindow returns, over the groups, the largest number of distinct
// values (distinct=true) or of events seen within any window of width, and
// the group where it was seen. Events must be in time order.
func maxInWindow(evs []*event.AccessEvent, width time.Duration, group func(*event.AccessEvent) string,
	value func(*event.AccessEvent) string, distinct bool) (int, string) {
	type tv struct {
		t time.Time
		v string
	}
	by := map[string][]tv{}
	for _, e := range evs {
		if g := group(e); g != "" {
			by[g] = append(by[g], tv{e.OccurredAt.Time, value(e)})
		}
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	best, where := 0, ""
	for _, k := range keys {
		s := by[k]
		count := map[string]int{}
		j := 0
		for i := range s {
			count[s[i].v]++
			for s[i].t.Sub(s[j].t) > width {
				if count[s[j].v]--; count[s[j].v] == 0 {
					delete(count, s[j].v)
				}
				j++
			}
			n := i - j + 1
			if distinct {
				n = len(count)
			}
			if n > best {
				best, where = n, k
			}
		}
	}
	return best, where
}

// sensitiveCare are the categories of no_relationship_access.
func sensitiveCare(cs []event.Category) bool {
	for _, c := range cs {
		if c == event.CategoryHealth || c == event.CategoryPrescription || c == event.CategoryBiometric {
			return true
		}
	}
	return false
}

func breakGlass(e *event.AccessEvent) bool {
	return e.Action == event.ActionBreakGlass || e.Attrs["access_mode"] == "break_glass"
}

// recorder keeps copies of everything a run emits.
type recorder struct {
	acc    []event.AccessEvent
	dev    []event.DeviceEvent
	labels []Label
	times  []time.Time // time.Now() when each event arrived
	flush  int
}

func (r *recorder) Access(_ context.Context, e *event.AccessEvent) error {
	r.acc = append(r.acc, CopyAccess(e))
	r.times = append(r.times, time.Now())
	return nil
}

func (r *recorder) Device(_ context.Context, e *event.DeviceEvent) error {
	r.dev = append(r.dev, CopyDevice(e))
	r.times = append(r.times, time.Now())
	return nil
}

func (r *recorder) Label(_ context.Context, l *Label) error {
	c := *l
	c.EventIDs = append([]string(nil), l.EventIDs...)
	r.labels = append(r.labels, c)
	return nil
}

func (r *recorder) Flush(context.Context) error { r.flush++; return nil }
