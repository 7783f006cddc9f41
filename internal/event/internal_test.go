package event

import (
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func TestComparePaths(t *testing.T) {
	sorted := []string{
		"",
		"actor",
		"actor.id",
		"attrs.a",
		`attrs["a b"]`,
		"categories",
		"categories[2]",
		"categories[10]",
		"categories[10].x",
		"categories[100]",
		"client.geo.lat",
		"org",
	}
	shuffled := slices.Clone(sorted)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	slices.SortFunc(shuffled, comparePaths)
	if !slices.Equal(shuffled, sorted) {
		t.Errorf("sorted %q\nwant   %q", shuffled, sorted)
	}
	for _, a := range sorted {
		for _, b := range sorted {
			if comparePaths(a, b) != -comparePaths(b, a) {
				t.Errorf("comparePaths(%q, %q) is not antisymmetric", a, b)
			}
		}
	}
}

// TestParseInteger compares parseInteger with exact rational arithmetic on
// numbers in many forms.
func TestParseInteger(t *testing.T) {
	inputs := []string{
		"0", "-0", "1", "-1", "7.0", "1e3", "1E+3", "1.2e3", "1.25e1", "12.5", "0.5", "5e-1", "50e-1",
		"1000000000000", "1000000000001", "-1000000000000", "-1000000000001", "1e12", "1e13", "10e11",
		"0.000", "0e99999999999", "1e-9999", "1e9999", "123456789012345678901234567890",
		"9223372036854775807", "9223372036854775808", "-9223372036854775809", "100e-2", "0.0001e4",
		"00", // not JSON, but parseInteger only ever sees scanned numbers; kept for robustness
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		mant := strconv.FormatInt(r.Int64N(1e7), 10)
		if r.IntN(2) == 0 {
			mant += "." + strconv.FormatInt(r.Int64N(1000), 10)
		}
		if r.IntN(2) == 0 {
			mant += "e" + strconv.Itoa(r.IntN(20)-10)
		}
		if r.IntN(3) == 0 {
			mant = "-" + mant
		}
		inputs = append(inputs, mant)
	}
	for _, in := range inputs {
		got, status := parseInteger([]byte(in))
		rat, ok := new(big.Rat).SetString(in)
		if !ok {
			t.Fatalf("big.Rat cannot parse %q", in)
		}
		want := intOK
		switch {
		case !rat.IsInt():
			want = intFraction
		case rat.Cmp(big.NewRat(MaxRecordCount, 1)) > 0:
			want = intTooLarge
		case rat.Cmp(big.NewRat(-MaxRecordCount, 1)) < 0:
			want = intTooSmall
		}
		if status != want {
			t.Errorf("parseInteger(%q) status %d, want %d", in, status, want)
			continue
		}
		if want == intOK && rat.Num().Int64() != got {
			t.Errorf("parseInteger(%q) = %d, want %s", in, got, rat.Num())
		}
	}
}

func TestIncidentTransitions(t *testing.T) {
	for _, s := range incidentStates {
		if _, ok := incidentNext[s]; !ok {
			t.Errorf("state %q has no transition entry", s)
		}
		for _, n := range incidentNext[s] {
			if !n.Valid() {
				t.Errorf("%q → unknown state %q", s, n)
			}
		}
	}
	if !IncidentTriage.CanTransitionTo(IncidentConfirmed) || IncidentClosed.CanTransitionTo(IncidentTriage) {
		t.Error("CanTransitionTo disagrees with the table")
	}
}

func TestSeverityRank(t *testing.T) {
	for i, s := range severities {
		if s.Rank() != i+1 || !s.Valid() {
			t.Errorf("%q: Rank %d, Valid %v", s, s.Rank(), s.Valid())
		}
	}
	if Severity("urgent").Rank() != 0 || Severity("urgent").Valid() {
		t.Error("unknown severity ranks")
	}
}
