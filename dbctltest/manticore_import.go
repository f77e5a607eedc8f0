package dbctltest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// importTable is IMPORT TABLE name FROM '/dir/prefix' (manticore.md §7):
// the files prefix.* (as FREEZE listed them) are copied into data_dir
// under the new name, then the external files the table's settings name
// (wordforms, stopwords, exceptions copies such as wordforms_chunk0_0.txt)
// are copied from the source folder into the new table's folder, as
// src/searchdconfig.cpp CopyIndexFiles (".spl" and ".lock" skipped) and
// CopyExternal do. Errors: an existing name (manticore-2.jsonl: "IMPORT
// TABLE cap_rt FROM ..."), no file matching prefix.*, relative paths
// included (manticore-2.jsonl: "IMPORT TABLE cap_new FROM ..." x3), and a
// set of files without .meta (CopyIndexFiles, no capture).
func (e *mEngine) importTable(p *parser) (*mysqlwire.Result, error) {
	if !p.accept("TABLE") {
		return nil, syntaxErr(p, p.peek())
	}
	name, err := e.tableName(p)
	if err != nil {
		return nil, err
	}
	if !p.accept("FROM") {
		return nil, syntaxErr(p, p.peek())
	}
	src := p.next()
	if src.kind != tString {
		return nil, syntaxErr(p, src)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tables[name] != nil {
		return nil, mErr("table '%s' already exists", name)
	}
	prefix := src.text
	var matches []string
	// searchd's working directory holds no tables; a folder its user cannot
	// read shows no files (WithUser)
	if filepath.IsAbs(prefix) && e.user.canRead(filepath.Dir(prefix)) {
		if matches, err = filepath.Glob(globEscape(prefix) + ".*"); err != nil {
			return nil, mErr("unable to import table '%s': %v", name, err)
		}
	}
	if len(matches) == 0 {
		return nil, mErr("unable to import table '%s': no table files found", name)
	}
	hasMeta := false
	for _, m := range matches {
		hasMeta = hasMeta || strings.HasSuffix(m, ".meta")
	}
	if !hasMeta {
		return nil, mErr("unable to import table '%s': missing %s.meta table file", name, prefix)
	}
	base := filepath.Base(prefix)
	dstDir := e.st.tableDir(name)
	if err := os.MkdirAll(dstDir, 0o755); err != nil {
		return nil, mErr("unable to import table '%s': %v", name, err)
	}
	fail := func(err error) (*mysqlwire.Result, error) {
		_ = os.RemoveAll(dstDir)
		return nil, mErr("unable to import table '%s': %v", name, err)
	}
	for _, m := range matches {
		suffix := strings.TrimPrefix(filepath.Base(m), base)
		if strings.HasSuffix(m, ".spl") || strings.HasSuffix(m, ".lock") {
			continue
		}
		if !e.user.allows(m, permR) { // WithUser; the text is assumed (no capture)
			return fail(fmt.Errorf("failed to open '%s': Permission denied", m))
		}
		if err := copyFile(m, filepath.Join(dstDir, name+suffix)); err != nil {
			return fail(err)
		}
	}
	t, err := e.st.loadTable(name)
	if err != nil {
		return fail(err)
	}
	for _, f := range externalFiles(t) {
		if err := copyFile(filepath.Join(filepath.Dir(prefix), f), filepath.Join(dstDir, f)); err != nil {
			return fail(err)
		}
	}
	if err := e.st.saveMeta(t); err != nil {
		return fail(err)
	}
	if err := e.lockTable(t); err != nil {
		return fail(err)
	}
	e.tables[name] = t
	return &mysqlwire.Result{}, e.saveState()
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
