package backupstore_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/backupstore/internal/storetest"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets a re-executed test binary (crashtest.Child) take its crash
// spec from the environment.
func TestMain(m *testing.M) {
	if _, err := crashpoint.InstallFromEnv(); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

func openLocal(t *testing.T) backupstore.Store {
	st, err := backupstore.Open(context.Background(), t.TempDir(), backupstore.Options{})
	require.NoError(t, err)
	return st
}

func TestLocalStore(t *testing.T) {
	storetest.Run(t, openLocal)
}

// Puts leave no temporary file behind, whichever way they end (List would
// not show one: look at the folder).
func TestLocalPutLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	st, err := backupstore.OpenLocal(dir)
	require.NoError(t, err)
	storetest.NoOverwrite(t, st)
	storetest.Rejects(t, st)
	var tmp []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(d.Name(), ".dbctl-tmp-") {
			tmp = append(tmp, p)
		}
		return err
	}))
	assert.Empty(t, tmp)
}

func TestParseS3(t *testing.T) {
	for _, c := range []struct{ in, bucket, prefix string }{
		{"s3://bucket", "bucket", ""},
		{"s3://bucket/", "bucket", ""},
		{"s3://my.bucket-1/a/b/", "my.bucket-1", "a/b"},
		{"S3://bucket/x", "bucket", "x"},
	} {
		b, p, err := backupstore.ParseS3(c.in)
		require.NoError(t, err, c.in)
		assert.Equal(t, c.bucket, b, c.in)
		assert.Equal(t, c.prefix, p, c.in)
	}
	for _, bad := range []string{"s3://", "s3://ab", "s3://Bucket/x", "s3://b_ucket", "s3://bucket/a/../b", "s3://bucket//a", "s3://-bucket", "/local/dir"} {
		_, _, err := backupstore.ParseS3(bad)
		assert.ErrorIs(t, err, backupstore.ErrInvalidLocation, bad)
	}
}

func TestIsRemote(t *testing.T) {
	for loc, want := range map[string]bool{
		"s3://bucket/x": true, "S3://bucket": true, "gs://b/p": true, "minio+tls://b": true,
		"/var/backups": false, "backups/s3:/x": false, `C://backups`: false, "": false, "1a://x": false,
	} {
		assert.Equal(t, want, backupstore.IsRemote(loc), loc)
	}
}

// Without backupstore/s3store linked in (this test binary does not import
// it), an s3:// location fails before anything is done, with the import
// to add; backupstore.ParseS3 and backupstore.IsRemote work all the same.
func TestOpenS3WithoutTheImport(t *testing.T) {
	_, err := backupstore.Open(context.Background(), "s3://backups/manticore", backupstore.Options{})
	require.ErrorIs(t, err, backupstore.ErrNotRegistered)
	assert.Contains(t, err.Error(), `import _ "github.com/dbctl/dbctl/backupstore/s3store"`)
	assert.Equal(t, `dbctl: backupstore: open s3://backups/manticore: scheme not registered: no store for s3:// locations `+
		`is linked into this program: add import _ "github.com/dbctl/dbctl/backupstore/s3store"`, err.Error())

	_, err = backupstore.Open(context.Background(), "gs://backups/x", backupstore.Options{})
	require.ErrorIs(t, err, backupstore.ErrNotRegistered)
	assert.NotContains(t, err.Error(), "s3store")
}

func TestRegister(t *testing.T) {
	var got string
	backupstore.Register("dbctl-test", func(ctx context.Context, location string, opts backupstore.Options) (backupstore.Store, error) {
		got = location
		return backupstore.OpenLocal(t.TempDir())
	})
	st, err := backupstore.Open(context.Background(), "DBCTL-TEST://x/y", backupstore.Options{})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	assert.Equal(t, "DBCTL-TEST://x/y", got)
	assert.Contains(t, backupstore.Schemes(), "dbctl-test")

	assert.PanicsWithValue(t, "backupstore: Register called twice for dbctl-test", func() {
		backupstore.Register("Dbctl-Test", func(context.Context, string, backupstore.Options) (backupstore.Store, error) { return nil, nil })
	})
	assert.Panics(t, func() {
		backupstore.Register("x", func(context.Context, string, backupstore.Options) (backupstore.Store, error) { return nil, nil })
	})
	assert.Panics(t, func() { backupstore.Register("ok-scheme", nil) })
}

// backupstore links none of the AWS SDK: only backupstore/s3store does.
func TestNoAWSDependency(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/dbctl/dbctl/backupstore").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, dep := range strings.Fields(string(out)) {
		assert.False(t, strings.HasPrefix(dep, "github.com/aws/"), dep)
	}
	assert.Contains(t, string(out), "github.com/klauspost/compress/zstd", "the list is the real one")
}
