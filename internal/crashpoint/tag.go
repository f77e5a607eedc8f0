//go:build dbctl_crashpoints

package crashpoint

import (
	"fmt"
	"os"
)

// A binary built with -tags dbctl_crashpoints (the CLI in the crash tests)
// honours DBCTL_CRASHPOINT and DBCTL_CRASHPOINT_LOG from the start.
func init() {
	if _, err := InstallFromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
