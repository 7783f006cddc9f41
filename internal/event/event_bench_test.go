package event_test

import (
	"encoding/json"
	"testing"

	"github.com/vigil-audit/vigil/internal/event"
)

// benchAccess is a realistic access event of 500 bytes: what an EMR
// sends for a doctor opening a patient's record.
const benchAccess = `{"event_id":"emr-20261128-0042317","occurred_at":"2026-11-28T17:30:00.123+08:00",` +
	`"org":"hosp-zj-001","actor":{"id":"staff-004217","type":"doctor","role":"physician",` +
	`"department":"cardiology"},"action":"read","subject":{"id":"pt-8812734","type":"patient"},` +
	`"categories":["health","prescription"],"record_count":1,"purpose":"follow-up",` +
	`"relationship":"true","outcome":"success","client":{"ip":"10.12.7.31","user_agent":"EMRClient/4.2",` +
	`"geo":{"country":"CN"}},` +
	`"session_id":"s-9f3a2c71","attrs":{"ward":"7B"}}`

const benchDevice = `{"event_id":"sdk-5f1c9a","occurred_at":"2026-11-28T09:30:00.123Z","org":"app-1",` +
	`"account_id":"acct-77812","device_id":"dev-a81f22","kind":"payment",` +
	`"device":{"model":"SM-G9910","os":"android","os_version":"14","app_version":"5.2.0"},` +
	`"signals":{"rooted":true,"proxy_or_vpn":true},"network":{"ip":"198.51.100.4","carrier":"46000"},` +
	`"location":{"lat":30.27,"lon":120.16,"accuracy_m":35},"outcome":"success"}`

func BenchmarkDecodeAccess(b *testing.B) {
	data := []byte(benchAccess)
	if _, ps := testValidator.DecodeAccess(data); len(ps) != 0 {
		b.Fatal(ps)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		testValidator.DecodeAccess(data)
	}
}

func BenchmarkDecodeAccessInvalid(b *testing.B) {
	data := []byte(set(b, set(b, benchAccess, "action", "exfil"), "extra", 1))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		testValidator.DecodeAccess(data)
	}
}

func BenchmarkDecodeDevice(b *testing.B) {
	data := []byte(benchDevice)
	if _, ps := testValidator.DecodeDevice(data); len(ps) != 0 {
		b.Fatal(ps)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		testValidator.DecodeDevice(data)
	}
}

// BenchmarkStdlibUnmarshalAccess is the reference: encoding/json reading the
// same bytes with no validation at all.
func BenchmarkStdlibUnmarshalAccess(b *testing.B) {
	data := []byte(benchAccess)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var e event.AccessEvent
		if err := json.Unmarshal(data, &e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalAccess(b *testing.B) {
	e, _ := testValidator.DecodeAccess([]byte(benchAccess))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}
