package delivery

import (
	"testing"

	"go.uber.org/goleak"
)

// Every writer, reader and broker a test starts is closed by the test, so
// no goroutine may survive it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
