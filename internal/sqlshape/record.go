package sqlshape

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

// LogEnv names a file that every process appends the shapes it records
// to (one "server<TAB>shape<TAB>example" line per new shape), so that a
// test can collect the shapes of embedded servers run by child processes
// (the CLI's --embedded).
const LogEnv = "DBCTL_SHAPE_LOG"

// Seen is one recorded shape: the server kind ("manticore", "matrixone"),
// the shape, the first statement that had it, and how many statements did.
type Seen struct {
	Server  string
	Shape   string
	Example string
	Count   int
}

// Key is how a shape is listed: "server: shape".
func (s Seen) Key() string { return Key(s.Server, s.Shape) }

// Key joins a server kind and a shape as they are listed.
func Key(server, shape string) string { return server + ": " + shape }

type recorder struct {
	mu     sync.Mutex
	shapes map[string]*Seen
}

var rec = recorder{shapes: map[string]*Seen{}}

// maxExample bounds the example statement kept per shape.
const maxExample = 300

// Record notes that an embedded server of the given kind received sql.
// It is safe for concurrent use.
func Record(server, sql string) {
	shape := Reduce(sql)
	key := Key(server, shape)
	rec.mu.Lock()
	s := rec.shapes[key]
	if s != nil {
		s.Count++
		rec.mu.Unlock()
		return
	}
	ex := sql
	if len(ex) > maxExample {
		ex = ex[:maxExample] + "..."
	}
	rec.shapes[key] = &Seen{Server: server, Shape: shape, Example: ex, Count: 1}
	rec.mu.Unlock()
	appendLog(server, shape, ex)
}

// appendLog writes a new shape to $DBCTL_SHAPE_LOG, if set.
func appendLog(server, shape, example string) {
	path := os.Getenv(LogEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	flat := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(example)
	_, _ = fmt.Fprintf(f, "%s\t%s\t%s\n", server, shape, flat)
}

// ReadLog reads the shapes a log file collected (missing file: none).
func ReadLog(path string) ([]Seen, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Seen
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) == 3 {
			out = append(out, Seen{Server: parts[0], Shape: parts[1], Example: parts[2], Count: 1})
		}
	}
	return out, nil
}

// Recorded returns every shape recorded in this process, sorted by key.
func Recorded() []Seen {
	rec.mu.Lock()
	out := make([]Seen, 0, len(rec.shapes))
	for _, s := range rec.shapes {
		out = append(out, *s)
	}
	rec.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}
