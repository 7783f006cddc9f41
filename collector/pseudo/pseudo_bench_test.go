package pseudo_test

import (
	"strings"
	"testing"

	"github.com/vigil-audit/vigil/collector/pseudo"
)

// BenchmarkAccess pseudonymises a typical access event: subject.id,
// client.device_id, coordinates, and attrs with one identifier among four.
// The event is reset from raw values each time, outside the measurement
// as far as possible (the copies are a few plain assignments).
func BenchmarkAccess(b *testing.B) {
	p := newP(b, pseudo.Defaults())
	raw := accessEvent()
	raw.Attrs = map[string]string{"ward": "7B", "phone": "13800138000", "bed": "12", "shift": "night"}
	e := raw
	lat, lon := *raw.Client.Geo.Lat, *raw.Client.Geo.Lon
	e.Client.Geo.Lat, e.Client.Geo.Lon = &lat, &lon
	attrs := map[string]string{}
	b.ReportAllocs()
	for b.Loop() {
		e.Subject.ID, e.Client.DeviceID = raw.Subject.ID, raw.Client.DeviceID
		lat, lon = *raw.Client.Geo.Lat, *raw.Client.Geo.Lon
		for k, v := range raw.Attrs {
			attrs[k] = v
		}
		e.Attrs = attrs
		p.Access(&e)
	}
}

func BenchmarkAccessAllOptions(b *testing.B) {
	p := newP(b, defaults(func(c *pseudo.Config) { c.TokeniseActor, c.IPPrefix = true, true }))
	raw := accessEvent()
	b.ReportAllocs()
	for b.Loop() {
		e := raw
		lat, lon := *raw.Client.Geo.Lat, *raw.Client.Geo.Lon
		e.Client.Geo.Lat, e.Client.Geo.Lon = &lat, &lon
		e.Attrs = map[string]string{"ward": "7B", "phone": "13800138000"}
		p.Access(&e)
	}
}

func BenchmarkDevice(b *testing.B) {
	p := newP(b, pseudo.Defaults())
	raw := deviceEvent()
	loc := *raw.Location
	b.ReportAllocs()
	for b.Loop() {
		e := raw
		l := loc
		e.Location = &l
		e.Attrs = nil
		p.Device(&e)
	}
}

// BenchmarkAccessAlreadyTokenised is an event re-sent through a second
// collector: nothing to hash.
func BenchmarkAccessAlreadyTokenised(b *testing.B) {
	p := newP(b, pseudo.Defaults())
	e := accessEvent()
	p.Access(&e)
	b.ReportAllocs()
	for b.Loop() {
		p.Access(&e)
	}
}

func BenchmarkToken(b *testing.B) {
	p := newP(b, pseudo.Defaults())
	b.ReportAllocs()
	for b.Loop() {
		p.Token(pseudo.Person, "pt-8812734")
	}
}

func BenchmarkTokenParallel(b *testing.B) {
	p := newP(b, pseudo.Defaults())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Token(pseudo.Person, "pt-8812734")
		}
	})
}

// BenchmarkScrubRaw scrubs dead letters of about 500 bytes: an invalid
// JSON event, a broken one, and a syslog line.
func BenchmarkScrubRaw(b *testing.B) {
	p := newP(b, pseudo.Defaults())
	lines := map[string]string{
		"json": `{"event_id":"emr-20261128-0042317","occurred_at":"2026-11-28T17:30:00.123+08:00",` +
			`"org":"hosp-zj-001","actor":{"id":"staff-004217","type":"doctor","role":"physician",` +
			`"department":"cardiology"},"action":"exfil","subject":{"id":"pt-8812734","type":"patient"},` +
			`"categories":["health","prescription"],"record_count":1,"purpose":"follow-up call 13800138000",` +
			`"relationship":"true","outcome":"success","client":{"ip":"10.12.7.31","user_agent":"EMRClient/4.2",` +
			`"geo":{"country":"CN","lat":30.274085,"lon":120.15507}},"session_id":"s-9f3a2c71","attrs":{"ward":"7B","phone":"13912345678"}}`,
		"broken_json": `{"event_id":"emr-20261128-0042317","occurred_at":"2026-11-28T17:30:00.123+08:00",` +
			`"org":"hosp-zj-001","actor":{"id":"staff-004217","type":"doctor","role":"physician",` +
			`"department":"cardiology"},"action":"read","subject":{"id":"pt-8812734","type":"patient"},` +
			`"categories":["health","prescription"],"record_count":1,"purpose":"follow-up call 13800138000",` +
			`"relationship":"true","outcome":"success","client":{"ip":"10.12.7.31","user_agent":"EMRClient/4.2",` +
			`"geo":{"country":"CN"}},"session_id":"s-9f3a2c71","attrs":{"ward":"7B","phone":"13912345678",}`,
		"syslog": `<34>1 2026-11-28T09:30:00.123Z emr-01.hosp-zj-001 emr 4121 ID47 [meta sequenceId="29"] ` +
			strings.Repeat("user staff-004217 opened record of patient, phone 13800138000, device AA-BB-CC-DD-EE-FF; ", 4),
	}
	for name, line := range lines {
		b.Run(name, func(b *testing.B) {
			in := []byte(line)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				p.ScrubRaw(in, 4096)
			}
		})
	}
}
