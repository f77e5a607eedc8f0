package dbctl

import (
	"context"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImportTable(t *testing.T) {
	ctx := context.Background()
	const path = "/b/data/t/t"
	tests := []struct {
		name, table, path string
		expect            func(sqlmock.Sqlmock) // nil: nothing may be sent
		kind              error
		server            bool // the error wraps the server's answer
	}{
		{name: "imported", table: "T_new", path: path, expect: func(m sqlmock.Sqlmock) {
			m.ExpectExec("IMPORT TABLE `t_new` FROM '/b/data/t/t'").WillReturnResult(sqlmock.NewResult(0, 0))
		}},
		// golden/manticore-2.jsonl: "IMPORT TABLE cap_rt FROM ..."
		{name: "exists", table: "t", path: path, kind: ErrTableExists, server: true, expect: func(m sqlmock.Sqlmock) {
			m.ExpectExec("IMPORT TABLE `t` FROM '/b/data/t/t'").WillReturnError(myErr(1064, "42000", "table 't' already exists"))
		}},
		// golden/manticore-2.jsonl: "IMPORT TABLE cap_new FROM '{fixtures}/no/such/dir/cap_rt'"
		{name: "no files", table: "t", path: path, server: true, expect: func(m sqlmock.Sqlmock) {
			m.ExpectExec("IMPORT TABLE `t` FROM '/b/data/t/t'").WillReturnError(myErr(1064, "42000", "unable to import table 't': no table files found"))
		}},
		{name: "bad name sends nothing", table: "t`x", path: path, kind: ErrInvalidIdentifier},
		{name: "empty path sends nothing", table: "t", path: "", kind: ErrInvalidArgument},
		// golden/manticore-3.jsonl: searchd fails on a dot in a folder name
		{name: "dotted path sends nothing", table: "t", path: "/b/bk.2026.12.06/data/t/t", kind: ErrInvalidArgument},
		{name: "hidden folder sends nothing", table: "t", path: "/b/.hidden/data/t/t", kind: ErrInvalidArgument},
		{name: "NUL sends nothing", table: "t", path: "/b/x\x00y/t", kind: ErrInvalidArgument},
		// issue 18: searchd's lexer reads \' and \\, not a doubled quote
		{name: "quote and backslash escaped as searchd reads them", table: "t", path: `/b/it's/back\slash/ünï space/t`, expect: func(m sqlmock.Sqlmock) {
			m.ExpectExec(`IMPORT TABLE ` + "`t`" + ` FROM '/b/it\'s/back\\slash/ünï space/t'`).WillReturnResult(sqlmock.NewResult(0, 0))
		}},
		// the connection broke after it was sent: searchd may still import
		{name: "answer lost", table: "t", path: path, kind: ErrOutcomeUnknown, expect: func(m sqlmock.Sqlmock) {
			m.ExpectExec("IMPORT TABLE `t` FROM '/b/data/t/t'").WillReturnError(mysql.ErrInvalidConn)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, mock := newMock(t)
			if tc.expect != nil {
				tc.expect(mock)
			}
			err := c.Manticore().ImportTable(ctx, tc.table, tc.path)
			if tc.kind == nil && !tc.server {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var oe *OpError
			require.ErrorAs(t, err, &oe)
			op := &OpError{Op: "manticore import table " + tc.table + " from " + tc.path} // control bytes escaped
			assert.Contains(t, err.Error(), op.Error())
			assert.NotContains(t, err.Error(), "\x00", "one line, no raw NUL")
			if tc.kind != nil {
				assert.ErrorIs(t, err, tc.kind)
			}
			_, fromServer := serverError(err)
			assert.Equal(t, tc.server, fromServer)
		})
	}
}
