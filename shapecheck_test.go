package dbctl

import (
	"os"
	"testing"

	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/dbctl/dbctl/internal/shapecheck"
)

// TestMain runs the statement-coverage check after the tests
// (internal/shapecheck): every statement shape the embedded servers of
// dbctltest received must be in a golden capture or in
// dbctltest/testdata/unverified.txt.
//
// A test binary re-executed as a crash-test child (internal/crashpoint/
// crashtest) takes its crash spec from the environment first.
func TestMain(m *testing.M) {
	if _, err := crashpoint.InstallFromEnv(); err != nil {
		panic(err)
	}
	// The freeze journal of the tests' clients (Options.StateDir's default)
	// goes to a folder of this run, not the user's.
	cleanup := crashtest.IsolateStateDir()
	code := shapecheck.Run(m)
	cleanup()
	os.Exit(code)
}
