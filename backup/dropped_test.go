package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl"
)

// Another client drops a table the backup froze, inside the freeze, before
// its files are read (searchd allows DROP of a frozen table, manticore.md
// §4.3): the backup fails with ErrSourceChanged naming the removed file
// (Gone), the other tables are unfrozen, and nothing is left beside the
// target; the next backup of what is left succeeds.
func TestBackupOfATableDroppedInTheFreeze(t *testing.T) {
	for _, noStaging := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoStaging=%v", noStaging), func(t *testing.T) {
			f := newBackupFixture(t)
			other, err := sql.Open("mysql", f.srv.DSN())
			require.NoError(t, err)
			defer other.Close()
			ran := onceAt(t, "backup.mkdir folders", func() {
				_, err := other.Exec("DROP TABLE b")
				require.NoError(t, err)
			})
			parent := t.TempDir()
			_, err = Create(context.Background(), f.c.Manticore(), filepath.Join(parent, "bk"), CreateOptions{NoStaging: noStaging})
			require.True(t, ran.Load())
			require.ErrorIs(t, err, ErrSourceChanged)
			var sc *SourceChangedError
			require.True(t, errors.As(err, &sc), "%v", err)
			assert.True(t, sc.Gone)
			assert.Contains(t, sc.Path, "data/b/")
			assert.Contains(t, err.Error(), "was removed behind the backup")
			for _, n := range []string{"a", "pq"} {
				v, ok := f.srv.Locked(n)
				require.True(t, ok)
				assert.Equal(t, 0, v, n)
			}
			entries, err := os.ReadDir(parent)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing left beside the target")
			_, err = Create(context.Background(), f.c.Manticore(), filepath.Join(parent, "bk"), CreateOptions{NoStaging: noStaging})
			require.NoError(t, err)
			_, err = f.c.Manticore().TableStatus(context.Background(), "b")
			require.ErrorIs(t, err, dbctl.ErrTableNotFound)
		})
	}
}
