//go:build integration

package collector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-audit/vigil/collector"
	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/collector/spool"
	"github.com/vigil-audit/vigil/internal/bus"
)

// itEnv is a collector built in-process against the real broker, its HTTP
// ingest on an httptest server.
type itEnv struct {
	col    *collector.Collector
	srv    *httptest.Server
	pseudo *pseudo.Pseudonymiser
	source string
	token  string
	reg    *prometheus.Registry
	from   itOffsets
	cfg    bus.Config
	once   sync.Once
}

func newITEnv(t *testing.T, cfg bus.Config, source string, log *slog.Logger, edit func(*collector.Options)) *itEnv {
	t.Helper()
	key := itKey(t)
	pcfg := pseudo.Defaults()
	ps, err := pseudo.New(key, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	token := "tok-" + source
	reg := prometheus.NewRegistry()
	o := collector.Options{
		Sources:      []collector.SourceConfig{{Name: source, TokenSHA256: collector.HashToken(token)}},
		Spool:        spool.Config{Dir: t.TempDir()},
		Key:          key,
		Pseudonymise: pcfg,
		Producer:     collector.ProducerConfig{RetryMax: 2 * time.Second},
		NewWriter:    collector.BusWriters(cfg, log),
		Logger:       log,
		Registerer:   reg,
	}
	if edit != nil {
		edit(&o)
	}
	env := &itEnv{pseudo: ps, source: source, token: token, reg: reg, cfg: cfg}
	env.from = itEndOffsets(t, cfg, itTopics...)
	env.col, err = collector.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	env.col.Mount(mux)
	env.srv = httptest.NewServer(mux)
	if err := env.col.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.shutdown(t) })
	return env
}

// shutdown stops HTTP, then drains the spool to Kafka (bounded).
func (e *itEnv) shutdown(t *testing.T) {
	e.once.Do(func() {
		e.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		start := time.Now()
		if err := e.col.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if n, ok := itGauge(e.reg, "vigil_collector_spool_events"); ok && n != 0 {
			t.Errorf("spool holds %v records after Shutdown", n)
		}
		t.Logf("shutdown (drain) took %v", time.Since(start).Round(time.Millisecond))
	})
}

func (e *itEnv) post(t *testing.T, kind string, body []byte, gz bool) itResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := itPost(ctx, http.DefaultClient, e.srv.URL+"/v1/"+kind, e.token, body, gz)
	if err != nil {
		t.Fatalf("POST /v1/%s: %v", kind, err)
	}
	return r
}

// ---------------------------------------------------------------- events

var itGeo = [][2]float64{{31.234567, 121.473701}, {39.904989, 116.405285}, {-33.868820, 151.209296}, {22.543096, 114.057865}}

func itRound2(x float64) float64 { return math.Round(x*100) / 100 }

// itCoarseAccuracy is the least accuracy_m of a location coarsened to 2
// decimal places (pseudo's documented coarsening error, ≈788 m).
const itCoarseAccuracy = 788

// itOccurredAt gives event i a timestamp in a few RFC 3339 spellings.
func itOccurredAt(base time.Time, i int) (sent string, want string) {
	t := base.Add(time.Duration(i)*time.Second + 123456789*time.Nanosecond)
	switch i % 3 {
	case 0:
		sent = t.In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339Nano)
	case 1:
		sent = t.UTC().Format("2006-01-02T15:04:05.000Z")
	default:
		sent = t.In(time.FixedZone("X", -5*3600-30*60)).Format("2006-01-02T15:04:05.999999-07:00")
	}
	return sent, itMsTime(t)
}

