package backup

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/dbctl/dbctl"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Where an import stages: the data_dir when it is a local folder with no
// dot in its path, then the backup's parent, then the temporary folder,
// skipping every place whose path has a dot.
func TestImportStageParents(t *testing.T) {
	tmp := os.TempDir()
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	dotted := filepath.Join(root, "data.d")
	for _, d := range []string{dataDir, dotted} {
		require.NoError(t, os.Mkdir(d, 0o755))
	}
	settings := func(dir string) [][]string {
		return [][]string{{"configuration_file", "/etc/manticore.conf"}, {"searchd.data_dir", dir}}
	}
	tests := []struct {
		name    string
		rows    [][]string // nil: SHOW SETTINGS fails
		backup  string
		parents []string
		dataDir string
	}{
		{"data_dir first", settings(dataDir), filepath.Join(root, "bk"), []string{dataDir, root, tmp}, dataDir},
		{"dotted backup parent skipped", settings(dataDir), filepath.Join(root, "x.y", "bk"), []string{dataDir, tmp}, dataDir},
		{"dotted data_dir skipped", settings(dotted), filepath.Join(root, "bk"), []string{root, tmp}, dotted},
		{"data_dir not on this machine", settings("/nonexistent-dbctl-data"), filepath.Join(root, "bk"), []string{root, tmp}, ""},
		{"no SHOW SETTINGS", nil, filepath.Join(root, "bk"), []string{root, tmp}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
			require.NoError(t, err)
			defer db.Close()
			q := mock.ExpectQuery("SHOW SETTINGS")
			if tc.rows == nil {
				q.WillReturnError(&mysql.MySQLError{Number: 1064, Message: "injected"})
			} else {
				rows := sqlmock.NewRows([]string{"Setting_name", "Value"})
				for _, r := range tc.rows {
					rows.AddRow(r[0], r[1])
				}
				q.WillReturnRows(rows)
			}
			parents, dd := importStageParents(context.Background(), dbctl.New(db, nil).Manticore(), tc.backup)
			assert.Equal(t, tc.parents, parents)
			assert.Equal(t, tc.dataDir, dd)
			require.NoError(t, mock.ExpectationsWereMet())
		})
	}

	// no place without a dot: refused, nothing made
	_, err := newImportStage(nil, "/x.y/bk")
	require.ErrorIs(t, err, dbctl.ErrInvalidArgument)
}
