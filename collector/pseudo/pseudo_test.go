package pseudo_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/event"
)

func accessEvent() event.AccessEvent {
	return event.AccessEvent{
		EventID:    "emr-1",
		OccurredAt: event.NewTimestamp(mustTime("2026-11-28T09:30:00.123Z")),
		Org:        "hosp-1",
		Actor:      event.Actor{ID: "staff-004217", Type: event.ActorDoctor, Role: "physician"},
		Action:     event.ActionRead,
		Subject:    event.Subject{ID: "pt-8812734", Type: event.SubjectPatient},
		Categories: []event.Category{event.CategoryHealth},
		Outcome:    event.OutcomeSuccess,
		Client: event.Client{
			IP:       "10.12.7.31",
			DeviceID: "dev-a81f22",
			Geo:      event.Geo{Country: "CN", Lat: ptr(30.274085), Lon: ptr(120.155070)},
		},
		Purpose: "follow-up",
		Attrs: map[string]string{
			"ward":            "7B",
			"phone":           "13800138000",
			"risk.IMEI":       "860000000000001",
			"Contact.Email":   "Alice@Example.com",
			"wifi.bssid":      "AA:BB:CC:DD:EE:FF",
			"phone_verified":  "true",
			"imei_checked_at": "2026-11-28",
		},
	}
}

func deviceEvent() event.DeviceEvent {
	return event.DeviceEvent{
		EventID:    "sdk-1",
		OccurredAt: event.NewTimestamp(mustTime("2026-11-28T09:30:00.123Z")),
		Org:        "app-1",
		AccountID:  "pt-8812734",
		DeviceID:   "dev-a81f22",
		Kind:       event.KindLogin,
		Network:    event.Network{IP: "2001:db8:1234:5678::1", Carrier: "46000", WiFiBSSID: "aa:bb:cc:dd:ee:ff"},
		Location:   &event.Location{Lat: 30.274085, Lon: 120.155070, AccuracyM: 35},
		Outcome:    event.OutcomeSuccess,
		Attrs:      map[string]string{"android_id": "9774d56d682e549c", "note": "ok"},
	}
}

