//go:build integration

package collector_test

// Helpers shared by the collector's integration tests, which run against
// the real Kafka broker that scripts/services.sh starts (internal/testenv).
//
// The collector writes to fixed topics (vigil.access.v1, vigil.device.v1,
// vigil.deadletter.v1) that other tests use too, so a test records the end
// offset of every partition before it starts, reads only what came after,
// and keeps only records whose source is the test's own unique source name.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/testenv"
)

var itTopics = []string{bus.TopicAccess, bus.TopicDevice, bus.TopicDeadLetter}

// itRunID returns a random run id of lower-case letters only, so that no
// identifier scrubber (digit runs, MAC addresses) ever rewrites it.
func itRunID(t testing.TB) string {
	t.Helper()
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// itKey returns a random 32-byte pseudonymisation key.
func itKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// itBus returns the bus configuration of the real broker and makes sure
// the Vigil topics exist.
func itBus(t testing.TB) bus.Config {
	t.Helper()
	cfg := bus.Defaults()
	cfg.Brokers = []string{testenv.Kafka(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, cfg); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	return cfg
}

// itServices returns the path of scripts/services.sh from
// VIGIL_TEST_SERVICES, or skips: the tests that need it stop the shared
// broker or are heavy, so scripts/integration.sh runs them alone.
func itServices(t testing.TB) string {
	t.Helper()
	p := os.Getenv("VIGIL_TEST_SERVICES")
	if p == "" {
		t.Skip("VIGIL_TEST_SERVICES is not set: this test stops the shared Kafka broker or runs long, " +
			"so scripts/integration.sh runs it alone after the main run; to run it by hand: " +
			"VIGIL_TEST_SERVICES=$PWD/scripts/services.sh go test -tags integration -run 'TestCollectorKafkaRestart|TestCollectorSIGKILL' ./collector/")
	}
	return p
}

// offsets are the next offsets to read, by topic and partition.
type itOffsets map[string]map[int]int64

// itEndOffsets returns the end (next) offset of every partition of topics.
func itEndOffsets(t testing.TB, cfg bus.Config, topics ...string) itOffsets {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		o, err := itListEnd(ctx, cfg, topics...)
		if err == nil {
			return o
		}
		if ctx.Err() != nil {
			t.Fatalf("end offsets of %v: %v", topics, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func itListEnd(ctx context.Context, cfg bus.Config, topics ...string) (itOffsets, error) {
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, topic := range topics {
		parts, err := bus.Partitions(ctx, cfg, topic)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
		}
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	out := itOffsets{}
	for topic, ps := range resp.Topics {
		out[topic] = map[int]int64{}
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("%s[%d]: %w", topic, p.Partition, p.Error)
			}
			out[topic][p.Partition] = p.LastOffset
		}
	}
	for _, topic := range topics {
		if len(out[topic]) != len(req.Topics[topic]) {
			return nil, fmt.Errorf("%s: offsets of %d partitions, want %d", topic, len(out[topic]), len(req.Topics[topic]))
		}
	}
	return out, nil
}

// itReader reads the records appended to topics after a set of offsets.
type itReader struct {
	t       testing.TB
	cfg     bus.Config
	next    itOffsets
	readers map[string]map[int]*kafka.Reader
}

// newITReader starts reading after from (itEndOffsets before the test).
func newITReader(t testing.TB, cfg bus.Config, from itOffsets) *itReader {
	t.Helper()
	r := &itReader{t: t, cfg: cfg, next: itOffsets{}, readers: map[string]map[int]*kafka.Reader{}}
	for topic, ps := range from {
		r.next[topic] = map[int]int64{}
		r.readers[topic] = map[int]*kafka.Reader{}
		for p, off := range ps {
			rd, err := bus.NewPartitionReader(cfg, topic, p, off)
			if err != nil {
				t.Fatal(err)
			}
			r.next[topic][p] = off
			r.readers[topic][p] = rd
		}
	}
	t.Cleanup(func() {
		for _, ps := range r.readers {
			for _, rd := range ps {
				_ = rd.Close()
			}
		}
	})
	return r
}

// poll reads every record appended since the last poll, up to the end
// offsets of now, for every topic and partition.
func (r *itReader) poll(ctx context.Context) (map[string][]kafka.Message, error) {
	topics := make([]string, 0, len(r.next))
	for topic := range r.next {
		topics = append(topics, topic)
	}
	end, err := itListEnd(ctx, r.cfg, topics...)
	if err != nil {
		return nil, err
	}
	out := map[string][]kafka.Message{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for topic, ps := range r.readers {
		for p, rd := range ps {
			stop := end[topic][p]
			if r.next[topic][p] >= stop {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var got []kafka.Message
				next := r.next[topic][p]
				for next < stop {
					m, err := rd.FetchMessage(ctx)
					if err != nil {
						errs <- fmt.Errorf("read %s[%d] at %d (until %d): %w", topic, p, next, stop, err)
						break
					}
					got = append(got, m)
					next = m.Offset + 1
				}
				mu.Lock()
				r.next[topic][p] = next
				out[topic] = append(out[topic], got...)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return out, errors.Join(all...)
}

// itRecord is a record of this run.
type itRecord struct {
	Topic string
	Key   string
	Value []byte
	Doc   map[string]any
}

// collect polls until done reports true for what was read so far, or the
// timeout; it returns the records (of every source) by topic.
func (r *itReader) collect(timeout time.Duration, done func(map[string][]itRecord) bool) (map[string][]itRecord, bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	all := map[string][]itRecord{}
	for {
		msgs, err := r.poll(ctx)
		for topic, ms := range msgs {
			for _, m := range ms {
				rec := itRecord{Topic: topic, Key: string(m.Key), Value: m.Value}
				if err := json.Unmarshal(m.Value, &rec.Doc); err != nil {
					rec.Doc = nil
				}
				all[topic] = append(all[topic], rec)
			}
		}
		if done(all) {
			return all, true
		}
		if ctx.Err() != nil {
			if err != nil {
				r.t.Logf("reading kafka: %v", err)
			}
			return all, false
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// itBySource keeps the records whose "source" is src.
func itBySource(recs []itRecord, src string) []itRecord {
	var out []itRecord
	for _, r := range recs {
		if s, _ := r.Doc["source"].(string); s == src {
			out = append(out, r)
		}
	}
	return out
}

// ---------------------------------------------------------------- HTTP

// itResult is one line of an ingest response.
type itResult struct {
	Line    int      `json:"line"`
	Status  string   `json:"status"`
	EventID string   `json:"event_id"`
	Reason  string   `json:"reason"`
	Errors  []string `json:"errors"`
}

type itResponse struct {
	Status   int
	Accepted int        `json:"accepted"`
	Rejected int        `json:"rejected"`
	Results  []itResult `json:"results"`
	Error    string     `json:"error"`
}

// itPost posts body to url with token; gz compresses it.
func itPost(ctx context.Context, client *http.Client, url, token string, body []byte, gz bool) (itResponse, error) {
	var rd io.Reader = bytes.NewReader(body)
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		_ = zw.Close()
		rd = &b
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, rd)
	if err != nil {
		return itResponse{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := client.Do(req)
	if err != nil {
		return itResponse{}, err
	}
	defer resp.Body.Close()
	var out itResponse
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return itResponse{}, err
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return itResponse{}, fmt.Errorf("HTTP %d, body %q: %w", resp.StatusCode, raw, err)
	}
	out.Status = resp.StatusCode
	return out, nil
}

// ---------------------------------------------------------------- comparing

// itJSONRoundTrip returns v as encoding/json decodes it into any.
func itJSONRoundTrip(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// itDiffJSON lists, by path, every field where got differs from want
// (both as decoded by encoding/json).
func itDiffJSON(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %v, want an object", path, got)}
		}
		var out []string
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := strings.TrimPrefix(path+"."+k, ".")
			wv, wok := w[k]
			gv, gok := g[k]
			switch {
			case !gok:
				out = append(out, fmt.Sprintf("%s: missing, want %v", p, wv))
			case !wok:
				out = append(out, fmt.Sprintf("%s: unexpected %v", p, gv))
			default:
				out = append(out, itDiffJSON(p, wv, gv)...)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		var out []string
		for i := range w {
			out = append(out, itDiffJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		return nil
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{fmt.Sprintf("%s: got %#v, want %#v", path, got, want)}
		}
		return nil
	}
}

// itMsTime formats t as the contract does: UTC, milliseconds.
func itMsTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
}

// itGatherText renders every metric of reg in the text exposition format,
// as /metrics serves it.
func itGatherText(t testing.TB, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// itGauge returns the value of the first metric named name in reg.
func itGauge(reg *prometheus.Registry, name string) (float64, bool) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, false
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if g := m.GetGauge(); g != nil {
				return g.GetValue(), true
			}
		}
	}
	return 0, false
}

// itWaitFor polls cond every 50ms until it is true or timeout.
func itWaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// itCountIDs counts, among records, those whose event_id is in want; it
// returns the count per id and the ids of the run that were not wanted.
func itCountIDs(recs []itRecord, want map[string]bool) (seen map[string]int, unknown []string) {
	seen = map[string]int{}
	for _, r := range recs {
		id, _ := r.Doc["event_id"].(string)
		if want[id] {
			seen[id]++
		} else {
			unknown = append(unknown, id)
		}
	}
	slices.Sort(unknown)
	return seen, unknown
}
