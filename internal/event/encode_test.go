package event_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// appendJSONer is the hand-written encoder of a record type.
type appendJSONer interface{ AppendJSON([]byte) []byte }

// checkAppendJSON fails t unless v.AppendJSON writes what json.Marshal(v)
// does, both into an empty buffer and after existing content. Where
// json.Marshal fails (NaN, a year past 9999), the output must still be
// valid JSON.
func checkAppendJSON(t *testing.T, v appendJSONer) {
	t.Helper()
	got := v.AppendJSON(nil)
	want, err := json.Marshal(v)
	if err != nil {
		if !json.Valid(got) {
			t.Fatalf("json.Marshal: %v; AppendJSON wrote invalid JSON %q", err, got)
		}
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON differs from json.Marshal:\ngot  %s\nwant %s", got, want)
	}
	prefix := []byte("prefix:")
	got = v.AppendJSON(prefix[:len(prefix):len(prefix)])
	if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("AppendJSON after existing content:\ngot  %s\nwant prefix:%s", got, want)
	}
}

func TestAppendJSONTestdata(t *testing.T) {
	for name, data := range goodFiles(t, "access") {
		t.Run("access/"+name, func(t *testing.T) {
			e, ps := testValidator.DecodeAccess(data)
			if len(ps) != 0 {
				t.Fatal(ps)
			}
			checkAppendJSON(t, &e)
		})
	}
	for name, data := range goodFiles(t, "device") {
		t.Run("device/"+name, func(t *testing.T) {
			e, ps := testValidator.DecodeDevice(data)
			if len(ps) != 0 {
				t.Fatal(ps)
			}
			checkAppendJSON(t, &e)
		})
	}
}

func TestAppendJSONGolden(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "access_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	e, ps := testValidator.DecodeAccess(golden)
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	checkAppendJSON(t, &e)
	if got := indent(t, string(e.AppendJSON(nil))) + "\n"; got != string(golden) {
		t.Errorf("AppendJSON, indented, differs from the golden file:\n%s", got)
	}
}

// trickyStrings are strings whose JSON form encoding/json escapes.
var trickyStrings = []string{
	"", "plain", `<script>alert("x&y")</script>`, "a\\b", "\"", "/",
	"\x00\x01\x07\b\t\n\v\f\r\x0e\x1b\x1f\x7f", "line\u2028sep\u2029para",
	"\xff", "a\xc3", "\xc3\x28", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x80", // invalid UTF-8
	"儿科 😀", "\ufffd", "\u00e9\u0301", strings.Repeat("x<", 300),
}

// trickyFloats are floats around encoding/json's format cutoffs.
var trickyFloats = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, -180, 90, 30.27, 120.16, 1e-6, 9.99999e-7,
	1e-7, 1.5e-10, 1e20, 1e21, 999999999999999999999, -1e21, 1.7976931348623157e308,
	5e-324, 123456789.123456789, 2e7, 1e-300,
}

func ptr[T any](v T) *T { return &v }

