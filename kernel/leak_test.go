package kernel

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every kernel a
// test starts must stop, and every subscription must end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
