// Package shapecheck is the statement-coverage test of issue 9: every
// statement shape the embedded servers of dbctltest received while a test
// package ran must be present in the golden captures of real servers
// (../shared/reference/golden/*.jsonl), or be listed in
// dbctltest/testdata/unverified.txt.
//
// Each test package that starts embedded servers calls it from TestMain:
//
//	func TestMain(m *testing.M) {
//		os.Exit(shapecheck.Run(m))
//	}
//
// The check runs only when the run passed and was the whole package (no
// -run, -skip or -short); DBCTL_SHAPECHECK=always runs it anyway and
// DBCTL_SHAPECHECK=off never. With -v (or always) it prints the figures.
package shapecheck

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dbctl/dbctl/internal/sqlshape"
)

// UnverifiedFile is the allow-list, relative to the module root.
const UnverifiedFile = "dbctltest/testdata/unverified.txt"

// Run runs the tests, collecting the shapes of embedded servers in child
// processes too (through $DBCTL_SHAPE_LOG), then Check.
func Run(m *testing.M) int {
	var logPath string
	if os.Getenv(sqlshape.LogEnv) == "" {
		if f, err := os.CreateTemp("", "dbctl-shapes-*.log"); err == nil {
			logPath = f.Name()
			f.Close()
			os.Setenv(sqlshape.LogEnv, logPath)
			defer os.Remove(logPath)
		}
	}
	code := m.Run()
	return Check(code)
}

// Check runs the coverage check after m.Run returned code and returns the
// exit code: code itself, or 1 when a shape has no capture.
func Check(code int) int {
	mode := os.Getenv("DBCTL_SHAPECHECK")
	if mode == "off" {
		return code
	}
	if mode != "always" && (code != 0 || partialRun()) {
		return code
	}
	report, err := Compare(Received())
	if err != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "shapecheck:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "shapecheck: skipped:", err)
		return code
	}
	if mode == "always" || testing.Verbose() {
		report.Print(os.Stderr, true)
	}
	if len(report.Uncovered) > 0 {
		if mode != "always" && !testing.Verbose() {
			report.Print(os.Stderr, false)
		}
		return 1
	}
	return code
}

// partialRun reports a run that did not run every test: -run, -skip or
// -short.
func partialRun() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return testing.Short()
}

// Received is what this process recorded plus what child processes logged.
func Received() []sqlshape.Seen {
	all := sqlshape.Recorded()
	if path := os.Getenv(sqlshape.LogEnv); path != "" {
		logged, _ := sqlshape.ReadLog(path)
		all = append(all, logged...)
	}
	byKey := map[string]*sqlshape.Seen{}
	var out []sqlshape.Seen
	for _, s := range all {
		if prev := byKey[s.Key()]; prev != nil {
			prev.Count += s.Count
			continue
		}
		out = append(out, s)
		byKey[s.Key()] = &out[len(out)-1]
	}
	merged := make([]sqlshape.Seen, 0, len(out))
	for _, s := range out {
		merged = append(merged, *byKey[s.Key()])
	}
	sort.Slice(merged, func(i, j int) bool { return merged[i].Key() < merged[j].Key() })
	return merged
}

// Report is the outcome of Compare.
type Report struct {
	Received   []sqlshape.Seen
	Captured   []sqlshape.Seen // received and present in a capture
	Unverified []sqlshape.Seen // received, no capture, listed in unverified.txt
	Uncovered  []sqlshape.Seen // received, no capture, not listed
	Unused     []string        // listed in unverified.txt, not received
}

