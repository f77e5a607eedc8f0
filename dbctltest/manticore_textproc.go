package dbctltest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// External files of a table: CREATE TABLE ... wordforms='/abs/wf.txt'
// stopwords='/abs/sw.txt' exceptions='/abs/ex.txt'. searchd copies each
// file into the table's folder as <key>_chunk0_<n>.txt and keeps only that
// name in the table's settings (src/indexsettings.cpp
// IndexSettingsContainer_c::CopyExternalFiles and CopyExternalFile: order
// stopwords, exceptions, wordforms; n counts from 0 per key and skips names
// already taken), so the copies belong to the table's folder and FREEZE
// lists them (manticore-2.jsonl: "FREEZE cap_wf"). Paths must be absolute
// and readable (src/indexsettings.cpp CheckPaths).

// extKeys are the settings naming external files, in copy order.
var extKeys = []string{"stopwords", "exceptions", "wordforms"}

// checkExternal validates the source files of CREATE TABLE (the messages
// of src/indexsettings.cpp CheckPaths).
func checkExternal(src map[string][]string) error {
	for _, k := range extKeys {
		for _, f := range src[k] {
			if _, err := os.Stat(f); err != nil {
				return fmt.Errorf("file not found: '%s'", f)
			}
			if !filepath.IsAbs(f) {
				return fmt.Errorf("paths to external files should be absolute: '%s'", f)
			}
		}
	}
	return nil
}

// copyExternal copies the source files into the table's folder and sets
// the table's settings to the copies' names (space-separated).
func (s *store) copyExternal(t *mTable, src map[string][]string) error {
	dir := s.tableDir(t.Name)
	for _, k := range extKeys {
		if len(src[k]) == 0 {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		var names []string
		n := 0
		for _, f := range src[k] {
			var name string
			for {
				name = k + "_chunk0_" + strconv.Itoa(n) + ".txt"
				n++
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					break
				}
			}
			if err := copyFile(f, filepath.Join(dir, name)); err != nil {
				return err
			}
			names = append(names, name)
		}
		t.Settings[k] = strings.Join(names, " ")
	}
	return nil
}

// externalFiles are the names of a table's external files (relative to
// its folder).
func externalFiles(t *mTable) []string {
	var out []string
	for _, k := range extKeys {
		out = append(out, strings.Fields(t.Settings[k])...)
	}
	return out
}

// textProc is how a table turns text into keywords, both for indexing and
// for MATCH queries. NO CAPTURE covers searching with these files; the
// behaviour follows the Manticore manual (Creating_a_table/
// NLP_and_tokenization: Exceptions, Wordforms, Ignoring_stop-words):
//   - exceptions ("map-from => map-to"): case-sensitive, matched on the raw
//     text before charset_table, and the map-to keyword is used as is;
//   - the text is split into words by the default charset_table (letters
//     and digits, case-folded);
//   - stopwords are dropped (the stopwords file is tokenized the same way);
//   - wordforms ("source > destination") replace a word by its normal form,
//     case-insensitively.
//
// Limits of the emulation: one-word wordforms only, exceptions match their
// map-from text exactly (whitespace included), and a MATCH query is an AND
// of its keywords (no operators).
type textProc struct {
	exceptions [][2]string // map-from, map-to; longest map-from first
	stopwords  map[string]bool
	wordforms  map[string]string
}

// textProcOf reads a table's external files from its folder.
func (s *store) textProcOf(t *mTable) (textProc, error) {
	tp := textProc{stopwords: map[string]bool{}, wordforms: map[string]string{}}
	read := func(k string, fn func(line string)) error {
		for _, name := range strings.Fields(t.Settings[k]) {
			b, err := os.ReadFile(filepath.Join(s.tableDir(t.Name), name))
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(b), "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
					fn(line)
				}
			}
		}
		return nil
	}
	err := read("exceptions", func(line string) {
		if from, to, ok := strings.Cut(line, "=>"); ok {
			tp.exceptions = append(tp.exceptions, [2]string{strings.TrimSpace(from), strings.TrimSpace(to)})
		}
	})
	if err == nil {
		err = read("stopwords", func(line string) { forEachTerm(line, func(w string) { tp.stopwords[w] = true }) })
	}
	if err == nil {
		err = read("wordforms", func(line string) {
			from, to, ok := strings.Cut(line, ">")
			from = strings.TrimSuffix(strings.TrimSpace(from), "=") // "a => b" is read as "a > b"
			if ok && !strings.ContainsAny(strings.TrimSpace(from), " \t") {
				tp.wordforms[strings.ToLower(strings.TrimSpace(from))] = strings.ToLower(strings.TrimSpace(to))
			}
		})
	}
	sort.SliceStable(tp.exceptions, func(i, j int) bool { return len(tp.exceptions[i][0]) > len(tp.exceptions[j][0]) })
	return tp, err
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// keywords returns the keywords of text.
func (tp textProc) keywords(text string) []string {
	var out []string
	word := func(w string) {
		w = strings.ToLower(w)
		if tp.stopwords[w] {
			return
		}
		if nf, ok := tp.wordforms[w]; ok {
			w = nf
		}
		out = append(out, w)
	}
	rs := []rune(text)
	start := -1
	for i := 0; i < len(rs); i++ {
		if start < 0 && (i == 0 || !isWordRune(rs[i-1])) {
			if ex, n := tp.exceptionAt(rs, i); n > 0 {
				out = append(out, ex)
				i += n - 1
				continue
			}
		}
		switch {
		case isWordRune(rs[i]) && start < 0:
			start = i
		case !isWordRune(rs[i]) && start >= 0:
			word(string(rs[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		word(string(rs[start:]))
	}
	return out
}

// exceptionAt matches an exception at rs[i:], whole words only, and
// returns its map-to keyword and the runes it took.
func (tp textProc) exceptionAt(rs []rune, i int) (string, int) {
	for _, ex := range tp.exceptions {
		from := []rune(ex[0])
		if len(from) == 0 || i+len(from) > len(rs) || string(rs[i:i+len(from)]) != ex[0] {
			continue
		}
		if end := i + len(from); end < len(rs) && isWordRune(rs[end]) && isWordRune(from[len(from)-1]) {
			continue
		}
		return ex[1], len(from)
	}
	return "", 0
}

// matchDocs keeps the documents whose text fields hold every keyword of
// the query. A query left with no keyword (only stopwords) matches nothing:
// an assumption, the manual does not say.
func (e *mEngine) matchDocs(t *mTable, docs []mDoc, query string) ([]mDoc, error) {
	tp, err := e.st.textProcOf(t)
	if err != nil {
		return nil, mErr("table %s: %v", t.Name, err)
	}
	want := tp.keywords(query)
	if len(want) == 0 {
		return nil, nil
	}
	var out []mDoc
	for _, d := range docs {
		have := map[string]bool{}
		for _, f := range t.Fields {
			if f.Type == "text" {
				for _, k := range tp.keywords(d.Vals[f.Name]) {
					have[k] = true
				}
			}
		}
		all := true
		for _, k := range want {
			all = all && have[k]
		}
		if all {
			out = append(out, d)
		}
	}
	return out, nil
}
