package backup_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/dbctl/dbctl/backup"
)

// An Overwrite replaces every entry of the data_dir as a whole: here a
// binary log and a stray file do not survive; KeepReplaced keeps what was
// replaced in a dot folder of the data_dir, and Report says what happened.
func ExampleRestore_overwrite() {
	srv, _, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	dataDir := filepath.Join(tmp, "data")
	if err := backup.Restore(ctx, dir, dataDir, backup.RestoreOptions{}); err != nil {
		log.Fatal(err)
	}
	_ = os.MkdirAll(filepath.Join(dataDir, "binlog"), 0o755)
	_ = os.WriteFile(filepath.Join(dataDir, "binlog", "binlog.001"), []byte("newer"), 0o644)

	var rep backup.RestoreReport
	err := backup.Restore(ctx, dir, dataDir, backup.RestoreOptions{Overwrite: true, KeepReplaced: true, Report: &rep})
	fmt.Println(err)
	fmt.Println("replaced:", strings.Join(rep.Replaced, ", "))
	fmt.Println("kept in:", strings.HasPrefix(rep.KeptAt, filepath.Join(dataDir, ".dbctl-replaced-")))
	_, err = os.Stat(filepath.Join(dataDir, "binlog"))
	fmt.Println("binlog left:", !os.IsNotExist(err))
	// Output:
	// <nil>
	// replaced: binlog, manticore.json, products, state.sql
	// kept in: true
	// binlog left: false
}