func TestAppendJSONAccessTable(t *testing.T) {
	base := func() event.AccessEvent {
		return event.AccessEvent{
			OccurredAt: event.NewTimestamp(testNow),
			Org:        "o", Actor: event.Actor{ID: "a", Type: event.ActorDoctor},
			Action: event.ActionRead, Relationship: event.RelationshipUnknown, Outcome: event.OutcomeSuccess,
		}
	}
	cases := map[string]func(e *event.AccessEvent){
		"base":               func(*event.AccessEvent) {},
		"zero event":         func(e *event.AccessEvent) { *e = event.AccessEvent{} },
		"nil attrs":          func(e *event.AccessEvent) { e.Attrs = nil },
		"empty attrs":        func(e *event.AccessEvent) { e.Attrs = map[string]string{} },
		"nil categories":     func(e *event.AccessEvent) { e.Categories = nil },
		"empty categories":   func(e *event.AccessEvent) { e.Categories = []event.Category{} },
		"one category":       func(e *event.AccessEvent) { e.Categories = []event.Category{"health"} },
		"bad categories":     func(e *event.AccessEvent) { e.Categories = []event.Category{"", "<&>", "\xff"} },
		"event id":           func(e *event.AccessEvent) { e.EventID = "evt-1" },
		"received at":        func(e *event.AccessEvent) { e.ReceivedAt = event.NewTimestamp(testNow.Add(time.Second)) },
		"raw received at":    func(e *event.AccessEvent) { e.ReceivedAt = event.Timestamp{Time: testNow.Add(123456789)} },
		"offset occurred at": func(e *event.AccessEvent) { e.OccurredAt.Time = testNow.In(time.FixedZone("x", 8*3600)) },
		"zero occurred at":   func(e *event.AccessEvent) { e.OccurredAt = event.Timestamp{} },
		"zero in a zone":     func(e *event.AccessEvent) { e.ReceivedAt.Time = time.Time{}.In(time.FixedZone("x", 3600)) },
		"year 9999": func(e *event.AccessEvent) {
			e.OccurredAt.Time = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
		},
		"year 10000":         func(e *event.AccessEvent) { e.OccurredAt.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year -1":            func(e *event.AccessEvent) { e.ReceivedAt.Time = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		"source":             func(e *event.AccessEvent) { e.Source = "emr" },
		"record count":       func(e *event.AccessEvent) { e.RecordCount = 1_000_000_000_000 },
		"negative count":     func(e *event.AccessEvent) { e.RecordCount = math.MinInt64 },
		"purpose":            func(e *event.AccessEvent) { e.Purpose = "care" },
		"empty enums":        func(e *event.AccessEvent) { e.Action, e.Relationship, e.Outcome, e.Actor.Type = "", "", "", "" },
		"subject":            func(e *event.AccessEvent) { e.Subject = event.Subject{ID: "s", Type: event.SubjectPatient} },
		"subject flags only": func(e *event.AccessEvent) { e.Subject = event.Subject{Minor: true, VIP: true, Employee: true} },
		"subject one flag":   func(e *event.AccessEvent) { e.Subject = event.Subject{VIP: true} },
		"actor full":         func(e *event.AccessEvent) { e.Actor.Role, e.Actor.Department = "r", "d" },
		"actor department":   func(e *event.AccessEvent) { e.Actor.Department = "d" },
		"client ip":          func(e *event.AccessEvent) { e.Client.IP = "::1" },
		"client user agent":  func(e *event.AccessEvent) { e.Client.UserAgent = "ua" },
		"client device":      func(e *event.AccessEvent) { e.Client.DeviceID = "dev" },
		"geo city":           func(e *event.AccessEvent) { e.Client.Geo.City = "Hangzhou" },
		"geo lat only":       func(e *event.AccessEvent) { e.Client.Geo.Lat = ptr(0.0) },
		"geo lon only":       func(e *event.AccessEvent) { e.Client.Geo.Lon = ptr(-180.0) },
		"geo negative zero":  func(e *event.AccessEvent) { e.Client.Geo.Lat, e.Client.Geo.Lon = ptr(math.Copysign(0, -1)), ptr(0.0) },
		"geo full": func(e *event.AccessEvent) {
			e.Client.Geo = event.Geo{"CN", "Zhejiang", "Hangzhou", ptr(30.27), ptr(120.16)}
		},
		"geo NaN":             func(e *event.AccessEvent) { e.Client.Geo.Lat = ptr(math.NaN()) },
		"geo Inf":             func(e *event.AccessEvent) { e.Client.Geo.Lon = ptr(math.Inf(-1)) },
		"session and request": func(e *event.AccessEvent) { e.SessionID, e.RequestID = "s", "r" },
		"request only":        func(e *event.AccessEvent) { e.RequestID = "r" },
		"attrs sorted": func(e *event.AccessEvent) {
			e.Attrs = map[string]string{"b": "2", "a": "1", "B": "3", "a.b": "", "a:b": "x", "": "empty key", "é": "<>", "\xff": "\u2028"}
		},
		"attrs over MaxAttrs": func(e *event.AccessEvent) {
			e.Attrs = map[string]string{}
			for i := range 3 * event.MaxAttrs {
				e.Attrs["k"+strconv.Itoa(i)] = strconv.Itoa(i)
			}
		},
	}
	for i, s := range trickyStrings {
		cases["string "+strconv.Itoa(i)] = func(e *event.AccessEvent) {
			e.EventID, e.Source, e.Org, e.Purpose, e.SessionID, e.RequestID = s, s, s, s, s, s
			e.Actor = event.Actor{ID: s, Type: event.ActorType(s), Role: s, Department: s}
			e.Action, e.Relationship, e.Outcome = event.Action(s), event.Relationship(s), event.Outcome(s)
			e.Subject = event.Subject{ID: s, Type: event.SubjectType(s)}
			e.Categories = []event.Category{event.Category(s), event.Category(s)}
			e.Client = event.Client{IP: s, UserAgent: s, DeviceID: s, Geo: event.Geo{Country: s, Region: s, City: s}}
			e.Attrs = map[string]string{s: s, s + "x": s}
		}
	}
	for i, f := range trickyFloats {
		cases["float "+strconv.Itoa(i)] = func(e *event.AccessEvent) { e.Client.Geo.Lat, e.Client.Geo.Lon = ptr(f), ptr(-f) }
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			e := base()
			edit(&e)
			checkAppendJSON(t, &e)
		})
	}
}