func TestAccessFields(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	e := accessEvent()
	p.Access(&e)

	tok := func(ns pseudo.Namespace, v string) string { return p.Token(ns, v) }
	checks := []struct{ field, got, want string }{
		{"actor.id (raw by default)", e.Actor.ID, "staff-004217"},
		{"subject.id", e.Subject.ID, vectors[0].want},
		{"client.device_id", e.Client.DeviceID, "d_nnyw7z3q5sac625zwpj4fzknyvu7uk2t"},
		{"client.ip (raw by default)", e.Client.IP, "10.12.7.31"},
		{"attrs.ward", e.Attrs["ward"], "7B"},
		{"attrs.phone", e.Attrs["phone"], "p_raotihymaxbqr3ngbfytlvqcdlurqhz6"},
		{"attrs.risk.IMEI", e.Attrs["risk.IMEI"], tok(pseudo.Device, "860000000000001")},
		{"attrs.Contact.Email", e.Attrs["Contact.Email"], "p_3lpp5j65vlz6rzhw4i5zu4hr6eafqiex"},
		{"attrs.wifi.bssid", e.Attrs["wifi.bssid"], "n_4bflvs7u7jmgv554kqbyij3filikvqlr"},
		{"attrs.phone_verified", e.Attrs["phone_verified"], "true"},
		{"attrs.imei_checked_at", e.Attrs["imei_checked_at"], "2026-11-28"},
		{"purpose", e.Purpose, "follow-up"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if *e.Client.Geo.Lat != 30.27 || *e.Client.Geo.Lon != 120.16 {
		t.Errorf("client.geo = %v, %v; want 30.27, 120.16", *e.Client.Geo.Lat, *e.Client.Geo.Lon)
	}
	if ps := event.ValidateAccess(withBusFields(e)); len(ps) > 0 {
		t.Errorf("pseudonymised event is not valid on the bus: %v", ps)
	}
}

func TestDeviceFields(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	e := deviceEvent()
	p.Device(&e)
	checks := []struct{ field, got, want string }{
		{"account_id", e.AccountID, vectors[0].want}, // same person namespace as subject.id
		{"device_id", e.DeviceID, "d_nnyw7z3q5sac625zwpj4fzknyvu7uk2t"},
		{"network.wifi_bssid", e.Network.WiFiBSSID, "n_4bflvs7u7jmgv554kqbyij3filikvqlr"},
		{"network.ip (raw by default)", e.Network.IP, "2001:db8:1234:5678::1"},
		{"network.carrier", e.Network.Carrier, "46000"},
		{"attrs.android_id", e.Attrs["android_id"], p.Token(pseudo.Device, "9774d56d682e549c")},
		{"attrs.note", e.Attrs["note"], "ok"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if l := e.Location; l.Lat != 30.27 || l.Lon != 120.16 || l.AccuracyM != 788 {
		t.Errorf("location = %+v, want 30.27, 120.16, accuracy 788", *l)
	}
	e.Source, e.ReceivedAt = "sdk", e.OccurredAt
	if ps := event.ValidateDevice(e); len(ps) > 0 {
		t.Errorf("pseudonymised event is not valid on the bus: %v", ps)
	}
}

func withBusFields(e event.AccessEvent) event.AccessEvent {
	e.Source, e.ReceivedAt, e.Relationship = "emr", e.OccurredAt, event.RelationshipUnknown
	return e
}

// The documented namespace map: which fields join.
func TestNamespacesJoin(t *testing.T) {
	p := newP(t, defaults(func(c *pseudo.Config) { c.TokeniseActor = true }))
	const id = "same-id-42"
	a := event.AccessEvent{
		Actor:   event.Actor{ID: id},
		Subject: event.Subject{ID: id, Type: event.SubjectUser},
		Client:  event.Client{DeviceID: id},
		Attrs:   map[string]string{"phone": id, "imei": id, "mac": id, "bssid": id, "user_id": id},
	}
	d := event.DeviceEvent{AccountID: id, DeviceID: id, Network: event.Network{WiFiBSSID: id},
		Attrs: map[string]string{"imsi": id, "android_id": id, "id_number": id, "ssid": id}}
	p.Access(&a)
	p.Device(&d)

	groups := map[string][]string{
		"person":  {a.Actor.ID, a.Subject.ID, a.Attrs["phone"], a.Attrs["user_id"], d.AccountID, d.Attrs["id_number"]},
		"device":  {a.Client.DeviceID, a.Attrs["imei"], a.Attrs["mac"], d.DeviceID, d.Attrs["imsi"], d.Attrs["android_id"]},
		"network": {a.Attrs["bssid"], d.Network.WiFiBSSID, d.Attrs["ssid"]},
	}
	firsts := map[string]string{}
	for name, toks := range groups {
		for i, tok := range toks {
			if tok != toks[0] {
				t.Errorf("%s namespace: token %d = %q, want %q like the first", name, i, tok, toks[0])
			}
		}
		if ns, ok := pseudo.IsToken(toks[0]); !ok || ns.String() != name {
			t.Errorf("%s namespace: %q is not a %s token", name, toks[0], name)
		}
		firsts[name] = toks[0]
	}
	if firsts["person"] == firsts["device"] || firsts["device"] == firsts["network"] || firsts["person"] == firsts["network"] {
		t.Errorf("namespaces share tokens: %v", firsts)
	}
}

func TestAllowRaw(t *testing.T) {
	tests := []struct{ allow []string }{
		{nil},
		{[]string{"subject.id"}},
		{[]string{"client.device_id"}},
		{[]string{"account_id"}},
		{[]string{"device_id"}},
		{[]string{"network.wifi_bssid"}},
		{[]string{"attrs.phone"}},
		{[]string{"attrs.android_id", "subject.id", "device_id"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.allow, ","), func(t *testing.T) {
			p := newP(t, defaults(func(c *pseudo.Config) { c.AllowRaw = tt.allow }))
			a, d := accessEvent(), deviceEvent()
			a0, d0 := accessEvent(), deviceEvent()
			p.Access(&a)
			p.Device(&d)
			fields := []struct {
				name      string
				got, orig string
			}{
				{"subject.id", a.Subject.ID, a0.Subject.ID},
				{"client.device_id", a.Client.DeviceID, a0.Client.DeviceID},
				{"attrs.phone", a.Attrs["phone"], a0.Attrs["phone"]},
				{"account_id", d.AccountID, d0.AccountID},
				{"device_id", d.DeviceID, d0.DeviceID},
				{"network.wifi_bssid", d.Network.WiFiBSSID, d0.Network.WiFiBSSID},
				{"attrs.android_id", d.Attrs["android_id"], d0.Attrs["android_id"]},
			}
			for _, f := range fields {
				allowed := false
				for _, a := range tt.allow {
					allowed = allowed || a == f.name
				}
				if raw := f.got == f.orig; raw != allowed {
					t.Errorf("%s: raw = %v (%q), want %v", f.name, raw, f.got, allowed)
				}
			}
		})
	}
}

func TestAllowRawAttrCaseInsensitive(t *testing.T) {
	p := newP(t, defaults(func(c *pseudo.Config) { c.AllowRaw = []string{"attrs.IMEI"} }))
	e := accessEvent()
	p.Access(&e)
	if e.Attrs["risk.IMEI"] != "860000000000001" {
		t.Errorf("attrs.risk.IMEI = %q, want raw", e.Attrs["risk.IMEI"])
	}
}

func TestIdentifierAttrsConfigured(t *testing.T) {
	p := newP(t, defaults(func(c *pseudo.Config) {
		c.IdentifierAttrs = []string{"member_no", "router=network", "mac=network"}
	}))
	e := event.AccessEvent{Attrs: map[string]string{
		"loyalty.Member_No": "M-1", "router": "r-1", "mac": "aa:bb:cc:dd:ee:ff", "phone": "13800138000",
	}}
	p.Access(&e)
	want := map[string]string{
		"loyalty.Member_No": p.Token(pseudo.Person, "M-1"),
		"router":            p.Token(pseudo.Network, "r-1"),
		"mac":               "n_4bflvs7u7jmgv554kqbyij3filikvqlr", // namespace changed
		"phone":             "p_raotihymaxbqr3ngbfytlvqcdlurqhz6", // built-ins still apply
	}
	for k, w := range want {
		if e.Attrs[k] != w {
			t.Errorf("attrs[%s] = %q, want %q", k, e.Attrs[k], w)
		}
	}
}

func TestTokeniseActor(t *testing.T) {
	for _, on := range []bool{false, true} {
		p := newP(t, defaults(func(c *pseudo.Config) { c.TokeniseActor = on }))
		e := accessEvent()
		p.Access(&e)
		want := "staff-004217"
		if on {
			want = p.Token(pseudo.Person, "staff-004217")
		}
		if e.Actor.ID != want {
			t.Errorf("tokenise_actor %v: actor.id = %q, want %q", on, e.Actor.ID, want)
		}
	}
}

func TestIPPrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.77", "203.0.113.0"},
		{"10.12.7.31", "10.12.7.0"},
		{"203.0.113.0", "203.0.113.0"},
		{"::ffff:203.0.113.77", "203.0.113.0"},
		{"2001:db8:1234:5678::1", "2001:db8:1234::"},
		{"2001:db8:1234::", "2001:db8:1234::"},
		{"::1", "::"},
		{"", ""},
		{"not-an-ip", "not-an-ip"},
	}
	p := newP(t, defaults(func(c *pseudo.Config) { c.IPPrefix = true }))
	for _, tt := range tests {
		a := event.AccessEvent{Client: event.Client{IP: tt.in}}
		d := event.DeviceEvent{Network: event.Network{IP: tt.in}}
		p.Access(&a)
		p.Device(&d)
		if a.Client.IP != tt.want || d.Network.IP != tt.want {
			t.Errorf("%q: client.ip %q, network.ip %q; want %q", tt.in, a.Client.IP, d.Network.IP, tt.want)
		}
	}
}

func TestGeoRounding(t *testing.T) {
	tests := []struct {
		decimals int
		in, want float64
	}{
		{2, 30.274085, 30.27},
		{2, 120.155070, 120.16},
		{2, -33.868820, -33.87},
		{2, -151.209296, -151.21},
		{2, 0.004, 0},
		{2, -0.004, 0}, // never -0
		{2, 0.005, 0.01},
		{2, -0.005, -0.01}, // half away from zero
		{2, 90, 90},
		{2, -90, -90},
		{2, 180, 180},
		{2, -180, -180},
		{2, 89.999, 90},
		{2, -179.996, -180},
		{0, 30.5, 31},
		{0, -30.5, -31},
		{0, 0.4, 0},
		{0, -0.4, 0},
		{0, 179.6, 180},
		{1, 39.96, 40},
		{3, 39.904211, 39.904},
		{4, 39.904211, 39.9042},
		{5, 39.904216, 39.90422},
		{6, 39.90421149, 39.904211},
		{6, -179.9999999, -180},
	}
	for _, tt := range tests {
		p := newP(t, defaults(func(c *pseudo.Config) { c.GeoDecimals = tt.decimals }))
		d := event.DeviceEvent{Location: &event.Location{Lat: clampLat(tt.in), Lon: tt.in}}
		a := event.AccessEvent{Client: event.Client{Geo: event.Geo{Lat: ptr(clampLat(tt.in)), Lon: ptr(tt.in)}}}
		p.Device(&d)
		p.Access(&a)
		if d.Location.Lon != tt.want || *a.Client.Geo.Lon != tt.want {
			t.Errorf("decimals %d: %v → device %v, access %v; want %v", tt.decimals, tt.in, d.Location.Lon, *a.Client.Geo.Lon, tt.want)
		}
		if math.Signbit(d.Location.Lon) && tt.want == 0 {
			t.Errorf("decimals %d: %v → -0", tt.decimals, tt.in)
		}
		if b, _ := json.Marshal(d.Location.Lon); tt.want == 0 && string(b) != "0" {
			t.Errorf("decimals %d: %v encodes as %s", tt.decimals, tt.in, b)
		}
		if d.Location.Lat < -90 || d.Location.Lat > 90 || d.Location.Lon < -180 || d.Location.Lon > 180 {
			t.Errorf("decimals %d: %v → out of range %+v", tt.decimals, tt.in, *d.Location)
		}
	}
}

func clampLat(x float64) float64 { return math.Max(-90, math.Min(90, x)) }

func TestGeoAccuracy(t *testing.T) {
	tests := []struct {
		decimals   int
		in, wantAc float64
	}{
		{0, 0, 78716},
		{0, 100000, 100000},
		{1, 35, 7872},
		{2, 0, 788}, // not reported: now the coarsening error
		{2, 35, 788},
		{2, 5000, 5000}, // already coarser: kept
		{3, 35, 79},
		{4, 35, 35},
		{5, 0.5, 0.79},
		{6, 0, 0.08},
	}
	for _, tt := range tests {
		p := newP(t, defaults(func(c *pseudo.Config) { c.GeoDecimals = tt.decimals }))
		d := event.DeviceEvent{Location: &event.Location{Lat: 1, Lon: 1, AccuracyM: tt.in}}
		p.Device(&d)
		if d.Location.AccuracyM != tt.wantAc {
			t.Errorf("decimals %d, accuracy %v: got %v, want %v", tt.decimals, tt.in, d.Location.AccuracyM, tt.wantAc)
		}
	}
	// The table is right: the error of a cell corner never exceeds it.
	for dec := 0; dec <= pseudo.MaxGeoDecimals; dec++ {
		half := 0.5 * math.Pow10(-dec)
		maxErr := math.Hypot(half, half) * 111320
		p := newP(t, defaults(func(c *pseudo.Config) { c.GeoDecimals = dec }))
		d := event.DeviceEvent{Location: &event.Location{}}
		p.Device(&d)
		if d.Location.AccuracyM < maxErr {
			t.Errorf("decimals %d: accuracy floor %v below the largest error %v", dec, d.Location.AccuracyM, maxErr)
		}
	}
}

func TestIdempotent(t *testing.T) {
	cfgs := map[string]pseudo.Config{
		"defaults": pseudo.Defaults(),
		"all": defaults(func(c *pseudo.Config) {
			c.TokeniseActor, c.IPPrefix, c.GeoDecimals = true, true, 3
		}),
		"whole degrees": {GeoDecimals: 0},
	}
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			p := newP(t, cfg)
			a, d := accessEvent(), deviceEvent()
			p.Access(&a)
			p.Device(&d)
			once := mustJSON(t, a) + mustJSON(t, d)
			p.Access(&a)
			p.Device(&d)
			if twice := mustJSON(t, a) + mustJSON(t, d); twice != once {
				t.Errorf("twice differs from once:\n%s\n%s", once, twice)
			}
			// A second collector with the same key changes nothing either.
			q := newP(t, cfg)
			q.Access(&a)
			q.Device(&d)
			if again := mustJSON(t, a) + mustJSON(t, d); again != once {
				t.Errorf("second collector changed the events:\n%s\n%s", once, again)
			}
		})
	}
}