// accessEvent is access event i of run rid, as a sender posts it.
func itAccessEvent(rid string, base time.Time, i int) map[string]any {
	at, _ := itOccurredAt(base, i)
	e := map[string]any{
		"event_id":    fmt.Sprintf("%s-a-%d", rid, i),
		"occurred_at": at,
		"org":         fmt.Sprintf("hosp-%d", i%3),
		"actor":       map[string]any{"id": fmt.Sprintf("staff-%s-%d", rid, i%7), "type": []string{"doctor", "staff", "admin"}[i%3], "role": "nurse", "department": "cardiology"},
		"action":      []string{"read", "search", "export", "print"}[i%4],
		"subject":     map[string]any{"id": fmt.Sprintf("patient-%s-%d", rid, i), "type": "patient"},
		"categories":  []string{"health", "id_number"}[:1+i%2],
		"purpose":     "treatment",
		"outcome":     []string{"success", "denied"}[i%2],
		"client": map[string]any{
			"ip":         fmt.Sprintf("10.20.%d.%d", i/250, i%250+1),
			"user_agent": "Mozilla/5.0 (vigil-it)",
			"device_id":  fmt.Sprintf("ws-%s-%d", rid, i),
		},
		"session_id": fmt.Sprintf("s-%d", i),
		"request_id": fmt.Sprintf("r-%d", i),
		"attrs":      map[string]any{"ward": "7B", "phone": fmt.Sprintf("138%08d", 10000000+i)},
	}
	if i%4 != 0 {
		e["relationship"] = []string{"true", "false", "unknown"}[i%3]
	}
	if i%5 == 0 {
		e["record_count"] = i + 1
	}
	subj := e["subject"].(map[string]any)
	if i%10 == 0 {
		subj["minor"] = true
	}
	if i%13 == 0 {
		subj["vip"] = true
	}
	if i%2 == 0 {
		g := itGeo[i/2%len(itGeo)]
		e["client"].(map[string]any)["geo"] = map[string]any{"country": "CN", "region": "Shanghai", "city": "Shanghai", "lat": g[0], "lon": g[1]}
	}
	if i%40 == 7 {
		delete(e, "event_id") // the collector assigns one
	}
	return e
}

// deviceEvent is device event i of run rid, as a sender posts it.
func itDeviceEvent(rid string, base time.Time, i int) map[string]any {
	at, _ := itOccurredAt(base, i)
	e := map[string]any{
		"event_id":    fmt.Sprintf("%s-d-%d", rid, i),
		"occurred_at": at,
		"org":         "app",
		"account_id":  fmt.Sprintf("acct-%s-%d", rid, i),
		"device_id":   fmt.Sprintf("sdk-%s-%d", rid, i%10),
		"kind":        []string{"login", "payment", "sim_change", "face_verify"}[i%4],
		"device":      map[string]any{"model": "SM-G9910", "os": "android", "os_version": "14", "app_version": "5.2.1"},
		"network":     map[string]any{"ip": fmt.Sprintf("203.0.113.%d", i+1), "carrier": "46000", "wifi_bssid": fmt.Sprintf("a4:5e:60:%02x:%02x:%02x", i, 255-i, i*3%256)},
		"outcome":     []string{"success", "failure", "denied"}[i%3],
		"attrs":       map[string]any{"imei": fmt.Sprintf("86%013d", 1000000+i), "sdk": "3.1"},
	}
	if i%3 == 0 {
		e["signals"] = map[string]any{"rooted": true, "emulator": i%2 == 0}
	}
	if i%2 == 1 {
		g := itGeo[i%len(itGeo)]
		e["location"] = map[string]any{"lat": g[0], "lon": g[1], "accuracy_m": []float64{15, 5000}[i/2%2]}
	}
	return e
}

// wantAccess is what the collector must put on vigil.access.v1 for in.
func itWantAccess(t *testing.T, p *pseudo.Pseudonymiser, in map[string]any, base time.Time, i int, source, id string) map[string]any {
	e := itJSONRoundTrip(t, in).(map[string]any)
	e["event_id"] = id
	_, e["occurred_at"] = itOccurredAt(base, i)
	e["source"] = source
	if _, ok := e["relationship"]; !ok {
		e["relationship"] = "unknown"
	}
	subj := e["subject"].(map[string]any)
	subj["id"] = p.Token(pseudo.Person, subj["id"].(string))
	c := e["client"].(map[string]any)
	c["device_id"] = p.Token(pseudo.Device, c["device_id"].(string))
	if g, ok := c["geo"].(map[string]any); ok {
		g["lat"], g["lon"] = itRound2(g["lat"].(float64)), itRound2(g["lon"].(float64))
	}
	a := e["attrs"].(map[string]any)
	a["phone"] = p.Token(pseudo.Person, a["phone"].(string))
	return e
}

