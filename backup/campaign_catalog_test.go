//go:build unix

package backup

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	campaignOps["upload"] = func(ctx context.Context, e campaignEnv) error {
		return Upload(ctx, e["dir"], e["loc"], UploadOptions{Store: campaignStore(e)})
	}
	campaignOps["prune"] = func(ctx context.Context, e campaignEnv) error {
		_, err := Prune(ctx, e["root"], PruneOptions{KeepLast: 1, Store: campaignStore(e)})
		return err
	}
	campaignOps["list"] = func(ctx context.Context, e campaignEnv) error {
		_, err := List(ctx, e["root"], ListOptions{Store: campaignStore(e)})
		return err
	}
}

func campaignStore(e campaignEnv) backupstore.Options {
	return backupstore.Options{Endpoint: e["endpoint"], PartSize: backupstore.MinPartSize, Concurrency: 2}
}

// catalogRoots are the roots of the catalog campaigns: a folder and, with
// the S3 server, a prefix (each call a fresh one).
func catalogRoots(t *testing.T) map[string]func(t *testing.T) campaignEnv {
	roots := map[string]func(t *testing.T) campaignEnv{
		"folder": func(t *testing.T) campaignEnv {
			root := filepath.Join(t.TempDir(), "backups")
			require.NoError(t, os.Mkdir(root, 0o755))
			return campaignEnv{"root": root}
		},
	}
	if s3test.Available() {
		srv := s3Env(t)
		roots["s3"] = func(t *testing.T) campaignEnv {
			return campaignEnv{"root": srv.Location(t), "endpoint": srv.Endpoint}
		}
	}
	return roots
}

// openRoot opens the env's root as a store, closed when the test ends.
func openRoot(t *testing.T, e campaignEnv) backupstore.Store {
	st, err := backupstore.Open(context.Background(), e["root"], campaignStore(e))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// nothingInternalLeft checks that a folder root holds none of this
// package's temporary files or folders, markers or claims.
func nothingInternalLeft(t *testing.T, e campaignEnv) {
	t.Helper()
	if backupstore.IsRemote(e["root"]) {
		return
	}
	err := filepath.WalkDir(e["root"], func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		assert.False(t, strings.Contains(d.Name(), ".dbctl-") || d.Name() == stagingMarker, "left: %s", p)
		return nil
	})
	require.NoError(t, err)
}

// The Upload campaign, to a folder and to S3: a failed Upload lists
// nothing; the next List lists only a backup that verifies; when nothing
// is listed the location is free (the next Upload succeeds); after it
// nothing but the backup is left.
func TestUploadCrashCampaign(t *testing.T) {
	if crashtest.IsChild() {
		t.Skip("child")
	}
	f := newBackupFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "local")
	_, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Tables: []string{"pq"}, Compress: true})
	require.NoError(t, err)
	for name, root := range catalogRoots(t) {
		t.Run(name, func(t *testing.T) {
			runCampaign(t, opCampaign{op: "upload",
				setup: func(t *testing.T) campaignEnv {
					e := root(t)
					e["dir"], e["loc"] = dir, e["root"]+"/bk"
					return e
				},
				next: func(t *testing.T, e campaignEnv, how string, step crashtest.Step, err error) {
					list, lerr := List(ctx, e["root"], ListOptions{Store: campaignStore(e)})
					require.NoError(t, lerr)
					if err != nil {
						assert.Empty(t, list, "a failed upload lists nothing: %v", err)
					}
					if len(list) == 0 {
						require.NoError(t, Upload(ctx, dir, e["loc"], UploadOptions{Store: campaignStore(e)}), "the location is free")
						list, lerr = List(ctx, e["root"], ListOptions{Store: campaignStore(e)})
						require.NoError(t, lerr)
					}
					assert.Equal(t, []string{"bk"}, names(list))
					expectOnly(t, e["root"], campaignStore(e), list)
					nothingInternalLeft(t, e)
				}})
		})
	}
}

// prunedCatalog fills a root with three backups (bk-1 oldest).
func prunedCatalog(t *testing.T, e campaignEnv) {
	st := openRoot(t, e)
	for i, n := range []string{"bk-1", "bk-2", "bk-3"} {
		putBackup(t, st, n, "id-"+n, "", i)
	}
}

