package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every step of a backup can fail; afterwards every counter is what it was
// and nothing looks like a finished backup.
func TestBackupFaultMatrix(t *testing.T) {
	boom := errors.New("injected")
	tests := []struct {
		name    string
		arrange func(f *backupFixture, o *CreateOptions, cancel context.CancelFunc)
		want    string
	}{
		{"freeze", func(f *backupFixture, _ *CreateOptions, _ context.CancelFunc) {
			f.srv.FailNext("FREEZE `", 1064, "injected freeze failure")
		}, "injected freeze failure"},
		{"flush attributes", func(f *backupFixture, _ *CreateOptions, _ context.CancelFunc) {
			f.srv.FailNext("FLUSH ATTRIBUTES", 1064, "injected flush failure")
		}, "injected flush failure"},
		{"copy of the first file", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{beforeCopy: func(i int, _ string) error {
				if i == 0 {
					return boom
				}
				return nil
			}}
		}, "injected"},
		{"copy of the last file", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			var n atomic.Int64
			o.hooks = &backupHooks{beforeCopy: func(int, string) error {
				if n.Add(1) == 10 {
					return boom
				}
				return nil
			}}
		}, "injected"},
		{"hash of a copy after the unfreeze (uncompressed: copied by the kernel)", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{beforeHash: func(p string) error {
				if strings.HasSuffix(p, ".meta") {
					return boom
				}
				return nil
			}}
			if o.Compress { // compressed files are hashed while copied
				o.hooks.beforeCopy = func(int, string) error { return boom }
			}
		}, "injected"},
		{"compress or hash of a clone after the unfreeze", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{
				clone: func(dst, src *os.File) error { _, err := io.Copy(dst, src); return err },
				beforeHash: func(p string) error {
					if strings.Contains(p, ".meta") {
						return boom
					}
					return nil
				},
			}
		}, "injected"},
		{"fsync", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{perFileSync: true, beforeSync: func(p string) error {
				if strings.HasSuffix(p, ".meta") || strings.HasSuffix(p, ".meta.zst") {
					return boom
				}
				return nil
			}}
		}, "injected"},
		{"the one syncfs, or the fsync of a file where there is none", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{beforeSync: func(p string) error {
				if strings.Contains(filepath.Base(p), partialInfix) || !syncFSReportsErrors() && strings.Contains(p, ".meta") {
					return boom
				}
				return nil
			}}
		}, "injected"},
		{"manifest write", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{beforeManifest: func() error { return boom }}
		}, "injected"},
		{"context cancelled during the copy", func(_ *backupFixture, o *CreateOptions, cancel context.CancelFunc) {
			o.hooks = &backupHooks{beforeCopy: func(i int, _ string) error {
				if i == 3 {
					cancel()
				}
				return nil
			}}
		}, "context canceled"},
		{"UNFREEZE refused every time", func(f *backupFixture, _ *CreateOptions, _ context.CancelFunc) {
			for i := 0; i < 5; i++ { // dbctl's release sends at most 5 UNFREEZEs
				f.srv.FailNext("UNFREEZE", 1064, "injected unfreeze failure")
			}
		}, "gave up after 5 attempts; still frozen by this call: a, b, pq"},
	}
	for _, tc := range tests {
		for _, v := range []struct{ compress, noStaging bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			compress := v.compress
			t.Run(fmt.Sprintf("%s/compress=%v/noStaging=%v", tc.name, v.compress, v.noStaging), func(t *testing.T) {
				f := newBackupFixture(t)
				_, err := f.c.DB().Exec("FREEZE a")
				require.NoError(t, err)
				before := f.counters(t)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				opts := CreateOptions{Compress: compress, Concurrency: 2, NoStaging: v.noStaging}
				tc.arrange(f, &opts, cancel)
				target := filepath.Join(t.TempDir(), "bk")
				man, err := Create(ctx, f.c.Manticore(), target, opts)
				require.Error(t, err)
				assert.Nil(t, man)
				assert.Contains(t, err.Error(), tc.want)
				assert.True(t, strings.HasPrefix(err.Error(), "dbctl: manticore backup "), err.Error())
				noPartialLeft(t, target)
				if strings.HasPrefix(tc.name, "UNFREEZE refused") {
					// the server refused every UNFREEZE: the error says which
					// tables are still frozen by this call; undo by hand
					_, err := f.c.DB().Exec("UNFREEZE a, b, pq")
					require.NoError(t, err)
				}
				assert.Equal(t, before, f.counters(t))
			})
		}
	}
}

// Faults the backup survives: a refused UNFREEZE that works the second
// time, and connections dropped in the middle of the copy (the release
// reconnects).
func TestBackupSurvivesTransientFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		arrange func(f *backupFixture, o *CreateOptions)
	}{
		{"UNFREEZE refused once", func(f *backupFixture, _ *CreateOptions) {
			f.srv.FailNext("UNFREEZE", 1064, "injected")
		}},
		{"connections dropped during the copy", func(f *backupFixture, o *CreateOptions) {
			o.hooks = &backupHooks{beforeCopy: func(i int, _ string) error {
				if i == 2 {
					f.srv.DropConnections()
				}
				return nil
			}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newBackupFixture(t)
			before := f.counters(t)
			opts := CreateOptions{Concurrency: 1}
			tc.arrange(f, &opts)
			dir := filepath.Join(t.TempDir(), "bk")
			_, err := Create(context.Background(), f.c.Manticore(), dir, opts)
			require.NoError(t, err)
			assert.Equal(t, before, f.counters(t))
			_, err = Verify(context.Background(), dir, VerifyOptions{})
			require.NoError(t, err)
		})
	}
}

func TestBackupPanicInProgress(t *testing.T) {
	f := newBackupFixture(t)
	before := f.counters(t)
	target := filepath.Join(t.TempDir(), "bk")
	assert.PanicsWithValue(t, "progress boom", func() {
		_, _ = Create(context.Background(), f.c.Manticore(), target, CreateOptions{
			Progress: func(Progress) { panic("progress boom") },
		})
	})
	noPartialLeft(t, target)
	assert.Equal(t, before, f.counters(t))
}
