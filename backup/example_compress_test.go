package backup_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
)

// CompressLevel picks the zstd level of a compressed backup (Compress
// alone is LevelDefault, about zstd -3); the manifest records it, and
// Verify, Restore and Import read every level. A level without Compress is
// refused before anything is sent.
func ExampleCreateOptions_compressLevel() {
	srv, c, tmp := backupExampleServer()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	for _, level := range []backup.CompressionLevel{"", backup.LevelFastest, "7"} {
		dir := filepath.Join(tmp, "level-"+string(level))
		man, err := backup.Create(ctx, c.Manticore(), dir, backup.CreateOptions{Compress: true, CompressLevel: level})
		if err != nil {
			log.Fatal(err)
		}
		_, err = backup.Verify(ctx, dir, backup.VerifyOptions{})
		fmt.Printf("%q: %s %s, verify: %v\n", level, man.Compression, man.CompressionLevel, err)
	}
	_, err := backup.Create(ctx, c.Manticore(), filepath.Join(tmp, "refused"), backup.CreateOptions{CompressLevel: backup.LevelBest})
	fmt.Println(errors.Is(err, dbctl.ErrInvalidArgument))
	// Output:
	// "": zstd default, verify: <nil>
	// "fastest": zstd fastest, verify: <nil>
	// "7": zstd better, verify: <nil>
	// true
}
