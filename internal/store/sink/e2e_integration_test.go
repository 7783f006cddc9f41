//go:build integration

package sink

// End-to-end tests of the sink's invariants against the real Kafka 4.x
// broker and the real ClickHouse 18.16 that scripts/services.sh starts:
//
//   - TestSinkE2EMillion: 1,000,000 access events through a real topic into
//     a fresh database; every event is in access_events, access_by_subject
//     and access_by_actor exactly once (counts and a checksum over the ids,
//     computed by ClickHouse and by Go alike);
//   - TestSinkE2ESIGKILL: `vigil sink` (the real binary) killed with SIGKILL
//     several times while it writes, then restarted: nothing lost, every
//     query deduplicated, and the copies the redelivery made are counted;
//   - TestSinkE2EClickHouseDown: ClickHouse stopped for 30 s while events
//     stream in: the sink keeps running, retries (metrics, logs, Ready say
//     so) and, once ClickHouse is back, everything arrives.
//
// They are heavy (a million events, a binary build) or stop a shared
// service, so they run only when VIGIL_TEST_SERVICES names
// scripts/services.sh: scripts/integration.sh sets it in its serial step,
// after the main run.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/go-faster/city"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// ---------------------------------------------------------------- gating

// e2eServices returns the path of scripts/services.sh from
// VIGIL_TEST_SERVICES, or skips t.
func e2eServices(t testing.TB) string {
	t.Helper()
	p := os.Getenv("VIGIL_TEST_SERVICES")
	if p == "" {
		t.Skip("VIGIL_TEST_SERVICES is not set: this test runs long or stops the shared ClickHouse, " +
			"so scripts/integration.sh runs it alone after the main run; to run it by hand: " +
			"VIGIL_TEST_SERVICES=$PWD/scripts/services.sh go test -tags integration -run '^TestSinkE2E' ./internal/store/sink/")
	}
	return p
}

// e2eEnvInt reads a positive integer from the environment, or def.
func e2eEnvInt(t testing.TB, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

// ---------------------------------------------------------------- events

// e2eGen makes realistic bus-level access events, as the collector puts
// them on vigil.access.v1: pseudonymised tokens for people and devices,
// 5,000 actors in 8 orgs, 200,000 subjects, weighted actions (2 in 24 are
// logins, which have no subject and so no row in access_by_subject),
// one to three data categories, clients with addresses, user agents and
// coarse geo, and a few attrs. Event i is the same for a given gen: its
// event_id is the run's prefix (the first four groups of a UUID, random per
// gen) and i in the last group, so ids are distinct by construction and
// unique to the run. occurred_at advances 23 ms per event from 21:00 UTC on
// 30 November, so a million events cross into December: two monthly
// partitions, as a real stream meets.
type e2eGen struct {
	prefix string
	seed   uint64
	base   time.Time
}

func newE2EGen(t testing.TB) e2eGen {
	t.Helper()
	var u [10]byte
	if _, err := rand.Read(u[:]); err != nil {
		t.Fatal(err)
	}
	u[6] = u[6]&0x0f | 0x40 // UUID version 4
	u[8] = u[8]&0x3f | 0x80 // variant 10
	h := hex.EncodeToString(u[:])
	return e2eGen{
		prefix: h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-",
		seed:   binary.LittleEndian.Uint64(u[:8]),
		base:   time.Date(2026, 11, 30, 21, 0, 0, 0, time.UTC),
	}
}

var (
	e2eSources = []string{"emr-prod", "his", "pacs", "admin-console", "mobile-api"}
	e2eTypes   = []event.ActorType{event.ActorDoctor, event.ActorStaff, event.ActorStaff, event.ActorService, event.ActorAdmin}
	e2eRoles   = []string{"attending physician", "nurse", "billing clerk", "pharmacist", "registrar", "it support"}
	e2eDepts   = []string{"cardiology", "pediatrics", "emergency", "oncology", "pharmacy", "radiology", "billing", "儿科"}
	e2eActions = []event.Action{
		event.ActionRead, event.ActionRead, event.ActionRead, event.ActionRead, event.ActionRead,
		event.ActionRead, event.ActionRead, event.ActionRead, event.ActionRead, event.ActionRead,
		event.ActionSearch, event.ActionSearch, event.ActionSearch, event.ActionSearch,
		event.ActionUpdate, event.ActionUpdate, event.ActionPrint, event.ActionExport, event.ActionDownload,
		event.ActionShare, event.ActionDelete, event.ActionBreakGlass, event.ActionLogin, event.ActionLogin,
	}
	e2eSubjects = []event.SubjectType{event.SubjectPatient, event.SubjectPatient, event.SubjectPatient, event.SubjectPatient,
		event.SubjectPatient, event.SubjectPatient, event.SubjectPatient, event.SubjectUser, event.SubjectUser, event.SubjectDoctor}
	e2eRelations = []event.Relationship{event.RelationshipTrue, event.RelationshipTrue, event.RelationshipTrue, event.RelationshipFalse, event.RelationshipUnknown}
	e2eUAs       = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) EMRClient/4.2",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"okhttp/4.12.0 (vigil-mobile 3.8.1; Android 14)",
		"his-batch/2.3 (linux; amd64)",
	}
	e2eCities = []struct {
		region, city string
		lat, lon     float64
	}{{"Zhejiang", "Hangzhou", 30.27, 120.16}, {"Shanghai", "Shanghai", 31.23, 121.47}, {"Guangdong", "Shenzhen", 22.54, 114.06}, {"Beijing", "Beijing", 39.9, 116.4}}
	e2ePurposes = []string{"treatment", "billing", "prescription review", "discharge summary", "quality audit", "referral to cardiology"}
	e2eB32      = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
)