func TestAppendJSONDeviceTable(t *testing.T) {
	base := func() event.DeviceEvent {
		return event.DeviceEvent{
			OccurredAt: event.NewTimestamp(testNow), Org: "o", AccountID: "acct", DeviceID: "dev",
			Kind: event.KindLogin, Outcome: event.OutcomeFailure,
		}
	}
	cases := map[string]func(e *event.DeviceEvent){
		"base":             func(*event.DeviceEvent) {},
		"zero event":       func(e *event.DeviceEvent) { *e = event.DeviceEvent{} },
		"collector fields": func(e *event.DeviceEvent) { e.EventID, e.Source, e.ReceivedAt = "e", "s", event.NewTimestamp(testNow) },
		"device os":        func(e *event.DeviceEvent) { e.Device.OS = "android" },
		"device full":      func(e *event.DeviceEvent) { e.Device = event.Device{"m", "o", "v", "a"} },
		"one signal":       func(e *event.DeviceEvent) { e.Signals.RemoteControl = true },
		"all signals": func(e *event.DeviceEvent) {
			e.Signals = event.Signals{true, true, true, true, true, true, true, true, true}
		},
		"network carrier":   func(e *event.DeviceEvent) { e.Network.Carrier = "46000" },
		"network full":      func(e *event.DeviceEvent) { e.Network = event.Network{"1.2.3.4", "c", "w"} },
		"zero location":     func(e *event.DeviceEvent) { e.Location = &event.Location{} },
		"location accuracy": func(e *event.DeviceEvent) { e.Location = &event.Location{Lat: 1, Lon: 2, AccuracyM: 35} },
		"accuracy -0":       func(e *event.DeviceEvent) { e.Location = &event.Location{AccuracyM: math.Copysign(0, -1)} },
		"location NaN":      func(e *event.DeviceEvent) { e.Location = &event.Location{Lat: math.NaN()} },
		"nil attrs":         func(e *event.DeviceEvent) { e.Attrs = nil },
		"empty attrs":       func(e *event.DeviceEvent) { e.Attrs = map[string]string{} },
		"attrs":             func(e *event.DeviceEvent) { e.Attrs = map[string]string{"z": "1", "a": "<"} },
	}
	for i, s := range trickyStrings {
		cases["string "+strconv.Itoa(i)] = func(e *event.DeviceEvent) {
			e.EventID, e.Source, e.Org, e.AccountID, e.DeviceID = s, s, s, s, s
			e.Kind, e.Outcome = event.DeviceKind(s), event.Outcome(s)
			e.Device = event.Device{s, s, s, s}
			e.Network = event.Network{s, s, s}
			e.Attrs = map[string]string{s: s}
		}
	}
	for i, f := range trickyFloats {
		cases["float "+strconv.Itoa(i)] = func(e *event.DeviceEvent) {
			e.Location = &event.Location{Lat: f, Lon: -f, AccuracyM: f}
		}
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			e := base()
			edit(&e)
			checkAppendJSON(t, &e)
		})
	}
}

