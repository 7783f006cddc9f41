package event_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

func TestParseTimestamp(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" for an error
	}{
		{"2026-11-28T09:30:00.123Z", "2026-11-28T09:30:00.123Z"},
		{"2026-11-28T09:30:00Z", "2026-11-28T09:30:00.000Z"},
		{"2026-11-28T09:30:00.1Z", "2026-11-28T09:30:00.100Z"},
		{"2026-11-28T09:30:00.123999999999Z", "2026-11-28T09:30:00.123Z"},
		{"2026-11-28T17:30:00.123+08:00", "2026-11-28T09:30:00.123Z"},
		{"2026-11-28T00:30:00-09:30", "2026-11-28T10:00:00.000Z"},
		{"2026-11-28t09:30:00z", "2026-11-28T09:30:00.000Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"},
		{"2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999Z"},
		{"2017-01-01T07:59:60.5+08:00", "2016-12-31T23:59:59.999Z"},
		{"2026-11-28T09:30:00.123+00:00", "2026-11-28T09:30:00.123Z"},
		{"2026-11-28T09:30:00-00:00", "2026-11-28T09:30:00.000Z"},
		{"2026-11-28 09:30:00Z", ""},
		{"2026-11-28T09:30:00", ""},
		{"2026-11-28T09:30Z", ""},
		{"2026-11-28T09:30:00.Z", ""},
		{"2026-11-28T09:30:00+0800", ""},
		{"2026-11-28T09:30:00+08", ""},
		{"2026-11-28T09:30:00+24:00", ""},
		{"2026-11-28T09:30:00+08:60", ""},
		{"2026-11-28T24:00:00Z", ""},
		{"2026-11-28T09:60:00Z", ""},
		{"2026-11-28T09:30:60Z", ""},
		{"2025-02-29T00:00:00Z", ""},
		{"2026-00-10T00:00:00Z", ""},
		{"2026-04-31T00:00:00Z", ""},
		{"+2026-11-28T09:30:00Z", ""},
		{"2026-11-28T09:30:00Z ", ""},
		{"１２３４-11-28T09:30:00Z", ""},
		{"", ""},
	}
	for _, tc := range cases {
		ts, err := event.ParseTimestamp(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseTimestamp(%q) = %v, want an error", tc.in, ts)
		case tc.want == "" && !strings.Contains(err.Error(), "not RFC 3339"):
			t.Errorf("ParseTimestamp(%q) error %q does not say not RFC 3339", tc.in, err)
		case tc.want != "" && err != nil:
			t.Errorf("ParseTimestamp(%q): %v", tc.in, err)
		case tc.want != "" && ts.String() != tc.want:
			t.Errorf("ParseTimestamp(%q) = %s, want %s", tc.in, ts, tc.want)
		}
	}
}

// TestParseTimestampMatchesTime compares with the standard library on
// random instants in many forms.
func TestParseTimestampMatchesTime(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{time.UTC, time.FixedZone("", 8*3600), time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("", 14*3600)}
	for range 2000 {
		want := time.Unix(r.Int64N(4102444800), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
		for _, layout := range []string{time.RFC3339, time.RFC3339Nano, "2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.000000Z07:00"} {
			s := want.Format(layout)
			ts, err := event.ParseTimestamp(s)
			if err != nil {
				t.Fatalf("ParseTimestamp(%q): %v", s, err)
			}
			std, _ := time.Parse(layout, s)
			if exp := std.UTC().Truncate(time.Millisecond); !ts.Equal(exp) || ts.Location() != time.UTC {
				t.Fatalf("ParseTimestamp(%q) = %v, want %v", s, ts.Time, exp)
			}
		}
	}
}

func TestTimestampJSON(t *testing.T) {
	ts := event.NewTimestamp(time.Date(2026, 11, 28, 17, 30, 0, 123456789, time.FixedZone("", 8*3600)))
	b, err := json.Marshal(struct {
		T event.Timestamp `json:"t"`
	}{ts})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"t":"2026-11-28T09:30:00.123Z"}`; got != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
	for in, want := range map[time.Time]string{
		time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC):         `"2026-11-28T09:30:00.000Z"`,
		time.Date(2026, 11, 28, 9, 30, 0, 500000000, time.UTC): `"2026-11-28T09:30:00.500Z"`,
	} {
		if b, err := json.Marshal(event.NewTimestamp(in)); err != nil || string(b) != want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", in, b, err, want)
		}
	}
	// A Timestamp built without NewTimestamp is normalised on output too.
	raw := event.Timestamp{Time: time.Date(2026, 11, 28, 17, 30, 0, 999999999, time.FixedZone("", 8*3600))}
	if got, want := raw.String(), "2026-11-28T09:30:00.999Z"; got != want {
		t.Errorf("String = %s, want %s", got, want)
	}

	var v struct {
		T event.Timestamp `json:"t"`
	}
	if err := json.Unmarshal([]byte(`{"t":"2026-11-28T17:30:00.1239+08:00"}`), &v); err != nil {
		t.Fatal(err)
	}
	if got, want := v.T.String(), "2026-11-28T09:30:00.123Z"; got != want {
		t.Errorf("Unmarshal = %s, want %s", got, want)
	}
	if err := json.Unmarshal([]byte(`{"t":"2026-11-28T17:30:00.1239+08:00\u005a"}`), &v); err == nil {
		t.Error("Unmarshal accepted a timestamp with an offset and an escaped Z")
	}
	if err := json.Unmarshal([]byte(`{"t":"2026-11-28T09:30:00.123\u005a"}`), &v); err != nil || v.T.String() != "2026-11-28T09:30:00.123Z" {
		t.Errorf("Unmarshal of an escaped timestamp = %v, %v", v.T, err)
	}
	if err := json.Unmarshal([]byte(`{"t":null}`), &v); err != nil || v.T.String() != "2026-11-28T09:30:00.123Z" {
		t.Errorf("Unmarshal null = %v, %v; want no change", v.T, err)
	}
	for _, in := range []string{`{"t":1764322200}`, `{"t":"yesterday"}`, `{"t":true}`} {
		err := json.Unmarshal([]byte(in), &v)
		if err == nil || !strings.Contains(err.Error(), "not RFC 3339") {
			t.Errorf("Unmarshal(%s) = %v, want not RFC 3339", in, err)
		}
	}
	var ts2 event.Timestamp
	if err := ts2.UnmarshalText([]byte("nope")); err == nil || !strings.Contains(err.Error(), "not RFC 3339") {
		t.Errorf("UnmarshalText(nope) = %v", err)
	}
	if _, err := (event.Timestamp{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}).MarshalText(); err == nil {
		t.Error("MarshalText of year 10000 succeeded")
	}
	if err := errors.Unwrap(ts2.UnmarshalText([]byte("x"))); err == nil || err.Error() != "not RFC 3339" {
		t.Errorf("UnmarshalText error does not wrap the reason: %v", err)
	}
}

func TestTimestampOmitzero(t *testing.T) {
	b, err := json.Marshal(event.DeviceEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "received_at") {
		t.Errorf("zero received_at encoded: %s", b)
	}
}