// Print writes the figures and, when full, every unverified shape; the
// uncovered shapes are always listed with one example statement each.
func (r Report) Print(w io.Writer, full bool) {
	fmt.Fprintf(w, "shapecheck: %d statement shapes received, %d covered by a capture, %d listed as unverified, %d uncovered\n",
		len(r.Received), len(r.Captured), len(r.Unverified), len(r.Uncovered))
	if full {
		for _, s := range r.Unverified {
			fmt.Fprintf(w, "  unverified %s  (e.g. %s)\n", s.Key(), s.Example)
		}
	}
	for _, s := range r.Uncovered {
		fmt.Fprintf(w, "  NO CAPTURE %s\n      e.g. %s\n", s.Key(), s.Example)
	}
	if len(r.Uncovered) > 0 {
		fmt.Fprintf(w, "shapecheck: capture these statements from a real server (../shared/reference/golden/) or list their shapes in %s\n", UnverifiedFile)
	}
}

// Compare checks received shapes against the golden captures and the
// unverified list.
func Compare(received []sqlshape.Seen) (Report, error) {
	dir, err := GoldenDir()
	if err != nil {
		return Report{}, err
	}
	root, err := moduleRoot()
	if err != nil {
		return Report{}, err
	}
	return CompareWith(received, dir, filepath.Join(root, UnverifiedFile))
}

// CompareWith is Compare with the golden folder and the unverified list
// given.
func CompareWith(received []sqlshape.Seen, goldenDir, unverifiedPath string) (Report, error) {
	captured, err := CapturedShapes(goldenDir)
	if err != nil {
		return Report{}, err
	}
	listed, err := ReadUnverified(unverifiedPath)
	if err != nil {
		return Report{}, err
	}
	r := Report{Received: received}
	used := map[string]bool{}
	for _, s := range received {
		switch {
		case captured[s.Key()]:
			r.Captured = append(r.Captured, s)
		case listed[s.Key()]:
			used[s.Key()] = true
			r.Unverified = append(r.Unverified, s)
		default:
			r.Uncovered = append(r.Uncovered, s)
		}
	}
	for k := range listed {
		if !used[k] {
			r.Unused = append(r.Unused, k)
		}
	}
	sort.Strings(r.Unused)
	return r, nil
}

// placeholders of the golden captures, expanded before reducing (any
// absolute path will do: strings reduce to "?").
var placeholders = strings.NewReplacer("{data_dir}", "/data", "{server_root}", "/etc/manticore", "{fixtures}", "/fixtures")

// CapturedShapes reduces every query of every *.jsonl in dir; the server
// kind is the file name up to the first '-' or '.' ("manticore-2.jsonl" is
// manticore).
func CapturedShapes(dir string) (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.jsonl in %s", dir)
	}
	out := map[string]bool{}
	for _, path := range files {
		base := filepath.Base(path)
		server := strings.FieldsFunc(base, func(r rune) bool { return r == '-' || r == '.' })[0]
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var rec struct {
				Query string `json:"query"`
			}
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", base, err)
			}
			out[sqlshape.Key(server, sqlshape.Reduce(placeholders.Replace(rec.Query)))] = true
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReadUnverified reads the allow-list: one "server: shape" a line; "#"
// starts a comment (shapes never hold "#": literals reduce to "?").
func ReadUnverified(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		server, shape, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not \"server: shape\"", path, line)
		}
		// the listed text is reduced too, so that it may be written as SQL
		out[sqlshape.Key(strings.TrimSpace(server), sqlshape.Reduce(shape))] = true
	}
	return out, nil
}

// GoldenDir finds the captures: $DBCTL_GOLDEN_DIR, or shared/reference/
// golden beside the checkout (searched upwards from the working directory),
// as dbctltest's golden replay does.
func GoldenDir() (string, error) {
	if d := os.Getenv("DBCTL_GOLDEN_DIR"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		for _, cand := range []string{filepath.Join(dir, "shared", "reference", "golden"), filepath.Join(dir, "..", "shared", "reference", "golden")} {
			if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
				return cand, nil
			}
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("golden captures not found (set DBCTL_GOLDEN_DIR)")
		}
	}
}

func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("go.mod not found above %s", wd)
		}
	}
}