// e2eToken is a token shaped like the pseudonymiser's (prefix, underscore,
// 32 characters of lowercase base32), fixed for (ns, n).
func e2eToken(prefix string, seed, n uint64) string {
	r := mrand.New(mrand.NewPCG(seed, n))
	var b [20]byte
	binary.LittleEndian.PutUint64(b[0:], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	binary.LittleEndian.PutUint32(b[16:], r.Uint32())
	return prefix + e2eB32.EncodeToString(b[:])
}

// event returns event i of g.
func (g e2eGen) event(i int) event.AccessEvent {
	r := mrand.New(mrand.NewPCG(g.seed, uint64(i)))
	at := g.base.Add(time.Duration(i)*23*time.Millisecond + time.Duration(r.IntN(1000))*time.Millisecond)
	actor := r.IntN(5000)
	e := event.AccessEvent{
		EventID:    g.prefix + fmt.Sprintf("%012x", i),
		OccurredAt: event.NewTimestamp(at),
		ReceivedAt: event.NewTimestamp(at.Add(time.Duration(200+r.IntN(1800)) * time.Millisecond)),
		Source:     e2eSources[actor%len(e2eSources)],
		Org:        "hosp-" + strconv.Itoa(actor%8),
		Actor: event.Actor{
			ID:         e2eToken("p_", 1, uint64(actor)),
			Type:       e2eTypes[actor%len(e2eTypes)],
			Role:       e2eRoles[actor%len(e2eRoles)],
			Department: e2eDepts[actor%len(e2eDepts)],
		},
		Action:       e2eActions[r.IntN(len(e2eActions))],
		Relationship: e2eRelations[r.IntN(len(e2eRelations))],
		Outcome:      event.OutcomeSuccess,
		Client: event.Client{
			IP:        fmt.Sprintf("10.%d.%d.%d", actor%256, r.IntN(256), 1+r.IntN(254)),
			UserAgent: e2eUAs[actor%len(e2eUAs)],
			DeviceID:  e2eToken("d_", 2, uint64(actor%3000)),
		},
		SessionID: "s-" + strconv.FormatUint(r.Uint64(), 36),
		RequestID: "r-" + strconv.FormatUint(r.Uint64(), 36),
	}
	switch o := r.IntN(100); {
	case o < 4:
		e.Outcome = event.OutcomeDenied
	case o < 5:
		e.Outcome = event.OutcomeError
	}
	if e.Action != event.ActionLogin {
		subj := r.IntN(200_000)
		e.Subject = event.Subject{
			ID:       e2eToken("p_", 3, uint64(subj)),
			Type:     e2eSubjects[subj%len(e2eSubjects)],
			Minor:    subj%17 == 0,
			VIP:      subj%101 == 0,
			Employee: subj%53 == 0,
		}
		cats := event.Categories()
		for k := 1 + r.IntN(3); k > 0; k-- {
			c := cats[r.IntN(len(cats))]
			if !containsCategory(e.Categories, c) {
				e.Categories = append(e.Categories, c)
			}
		}
		e.Purpose = e2ePurposes[r.IntN(len(e2ePurposes))]
		switch e.Action {
		case event.ActionSearch, event.ActionExport, event.ActionPrint, event.ActionDownload:
			e.RecordCount = int64(1 + r.IntN(5000))
		}
	}
	if r.IntN(2) == 0 {
		c := e2eCities[actor%len(e2eCities)]
		lat, lon := c.lat, c.lon
		e.Client.Geo = event.Geo{Country: "CN", Region: c.region, City: c.city, Lat: &lat, Lon: &lon}
	}
	switch r.IntN(4) {
	case 0:
		e.Attrs = map[string]string{"ward": strconv.Itoa(1+r.IntN(12)) + "B"}
	case 1:
		e.Attrs = map[string]string{"ward": strconv.Itoa(1+r.IntN(12)) + "B", "ticket:id": "REF-" + strconv.Itoa(r.IntN(100000))}
	}
	return e
}

func containsCategory(cs []event.Category, c event.Category) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// e2eSum is what a set of events must show in the store, computed in Go the
// way ClickHouse computes it: city.CH64 is ClickHouse's cityHash64
// (CityHash v1.0.2), checked against the server by e2eCheckHash.
type e2eSum struct {
	n           int    // events
	withSubject int    // events with a subject (rows of access_by_subject)
	idSum       uint64 // sum(cityHash64(event_id)), wrapping like ClickHouse's UInt64 sum
	idXor       uint64 // groupBitXor(cityHash64(event_id))
	subjIDSum   uint64 // the same sum over the events with a subject
	recordCount uint64 // sum(record_count)
	denied      int    // countIf(outcome = 'denied')
	bytes       int64  // Kafka value bytes
}

func (s *e2eSum) add(e *event.AccessEvent, valueLen int) {
	h := city.CH64([]byte(e.EventID))
	s.n++
	s.idSum += h
	s.idXor ^= h
	if e.Subject.ID != "" {
		s.withSubject++
		s.subjIDSum += h
	}
	s.recordCount += uint64(e.RecordCount)
	if e.Outcome == event.OutcomeDenied {
		s.denied++
	}
	s.bytes += int64(valueLen)
}

func (s *e2eSum) merge(o e2eSum) {
	s.n += o.n
	s.withSubject += o.withSubject
	s.idSum += o.idSum
	s.idXor ^= o.idXor
	s.subjIDSum += o.subjIDSum
	s.recordCount += o.recordCount
	s.denied += o.denied
	s.bytes += o.bytes
}

// e2eMessages returns events [from, to) of g as Kafka messages keyed as the
// collector keys them (org/actor), and adds them to sum. The first events
// are checked against the sink's own validator.
func e2eMessages(g e2eGen, from, to int, sum *e2eSum) ([]kafka.Message, error) {
	msgs := make([]kafka.Message, 0, to-from)
	for i := from; i < to; i++ {
		e := g.event(i)
		if i < 2000 {
			if ps := validator.ValidateAccess(e); len(ps) > 0 {
				return nil, fmt.Errorf("generated event %d is invalid: %v", i, ps)
			}
		}
		v := e.AppendJSON(nil)
		sum.add(&e, len(v))
		msgs = append(msgs, kafka.Message{Key: e.Key(), Value: v})
	}
	return msgs, nil
}

// e2eProduce writes events [from, to) of g to topic with bus.NewWriter
// (acks=all, lz4, murmur2: what the collector uses), two writers in
// parallel, and returns their sum once Kafka has them all.
func e2eProduce(t testing.TB, cfg bus.Config, topic string, g e2eGen, from, to int) e2eSum {
	t.Helper()
	const chunk = 10_000
	const workers = 2
	sums := make([]e2eSum, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Go(func() {
			w, err := bus.NewWriter(cfg, topic)
			if err != nil {
				errs[wk] = err
				return
			}
			defer func() {
				if cerr := w.Close(); cerr != nil && errs[wk] == nil {
					errs[wk] = cerr
				}
			}()
			for lo := from + wk*chunk; lo < to; lo += workers * chunk {
				msgs, err := e2eMessages(g, lo, min(lo+chunk, to), &sums[wk])
				if err != nil {
					errs[wk] = err
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				err = w.WriteMessages(ctx, msgs...)
				cancel()
				if err != nil {
					errs[wk] = err
					return
				}
			}
		})
	}
	wg.Wait()
	var total e2eSum
	for wk := range workers {
		if errs[wk] != nil {
			t.Fatalf("produce: %v", errs[wk])
		}
		total.merge(sums[wk])
	}
	return total
}

// ---------------------------------------------------------------- services

// e2eTopic creates a fresh access topic (its name ends in
// .vigil.access.v1, so the sink decodes it as such) with the partition
// count of vigil.access.v1, and deletes it when the test ends.
func e2eTopic(t testing.TB, cfg bus.Config) string {
	t.Helper()
	topic := fmt.Sprintf("e2e-%d.%s", time.Now().UnixNano(), bus.TopicAccess)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, cfg, bus.TopicSpec{Name: topic, Partitions: 12}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tr := &kafka.Transport{}
		defer tr.CloseIdleConnections() // goleak: the default transport keeps its goroutines
		client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}
		if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}}); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})
	return topic
}

