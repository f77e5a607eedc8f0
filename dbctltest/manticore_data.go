package dbctltest

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
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

// createTable runs CREATE TABLE; a very low rt_mem_limit gets searchd's
// warning.
func (e *mEngine) createTable(p *parser) (*mysqlwire.Result, []warning, error) {
	res, t, err := e.createTableStmt(p)
	if err != nil || t == nil {
		return res, nil, err
	}
	if t.Type == "rt" && t.memLimit() < 8<<20 {
		res.Warnings = 1
		return res, []warning{{1000, "rt_mem_limit very low (under 8 MB)"}}, nil
	}
	return res, nil, nil
}

func (e *mEngine) createTableStmt(p *parser) (*mysqlwire.Result, *mTable, error) {
	if !p.accept("TABLE") {
		return nil, nil, syntaxErr(p, p.peek())
	}
	ifNotExists := p.acceptSeq("IF", "NOT", "EXISTS")
	nt := p.next()
	if nt.kind != tIdent {
		return nil, nil, mErr("P03: syntax error, unexpected %s near '%s'", tokenName(nt), p.rest(nt))
	}
	name := strings.ToLower(nt.text)
	t := &mTable{Name: name, Type: "rt", Settings: map[string]string{}, counters: map[string]int{}}
	if p.acceptPunct('(') {
		for {
			col := p.next()
			typ := p.next()
			ft, ok := fieldTypes[strings.ToLower(typ.text)]
			if col.kind != tIdent || typ.kind != tIdent || !ok {
				return nil, nil, mErr("P03: syntax error, unexpected %s near '%s'", tokenName(typ), p.rest(typ))
			}
			for p.peek().kind == tIdent { // attribute, indexed, stored, engine='...'
				p.next()
				if p.acceptPunct('=') {
					p.next()
				}
			}
			t.Fields = append(t.Fields, mField{Name: strings.ToLower(col.text), Type: ft})
			if p.acceptPunct(')') {
				break
			}
			if !p.acceptPunct(',') {
				return nil, nil, mErr("P03: syntax error, unexpected %s near '%s'", tokenName(p.peek()), p.rest(p.peek()))
			}
		}
	}
	for !p.atEnd() {
		k := p.next()
		if k.kind != tIdent || !p.acceptPunct('=') {
			return nil, nil, mErr("P03: syntax error, unexpected %s near '%s'", tokenName(k), p.rest(k))
		}
		v := p.next()
		switch key := strings.ToLower(k.text); key {
		case "type":
			t.Type = strings.ToLower(v.text)
		case "local":
			t.Locals = append(t.Locals, v.text)
		case "agent":
			t.Agents = append(t.Agents, v.text)
		default:
			t.Settings[key] = v.text
		}
	}
	if t.Type != "rt" && t.Type != "percolate" && t.Type != "distributed" {
		return nil, nil, mErr("table '%s': CREATE TABLE failed: unknown table type '%s'", name, t.Type)
	}
	if reservedWords[name] {
		return nil, nil, mErr("table '%s': CREATE TABLE failed: '%s' is a reserved keyword", name, name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tables[name] != nil {
		if ifNotExists {
			return &mysqlwire.Result{}, nil, nil
		}
		return nil, nil, mErr("table '%s': CREATE TABLE failed: table '%s' already exists", name, name)
	}
	if t.Type != "distributed" {
		if err := e.st.saveSettings(t); err != nil {
			return nil, nil, mErr("CREATE TABLE failed: %v", err)
		}
		if t.Type == "rt" {
			t.ramFile = true // a new RT table starts with an (empty) saved RAM chunk
			if err := e.st.saveRAM(t); err != nil {
				return nil, nil, mErr("CREATE TABLE failed: %v", err)
			}
		}
		if err := e.st.saveMeta(t); err != nil {
			return nil, nil, mErr("CREATE TABLE failed: %v", err)
		}
	}
	e.tables[name] = t
	return &mysqlwire.Result{}, t, e.saveState()
}

func (e *mEngine) saveState() error {
	if err := e.st.saveState(e.tables); err != nil {
		return mErr("failed to save manticore.json: %v", err)
	}
	return nil
}

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

// whereIDs reads "WHERE id = N" or "WHERE id IN (N, ...)"; nil means no
// WHERE clause.
func whereIDs(p *parser) ([]int64, bool, error) {
	if !p.accept("WHERE") {
		return nil, false, nil
	}
	if !p.accept("id") {
		return nil, true, mErr("dbctltest: only WHERE id = N and WHERE id IN (...) are emulated, near '%s'", p.rest(p.peek()))
	}
	var ids []int64
	readID := func() error {
		t := p.next()
		id, err := strconv.ParseInt(t.text, 10, 64)
		if t.kind != tInt || err != nil {
			return syntaxErr(p, t)
		}
		ids = append(ids, id)
		return nil
	}
	switch {
	case p.acceptPunct('='):
		if err := readID(); err != nil {
			return nil, true, err
		}
	case p.accept("IN"):
		if !p.acceptPunct('(') {
			return nil, true, syntaxErr(p, p.peek())
		}
		for !p.acceptPunct(')') {
			if err := readID(); err != nil {
				return nil, true, err
			}
			p.acceptPunct(',')
		}
	default:
		return nil, true, syntaxErr(p, p.peek())
	}
	return ids, true, nil
}

func (e *mEngine) update(ctx context.Context, p *parser) (*mysqlwire.Result, error) {
	name, err := e.tableName(p)
	if err != nil {
		return nil, err
	}
	if !p.accept("SET") {
		return nil, syntaxErr(p, p.peek())
	}
	set := map[string]string{}
	for {
		c := p.next()
		if c.kind != tIdent || !p.acceptPunct('=') {
			return nil, syntaxErr(p, c)
		}
		v, ok := value(p)
		if !ok {
			return nil, syntaxErr(p, p.toks[p.i-1])
		}
		set[strings.ToLower(c.text)] = v
		if !p.acceptPunct(',') {
			break
		}
	}
	ids, _, err := whereIDs(p)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tables[name]; t == nil || t.Type != "rt" {
		return nil, mErr("unknown table '%s' in update request", name)
	}
	// UPDATE waits while the table is frozen, even for RAM documents.
	t, err := e.waitFrozen(ctx, name)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, mErr("unknown table '%s' in update request", name)
	}
	var affected uint64
	for _, id := range ids {
		chunk, idx := t.locate(id)
		if idx < 0 {
			continue
		}
		docs := t.ram
		if chunk != nil {
			docs = chunk.Docs
			chunk.attrDirty = true
		} else {
			t.ramBytes -= docSize(docs[idx])
		}
		for k, v := range set {
			docs[idx].Vals[k] = normalizeValue(t, k, v)
		}
		if chunk == nil {
			t.ramBytes += docSize(docs[idx])
		}
		affected++
	}
	t.TID++
	t.counters["update"]++
	return &mysqlwire.Result{AffectedRows: affected}, nil
}

// fromWhere reads "FROM name [WHERE id ...]".
func (e *mEngine) fromWhere(p *parser) (name string, ids []int64, hasWhere bool, err error) {
	if !p.accept("FROM") {
		return "", nil, false, syntaxErr(p, p.peek())
	}
	if name, err = e.tableName(p); err != nil {
		return "", nil, false, err
	}
	ids, hasWhere, err = whereIDs(p)
	return name, ids, hasWhere, err
}

func (e *mEngine) delete(ctx context.Context, p *parser) (*mysqlwire.Result, error) {
	name, ids, has, err := e.fromWhere(p)
	if err != nil {
		return nil, err
	}
	if !has {
		return nil, syntaxErr(p, p.peek())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil || t.Type != "rt" {
		return nil, mErr("unknown table '%s' in delete request", name)
	}
	var affected uint64
	for _, id := range ids {
		chunk, idx := t.locate(id)
		if idx < 0 {
			continue
		}
		if chunk == nil {
			t.ramRemove(idx)
			affected++
			continue
		}
		// Deleting from a disk chunk changes it: wait for the unfreeze.
		if t, err = e.waitFrozen(ctx, name); err != nil {
			return nil, err
		}
		if t == nil {
			return nil, mErr("unknown table '%s' in delete request", name)
		}
		if chunk, idx = t.locate(id); idx < 0 {
			continue
		}
		if chunk == nil {
			t.ramRemove(idx)
		} else {
			chunk.Killed[id] = true
			chunk.attrDirty = true
		}
		affected++
	}
	t.TID++
	t.counters["delete"]++
	return &mysqlwire.Result{AffectedRows: affected}, nil
}

func columnOf(t *mTable, name string) mysqlwire.Column {
	c := mysqlwire.Column{Name: name, Schema: "Manticore", Type: mysqlwire.TypeString, Length: 255}
	if name == "id" {
		c.Type, c.Length = mysqlwire.TypeLongLong, 20
		return c
	}
	f, _ := t.field(name)
	switch f.Type {
	case "uint", "bool", "timestamp":
		c.Type, c.Flags, c.Length = mysqlwire.TypeLong, mysqlwire.FlagUnsigned, 11
	case "bigint":
		c.Type, c.Length = mysqlwire.TypeLongLong, 20
	case "float":
		c.Type, c.Length = mysqlwire.TypeFloat, 12
	}
	return c
}

func (e *mEngine) selectStmt(p *parser) (*mysqlwire.Result, error) {
	switch {
	case p.acceptSeq("VERSION"):
		if p.acceptPunct('(') && p.acceptPunct(')') {
			return &mysqlwire.Result{Columns: charCols("version()"), Rows: textRows([]string{manticoreVersion})}, nil
		}
		return nil, syntaxErr(p, p.peek())
	case p.peek().isPunct('@'):
		return &mysqlwire.Result{Columns: charCols(strings.TrimSpace(p.rest(p.peek()))), Rows: textRows([]string{"<empty>"})}, nil
	case p.peek().kind == tInt:
		t := p.next()
		return &mysqlwire.Result{Columns: []mysqlwire.Column{{Name: t.text, Schema: "Manticore", Type: mysqlwire.TypeLongLong}}, Rows: textRows([]string{t.text})}, nil
	}
	var cols []string
	count := false
	for {
		t := p.next()
		switch {
		case t.isPunct('*'):
			cols = append(cols, "*")
		case t.is("COUNT"):
			if !(p.acceptPunct('(') && p.acceptPunct('*') && p.acceptPunct(')')) {
				return nil, syntaxErr(p, p.peek())
			}
			count = true
		case t.kind == tIdent:
			cols = append(cols, strings.ToLower(t.text))
		default:
			return nil, syntaxErr(p, t)
		}
		if !p.acceptPunct(',') {
			break
		}
	}
	name, ids, hasWhere, err := e.fromWhere(p)
	if err != nil {
		return nil, err
	}
	limit := 20 // searchd's default LIMIT
	if p.acceptSeq("ORDER", "BY") {
		p.next()
		p.accept("ASC")
		p.accept("DESC")
	}
	if p.accept("LIMIT") {
		n, err := strconv.Atoi(p.next().text)
		if err != nil {
			return nil, syntaxErr(p, p.toks[p.i-1])
		}
		limit = n
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil || t.Type == "distributed" {
		return nil, mErr("unknown local table(s) '%s' in search request", name)
	}
	t.counters["search"]++
	docs := t.allDocs()
	if t.Type == "percolate" {
		docs = t.Queries
	}
	if hasWhere {
		want := map[int64]bool{}
		for _, id := range ids {
			want[id] = true
		}
		var kept []mDoc
		for _, d := range docs {
			if want[d.ID] {
				kept = append(kept, d)
			}
		}
		docs = kept
	}
	if count {
		return &mysqlwire.Result{
			Columns: []mysqlwire.Column{{Name: "count(*)", Schema: "Manticore", Type: mysqlwire.TypeLongLong, Length: 20}},
			Rows:    textRows([]string{strconv.Itoa(len(docs))}),
		}, nil
	}
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].ID < docs[j].ID })
	var names []string
	for _, c := range cols {
		if c == "*" {
			names = append(names, "id")
			if t.Type == "percolate" {
				names = append(names, "query", "tags", "filters")
			} else {
				names = append(names, fieldNames(t)...)
			}
			continue
		}
		names = append(names, c)
	}
	res := &mysqlwire.Result{}
	for _, n := range names {
		res.Columns = append(res.Columns, columnOf(t, n))
	}
	for i, d := range docs {
		if i >= limit {
			break
		}
		row := make([]mysqlwire.Value, len(names))
		for j, n := range names {
			if n == "id" {
				row[j] = mysqlwire.V(strconv.FormatInt(d.ID, 10))
			} else {
				row[j] = mysqlwire.V(d.Vals[n])
			}
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

func (e *mEngine) describe(p *parser) (*mysqlwire.Result, error) {
	name, err := e.tableName(p)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil {
		return nil, &mysqlwire.Error{Code: 1146, State: "42S02", Message: "no such table '" + name + "'"}
	}
	res := &mysqlwire.Result{Columns: charCols("Field", "Type", "Properties"), Rows: textRows([]string{"id", "bigint", ""})}
	for _, f := range t.Fields {
		props := ""
		if f.Type == "text" {
			props = "indexed stored"
		}
		res.Rows = append(res.Rows, textRows([]string{f.Name, f.Type, props})...)
	}
	return res, nil
}

// importTable is IMPORT TABLE name FROM '/dir/prefix': the files
// prefix.meta, prefix.settings, prefix.ram and prefix.N.sp* (as FREEZE
// listed them) are copied into data_dir under the new name.
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
	if _, err := os.Stat(prefix + ".meta"); err != nil {
		return nil, mErr("unable to import table '%s': unable to open '%s.meta'", name, prefix)
	}
	matches, err := filepath.Glob(globEscape(prefix) + ".*")
	if err != nil {
		return nil, mErr("IMPORT TABLE: %v", err)
	}
	base := filepath.Base(prefix)
	dstDir := e.st.tableDir(name)
	if err := os.MkdirAll(dstDir, 0o755); err != nil {
		return nil, mErr("IMPORT TABLE: %v", err)
	}
	for _, m := range matches {
		suffix := strings.TrimPrefix(filepath.Base(m), base)
		if err := copyFile(m, filepath.Join(dstDir, name+suffix)); err != nil {
			_ = os.RemoveAll(dstDir)
			return nil, mErr("IMPORT TABLE: %v", err)
		}
	}
	t, err := e.st.loadTable(name)
	if err != nil {
		_ = os.RemoveAll(dstDir)
		return nil, mErr("unable to import table '%s': %v", name, err)
	}
	if err := e.st.saveMeta(t); err != nil {
		return nil, mErr("IMPORT TABLE: %v", err)
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
