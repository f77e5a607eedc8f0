package dbctltest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// importTable is IMPORT TABLE name FROM '/dir/prefix' (manticore.md §7), as
// src/searchdconfig.cpp CopyIndexFiles does it: the files prefix.* are
// found (sorted, as the glob lists them), and each is copied to
// <data_dir>/<name>/<name>.<ext>, where <ext> is what src/sphinxutils.cpp
// GetExtension returns for the file's full path: everything after the
// first '.' of the path, not of the file name. A path with a dot in any
// folder name therefore gives a destination in a folder that does not
// exist, and the import fails there, creating no table (manticore-3.jsonl:
// "IMPORT TABLE cap_imp_b FROM '{fixtures}/dot.ted/...'" and "... cap_imp_c
// FROM '{fixtures}/.hidden/...'"); a dot-free path imports
// (manticore-3.jsonl: "IMPORT TABLE cap_imp_a ..."). Then the external
// files the table's settings name (wordforms, stopwords, exceptions copies
// such as wordforms_chunk0_0.txt) are copied from the source folder into
// the new table's folder, as CopyExternalFiles does. Files ending in .spl
// or .lock are skipped (no capture: the emulator's own .lock would clash).
// Errors: an existing name (manticore-2.jsonl: "IMPORT TABLE cap_rt FROM
// ..."), no file matching prefix.*, relative paths included
// (manticore-2.jsonl: "IMPORT TABLE cap_new FROM ..." x3), and a set of
// files without .meta (CopyIndexFiles, no capture). The path is read as
// searchd's lexer reads a string literal (lexer.go).
func (e *mEngine) importTable(p *parser) (*mysqlwire.Result, error) {
	if !p.accept("TABLE") {
		return nil, ddlSyntaxErr(p, p.peek())
	}
	nt := p.next()
	if nt.kind != tIdent {
		return nil, ddlSyntaxErr(p, nt)
	}
	name := strings.ToLower(nt.text)
	if !p.accept("FROM") {
		return nil, ddlSyntaxErr(p, p.peek())
	}
	src := p.next()
	if src.kind != tString {
		return nil, ddlSyntaxErr(p, src)
	}
	if !p.atEnd() {
		return nil, ddlSyntaxErr(p, p.peek())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tables[name] != nil {
		return nil, mErr("table '%s' already exists", name)
	}
	prefix := src.text
	var matches []string
	var err error
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
	sort.Strings(matches)
	hasMeta := false
	for _, m := range matches {
		hasMeta = hasMeta || strings.HasSuffix(m, ".meta")
	}
	if !hasMeta {
		return nil, mErr("unable to import table '%s': missing %s.meta table file", name, prefix)
	}
	dstDir := e.st.tableDir(name)
	if err := os.MkdirAll(dstDir, 0o755); err != nil {
		return nil, mErr("unable to import table '%s': %v", name, err)
	}
	fail := func(msg string) (*mysqlwire.Result, error) {
		_ = os.RemoveAll(dstDir)
		return nil, mErr("unable to import table '%s': %s", name, msg)
	}
	newPath := filepath.Join(dstDir, name)
	for _, m := range matches {
		ext := firstDotExtension(m)
		if ext == "" || strings.HasSuffix(m, ".spl") || strings.HasSuffix(m, ".lock") {
			continue
		}
		if msg := e.copyImported(m, newPath+"."+ext); msg != "" {
			return fail(msg)
		}
	}
	t, err := e.st.loadTable(name)
	if err != nil {
		return fail(err.Error())
	}
	for _, f := range externalFiles(t) {
		if msg := e.copyImported(filepath.Join(filepath.Dir(prefix), f), filepath.Join(dstDir, f)); msg != "" {
			return fail(msg)
		}
	}
	if err := e.st.saveMeta(t); err != nil {
		return fail(err.Error())
	}
	if err := e.lockTable(t); err != nil {
		return fail(err.Error())
	}
	e.tables[name] = t
	return &mysqlwire.Result{}, e.saveState()
}

// firstDotExtension is src/sphinxutils.cpp GetExtension: the text after
// the first '.' of the whole path ("" when there is none, or the dot is
// last).
func firstDotExtension(path string) string {
	i := strings.IndexByte(path, '.')
	if i < 0 || i == len(path)-1 {
		return ""
	}
	return path[i+1:]
}

// copyImported copies one file of an import and returns searchd's message
// when it cannot: "failed to open <path>: <strerror>" (manticore-3.jsonl,
// for the destination; the same text is assumed for the source, which
// WithUser may make unreadable).
func (e *mEngine) copyImported(src, dst string) string {
	if !e.user.allows(src, permR) {
		return "failed to open " + src + ": " + strerror(syscall.EACCES)
	}
	in, err := os.Open(src)
	if err != nil {
		return "failed to open " + src + ": " + strerror(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return "failed to open " + dst + ": " + strerror(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "failed to write " + dst + ": " + strerror(err)
	}
	if err := out.Close(); err != nil {
		return "failed to write " + dst + ": " + strerror(err)
	}
	return ""
}

// strerror is the C library's text of an errno ("No such file or
// directory"): Go's text with its first letter upper-cased.
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		err = errno
	}
	s := err.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
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