// wantDevice is what the collector must put on vigil.device.v1 for in.
func itWantDevice(t *testing.T, p *pseudo.Pseudonymiser, in map[string]any, base time.Time, i int, source string) map[string]any {
	e := itJSONRoundTrip(t, in).(map[string]any)
	_, e["occurred_at"] = itOccurredAt(base, i)
	e["source"] = source
	e["account_id"] = p.Token(pseudo.Person, e["account_id"].(string))
	e["device_id"] = p.Token(pseudo.Device, e["device_id"].(string))
	n := e["network"].(map[string]any)
	n["wifi_bssid"] = p.Token(pseudo.Network, n["wifi_bssid"].(string))
	if s, ok := e["signals"].(map[string]any); ok && s["emulator"] == false {
		delete(s, "emulator") // false is "not detected": omitted
	}
	if l, ok := e["location"].(map[string]any); ok {
		l["lat"], l["lon"] = itRound2(l["lat"].(float64)), itRound2(l["lon"].(float64))
		l["accuracy_m"] = math.Max(l["accuracy_m"].(float64), itCoarseAccuracy)
	}
	a := e["attrs"].(map[string]any)
	a["imei"] = p.Token(pseudo.Device, a["imei"].(string))
	return e
}

// itWantDL is a dead letter the collector must produce, from what the HTTP
// response said.
type itWantDL struct {
	kind, location, reason, eventID string
	problems                        []string
	rawBytes                        int
}

func (w itWantDL) key() string {
	return strings.Join([]string{w.kind, w.location, w.reason, w.eventID, fmt.Sprint(w.rawBytes), strings.Join(w.problems, "\x00")}, "|")
}

func itDLKey(t *testing.T, d map[string]any) string {
	var probs []string
	for _, p := range d["problems"].([]any) {
		probs = append(probs, p.(string))
	}
	id, _ := d["event_id"].(string)
	loc, _ := d["location"].(string)
	return itWantDL{kind: d["kind"].(string), location: loc, reason: d["reason"].(string), eventID: id, problems: probs, rawBytes: int(d["raw_bytes"].(float64))}.key()
}