func TestAppendJSONDeadLetterTable(t *testing.T) {
	base := func() event.DeadLetter {
		return event.DeadLetter{
			DeadLetterID: "dl-1", ReceivedAt: event.NewTimestamp(testNow), Receiver: "http", Kind: "access",
			Reason: event.ReasonInvalidEvent, Problems: []string{"org: required"}, Raw: "{}", RawBytes: 2,
		}
	}
	cases := map[string]func(d *event.DeadLetter){
		"base":           func(*event.DeadLetter) {},
		"zero":           func(d *event.DeadLetter) { *d = event.DeadLetter{} },
		"nil problems":   func(d *event.DeadLetter) { d.Problems = nil },
		"empty problems": func(d *event.DeadLetter) { d.Problems = []string{} },
		"optional":       func(d *event.DeadLetter) { d.Location, d.EventID, d.Truncated = "line 3", "evt-1", true },
		"negative bytes": func(d *event.DeadLetter) { d.RawBytes = -1 },
	}
	for i, s := range trickyStrings {
		cases["string "+strconv.Itoa(i)] = func(d *event.DeadLetter) {
			d.DeadLetterID, d.Source, d.Receiver, d.Kind, d.Reason, d.Location, d.EventID, d.Raw = s, s, s, s, s, s, s, s
			d.Problems = []string{s, s}
		}
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			d := base()
			edit(&d)
			checkAppendJSON(t, &d)
		})
	}
}

// TestAppendJSONEveryField fills every field of each type by reflection, so
// that a field added to a type without its AppendJSON being updated fails
// here, and then checks many random values.
func TestAppendJSONEveryField(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var a event.AccessEvent
		var d event.DeviceEvent
		var l event.DeadLetter
		for _, v := range []any{&a, &d, &l} {
			fill(r, reflect.ValueOf(v).Elem(), 1)
		}
		checkAppendJSON(t, &a)
		checkAppendJSON(t, &d)
		checkAppendJSON(t, &l)
	}
	for _, v := range []appendJSONer{&event.AccessEvent{}, &event.DeviceEvent{}, &event.DeadLetter{}} {
		fill(nil, reflect.ValueOf(v).Elem(), 0)
		checkAppendJSON(t, v)
		// Every field must have shown up in the output.
		n := strings.Count(string(v.AppendJSON(nil)), `":`)
		if want := countFields(reflect.TypeOf(v).Elem()); n < want {
			t.Errorf("%T: %d members in %s, want at least %d", v, n, v.AppendJSON(nil), want)
		}
	}
}

// countFields counts the fields of t and of the structs within it.
func countFields(t reflect.Type) int {
	n := 0
	for f := range t.Fields() {
		n++
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[event.Timestamp]() {
			n += countFields(ft)
		}
	}
	return n
}

var timestampType = reflect.TypeFor[event.Timestamp]()