// e2eDB connects to the real ClickHouse, checks that Go's city.CH64 is the
// server's cityHash64, and returns a fresh database with Vigil's schema
// (store.Migrate), dropped when the test ends.
func e2eDB(t testing.TB, name string) (driver.Conn, string) {
	t.Helper()
	addr := testenv.ClickHouse(t)
	conn := e2eConn(t, addr)
	e2eCheckHash(t, conn)
	db := fmt.Sprintf("vigil_e2e_%s_%d", name, time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, err := store.Open(ctx, store.ClickHouseConfig{Addr: []string{addr}})
		if err != nil {
			t.Errorf("drop database %s: %v", db, err)
			return
		}
		defer c.Close()
		if err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("drop database %s: %v", db, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := store.Migrate(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	return conn, db
}

// e2eConn opens a connection pool for the whole test.
func e2eConn(t testing.TB, addr string) driver.Conn {
	t.Helper()
	conn, err := store.Open(t.Context(), store.ClickHouseConfig{Addr: []string{addr}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// e2eCheckHash compares cityHash64 on the server with city.CH64 on a few
// strings of the lengths CityHash treats differently (0, ≤16, ≤32, ≤64,
// more), so the Go-side checksums mean what they say.
func e2eCheckHash(t testing.TB, conn driver.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range []string{"", "abc", "0123456789abcdef0", "e2e-0123456789abcdef-0123456789abcdef", strings.Repeat("儿科 x", 20), newE2EGen(t).prefix + "00000000002a"} {
		var got uint64
		if err := conn.QueryRow(ctx, "SELECT cityHash64(?)", s).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := city.CH64([]byte(s)); got != want {
			t.Fatalf("cityHash64(%q) = %d on the server, city.CH64 = %d: the checksums cannot be compared", s, got, want)
		}
	}
}

// e2eQuery runs a query returning one row of UInt64 columns.
func e2eQuery(ctx context.Context, conn driver.Conn, q string) ([]uint64, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: no row", q)
	}
	cols := rows.Columns()
	out := make([]uint64, len(cols))
	dst := make([]any, len(cols))
	for i := range out {
		dst[i] = &out[i]
	}
	if err := rows.Scan(dst...); err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	return out, rows.Err()
}

// e2eWaitDistinct waits until access_events holds want distinct event ids,
// polling every second, or fails t after timeout or when alive reports an
// error (the sink stopped). It logs progress every 15 s.
func e2eWaitDistinct(t testing.TB, conn driver.Conn, db string, want int, timeout time.Duration, alive func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	lastLog := start
	var got uint64
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		v, err := e2eQuery(ctx, conn, "SELECT uniqExact(event_id) FROM "+db+".access_events")
		cancel()
		if err == nil {
			got = v[0]
			if got == uint64(want) {
				return time.Since(start)
			}
			if got > uint64(want) {
				t.Fatalf("access_events holds %d distinct event ids, more than the %d produced", got, want)
			}
		}
		if alive != nil {
			if aerr := alive(); aerr != nil {
				t.Fatalf("the sink stopped with %d of %d events in ClickHouse: %v", got, want, aerr)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v access_events holds %d of %d events (last query error: %v)", timeout, got, want, err)
		}
		if time.Since(lastLog) > 15*time.Second {
			t.Logf("waiting: %d of %d events in ClickHouse after %v", got, want, time.Since(start).Round(time.Second))
			lastLog = time.Now()
		}
		time.Sleep(time.Second)
	}
}

// e2eStore is what the store showed for a run.
type e2eStore struct {
	raw         uint64 // rows of access_events before any deduplication
	bySubjRaw   uint64 // rows of access_by_subject, raw
	byActorRaw  uint64 // rows of access_by_actor, raw
	queryFinals time.Duration
}

// e2eCheckStore checks that every query the console and reports use sees
// each event of want exactly once: access_events deduplicated by FINAL and
// by uniqExact, the raw FINAL count, the checksums over ids, content sums,
// and the two lookup tables the materialized views fill (which trail the
// table for a moment, so they are polled, bounded).
func e2eCheckStore(t testing.TB, conn driver.Conn, db string, want e2eSum) e2eStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var st e2eStore
	q := func(sql string) []uint64 {
		t.Helper()
		v, err := e2eQuery(ctx, conn, strings.ReplaceAll(sql, "DB.", db+"."))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	start := time.Now()
	raw := q("SELECT count(), uniqExact(event_id) FROM DB.access_events")
	st.raw = raw[0]
	if raw[1] != uint64(want.n) {
		t.Errorf("access_events: uniqExact(event_id) = %d, want %d", raw[1], want.n)
	}
	fin := q("SELECT count(), sum(cityHash64(event_id)), groupBitXor(cityHash64(event_id)), sum(record_count), countIf(outcome = 'denied') FROM DB.access_events FINAL")
	if fin[0] != uint64(want.n) {
		t.Errorf("SELECT count() FROM access_events FINAL = %d, want %d (raw rows %d)", fin[0], want.n, st.raw)
	}
	if fin[1] != want.idSum || fin[2] != want.idXor {
		t.Errorf("access_events FINAL: sum/xor of cityHash64(event_id) = %d/%d, Go computed %d/%d: the ids differ from those produced", fin[1], fin[2], want.idSum, want.idXor)
	}
	if fin[3] != want.recordCount || fin[4] != uint64(want.denied) {
		t.Errorf("access_events FINAL: sum(record_count) = %d, denied = %d; produced %d, %d", fin[3], fin[4], want.recordCount, want.denied)
	}
	sub := q("SELECT count(), sum(cityHash64(event_id)) FROM (SELECT event_id FROM DB.access_events FINAL)")
	if sub[0] != uint64(want.n) || sub[1] != want.idSum {
		t.Errorf("SELECT count() FROM (SELECT event_id FROM access_events FINAL) = %d (checksum %d), want %d (%d)", sub[0], sub[1], want.n, want.idSum)
	}
	dist := q("SELECT count(), sum(h) FROM (SELECT DISTINCT event_id, cityHash64(event_id) AS h FROM DB.access_events)")
	if dist[0] != uint64(want.n) || dist[1] != want.idSum {
		t.Errorf("DISTINCT event_id over the raw table: %d ids (checksum %d), want %d (%d)", dist[0], dist[1], want.n, want.idSum)
	}

	// The views: each event once with FINAL, and no event id missing.
	views := []struct {
		table    string
		n        int
		sum      uint64
		raw      *uint64
		filtered string
	}{
		{"access_by_subject", want.withSubject, want.subjIDSum, &st.bySubjRaw, " (events with a subject)"},
		{"access_by_actor", want.n, want.idSum, &st.byActorRaw, ""},
	}
	for _, v := range views {
		var got []uint64
		deadline := time.Now().Add(60 * time.Second)
		for {
			got = q("SELECT count(), uniqExact(event_id), sum(cityHash64(event_id)) FROM (SELECT event_id FROM DB." + v.table + " FINAL)")
			if got[1] >= uint64(v.n) || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if got[0] != uint64(v.n) || got[1] != uint64(v.n) || got[2] != v.sum {
			t.Errorf("%s FINAL: %d rows, %d distinct ids, checksum %d; want %d%s, checksum %d", v.table, got[0], got[1], got[2], v.n, v.filtered, v.sum)
		}
		*v.raw = q("SELECT count() FROM DB." + v.table)[0]
	}
	st.queryFinals = time.Since(start)
	t.Logf("store %s: access_events %d raw rows, %d after FINAL; access_by_subject %d raw, access_by_actor %d raw; checksums match (queries took %v)",
		db, st.raw, fin[0], st.bySubjRaw, st.byActorRaw, st.queryFinals.Round(time.Millisecond))
	return st
}

// ---------------------------------------------------------------- logs

// e2eLog is a concurrency-safe buffer for a slog handler.
type e2eLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *e2eLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *e2eLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// e2eLogger returns a logger into a buffer, dumped (its tail) when t fails.
func e2eLogger(t testing.TB) (*slog.Logger, *e2eLog) {
	t.Helper()
	l := &e2eLog{}
	t.Cleanup(func() {
		if t.Failed() {
			s := l.String()
			if len(s) > 20000 {
				s = s[len(s)-20000:]
			}
			t.Logf("sink log (tail):\n%s", s)
		}
	})
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo})), l
}

// e2eLines returns the first max lines of s that contain sub.
func e2eLines(s, sub string, max int) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && len(out) < max {
			out = append(out, l)
		}
	}
	return out
}

// alive returns nil while r's Run has not returned.
func (r *running) alive() error {
	select {
	case err := <-r.errc:
		r.errc <- err
		if err == nil {
			return fmt.Errorf("Run returned nil before it was stopped")
		}
		return err
	default:
		return nil
	}
}

// ---------------------------------------------------------------- a: a million

// TestSinkE2EMillion produces 1,000,000 realistic access events to a fresh
// 12-partition topic on the real broker and lets a sink built as `vigil
// sink` builds it (default batching, the ClickHouse writer) drain them into
// a fresh database: every event arrives exactly once in every query, the
// id checksums computed by ClickHouse equal those computed in Go, and the
// offsets are committed.
func TestSinkE2EMillion(t *testing.T) {
	e2eServices(t) // heavy: the serial step of scripts/integration.sh
	n := e2eEnvInt(t, "VIGIL_TEST_SINK_E2E_EVENTS", 1_000_000)
	busCfg := bus.Config{Brokers: []string{testenv.Kafka(t)}}
	conn, db := e2eDB(t, "million")
	topic := e2eTopic(t, busCfg)
	g := newE2EGen(t)

	start := time.Now()
	want := e2eProduce(t, busCfg, topic, g, 0, n)
	took := time.Since(start)
	t.Logf("produced %d events (%.0f bytes each on average, %d with a subject) to %s in %v: %.0f events/s",
		n, float64(want.bytes)/float64(n), want.withSubject, topic, took.Round(time.Millisecond), float64(n)/took.Seconds())

	log, logs := e2eLogger(t)
	cfg := Config{Group: "e2e-million-" + strconv.FormatInt(time.Now().UnixNano(), 10), Topics: []string{topic}}
	w := store.NewClickHouseWriter(conn, db)
	start = time.Now()
	r := startSink(t, cfg, busCfg, w, WithLogger(log))
	e2eWaitDistinct(t, conn, db, n, 4*time.Minute, r.alive)
	drained := time.Since(start)
	m := r.s.m
	t.Logf("sink: %d events in ClickHouse %v after start (group join included): %.0f events/s; %v batches written, %v write errors, %v records redelivered and skipped",
		n, drained.Round(time.Millisecond), float64(n)/drained.Seconds(),
		testutil.ToFloat64(m.batchesOK), testutil.ToFloat64(m.batchesErr), testutil.ToFloat64(m.redelivered))
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, l := range e2eLines(logs.String(), "the store refused a batch", 5) {
		t.Logf("sink log: %s", l)
	}
	if got := testutil.ToFloat64(m.rows[tableAccess]); got < float64(n) {
		t.Errorf("vigil_sink_rows_written_total{table=access} = %v, want at least %d", got, n)
	}
	if got := testutil.ToFloat64(m.lagVec.WithLabelValues(topic)); got != 0 {
		t.Errorf("vigil_sink_lag_records = %v after the sink drained the topic, want 0", got)
	}

	st := e2eCheckStore(t, conn, db, want)
	t.Logf("duplicates in access_events before merges: %d", st.raw-uint64(n))

	// The offsets are committed: a new member of the group finds nothing
	// left but a marker produced after it started.
	w2 := newFakeWriter()
	r2 := startSink(t, cfg, busCfg, w2)
	marker := e2eProduce(t, busCfg, topic, g, n, n+1)
	w2.waitFor(t, time.Minute, "the marker", func(w *fakeWriter) bool { return len(w.written) >= 1 })
	time.Sleep(time.Second)
	if err := r2.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := w2.uniqueWritten(); got != marker.n {
		t.Errorf("a new member of the group got %d records, want only the marker: offsets were not all committed", got)
	}
}

// ---------------------------------------------------------------- c: ClickHouse down

// TestSinkE2EClickHouseDown stops the shared ClickHouse for 30 s while
// events stream into the topic and the sink (built as `vigil sink` builds
// it) runs: the sink does not stop, it retries the same batch (the
// retrying gauge, the error count of vigil_sink_batches_total, Ready and
// its log say so), and once ClickHouse is back every event produced is in
// every query exactly once.
func TestSinkE2EClickHouseDown(t *testing.T) {
	script := e2eServices(t)
	busCfg := bus.Config{Brokers: []string{testenv.Kafka(t)}}
	chAddr := testenv.ClickHouse(t)
	// Whatever happens, leave ClickHouse running for the tests after this.
	t.Cleanup(func() {
		if err := e2eServicesCmd(t, script, 240*time.Second, "up", "clickhouse"); err != nil {
			t.Errorf("services.sh up clickhouse: %v", err)
		}
	})
	outage := time.Duration(e2eEnvInt(t, "VIGIL_TEST_SINK_E2E_OUTAGE_S", 30)) * time.Second
	_, db := e2eDB(t, "chdown")
	topic := e2eTopic(t, busCfg)
	g := newE2EGen(t)

	log, logs := e2eLogger(t)
	cfg := Config{
		Group: "e2e-chdown-" + strconv.FormatInt(time.Now().UnixNano(), 10), Topics: []string{topic},
		BatchSize: 20_000, RetryMax: 5 * time.Second, UnreadyAfter: 10 * time.Second,
	}
	// The sink's own connection, as runSink opens it.
	sinkConn := e2eConn(t, chAddr)
	r := startSink(t, cfg, busCfg, store.NewClickHouseWriter(sinkConn, db), WithLogger(log))
	m := r.s.m

	// A producer streams 500 events every 100 ms until told to stop.
	var (
		mu       sync.Mutex
		want     e2eSum
		produced int
		prodErr  error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		w, err := bus.NewWriter(busCfg, topic)
		if err != nil {
			mu.Lock()
			prodErr = err
			mu.Unlock()
			return
		}
		defer w.Close()
		for i := 0; ; i += 500 {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			var s e2eSum
			msgs, err := e2eMessages(g, i, i+500, &s)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				err = w.WriteMessages(ctx, msgs...)
				cancel()
			}
			mu.Lock()
			if err != nil {
				prodErr = err
				mu.Unlock()
				return
			}
			want.merge(s)
			produced = want.n
			mu.Unlock()
		}
	})
	stopProducer := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	defer stopProducer()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return produced
	}

	// Running normally first: some batches written.
	if !e2eWaitFor(60*time.Second, func() bool { return testutil.ToFloat64(m.rows[tableAccess]) >= 2000 }) {
		t.Fatalf("the sink wrote %v rows in 60 s before ClickHouse was stopped", testutil.ToFloat64(m.rows[tableAccess]))
	}
	errsBefore := testutil.ToFloat64(m.batchesErr)
	t.Logf("before the outage: %d events produced, %v written", count(), testutil.ToFloat64(m.rows[tableAccess]))

	if err := e2eServicesCmd(t, script, 90*time.Second, "down", "clickhouse"); err != nil {
		t.Fatalf("services.sh down clickhouse: %v", err)
	}
	down := time.Now()
	atDown := count()

	// While it is down: the sink keeps running and says it retries.
	var readyErr error
	sawRetrying := e2eWaitFor(outage, func() bool {
		readyErr = r.s.Ready()
		return testutil.ToFloat64(m.retrying) == 1 && readyErr != nil
	})
	if err := r.alive(); err != nil {
		t.Fatalf("the sink stopped while ClickHouse was down: %v", err)
	}
	if !sawRetrying {
		t.Errorf("with ClickHouse down for %v: vigil_sink_retrying = %v, Ready = %v; want 1 and an error (unready_after %v)",
			time.Since(down).Round(time.Second), testutil.ToFloat64(m.retrying), readyErr, cfg.UnreadyAfter)
	} else {
		t.Logf("Ready %v after ClickHouse went down: %v", time.Since(down).Round(100*time.Millisecond), readyErr)
	}
	if rest := outage - time.Since(down); rest > 0 {
		time.Sleep(rest)
	}
	errsDown := testutil.ToFloat64(m.batchesErr) - errsBefore
	pending := testutil.ToFloat64(m.pending)
	lagDown := testutil.ToFloat64(m.lagVec.WithLabelValues(topic))
	t.Logf("ClickHouse down for %v: %d events produced meanwhile; %v failed write attempts, vigil_sink_retrying %v, %v records pending (the refused batch and the one filled behind it), lag gauge %v",
		time.Since(down).Round(100*time.Millisecond), count()-atDown, errsDown, testutil.ToFloat64(m.retrying), pending, lagDown)
	if errsDown < 2 {
		t.Errorf("vigil_sink_batches_total{result=error} rose by %v while ClickHouse was down, want at least 2 (retries)", errsDown)
	}
	if pending == 0 {
		t.Errorf("vigil_sink_pending_records = 0 while ClickHouse was down: no batch was being retried")
	}
	if err := r.alive(); err != nil {
		t.Fatalf("the sink stopped while ClickHouse was down: %v", err)
	}

	if err := e2eServicesCmd(t, script, 240*time.Second, "up", "clickhouse"); err != nil {
		t.Fatalf("services.sh up clickhouse: %v", err)
	}
	up := time.Now()
	time.Sleep(3 * time.Second) // a little more traffic after the restart
	stopProducer()
	mu.Lock()
	final, perr := want, prodErr
	mu.Unlock()
	if perr != nil {
		t.Fatalf("producer: %v", perr)
	}
	t.Logf("producer stopped: %d events in all", final.n)

	// The backlog shows in the lag gauge while the sink catches up.
	var maxLag float64
	sampled := make(chan struct{})
	caughtUp := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			maxLag = max(maxLag, testutil.ToFloat64(m.lagVec.WithLabelValues(topic)))
			select {
			case <-caughtUp:
				return
			case <-tick.C:
			}
		}
	}()
	stopSampling := sync.OnceFunc(func() { close(caughtUp); <-sampled })
	defer stopSampling()
	conn := e2eConn(t, chAddr) // a fresh pool: the old connections died with the server
	e2eWaitDistinct(t, conn, db, final.n, 3*time.Minute, r.alive)
	stopSampling()
	t.Logf("every event in ClickHouse %v after it came back; the lag gauge peaked at %v records while the sink caught up", time.Since(up).Round(time.Millisecond), maxLag)
	if maxLag == 0 {
		t.Errorf("vigil_sink_lag_records stayed 0 while the sink caught up on %d records", final.n-atDown)
	}
	if !e2eWaitFor(30*time.Second, func() bool {
		return testutil.ToFloat64(m.retrying) == 0 && r.s.Ready() == nil && testutil.ToFloat64(m.lagVec.WithLabelValues(topic)) == 0
	}) {
		t.Errorf("after recovery: vigil_sink_retrying = %v, Ready = %v, lag = %v; want 0, nil, 0",
			testutil.ToFloat64(m.retrying), r.s.Ready(), testutil.ToFloat64(m.lagVec.WithLabelValues(topic)))
	}
	if last := testutil.ToFloat64(m.lastSuccess); last < float64(up.Unix()) {
		t.Errorf("vigil_sink_last_success_timestamp_seconds = %v, before ClickHouse came back (%d)", last, up.Unix())
	}
	refused := strings.Count(logs.String(), "the store refused a batch")
	t.Logf("the sink logged \"the store refused a batch\" %d times; %v failed attempts in all", refused, testutil.ToFloat64(m.batchesErr)-errsBefore)
	if refused < 2 {
		t.Errorf("the sink logged %d refused batches, want the retries in its log", refused)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := e2eCheckStore(t, conn, db, final)
	t.Logf("duplicates in access_events before merges: %d", st.raw-uint64(final.n))
}