// TestCollectorHTTPToKafka posts access and device events (NDJSON, gzip,
// invalid lines, a malformed body) to an in-process collector and checks,
// field by field, what reaches the three topics of the real broker.
func TestCollectorHTTPToKafka(t *testing.T) {
	cfg := itBus(t)
	rid := itRunID(t)
	source := "it-http-" + rid
	env := newITEnv(t, cfg, source, nil, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	started := time.Now()

	type sent struct {
		line []byte
		kind string // access | device | "" for an invalid line
		i    int
	}
	var (
		wantAcc   = map[string]map[string]any{} // event id → expected event
		wantAccK  = map[string]string{}         // event id → expected key
		wantDev   = map[string]map[string]any{}
		wantDevK  = map[string]string{}
		wantDLs   []itWantDL
		accepted  int
		requests  int
		lineBytes = func(e map[string]any) []byte { b, _ := json.Marshal(e); return b }
	)
	send := func(kind string, lines []sent, gz bool, wantStatus int) {
		t.Helper()
		var body bytes.Buffer
		for _, l := range lines {
			body.Write(l.line)
			body.WriteByte('\n')
		}
		r := env.post(t, kind, body.Bytes(), gz)
		requests++
		if r.Status != wantStatus {
			t.Fatalf("POST /v1/%s: HTTP %d, want %d (%+v)", kind, r.Status, wantStatus, r)
		}
		if len(r.Results) != len(lines) {
			t.Fatalf("POST /v1/%s: %d results for %d lines", kind, len(r.Results), len(lines))
		}
		for j, res := range r.Results {
			l := lines[j]
			if res.Line != j+1 {
				t.Errorf("result %d has line %d", j, res.Line)
			}
			if l.kind == "" {
				if res.Status != "rejected" || res.Reason == "" || len(res.Errors) == 0 {
					t.Errorf("invalid line %d (%s): %+v, want rejected with a reason and errors", j+1, l.line, res)
				}
				wantDLs = append(wantDLs, itWantDL{kind: kind, location: fmt.Sprintf("line %d", j+1), reason: res.Reason, eventID: res.EventID, problems: res.Errors, rawBytes: len(l.line)})
				continue
			}
			if res.Status != "accepted" || res.EventID == "" {
				t.Fatalf("line %d: %+v, want accepted", j+1, res)
			}
			accepted++
			var in map[string]any
			if err := json.Unmarshal(l.line, &in); err != nil {
				t.Fatal(err)
			}
			if id, ok := in["event_id"]; ok && id != res.EventID {
				t.Errorf("line %d: event_id %s answered as %s", j+1, id, res.EventID)
			}
			switch l.kind {
			case "access":
				wantAcc[res.EventID] = itWantAccess(t, env.pseudo, in, base, l.i, source, res.EventID)
				wantAccK[res.EventID] = in["org"].(string) + "/" + in["actor"].(map[string]any)["id"].(string)
			case "device":
				w := itWantDevice(t, env.pseudo, in, base, l.i, source)
				wantDev[res.EventID] = w
				wantDevK[res.EventID] = w["device_id"].(string)
			}
		}
	}

	// Request 1: access 0..119, NDJSON, with three invalid lines.
	var lines []sent
	for i := range 120 {
		switch i {
		case 10:
			lines = append(lines, sent{line: []byte(fmt.Sprintf(`{"event_id":"%s-bad-1","org":"hosp-0"}`, rid))})
		case 50:
			lines = append(lines, sent{line: []byte(`this is not json ` + rid)})
		case 100:
			bad := itAccessEvent(rid, base, 100)
			bad["event_id"], bad["action"] = rid+"-bad-3", "teleport"
			lines = append(lines, sent{line: lineBytes(bad)})
		}
		lines = append(lines, sent{line: lineBytes(itAccessEvent(rid, base, i)), kind: "access", i: i})
	}
	send("access", lines, false, http.StatusMultiStatus)

	// Request 2: access 120..199, gzip, one invalid line (bad timestamp).
	lines = nil
	for i := 120; i < 200; i++ {
		if i == 150 {
			bad := itAccessEvent(rid, base, 150)
			bad["event_id"], bad["occurred_at"] = rid+"-bad-4", "yesterday"
			lines = append(lines, sent{line: lineBytes(bad)})
		}
		lines = append(lines, sent{line: lineBytes(itAccessEvent(rid, base, i)), kind: "access", i: i})
	}
	send("access", lines, true, http.StatusMultiStatus)

	// Request 3: device 0..49 with two invalid lines.
	lines = nil
	for i := range 50 {
		switch i {
		case 5:
			bad := itDeviceEvent(rid, base, 5)
			bad["event_id"], bad["kind"] = rid+"-bad-5", "teleport"
			lines = append(lines, sent{line: lineBytes(bad)})
		case 30:
			bad := itDeviceEvent(rid, base, 30)
			delete(bad, "device_id")
			bad["event_id"] = rid + "-bad-6"
			lines = append(lines, sent{line: lineBytes(bad)})
		}
		lines = append(lines, sent{line: lineBytes(itDeviceEvent(rid, base, i)), kind: "device", i: i})
	}
	send("device", lines, false, http.StatusMultiStatus)

	// Request 4: a body that is not a JSON array: all refused, one dead letter.
	malformed := []byte(`[{"event_id":"` + rid + `-bad-7"}, oops`)
	r := env.post(t, "access", malformed, false)
	requests++
	if r.Status != http.StatusBadRequest || r.Error == "" {
		t.Fatalf("malformed body: HTTP %d %+v, want 400 with an error", r.Status, r)
	}
	wantDLs = append(wantDLs, itWantDL{kind: "access", location: "request body", reason: "not_json", problems: []string{r.Error}, rawBytes: len(malformed)})
	posted := time.Now()
	t.Logf("posted %d requests in %v: %d accepted (%d access, %d device), %d dead letters expected",
		requests, posted.Sub(started).Round(time.Millisecond), accepted, len(wantAcc), len(wantDev), len(wantDLs))
	if len(wantAcc) != 200 || len(wantDev) != 50 {
		t.Fatalf("accepted %d access and %d device events, want 200 and 50", len(wantAcc), len(wantDev))
	}

	// Shutdown drains the spool: everything is in Kafka when it returns.
	env.shutdown(t)
	rd := newITReader(t, cfg, env.from)
	all, _ := rd.collect(30*time.Second, func(map[string][]itRecord) bool { return true })
	t.Logf("read after shutdown: %v", time.Since(posted).Round(time.Millisecond))

	lo, hi := itMsTime(started), itMsTime(posted.Add(time.Millisecond))
	checkEvents := func(topic string, want map[string]map[string]any, keys map[string]string) {
		t.Helper()
		recs := itBySource(all[topic], source)
		seen := map[string]int{}
		for _, rec := range recs {
			id, _ := rec.Doc["event_id"].(string)
			w, ok := want[id]
			if !ok {
				t.Errorf("%s: unexpected event %s: %s", topic, id, rec.Value)
				continue
			}
			if seen[id]++; seen[id] > 1 {
				t.Logf("%s: %s delivered again (at-least-once)", topic, id)
			}
			if rec.Key != keys[id] {
				t.Errorf("%s: %s has key %q, want %q", topic, id, rec.Key, keys[id])
			}
			got := rec.Doc
			ra, _ := got["received_at"].(string)
			if ra < lo || ra > hi || len(ra) != len("2006-01-02T15:04:05.000Z") {
				t.Errorf("%s: %s received_at %q, want between %s and %s", topic, id, ra, lo, hi)
			}
			delete(got, "received_at")
			for _, d := range itDiffJSON("", w, got) {
				t.Errorf("%s %s: %s", topic, id, d)
			}
		}
		for id := range want {
			if seen[id] == 0 {
				t.Errorf("%s: event %s was accepted but is not in Kafka", topic, id)
			}
		}
		t.Logf("%s: %d records of this run, %d distinct events expected", topic, len(recs), len(want))
	}
	checkEvents(bus.TopicAccess, wantAcc, wantAccK)
	checkEvents(bus.TopicDevice, wantDev, wantDevK)

	dls := itBySource(all[bus.TopicDeadLetter], source)
	wantKeys := map[string]int{}
	for _, w := range wantDLs {
		wantKeys[w.key()]++
	}
	for _, d := range dls {
		doc := d.Doc
		if doc["receiver"] != "http" || doc["dead_letter_id"] == "" || doc["raw"] == "" || len(d.Key) != 0 {
			t.Errorf("dead letter: receiver/id/raw/key wrong: key %q %s", d.Key, d.Value)
		}
		if ra, _ := doc["received_at"].(string); ra < lo || ra > hi {
			t.Errorf("dead letter received_at %q not in [%s, %s]", ra, lo, hi)
		}
		k := itDLKey(t, doc)
		if wantKeys[k] == 0 {
			t.Errorf("unexpected dead letter %s", d.Value)
			continue
		}
		wantKeys[k]--
	}
	for k, n := range wantKeys {
		if n > 0 {
			t.Errorf("dead letter missing: %q", k)
		}
	}
	t.Logf("dead letters: %d of this run, %d expected", len(dls), len(wantDLs))
}

// itRawIDs makes unique, recognisable raw identifiers of several shapes.
type itRawIDs struct {
	rid  string
	rng  *rand.Rand
	all  []string
	seen map[string]bool
}

func (r *itRawIDs) digits(n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(byte('0' + r.rng.IntN(10)))
	}
	return b.String()
}

