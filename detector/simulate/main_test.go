package simulate

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Sinks, brokers and HTTP servers are closed by the tests that start
	// them, so no goroutine may survive a test.
	goleak.VerifyTestMain(m)
}