// fill sets v to a random value from r, or, when r is nil, to a value with
// every field set (non-zero) down to the leaves. depth > 0 lets fields
// stay zero at random.
func fill(r *rand.Rand, v reflect.Value, depth int) {
	pick := func(n int) int {
		if r == nil {
			return 0
		}
		return r.IntN(n)
	}
	if v.Type() == timestampType {
		switch pick(4) {
		case 0:
			v.Set(reflect.ValueOf(event.NewTimestamp(testNow)))
		case 1:
			if r != nil {
				v.Set(reflect.ValueOf(event.Timestamp{}))
			}
		default:
			// Years -1 to 10000: json.Marshal fails on the outer two.
			tm := time.Date(r.IntN(10002)-1, time.Month(1+r.IntN(12)), 1+r.IntN(28),
				r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e9), time.FixedZone("z", (r.IntN(48)-24)*1800))
			v.Set(reflect.ValueOf(event.Timestamp{Time: tm}))
		}
		return
	}
	if r != nil && depth > 0 && pick(3) == 0 {
		return // leave zero
	}
	switch v.Kind() {
	case reflect.String:
		s := "x"
		if r != nil {
			s = trickyStrings[r.IntN(len(trickyStrings))]
		}
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		n := int64(7)
		if r != nil {
			n = r.Int64() - r.Int64()
		}
		v.SetInt(n)
	case reflect.Float64:
		f := 1.5
		if r != nil {
			f = trickyFloats[r.IntN(len(trickyFloats))]
			if r.IntN(2) == 0 {
				f = -f
			}
		}
		v.SetFloat(f)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(r, p.Elem(), 0)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(r, v.Field(i), 1)
		}
	case reflect.Slice:
		n := 1
		if r != nil {
			n = r.IntN(4)
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(r, s.Index(i), 0)
		}
		v.Set(s)
	case reflect.Map:
		n := 1
		if r != nil {
			n = r.IntN(5)
			if r.IntN(10) == 0 {
				n = 100
			}
		}
		m := reflect.MakeMap(v.Type())
		for i := range n {
			k := reflect.New(v.Type().Key()).Elem()
			e := reflect.New(v.Type().Elem()).Elem()
			fill(r, k, 0)
			fill(r, e, 0)
			k.SetString(k.String() + strconv.Itoa(i))
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		panic("fill: no case for " + v.Type().String())
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	e, ps := testValidator.DecodeAccess(goodFiles(t, "access")["maximal.json"])
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	e.Attrs = map[string]string{}
	for i := range event.MaxAttrs {
		e.Attrs["k"+strconv.Itoa(i)] = "v"
	}
	d, ps := testValidator.DecodeDevice(goodFiles(t, "device")["maximal.json"])
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	buf := make([]byte, 0, 64<<10)
	if n := testing.AllocsPerRun(100, func() { buf = e.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("AccessEvent.AppendJSON: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = d.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("DeviceEvent.AppendJSON: %v allocations, want 0", n)
	}
}

// FuzzAppendJSON checks AppendJSON against json.Marshal on every event the
// decoders accept from arbitrary input, and on events carrying the raw
// input (invalid UTF-8, control bytes and all) in their string fields.
func FuzzAppendJSON(f *testing.F) {
	for _, data := range goodFiles(f, "access") {
		f.Add(data)
	}
	for _, data := range goodFiles(f, "device") {
		f.Add(data)
	}
	f.Add([]byte("<\u2028\xff\x00&"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if e, ps := testValidator.DecodeAccess(data); len(ps) == 0 {
			checkAppendJSON(t, &e)
		}
		if e, ps := testValidator.DecodeDevice(data); len(ps) == 0 {
			checkAppendJSON(t, &e)
		}
		s := string(data)
		a := event.AccessEvent{Org: s, Purpose: s, Attrs: map[string]string{s: s, "k": s}}
		checkAppendJSON(t, &a)
		dl := event.DeadLetter{Raw: s, Problems: []string{s}}
		checkAppendJSON(t, &dl)
		if len(data) >= 8 {
			x := math.Float64frombits(uint64(data[0]) | uint64(data[1])<<8 | uint64(data[2])<<16 |
				uint64(data[3])<<24 | uint64(data[4])<<32 | uint64(data[5])<<40 | uint64(data[6])<<48 | uint64(data[7])<<56)
			dev := event.DeviceEvent{Location: &event.Location{Lat: x, Lon: x, AccuracyM: x}}
			checkAppendJSON(t, &dev)
		}
	})
}
