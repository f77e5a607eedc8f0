package dbctltest

import (
	"context"
	"strconv"
	"strings"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// reservedWords cannot be table names (CREATE TABLE refuses them).
var reservedWords = map[string]bool{"select": true, "insert": true, "update": true, "delete": true, "from": true,
	"where": true, "table": true, "create": true, "drop": true, "show": true, "freeze": true, "unfreeze": true,
	"flush": true, "optimize": true, "like": true, "and": true, "or": true, "not": true, "order": true, "by": true}

var fieldTypes = map[string]string{"text": "text", "int": "uint", "integer": "uint", "uint": "uint",
	"bigint": "bigint", "float": "float", "string": "string", "json": "json", "multi": "multi", "mva": "multi",
	"multi64": "multi64", "mva64": "multi64", "bool": "bool", "timestamp": "timestamp"}

func (e *mEngine) dropTable(p *parser) (*mysqlwire.Result, error) {
	if !p.accept("TABLE") {
		return nil, syntaxErr(p, p.peek())
	}
	ifExists := p.acceptSeq("IF", "EXISTS")
	name, err := e.tableName(p)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tables[name] == nil {
		if ifExists {
			return &mysqlwire.Result{}, nil
		}
		return nil, mErr("DROP TABLE failed: unknown table '%s'", name)
	}
	delete(e.tables, name)
	e.unlockTable(name)
	e.broadcast() // writers waiting on the freeze give up
	if err := e.st.dropTable(name); err != nil {
		return nil, mErr("DROP TABLE failed: %v", err)
	}
	return &mysqlwire.Result{}, e.saveState()
}

func (e *mEngine) truncate(p *parser) (*mysqlwire.Result, error) {
	if !p.accept("TABLE") && !p.accept("RTINDEX") {
		return nil, syntaxErr(p, p.peek())
	}
	name, err := e.tableName(p)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil || t.Type != "rt" {
		return nil, mErr("TRUNCATE RTINDEX requires an existing RT table")
	}
	if t.foreign {
		return nil, foreignErr(t)
	}
	if t.locked > 0 {
		return nil, mErr("failed to save metadata for table '%s': ; keeping binlog for recovery", name)
	}
	for _, c := range t.chunks {
		e.st.removeChunk(t, c)
	}
	t.chunks = nil
	t.ramReset()
	t.TID++
	if err := e.st.saveRAM(t); err != nil {
		return nil, mErr("TRUNCATE: %v", err)
	}
	return &mysqlwire.Result{}, nil
}

// value reads one literal of a VALUES list or a SET clause as text.
func value(p *parser) (string, bool) {
	neg := p.acceptPunct('-')
	t := p.next()
	switch t.kind {
	case tInt, tFloat:
		if neg {
			return "-" + t.text, true
		}
		return t.text, true
	case tString:
		return t.text, !neg
	case tIdent:
		if t.is("NULL") {
			return "", true
		}
	case tPunct:
		if t.text == "(" { // MVA
			var parts []string
			for !p.acceptPunct(')') {
				v, ok := value(p)
				if !ok {
					return "", false
				}
				parts = append(parts, v)
				p.acceptPunct(',')
			}
			return strings.Join(parts, ","), true
		}
	}
	return "", false
}

func (e *mEngine) insert(ctx context.Context, p *parser, replace bool) (*mysqlwire.Result, error) {
	if !p.accept("INTO") {
		return nil, syntaxErr(p, p.peek())
	}
	name, err := e.tableName(p)
	if err != nil {
		return nil, err
	}
	var cols []string
	if p.acceptPunct('(') {
		for !p.acceptPunct(')') {
			c := p.next()
			if c.kind != tIdent {
				return nil, syntaxErr(p, c)
			}
			cols = append(cols, strings.ToLower(c.text))
			p.acceptPunct(',')
		}
	}
	if !p.accept("VALUES") {
		return nil, syntaxErr(p, p.peek())
	}
	var rows [][]string
	for {
		if !p.acceptPunct('(') {
			return nil, syntaxErr(p, p.peek())
		}
		var row []string
		for !p.acceptPunct(')') {
			v, ok := value(p)
			if !ok {
				return nil, syntaxErr(p, p.toks[p.i-1])
			}
			row = append(row, v)
			if !p.acceptPunct(',') && !p.peek().isPunct(')') {
				return nil, syntaxErr(p, p.peek())
			}
		}
		rows = append(rows, row)
		if !p.acceptPunct(',') {
			break
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil || t.Type == "distributed" {
		return nil, mErr("table '%s' absent", name)
	}
	if t.foreign {
		return nil, foreignErr(t)
	}
	if cols == nil {
		cols = append([]string{"id"}, fieldNames(t)...)
	}
	var affected uint64
	for _, row := range rows {
		if len(row) != len(cols) {
			return nil, mErr("column count does not match value count (expected %d, got %d)", len(cols), len(row))
		}
		d := mDoc{Vals: map[string]string{}}
		for i, c := range cols {
			if c == "id" {
				id, err := strconv.ParseInt(row[i], 10, 64)
				if err != nil {
					return nil, mErr("id: %s", row[i])
				}
				d.ID = id
				continue
			}
			d.Vals[c] = normalizeValue(t, c, row[i])
		}
		if t.Type == "percolate" {
			t.nextID++
			d.ID = t.nextID
			t.Queries = append(t.Queries, d)
			affected++
			continue
		}
		if d.ID == 0 {
			t.nextID++
			d.ID = t.nextID
		} else if d.ID > t.nextID {
			t.nextID = d.ID
		}
		if t.ramSize() >= t.memLimit() {
			// The RAM chunk is full. searchd turns it into a disk chunk; on
			// a frozen table it cannot, so the INSERT waits for the
			// unfreeze (no timeout, as measured on 29.2.2).
			if t, err = e.waitFrozen(ctx, name); err != nil {
				return nil, err
			}
			if t == nil {
				return nil, mErr("table '%s' absent", name)
			}
			if err := e.ramToChunk(t); err != nil {
				return nil, err
			}
		}
		chunk, idx := t.locate(d.ID)
		switch {
		case idx < 0:
		case !replace:
			return nil, mErr("duplicate id '%d'", d.ID)
		case chunk == nil:
			t.ramRemove(idx)
		default:
			// Replacing a document of a disk chunk changes that chunk:
			// it waits while the table is frozen.
			if t, err = e.waitFrozen(ctx, name); err != nil {
				return nil, err
			}
			if t == nil {
				return nil, mErr("table '%s' absent", name)
			}
			if chunk, idx = t.locate(d.ID); idx >= 0 && chunk != nil {
				chunk.Killed[d.ID] = true
				chunk.attrDirty = true
			} else if idx >= 0 {
				t.ramRemove(idx)
			}
		}
		t.ramAppend(d)
		affected++
	}
	t.TID++
	if replace {
		t.counters["replace"]++
	} else {
		t.counters["insert"]++
	}
	return &mysqlwire.Result{AffectedRows: affected}, nil
}

func fieldNames(t *mTable) []string {
	out := make([]string, len(t.Fields))
	for i, f := range t.Fields {
		out[i] = f.Name
	}
	return out
}

func normalizeValue(t *mTable, col, v string) string {
	f, ok := t.field(col)
	if ok && f.Type == "float" {
		if x, err := strconv.ParseFloat(v, 32); err == nil {
			return strconv.FormatFloat(x, 'f', -1, 32)
		}
	}
	return v
}
