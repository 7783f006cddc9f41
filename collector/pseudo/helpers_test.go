package pseudo_test

import (
	"testing"
	"time"

	"github.com/vigil-audit/vigil/collector/pseudo"
)

// testKey is bytes 0x00 … 0x1f, the key of the pinned vectors.
var testKey = func() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}()

func newP(t testing.TB, cfg pseudo.Config) *pseudo.Pseudonymiser {
	t.Helper()
	p, err := pseudo.New(testKey, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func defaults(edit func(*pseudo.Config)) pseudo.Config {
	c := pseudo.Defaults()
	if edit != nil {
		edit(&c)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
