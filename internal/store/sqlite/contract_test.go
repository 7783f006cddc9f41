package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
	"github.com/vigil-audit/vigil/internal/store/storetest"
)

// TestContract holds the embedded store to the store.Reader contract
// (internal/store/storetest): the same answers as the reference model, and
// so as ClickHouse, for the same writes.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTemp(t)
	})
}

// openTemp opens a fresh store in a temporary directory, closed when the
// test ends.
func openTemp(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "vigil.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}
