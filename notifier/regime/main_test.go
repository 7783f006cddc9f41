package regime

import (
	"testing"

	"go.uber.org/goleak"
)

// Loading and planning start no goroutines; none may survive a test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
