//go:build unix

package backup

import (
	"context"
	"fmt"
	"testing"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lostCase is one S3 operation of the fault matrix: run it through the
// proxy's endpoint at a fresh root, and tell the root and the location.
type lostCase struct {
	run func(t *testing.T, loc string, opts backupstore.Options) error
	// only: the S3 operations to fault (nil: all of a successful run's)
	only map[string]bool
	// retried: also run each lost answer with the SDK's retries (3
	// attempts: the retry meets the landed write)
	retried bool
	// firstLast: only the first and the last request of each operation
	// (the parts of one upload go through the same code)
	firstLast bool
}

// runLostMatrix runs c through a FaultProxy in front of SeaweedFS: once
// without faults (its requests recorded), then once per request of that
// run, per fault (an answer lost after the server acted, a 5xx before or
// after it acted, a connection cut before it), without the SDK's retries
// (1 attempt: every fault reaches the engine), and for lost answers with
// c.retried also with them (3 attempts). Each run either succeeds and its
// backup verifies, or fails and leaves nothing listed under its root and
// its location free: the same operation then succeeds there. Either way
// the next List leaves only backups that verify, and no multipart upload.
func runLostMatrix(t *testing.T, c lostCase) {
	srv := s3Env(t)
	ctx := context.Background()
	direct := backupstore.Options{Endpoint: srv.Endpoint, PartSize: backupstore.MinPartSize, Concurrency: 2}
	p := s3test.NewFaultProxy(t, srv.Endpoint)
	via := direct
	via.Endpoint = p.Endpoint
	root := srv.Location(t)
	require.NoError(t, c.run(t, root+"/bk", via))
	reqs := p.Requests()
	require.NotEmpty(t, reqs)
	cleanupStore(t, openDirect(t, srv, root))
	total := map[string]int{}
	for _, req := range reqs {
		total[req.Op]++
	}
	nth := map[string]int{}
	for _, req := range reqs {
		nth[req.Op]++
		firstLast := c.firstLast || raceEnabled // see runCampaign
		if c.only != nil && !c.only[req.Op] || firstLast && nth[req.Op] != 1 && nth[req.Op] != total[req.Op] {
			continue
		}
		rule := s3test.Rule{Op: req.Op, N: nth[req.Op]}
		for _, fault := range s3test.Faults {
			attempts := []int{1}
			if c.retried && fault == s3test.LoseAnswer {
				attempts = append(attempts, 3)
			}
			for _, n := range attempts {
				t.Run(fmt.Sprintf("%s#%d/%s/attempts=%d", req.Op, rule.N, fault, n), func(t *testing.T) {
					root := srv.Location(t)
					loc := root + "/bk"
					p.Reset()
					rule.Fault = fault
					p.AddRule(rule)
					opts := via
					opts.MaxAttempts = n
					err := c.run(t, loc, opts)
					list, lerr := List(ctx, root, ListOptions{Store: direct})
					require.NoError(t, lerr)
					if err != nil {
						t.Logf("failed as it may: %v", err)
						assert.Empty(t, list, "a failed run lists nothing")
						require.NoError(t, c.run(t, loc, direct), "the location is free")
						list, lerr = List(ctx, root, ListOptions{Store: direct})
						require.NoError(t, lerr)
					}
					require.Equal(t, []string{"bk"}, names(list))
					expectOnly(t, root, direct, list)
					cleanupStore(t, openDirect(t, srv, root))
				})
			}
		}
	}
}

// An S3 backup whose answers are lost after landing, at every request,
// either succeeds and verifies or fails with nothing listed and the
// prefix free; the same for 5xx answers before and after the server acted
// and for connections cut before it did (issue 17). Single objects (table
// pq), lost answers also with the SDK's retries; multipart uploads (table
// b), at the first and last of each kind of request only they make.
func TestS3CreateLostAnswers(t *testing.T) {
	s3Env(t)
	f := newBackupFixture(t)
	addBigRow(t, f)
	m := f.c.Manticore()
	create := func(tables ...string) func(t *testing.T, loc string, opts backupstore.Options) error {
		return func(t *testing.T, loc string, opts backupstore.Options) error {
			_, err := Create(context.Background(), m, loc, CreateOptions{Tables: tables, StagingDir: t.TempDir(), Store: opts})
			assert.Equal(t, map[string]int{"a": 0, "b": 0, "pq": 0}, f.counters(t), "no table left frozen")
			return err
		}
	}
	t.Run("single", func(t *testing.T) {
		runLostMatrix(t, lostCase{run: create("pq"), retried: true})
	})
	t.Run("multipart", func(t *testing.T) {
		runLostMatrix(t, lostCase{run: create("b"),
			only: map[string]bool{"CreateMultipartUpload": true, "UploadPart": true, "CompleteMultipartUpload": true}, firstLast: true})
	})
}

// Upload of a finished local backup to S3 under the same matrix.
func TestS3UploadLostAnswers(t *testing.T) {
	s3Env(t)
	f := newBackupFixture(t)
	dir := t.TempDir() + "/local"
	_, err := Create(context.Background(), f.c.Manticore(), dir, CreateOptions{Tables: []string{"pq"}, Compress: true})
	require.NoError(t, err)
	runLostMatrix(t, lostCase{run: func(t *testing.T, loc string, opts backupstore.Options) error {
		return Upload(context.Background(), dir, loc, UploadOptions{Store: opts})
	}})
}

// A claim whose Put cannot be decided (its answer lost, and reading it
// back fails too) fails the backup before anything is frozen and leaves
// the claim, which is this run's, now ended: the next backup there takes
// it over instead of being refused for good.
func TestS3UndecidedClaimDoesNotBlockThePrefix(t *testing.T) {
	srv := s3Env(t)
	f := newBackupFixture(t)
	ctx := context.Background()
	p := s3test.NewFaultProxy(t, srv.Endpoint)
	root := srv.Location(t)
	loc := root + "/bk"
	p.AddRule(s3test.Rule{Op: "PutObject", KeySuffix: "/" + claimName, N: 1, Fault: s3test.LoseAnswer})
	p.AddRule(s3test.Rule{Op: "GetObject", KeySuffix: "/" + claimName, N: 1, Times: -1, Fault: s3test.FailBefore})
	before := f.counters(t)
	_, err := Create(ctx, f.c.Manticore(), loc, CreateOptions{Store: backupstore.Options{Endpoint: p.Endpoint, MaxAttempts: 1}})
	require.Error(t, err)
	assert.Equal(t, before, f.counters(t), "refused before anything was frozen")
	assert.Equal(t, []string{claimName}, listKeys(t, openDirect(t, srv, loc), ""), "the undecided claim landed and stays")

	_, err = Create(ctx, f.c.Manticore(), loc, CreateOptions{Store: backupstore.Options{Endpoint: srv.Endpoint}})
	require.NoError(t, err, "the next backup takes the dead claim over")
	list, err := List(ctx, root, ListOptions{Store: backupstore.Options{Endpoint: srv.Endpoint}})
	require.NoError(t, err)
	expectOnly(t, root, backupstore.Options{Endpoint: srv.Endpoint}, list)
	cleanupStore(t, openDirect(t, srv, root))
}
