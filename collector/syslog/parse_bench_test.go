package syslog_test

import (
	"bytes"
	"testing"

	"github.com/vigil-audit/vigil/collector/syslog"
)

// benchJSON is a typical access event of about 500 bytes.
const benchJSON = `{"event_id":"5f0c8a3e-8d0e-4a57-9a57-3f1c2b9d7e11","occurred_at":"2026-11-28T09:30:00.123Z",` +
	`"org":"hosp-1","actor":{"id":"staff-20931","type":"doctor","role":"physician","department":"cardiology"},` +
	`"action":"read","subject":{"id":"patient-88231","type":"patient","minor":false},` +
	`"categories":["health","prescription"],"record_count":1,"purpose":"follow-up consultation",` +
	`"relationship":"true","outcome":"success","client":{"ip":"10.20.30.40","user_agent":"EHR-Desktop/5.2",` +
	`"device_id":"ws-cardio-07"},"session_id":"s-7781","request_id":"r-99812"}`

var bench5424 = []byte("<110>1 2026-11-28T09:30:00.123456+08:00 ehr-app-03.hosp-1.example ehr 4711 access - " + benchJSON)

func BenchmarkParse5424(b *testing.B) {
	p := syslog.Parser{}
	b.ReportAllocs()
	b.SetBytes(int64(len(bench5424)))
	for b.Loop() {
		if _, err := p.Parse(bench5424); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse5424StructuredData(b *testing.B) {
	in := []byte("<110>1 2026-11-28T09:30:00.123Z ehr-app-03 ehr 4711 - " + accessSD)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		m, err := syslog.Parse(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := syslog.ToJSON(m, syslog.MappingOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse3164(b *testing.B) {
	in := []byte("<110>Nov 28 09:30:00 ehr-app-03 ehr[4711]: " + benchJSON)
	p := syslog.Parser{}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := p.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFrameReader(b *testing.B) {
	var stream bytes.Buffer
	for range 1000 {
		stream.WriteString(oc(string(bench5424)))
		stream.Write(bench5424)
		stream.WriteByte('\n')
	}
	in := stream.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		fr := syslog.NewFrameReader(bytes.NewReader(in), 0)
		for {
			if _, err := fr.Next(); err != nil {
				break
			}
		}
	}
}