// e2eServicesCmd runs scripts/services.sh with args, bounded.
func e2eServicesCmd(t testing.TB, script string, timeout time.Duration, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("services.sh %s (%v): %s", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(string(out)))
	return err
}

// e2eWaitFor polls cond every 100 ms until it holds or d passed.
func e2eWaitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- b: SIGKILL

// e2eVigil is a `vigil sink` process.
type e2eVigil struct {
	cmd     *exec.Cmd
	done    chan error
	metrics string // URL of its /metrics
}

// e2eFreeAddr returns a loopback address free at the time of the call.
func e2eFreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// e2eStartVigil starts `vigil sink` with env and waits until its /metrics
// answers.
func e2eStartVigil(t testing.TB, bin string, env []string, listen string, logFile *os.File) *e2eVigil {
	t.Helper()
	cmd := exec.Command(bin, "sink")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	v := &e2eVigil{cmd: cmd, done: make(chan error, 1), metrics: "http://" + listen + "/metrics"}
	go func() { v.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-v.done
		}
	})
	ok := e2eWaitFor(90*time.Second, func() bool {
		if v.exited() {
			return true
		}
		_, err := e2eScrape(v.metrics, "vigil_sink_retrying")
		return err == nil
	})
	if v.exited() {
		t.Fatalf("vigil sink exited before it served /metrics")
	}
	if !ok {
		t.Fatalf("vigil sink did not serve /metrics within 90 s")
	}
	return v
}