// The Prune campaign, in a folder and in S3, keeping the newest of three
// backups: whatever step failed, panicked or was killed, each backup is
// listed and verifies, or is not listed, and the kept one is listed; the
// next Prune finishes the job and nothing but the kept backup is left.
func TestPruneCrashCampaign(t *testing.T) {
	if crashtest.IsChild() {
		t.Skip("child")
	}
	ctx := context.Background()
	for name, root := range catalogRoots(t) {
		t.Run(name, func(t *testing.T) {
			steps := runCampaign(t, opCampaign{op: "prune",
				setup: func(t *testing.T) campaignEnv {
					e := root(t)
					prunedCatalog(t, e)
					return e
				},
				next: func(t *testing.T, e campaignEnv, _ string, _ crashtest.Step, _ error) {
					opts := PruneOptions{KeepLast: 1, Store: campaignStore(e)}
					list, lerr := List(ctx, e["root"], ListOptions{Store: opts.Store})
					require.NoError(t, lerr)
					got := names(list)
					require.Contains(t, got, "bk-3")
					assert.Subset(t, []string{"bk-1", "bk-2", "bk-3"}, got)
					expectOnly(t, e["root"], opts.Store, list)
					gone, err := Prune(ctx, e["root"], opts)
					require.NoError(t, err, "the next prune")
					assert.Len(t, gone, len(got)-1)
					list, lerr = List(ctx, e["root"], ListOptions{Store: opts.Store})
					require.NoError(t, lerr)
					assert.Equal(t, []string{"bk-3"}, names(list))
					expectOnly(t, e["root"], opts.Store, list)
					nothingInternalLeft(t, e)
				}})
			kinds := map[string]bool{}
			for _, s := range steps {
				kinds[stepKind(s.Name)] = true
			}
			if name == "folder" {
				assert.True(t, kinds["catalog.rename-aside"] && kinds["backup.remove"], "%v", kinds)
			} else {
				assert.True(t, kinds["store.put-object"] && kinds["store.delete"] && kinds["store.list-uploads"], "%v", kinds)
			}
		})
	}
}

// deadCatalog fills a root with what dead writers leave, beside a backup
// ("ok"): a finished backup whose writer died before deleting its claim
// ("done"), an unfinished one ("dead": partial objects, its claim, and an
// unfinished multipart upload in S3 or a temporary file in a folder), and
// in a folder a killed Create's partial folder, a staging folder, a
// marker left in a finished backup and a backup half pruned.
func deadCatalog(t *testing.T, e campaignEnv) {
	ctx := context.Background()
	st := openRoot(t, e)
	putBackup(t, st, "ok", "id-ok", "", 1)
	putBackup(t, st, "done", "id-done", "", 2)
	for _, name := range []string{"done", "dead"} {
		sub, err := st.Sub(name)
		require.NoError(t, err)
		writeClaim(t, sub, here(deadPID(t), "nonce-"+name), time.Now(), time.Now())
	}
	for _, k := range []string{"dead/state/manticore.json", "dead/data/a/a.meta"} {
		_, err := st.Put(ctx, k, bytes.NewReader([]byte(k)), backupstore.PutOptions{})
		require.NoError(t, err)
	}
	if ss, ok := st.(interface {
		Client() *s3.Client
		Bucket() string
		Prefix() string
	}); ok {
		_, err := ss.Client().CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(ss.Bucket()),
			Key: aws.String(ss.Prefix() + "/dead/data/a/a.0.spd")})
		require.NoError(t, err)
		return
	}
	dir := e["root"]
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dead", "data", "a", ".a.spa.dbctl-tmp-1"), []byte("x"), 0o600))
	_, lock := markedDir(t, dir, ".bk"+partialInfix+"1", manifestName, "data/a/a.meta")
	lock.Close()
	_, lock = markedDir(t, dir, stagingPrefix+"2", "0-a.0.spd")
	lock.Close()
	_, lock = markedDir(t, dir, ".old"+partialInfix+"pruned-3", "data/a/a.meta")
	lock.Close()
	lock, err := lockMarker(filepath.Join(dir, "ok"), map[string]any{"pid": 1})
	require.NoError(t, err)
	lock.Close()
}

// The campaign of List's cleanup, in a folder and in S3: whatever step
// of the cleanup fails, panics or is killed, the next List lists the two
// finished backups, both verifying, and leaves nothing else: no claim,
// no partial object, no unfinished multipart upload, no temporary,
// staging or partial folder, no marker.
func TestListCleanupCrashCampaign(t *testing.T) {
	if crashtest.IsChild() {
		t.Skip("child")
	}
	ctx := context.Background()
	for name, root := range catalogRoots(t) {
		t.Run(name, func(t *testing.T) {
			steps := runCampaign(t, opCampaign{op: "list",
				setup: func(t *testing.T) campaignEnv {
					e := root(t)
					deadCatalog(t, e)
					return e
				},
				next: func(t *testing.T, e campaignEnv, how string, step crashtest.Step, err error) {
					list, lerr := List(ctx, e["root"], ListOptions{Store: campaignStore(e)})
					require.NoError(t, lerr)
					assert.Equal(t, []string{"ok", "done"}, names(list))
					expectOnly(t, e["root"], campaignStore(e), list)
					nothingInternalLeft(t, e)
				}})
			kinds := map[string]bool{}
			for _, s := range steps {
				kinds[stepKind(s.Name)] = true
			}
			assert.True(t, kinds["store.delete"] && (kinds["store.put-object"] || kinds["store.link"]), "%v", kinds)
		})
	}
}
