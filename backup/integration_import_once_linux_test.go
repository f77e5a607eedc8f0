package backup_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opens watches dir with inotify and returns a function that reports how
// often each file in it was opened since (IN_OPEN: every open(2) of the
// file, whatever reads follow; the kernel queues the events as the opens
// happen).
func opens(t *testing.T, dir string) func() map[string]int {
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	_, err = syscall.InotifyAddWatch(fd, dir, syscall.IN_OPEN)
	require.NoError(t, err)
	return func() map[string]int {
		out := map[string]int{}
		buf := make([]byte, 64<<10)
		for {
			n, err := syscall.Read(fd, buf)
			if errors.Is(err, syscall.EAGAIN) {
				return out
			}
			require.NoError(t, err)
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
				if name = bytes.TrimRight(name, "\x00"); len(name) > 0 {
					out[string(name)]++
				}
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// Issue 20: Import of a compressed backup in a folder reads each of the
// table's files once (opened once: decompressed into the staging folder
// while it is hashed), where it used to read them twice (verified, then
// decompressed). And a damaged file is ErrCorrupt naming it, with nothing
// sent to the server and no staging folder left. Runs unchanged against a
// real searchd on this machine (searchd reads the staging copy, never the
// compressed backup).
func TestIntegrationImportCompressedReadsOnce(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	log := &statementLog{}
	c := itest.OpenClient(t, target.DSN, dbctl.Options{Logger: slog.New(log)})
	ctx := context.Background()
	name := itest.RTTable(t, c) // 3 rows
	dataDir := localDataDir(t, c)
	root := itest.SharedTempDir(t)
	dir := filepath.Join(root, "bk.2026.12.06")
	man, err := backup.Create(ctx, c.Manticore(), dir, backup.CreateOptions{Tables: []string{name}, Compress: true})
	require.NoError(t, err)
	tableDir := filepath.Join(dir, "data", name)
	want := map[string]int{}
	for _, f := range man.Files {
		if f.Table == name {
			want[filepath.Base(f.Path)+".zst"] = 1
		}
	}

	count := opens(t, tableDir)
	imported := itest.UniqueName("dbctl_it_imp_")
	itest.DropTable(t, c, imported)
	require.NoError(t, backup.Import(ctx, c.Manticore(), dir, name, backup.ImportOptions{As: imported}))
	assert.Equal(t, want, count(), "each file of the backup opened once")
	var n int64
	require.NoError(t, c.DB().QueryRow("SELECT COUNT(*) FROM "+imported).Scan(&n))
	assert.Equal(t, int64(3), n)

	// a damaged file: ErrCorrupt naming it; IMPORT TABLE never sent
	var victim backup.ManifestFile
	for _, f := range man.Files {
		if f.Table == name && f.Size > victim.Size {
			victim = f
		}
	}
	p := filepath.Join(dir, filepath.FromSlash(victim.Path)) + ".zst"
	orig, err := os.ReadFile(p)
	require.NoError(t, err)
	bad := append([]byte(nil), orig...)
	bad[len(bad)/2] ^= 0x55
	require.NoError(t, os.WriteFile(p, bad, 0o644))
	again := itest.UniqueName("dbctl_it_imp_")
	itest.DropTable(t, c, again)
	err = backup.Import(ctx, c.Manticore(), dir, name, backup.ImportOptions{As: again})
	require.ErrorIs(t, err, backup.ErrCorrupt)
	var fe *backup.FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, victim.Path, fe.Path, "the file is named")
	assert.Empty(t, log.last("IMPORT TABLE `"+again+"`"), "nothing sent")
	assert.Empty(t, leftovers(t, root), "no staging folder left beside the backup")
	if dataDir != "" {
		assert.Empty(t, leftovers(t, dataDir), "nor in the data_dir")
	}
	var c2 int64
	assert.Error(t, c.DB().QueryRow("SELECT COUNT(*) FROM "+again).Scan(&c2), "no table made")
}
