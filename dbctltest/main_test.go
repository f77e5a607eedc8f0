package dbctltest_test

import (
	"os"
	"testing"

	"github.com/dbctl/dbctl/internal/shapecheck"
)

// TestMain runs the statement-coverage check after the tests
// (internal/shapecheck): every statement shape the embedded servers
// received must be in a golden capture or in testdata/unverified.txt.
func TestMain(m *testing.M) {
	os.Exit(shapecheck.Run(m))
}
