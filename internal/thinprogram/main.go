// Command thinprogram is the CI check of issue 19: a program that uses only
// the thin client (one mo_ctl flush and one Manticore FREEZE) must link
// nothing of the backup engine's dependencies. .ci/run lists its packages
// (go list -deps) and fails if any of github.com/aws/aws-sdk-go-v2,
// github.com/aws/smithy-go or github.com/klauspost/compress is among them.
// It is built, never run in CI; run by hand it needs the two DSNs.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/dbctl/dbctl"
)

func main() {
	ctx := context.Background()
	mo, err := dbctl.Open(os.Getenv("DBCTL_MATRIXONE_DSN"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer mo.Close()
	if _, err := mo.MoCtl().FlushTable(ctx, "db1", "t"); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	mt, err := dbctl.Open(os.Getenv("DBCTL_MANTICORE_DSN"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer mt.Close()
	files, err := mt.Manticore().Freeze(ctx, "t")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(len(files), "files frozen (UNFREEZE t to release them)")
}