// exited reports whether the process ended.
func (v *e2eVigil) exited() bool {
	select {
	case err := <-v.done:
		v.done <- err
		return true
	default:
		return false
	}
}

// e2eScrape returns the value of the sample whose line starts with series.
func e2eScrape(url, series string) (float64, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s: no sample %s", url, series)
}

// TestSinkE2ESIGKILL runs the real `vigil sink` binary on a backlog of
// 200,000 events and kills it with SIGKILL at random moments while it
// writes (a moment after a batch went in: with offsets committed every
// second, rows written but not yet committed are redelivered), restarting
// it each time, for at least 4 rounds and until the redelivery shows; a
// last run drains the topic and stops on SIGTERM. Every query then returns
// each event once: deduplicated counts, the raw count with FINAL, the
// checksums, the views. A test-only audit table (a plain MergeTree filled
// by its own materialized view from access_events, never merged away)
// counts every row the sink inserted, so the test reports how many events
// were written more than once and how many copies access_events still held
// before merges.
func TestSinkE2ESIGKILL(t *testing.T) {
	e2eServices(t) // heavy: the serial step of scripts/integration.sh
	n := e2eEnvInt(t, "VIGIL_TEST_SINK_E2E_KILL_EVENTS", 200_000)
	kafkaAddr := testenv.Kafka(t)
	chAddr := testenv.ClickHouse(t)
	busCfg := bus.Config{Brokers: []string{kafkaAddr}}
	bin := testenv.BuildVigil(t)
	conn, db := e2eDB(t, "kill")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, stmt := range []string{
		"CREATE TABLE " + db + ".e2e_inserted (event_id String) ENGINE = MergeTree() ORDER BY tuple()",
		"CREATE MATERIALIZED VIEW " + db + ".e2e_inserted_mv TO " + db + ".e2e_inserted AS SELECT event_id FROM " + db + ".access_events",
	} {
		if err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	topic := e2eTopic(t, busCfg)
	g := newE2EGen(t)
	want := e2eProduce(t, busCfg, topic, g, 0, n)
	t.Logf("produced %d events to %s", n, topic)

	dir := t.TempDir()
	logPath := filepath.Join(dir, "vigil.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("vigil log (tail):\n%s", b)
		}
	})
	listen := e2eFreeAddr(t)
	env := []string{
		"VIGIL_BUS_BROKERS=" + kafkaAddr,
		"VIGIL_CLICKHOUSE_ADDR=" + chAddr,
		"VIGIL_CLICKHOUSE_DATABASE=" + db,
		"VIGIL_HTTP_LISTEN=" + listen,
		"VIGIL_SINK_TOPICS=" + topic,
		"VIGIL_SINK_GROUP=e2e-kill-" + strconv.FormatInt(time.Now().UnixNano(), 10),
		"VIGIL_SINK_BATCH_SIZE=5000",
		// A killed member stays in the group until its session times out;
		// keep that short so each restart rejoins quickly.
		"VIGIL_BUS_READER_SESSION_TIMEOUT=6s",
		"VIGIL_BUS_READER_HEARTBEAT_INTERVAL=1s",
		"VIGIL_BUS_READER_REBALANCE_TIMEOUT=6s",
	}
	inserted := func() (rows, distinct uint64) {
		t.Helper()
		v, err := e2eQuery(ctx, conn, "SELECT count(), uniqExact(event_id) FROM "+db+".e2e_inserted")
		if err != nil {
			t.Fatal(err)
		}
		return v[0], v[1]
	}

	const minRounds, maxRounds = 4, 10
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	const rowsSeries = `vigil_sink_rows_written_total{table="access"}`
	rounds := 0
	for rounds < maxRounds {
		rows, distinct := inserted()
		if distinct == uint64(n) {
			t.Logf("the topic was drained after %d rounds", rounds)
			break
		}
		if rounds >= minRounds && rows > distinct {
			break
		}
		rounds++
		v := e2eStartVigil(t, bin, env, listen, logFile)
		// Wait until this process wrote a batch, then kill it a random
		// moment later: during the next write, or between a write and the
		// commit of its offsets.
		var written float64
		ok := e2eWaitFor(120*time.Second, func() bool {
			written, _ = e2eScrape(v.metrics, rowsSeries)
			return written > 0 || v.exited()
		})
		if v.exited() {
			t.Fatalf("round %d: vigil sink exited on its own", rounds)
		}
		if !ok {
			t.Fatalf("round %d: vigil sink wrote nothing in 120 s", rounds)
		}
		delay := time.Duration(rng.IntN(1500)) * time.Millisecond
		time.Sleep(delay)
		written, _ = e2eScrape(v.metrics, rowsSeries)
		pending, _ := e2eScrape(v.metrics, "vigil_sink_pending_records")
		if err := v.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case <-v.done:
		case <-time.After(10 * time.Second):
			t.Fatal("vigil sink did not die on SIGKILL")
		}
		rows, distinct = inserted()
		t.Logf("round %d: SIGKILL %v after the first batch; the process had written %v rows, %v pending; ClickHouse has %d rows inserted in all, %d distinct events",
			rounds, delay, written, pending, rows, distinct)
	}

	// The last run drains the topic and stops cleanly on SIGTERM.
	v := e2eStartVigil(t, bin, env, listen, logFile)
	drained := e2eWaitDistinct(t, conn, db, n, 4*time.Minute, func() error {
		if v.exited() {
			return fmt.Errorf("vigil sink exited")
		}
		return nil
	})
	t.Logf("last run: every event in ClickHouse %v after it started", drained.Round(time.Millisecond))
	time.Sleep(2 * time.Second) // let a stray redelivered batch land before counting
	if err := v.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-v.done:
		if err != nil {
			t.Errorf("vigil sink after SIGTERM: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("vigil sink did not stop within 90 s of SIGTERM")
	}

	rows, distinct := inserted()
	st := e2eCheckStore(t, conn, db, want)
	t.Logf("after %d SIGKILLs: the sink inserted %d rows for %d events: %d redelivered copies; access_events held %d duplicates before merges",
		rounds, rows, distinct, rows-distinct, st.raw-uint64(n))
	if distinct != uint64(n) {
		t.Errorf("the audit table saw %d distinct events, want %d", distinct, n)
	}
	if rows == distinct {
		t.Errorf("no event was inserted twice in %d SIGKILL rounds: the test did not exercise redelivery", rounds)
	}
	// The engine collapses the copies once parts merge.
	if err := conn.Exec(ctx, "OPTIMIZE TABLE "+db+".access_events FINAL"); err != nil {
		t.Fatal(err)
	}
	v2, err := e2eQuery(ctx, conn, "SELECT count() FROM "+db+".access_events")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after OPTIMIZE … FINAL: access_events holds %d rows", v2[0])
	if v2[0] != uint64(n) {
		t.Errorf("after OPTIMIZE FINAL access_events holds %d rows, want %d", v2[0], n)
	}
	logText, _ := os.ReadFile(logPath)
	if !strings.Contains(string(logText), "sink stopped") {
		t.Errorf("the last run did not log \"sink stopped\"")
	}
}