func TestNoRawIdentifierAfter(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	a, d := accessEvent(), deviceEvent()
	p.Access(&a)
	p.Device(&d)
	out := strings.ToLower(mustJSON(t, a) + mustJSON(t, d))
	for _, raw := range []string{"pt-8812734", "dev-a81f22", "13800138000", "860000000000001",
		"alice@example.com", "aa:bb:cc:dd:ee:ff", "9774d56d682e549c", "30.274085", "120.15507"} {
		if strings.Contains(out, raw) {
			t.Errorf("raw %q in pseudonymised events: %s", raw, out)
		}
	}
}

func TestEmptyFieldsStayEmpty(t *testing.T) {
	p := newP(t, defaults(func(c *pseudo.Config) { c.TokeniseActor, c.IPPrefix = true, true }))
	var a event.AccessEvent
	var d event.DeviceEvent
	p.Access(&a)
	p.Device(&d)
	if a.Actor.ID != "" || a.Subject.ID != "" || a.Client.DeviceID != "" || a.Client.IP != "" ||
		d.AccountID != "" || d.DeviceID != "" || d.Network.WiFiBSSID != "" || d.Location != nil || a.Attrs != nil {
		t.Errorf("empty fields changed: %+v %+v", a, d)
	}
	a.Attrs = map[string]string{"phone": ""}
	p.Access(&a)
	if a.Attrs["phone"] != "" {
		t.Errorf("empty attr became %q", a.Attrs["phone"])
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := pseudo.New(make([]byte, 31), pseudo.Defaults()); err == nil || !strings.Contains(err.Error(), "31 bytes") {
		t.Errorf("short key: %v", err)
	}
	if _, err := pseudo.New(testKey, pseudo.Config{GeoDecimals: 7}); err == nil || !strings.Contains(err.Error(), "pseudonymise.geo_decimals") {
		t.Errorf("bad config: %v", err)
	}
}

func TestPseudonymiserDoesNotPrintKey(t *testing.T) {
	key := []byte(strings.Repeat("K", 32))
	p, err := pseudo.New(key, pseudo.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("started", "pseudonymiser", p)
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%v %+v %#v %s", p, p, p, p), logged.String()} {
		if strings.Contains(s, "KKKK") || strings.Contains(s, "4b4b4b4b") {
			t.Errorf("key material printed: %s", s)
		}
		if !strings.Contains(s, pseudo.KeyID(key)) {
			t.Errorf("key id missing: %s", s)
		}
	}
	if p.KeyID() != pseudo.KeyID(key) {
		t.Errorf("KeyID = %q", p.KeyID())
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
