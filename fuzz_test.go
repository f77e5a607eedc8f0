package dbctl

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/dbctl/dbctl/internal/sqllit"
)

// The seeds run as ordinary tests in CI; `go test -fuzz FuzzX` explores.

func FuzzManticoreIdent(f *testing.F) {
	for _, s := range []string{"t", "gold_a", "1abc", "123", "", "a-b", "t`x", "таблица", "a.b", "t; DROP", "_", "MixedCase"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateManticoreTable(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidIdentifier) {
				t.Fatalf("error %v is not ErrInvalidIdentifier", err)
			}
			return
		}
		q := quoteManticoreIdent(s)
		if strings.Count(q, "`") != 2 || q[0] != '`' || q[len(q)-1] != '`' {
			t.Fatalf("quoted %q has a back-tick inside", q)
		}
		digits := true
		for _, c := range s {
			switch {
			case c >= '0' && c <= '9':
			case c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
				digits = false
			default:
				t.Fatalf("accepted %q with %q", s, c)
			}
		}
		if digits {
			t.Fatalf("accepted all-digit %q", s)
		}
	})
}

// FuzzMoCtlStatement: any parameter stays inside the statement's third
// literal (internal/sqllit's FuzzQuote reads the literal back as MySQL
// does, in both backslash modes).
func FuzzMoCtlStatement(f *testing.F) {
	for _, s := range []string{"", "gold.t", "t'x", `a\'b`, "x'); drop database d; --", "\x00\n\r\x1a", `\`, "''", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st := moCtlStatement("dn", "flush", s)
		if st != "select mo_ctl('dn', 'flush', "+sqllit.Quote(s)+")" {
			t.Fatalf("statement %q", st)
		}
	})
}

func FuzzDecodeMoCtl(f *testing.F) {
	for _, s := range []string{moFlushOK, moPing, moPingNone, moInspect, `{"method":"X","result":"OK"}`, `{"method":1}`, `{"method":"Flush","result":[{"returnStr":"Failed"}]}`, "", "{", "null", `{"method":"Ping","result":[{"serviceAddress":"a","shardID":"x"}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := decodeMoCtl(raw)
		if r == nil || r.Raw != raw {
			t.Fatalf("Raw not kept")
		}
		if err != nil {
			if !errors.Is(err, ErrUnexpectedResult) {
				t.Fatalf("decode error %v", err)
			}
			return
		}
		if cerr := r.check(); cerr != nil {
			if !errors.Is(cerr, ErrEmptyResult) && !errors.Is(cerr, ErrUnexpectedResult) && !errors.Is(cerr, ErrMoCtlFailed) {
				t.Fatalf("check error %v of no known kind", cerr)
			}
		}
		strs, err := r.returnStrs()
		if err == nil && strs == nil {
			t.Fatalf("nil slice without error")
		}
		if (err == nil) != (r.ReturnStrs != nil) || len(strs) != len(r.ReturnStrs) {
			t.Fatalf("ReturnStrs field %q, parsed %q, %v", r.ReturnStrs, strs, err)
		}
		_, _ = parseTNShards(r)
	})
}

func tableOf(cols []string, rows ...[]string) *textTable {
	t := &textTable{cols: cols}
	for _, r := range rows {
		row := make([]sql.NullString, len(r))
		for i, v := range r {
			row[i] = sql.NullString{String: v, Valid: true}
		}
		t.rows = append(t.rows, row)
	}
	return t
}

func FuzzParseLocks(f *testing.F) {
	for _, s := range []string{"Count: 1", "Count: 2", "count:7", "", "Count: -1", "Count: 99999999999999999999", "x Count: 3 y"} {
		f.Add("rt", "t", s)
	}
	f.Fuzz(func(t *testing.T, typ, name, info string) {
		locks, err := parseLocks(tableOf(locksCols, []string{typ, name, "freeze", info}))
		if err != nil {
			if !errors.Is(err, ErrUnexpectedResult) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if len(locks) != 1 || locks[0].Count < 0 || locks[0].AdditionalInfo != info {
			t.Fatalf("bad parse %+v of %q", locks, info)
		}
	})
}

func FuzzParseFreeze(f *testing.F) {
	f.Add("/d/t/t.meta", "/d/t/t.meta", "t", "Some tables are not suitable for freezing: x,y")
	f.Add("data/t/t.0.spa", "/w/data/t/t.0.spa", "t", "")
	f.Add(`C:\m\t\t.ram`, `C:\m\t\t.ram`, "t", "other warning")
	f.Add("t.meta", "", "t", "Some tables are not suitable for freezing:")
	f.Add("/d/x/y", "/d/x/y", "x", "Some tables are not suitable for freezing: T ,  ,u")
	f.Add("/d/t/wordforms_chunk0_0.txt", "/d/t/wordforms_chunk0_0.txt", "t", "")
	f.Add("/d/zz_other/t.meta", "/d/zz_other/t.meta", "t", "")
	f.Fuzz(func(t *testing.T, file, norm, table, warning string) {
		table = strings.ToLower(table)
		// One table: every file is its own.
		files, err := parseFreezeFiles(tableOf(freezeCols, []string{file, norm}), []string{table})
		if err != nil || len(files) != 1 || files[0].Table != table || files[0].File != file {
			t.Fatalf("one table: %+v, %v", files, err)
		}
		// Two tables: the file goes to one of them, by folder before name,
		// or fails as an unexpected result.
		const other = "zz_other"
		files, err = parseFreezeFiles(tableOf(freezeCols, []string{file, norm}), []string{table, other})
		if err == nil {
			if len(files) != 1 || (files[0].Table != table && files[0].Table != other) {
				t.Fatalf("bad attribution %+v", files)
			}
			if dir, _ := splitServerPath(norm); strings.HasSuffix(strings.ToLower(dir), "/"+other) && files[0].Table != other {
				t.Fatalf("file in %s's folder attributed to %q", other, files[0].Table)
			}
		} else if !errors.Is(err, ErrUnexpectedResult) {
			t.Fatalf("error %v", err)
		}
		msgs, err := parseWarnings(tableOf(warningCols, []string{"warning", "1000", warning}))
		if err != nil || len(msgs) != 1 || msgs[0] != warning {
			t.Fatalf("warnings %q, %v", msgs, err)
		}
	})
}
