package auth

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	s := NewTokens[string]()
	if err := s.Add(Hash("s3cret-token"), "dpo"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		hash string
		want error
	}{
		{Hash("s3cret-token"), ErrDuplicate},
		{"s3cret-token", ErrBadHash},          // the token itself, not its hash
		{strings.Repeat("a", 63), ErrBadHash}, // too short
		{strings.Repeat("g", 64), ErrBadHash}, // not hex
		{strings.ToUpper(Hash("other")), nil}, // hex is case-insensitive
		{Hash("third") + "00", ErrBadHash},    // too long
	} {
		if err := s.Add(tc.hash, "x"); !errors.Is(err, tc.want) {
			t.Errorf("Add(%q) = %v, want %v", tc.hash, err, tc.want)
		}
	}
	if v, ok := s.Lookup("s3cret-token"); !ok || v != "dpo" {
		t.Fatalf("Lookup of a known token = %q, %v", v, ok)
	}
	if _, ok := s.Lookup("s3cret-tokeN"); ok {
		t.Fatal("a wrong token was accepted")
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2", s.Len())
	}
}

func TestBearer(t *testing.T) {
	for _, tc := range []struct{ header, token, problem string }{
		{"", "", "missing Authorization header"},
		{"Bearer abc", "abc", ""},
		{"bearer  abc ", "abc", ""},
		{"Basic abc", "", "malformed"},
		{"Bearer ", "", "malformed"},
		{"Bearer", "", "malformed"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		token, problem := Bearer(r)
		if token != tc.token || !strings.Contains(problem, tc.problem) || (tc.problem == "" && problem != "") {
			t.Errorf("Bearer(%q) = %q, %q; want %q, %q", tc.header, token, problem, tc.token, tc.problem)
		}
	}
}
