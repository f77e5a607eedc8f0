//go:build unix

package backup

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	campaignOps["create-s3"] = func(ctx context.Context, e campaignEnv) error {
		// a short release timeout: a FREEZE whose sending failed is
		// waited for that long (the root package's rule, not the engine's)
		c, err := dbctl.Open(e["dsn"], &dbctl.Options{ReleaseTimeout: 2 * time.Second})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = Create(ctx, c.Manticore(), e["loc"], createCampaignOpts(e))
		return err
	}
}

// createCampaignOpts are the options of the S3 Create campaign's runs.
func createCampaignOpts(e campaignEnv) CreateOptions {
	o := CreateOptions{Tables: strings.Split(e["tables"], ","), StagingDir: e["staging"],
		Store: backupstore.Options{Endpoint: e["endpoint"], PartSize: backupstore.MinPartSize, Concurrency: 2}}
	if e["compress"] == "1" {
		o.Compress = true
	}
	return o
}

// The S3 Create campaign: a backup to S3, single objects (table pq) and
// multipart uploads (table b), failed, panicking and killed at every step
// it passes (SQL statements, store requests). Then: a failed Create lists
// nothing; the next List lists only backups that verify; when nothing is
// listed, the prefix is free (the next Create there succeeds); after the
// next Create nothing is left but backups (no claim, no partial object,
// no unfinished multipart upload, no staging or temporary folder); no
// table is left frozen.
func TestS3CreateCrashCampaign(t *testing.T) {
	srv := s3Env(t)
	if crashtest.IsChild() {
		t.Skip("child")
	}
	// The multipart variant runs only at the kinds of steps the single one
	// does not pass (those of multipart uploads).
	seen := map[string]bool{}
	for _, v := range []struct {
		name, tables string
		big          bool
	}{{"single", "pq", false}, {"multipart", "b", true}} {
		t.Run(v.name, func(t *testing.T) {
			f := newBackupFixture(t)
			if v.big {
				addBigRow(t, f)
			}
			ctx := context.Background()
			remote := backupstore.Options{Endpoint: srv.Endpoint}
			var steps []recordedStep
			c := opCampaign{op: "create-s3",
				setup: func(t *testing.T) campaignEnv {
					root := srv.Location(t)
					return campaignEnv{"dsn": f.srv.DSN(), "root": root, "loc": root + "/bk", "staging": t.TempDir(),
						"endpoint": srv.Endpoint, "tables": v.tables}
				},
				next: func(t *testing.T, e campaignEnv, how string, step crashtest.Step, err error) {
					defer f.thaw(t, v.tables) // each run starts unfrozen, whatever this one found
					// What the next run does first (the CLI's backup does;
					// Create's own place for it is another change's):
					// release the freezes a killed or panicking run left
					// (the freeze journal, issue 16).
					_, rerr := f.c.Manticore().ReleaseOrphanedFreezes(ctx)
					require.NoError(t, rerr)
					assert.Equal(t, map[string]int{v.tables: 0}, f.frozen(t, v.tables), "no table left frozen")
					list, lerr := List(ctx, e["root"], ListOptions{Store: remote})
					require.NoError(t, lerr)
					if err != nil {
						assert.Empty(t, list, "a failed backup lists nothing: %v", err)
					}
					m := f.c.Manticore()
					opts := createCampaignOpts(e)
					if len(list) == 0 {
						_, err := Create(ctx, m, e["loc"], opts)
						require.NoError(t, err, "the prefix is free")
					} else {
						require.Equal(t, []string{"bk"}, names(list))
						// the next backup beside it, with the same staging place
						_, err := Create(ctx, m, e["root"]+"/bk2", opts)
						require.NoError(t, err)
					}
					list, lerr = List(ctx, e["root"], ListOptions{Store: remote})
					require.NoError(t, lerr)
					require.NotEmpty(t, list)
					expectOnly(t, e["root"], remote, list)
					noBackupFoldersLeft(t, e["staging"])
					cleanupStore(t, openDirect(t, srv, e["root"]))
				},
				only:     func(s recordedStep) bool { return !v.big || !seen[stepKind(s.Name)] },
				recorded: func(t *testing.T, rec []recordedStep) { steps = rec }}
			runCampaign(t, c)
			for _, s := range steps {
				seen[stepKind(s.Name)] = !v.big || seen[stepKind(s.Name)]
			}
			assert.Contains(t, stepNames(steps), "store.put-object "+claimName)
			assert.Contains(t, stepNames(steps), "store.put-object "+manifestName)
			if v.big {
				assert.Contains(t, stepNames(steps), "store.complete-upload data/b/b.1.spds")
			}
		})
	}
}

func stepNames(steps []recordedStep) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

// thaw unfreezes tables until nothing holds them frozen.
func (f *backupFixture) thaw(t *testing.T, tables ...string) {
	for _, n := range tables {
		for i := 0; i < 10 && f.frozen(t, n)[n] > 0; i++ {
			_, err := f.c.DB().Exec("UNFREEZE " + n)
			require.NoError(t, err)
		}
	}
}

// frozen returns the freeze counters of tables.
func (f *backupFixture) frozen(t *testing.T, tables ...string) map[string]int {
	out := map[string]int{}
	for _, n := range tables {
		v, ok := f.srv.Locked(n)
		require.True(t, ok, n)
		out[n] = v
	}
	return out
}