func (r *itRawIDs) add(s string) string {
	if r.seen[s] {
		panic("duplicate raw identifier " + s)
	}
	r.seen[s] = true
	r.all = append(r.all, s)
	return s
}

func (r *itRawIDs) subject(i int) string { return r.add(fmt.Sprintf("RAWSUBJ%s%dQ", r.rid, i)) }
func (r *itRawIDs) account(i int) string { return r.add(fmt.Sprintf("RAWACCT%s%dQ", r.rid, i)) }
func (r *itRawIDs) device(i int) string  { return r.add(fmt.Sprintf("RAWDEV%s%dQ", r.rid, i)) }
func (r *itRawIDs) idNumber() string     { return r.add("110105" + r.digits(11) + "X") }
func (r *itRawIDs) phone() string        { return r.add("139" + r.digits(8)) }
func (r *itRawIDs) imei() string         { return r.add("86" + r.digits(13)) }
func (r *itRawIDs) mac() string {
	return r.add(fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", r.rng.IntN(256), r.rng.IntN(256), r.rng.IntN(256), r.rng.IntN(256), r.rng.IntN(256)))
}

// TestCollectorNoRawIdentifiers: no raw identifier a sender posts — valid
// or not — appears in Kafka, in the collector's logs (at DEBUG) or in its
// metrics.
func TestCollectorNoRawIdentifiers(t *testing.T) {
	cfg := itBus(t)
	rid := itRunID(t)
	source := "it-raw-" + rid
	var logs itSyncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := newITEnv(t, cfg, source, log, nil)
	ids := &itRawIDs{rid: rid, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)), seen: map[string]bool{}}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)

	var access, device [][]byte
	for i := range 20 {
		e := itAccessEvent(rid, base, i)
		e["subject"].(map[string]any)["id"] = ids.subject(i)
		e["client"].(map[string]any)["device_id"] = ids.device(i)
		e["attrs"] = map[string]any{"id_number": ids.idNumber(), "phone": ids.phone(), "imei": ids.imei(), "patient.mobile": ids.phone()}
		b, _ := json.Marshal(e)
		access = append(access, b)
	}
	for i := range 20 {
		e := itDeviceEvent(rid, base, i)
		e["account_id"] = ids.account(i)
		e["device_id"] = ids.device(100 + i)
		e["network"].(map[string]any)["wifi_bssid"] = ids.mac()
		e["attrs"] = map[string]any{"imei": ids.imei(), "phone": ids.phone(), "id_number": ids.idNumber()}
		b, _ := json.Marshal(e)
		device = append(device, b)
	}
	// Invalid inputs that carry identifiers: schema errors elsewhere, an
	// identifier where another value belongs, non-JSON text.
	nBad := 0
	badAccess := func(edit func(map[string]any)) []byte {
		nBad++
		e := itAccessEvent(rid, base, 1)
		e["subject"].(map[string]any)["id"] = ids.subject(1000 + nBad)
		e["client"].(map[string]any)["device_id"] = ids.device(1000 + nBad)
		e["attrs"] = map[string]any{"id_number": ids.idNumber(), "phone": ids.phone()}
		edit(e)
		b, _ := json.Marshal(e)
		return b
	}
	access = append(access,
		badAccess(func(e map[string]any) { e["action"] = "teleport" }),
		badAccess(func(e map[string]any) { e["occurred_at"] = "not a time" }),
		badAccess(func(e map[string]any) { e["client"].(map[string]any)["ip"] = ids.phone() }),
		badAccess(func(e map[string]any) { e["categories"] = []string{"id " + ids.idNumber()} }),
		badAccess(func(e map[string]any) { e["subject"].(map[string]any)["id"] = json.Number(ids.phone()) }),
		[]byte(fmt.Sprintf("garbage %s phone=%s id=%s imei=%s mac %s", rid, ids.phone(), ids.idNumber(), ids.imei(), ids.mac())),
		[]byte(fmt.Sprintf(`{"subject":{"id":"%s"},"attrs":{"phone":"%s"}`, ids.subject(2000), ids.phone())), // cut short
	)
	{
		e := itDeviceEvent(rid, base, 3)
		e["account_id"], e["device_id"], e["kind"] = ids.account(3000), ids.device(3000), "teleport"
		e["network"].(map[string]any)["wifi_bssid"] = ids.mac()
		e["attrs"] = map[string]any{"imei": ids.imei()}
		b, _ := json.Marshal(e)
		device = append(device, b)
	}

	post := func(kind string, lines [][]byte, gz bool) {
		r := env.post(t, kind, append(bytes.Join(lines, []byte("\n")), '\n'), gz)
		if r.Status != http.StatusOK && r.Status != http.StatusMultiStatus {
			t.Fatalf("POST /v1/%s: HTTP %d %+v", kind, r.Status, r)
		}
		t.Logf("POST /v1/%s: HTTP %d, %d accepted, %d rejected", kind, r.Status, r.Accepted, r.Rejected)
	}
	post("access", access, false)
	post("device", device, true)
	// A whole request refused (malformed array), holding identifiers.
	mal := fmt.Sprintf(`[{"subject":{"id":"%s"},"attrs":{"phone":"%s","imei":"%s"}}, oops`, ids.subject(4000), ids.phone(), ids.imei())
	if r := env.post(t, "access", []byte(mal), false); r.Status != http.StatusBadRequest {
		t.Fatalf("malformed body: HTTP %d", r.Status)
	}
	// Bad credentials are logged; the log line must not carry the body.
	if r, err := itPost(context.Background(), http.DefaultClient, env.srv.URL+"/v1/access", "wrong-"+ids.phone(), access[0], false); err != nil || r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v %+v", err, r)
	}

	env.shutdown(t)
	rd := newITReader(t, cfg, env.from)
	all, _ := rd.collect(30*time.Second, func(map[string][]itRecord) bool { return true })

	var counts []string
	var leaks []string
	check := func(where, text string) {
		lower := strings.ToLower(text)
		for _, raw := range ids.all {
			if strings.Contains(lower, strings.ToLower(raw)) {
				leaks = append(leaks, fmt.Sprintf("%s holds raw %q: %.300s", where, raw, text))
			}
		}
	}
	for _, topic := range itTopics {
		recs := itBySource(all[topic], source)
		counts = append(counts, fmt.Sprintf("%s: %d", topic, len(recs)))
		for _, rec := range recs {
			check(topic+" key", rec.Key)
			check(topic+" value", string(rec.Value))
		}
	}
	t.Logf("records of this run: %s; %d raw identifiers checked", strings.Join(counts, ", "), len(ids.all))
	if n := len(itBySource(all[bus.TopicAccess], source)); n != 20 {
		t.Errorf("%d access events of this run in Kafka, want 20", n)
	}
	if n := len(itBySource(all[bus.TopicDevice], source)); n != 20 {
		t.Errorf("%d device events of this run in Kafka, want 20", n)
	}
	if n := len(itBySource(all[bus.TopicDeadLetter], source)); n != 9 {
		t.Errorf("%d dead letters of this run in Kafka, want 9", n)
	}
	logText := logs.String()
	for i, line := range strings.Split(logText, "\n") {
		check(fmt.Sprintf("log line %d", i+1), line)
	}
	metricsText := itGatherText(t, env.reg)
	check("/metrics", metricsText)
	t.Logf("%d log lines, %d bytes of metrics checked", strings.Count(logText, "\n"), len(metricsText))
	if !strings.Contains(logText, `"level":"DEBUG"`) && !strings.Contains(logText, `"level":"INFO"`) {
		t.Logf("note: the collector wrote no DEBUG/INFO log lines")
	}
	slices.Sort(leaks)
	for _, l := range slices.Compact(leaks) {
		t.Error(l)
	}
}

// itSyncBuffer is a bytes.Buffer safe for concurrent writers.
type itSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *itSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *itSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
