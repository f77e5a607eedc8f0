package dbctltest

import (
	"strconv"
	"strings"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// Row storage for the recovery emulation: tables keep their columns and
// rows so that a restore can be checked by reading the rows back (rec
// 97-124, 146-156, 163-184 do exactly that on the real server).

// moCol is a column of a user table.
type moCol struct {
	name string
	col  mysqlwire.Column // as a result column
}

// colFor maps a declared SQL type to the result column MatrixOne sends:
// int -> INT (rec 102), varchar -> VARCHAR (rec 102); others by analogy
// (not captured).
func colFor(name, typ string) mysqlwire.Column {
	switch strings.ToLower(typ) {
	case "int", "integer", "mediumint", "smallint", "tinyint":
		return colInt(name)
	case "bigint":
		return colBigint(name)
	}
	return varchar(name)
}

// createTableCols: CREATE TABLE [IF NOT EXISTS] [db.]t (col type ..., ...),
// keeping the columns for the rows and their history (the only CREATE
// TABLE of the emulator; the error texts are those of matrixone.jsonl).
func (m *moSession) createTableCols(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	ifNot := p.acceptSeq("IF", "NOT", "EXISTS")
	dbName, name, err := m.qualifiedName(p)
	if err != nil {
		return nil, err.(*mysqlwire.Error)
	}
	if !p.acceptPunct('(') {
		return nil, errHere(p)
	}
	var cols []moCol
	for {
		t := p.next()
		if t.kind != tIdent {
			return nil, syntaxAt(p, p.i-1)
		}
		first := t
		// a column is "name type ..."; a constraint starts with a keyword
		isConstraint := first.is("PRIMARY") || first.is("KEY") || first.is("UNIQUE") || first.is("INDEX") || first.is("CONSTRAINT")
		typ := p.peek()
		if !isConstraint {
			if typ.kind != tIdent {
				return nil, errHere(p)
			}
			cols = append(cols, moCol{name: strings.ToLower(first.text), col: colFor(strings.ToLower(first.text), typ.text)})
		}
		depth := 0
		for {
			c := p.peek()
			if c.kind == tEnd {
				return nil, errHere(p)
			}
			if depth == 0 && (c.isPunct(',') || c.isPunct(')')) {
				break
			}
			if c.isPunct('(') {
				depth++
			}
			if c.isPunct(')') {
				depth--
			}
			p.next()
		}
		if p.acceptPunct(')') {
			break
		}
		p.next() // ','
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	db := m.account.dbs[dbName]
	if db == nil {
		return nil, moErr(1049, "Unknown database '%s'", dbName)
	}
	if db.tables[name] != nil {
		if ifNot {
			return &mysqlwire.Result{}, nil
		}
		return nil, moErr(1050, "table %s already exists", name)
	}
	m.s.nextRelID++
	db.tables[name] = &moTable{name: name, relID: m.s.nextRelID, cols: cols}
	return &mysqlwire.Result{}, nil
}

// table finds db.t of the session's account. Caller holds s.mu.
func (m *moSession) table(dbName, name string) (*moTable, *mysqlwire.Error) {
	db := m.account.dbs[dbName]
	if db == nil {
		return nil, moErr(1049, "Unknown database %s", dbName) // rec 160
	}
	t := db.tables[name]
	if t == nil {
		return nil, moErr(1146, "no such table %s.%s", dbName, name)
	}
	return t, nil
}

// literal reads one value of a VALUES tuple or SET: a number (with a
// sign), a string or NULL.
func literal(p *parser) (mysqlwire.Value, *mysqlwire.Error) {
	neg := p.acceptPunct('-')
	t := p.next()
	switch {
	case t.kind == tInt || t.kind == tFloat:
		if neg {
			return mysqlwire.V("-" + t.text), nil
		}
		return mysqlwire.V(t.text), nil
	case t.kind == tString && !neg:
		return mysqlwire.V(t.text), nil
	case t.is("NULL") && !neg:
		return mysqlwire.Null, nil
	}
	return mysqlwire.Value{}, syntaxAt(p, p.i-1)
}

// insertRows: INSERT INTO [db.]t [(cols)] VALUES (...), (...).
func (m *moSession) insertRows(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	if !p.accept("INTO") {
		return nil, errHere(p)
	}
	dbName, name, err := m.qualifiedName(p)
	if err != nil {
		return nil, err.(*mysqlwire.Error)
	}
	var names []string
	if p.acceptPunct('(') {
		for {
			n, e := ident(p)
			if e != nil {
				return nil, e
			}
			names = append(names, strings.ToLower(n))
			if p.acceptPunct(')') {
				break
			}
			if !p.acceptPunct(',') {
				return nil, errHere(p)
			}
		}
	}
	if e := expect(p, "VALUES"); e != nil {
		return nil, e
	}
	var tuples [][]mysqlwire.Value
	for {
		if !p.acceptPunct('(') {
			return nil, errHere(p)
		}
		var row []mysqlwire.Value
		for {
			v, e := literal(p)
			if e != nil {
				return nil, e
			}
			row = append(row, v)
			if p.acceptPunct(')') {
				break
			}
			if !p.acceptPunct(',') {
				return nil, errHere(p)
			}
		}
		tuples = append(tuples, row)
		if !p.acceptPunct(',') {
			break
		}
	}
	if e := end(p); e != nil {
		return nil, e
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	t, e := m.table(dbName, name)
	if e != nil {
		return nil, e
	}
	for _, tu := range tuples {
		row := make([]mysqlwire.Value, len(t.cols))
		for i := range row {
			row[i] = mysqlwire.Null
		}
		if len(t.cols) == 0 { // a table made before columns were kept
			row = tu
		}
		for i, v := range tu {
			ci := i
			if names != nil {
				if i >= len(names) {
					break
				}
				ci = colIndex(t.cols, names[i])
			}
			if ci >= 0 && ci < len(row) {
				row[ci] = v
			}
		}
		t.data = append(t.data, row)
	}
	t.rows += len(tuples)
	t.dirty = len(tuples) > 0 || t.dirty
	return &mysqlwire.Result{AffectedRows: uint64(len(tuples))}, nil
}

func colIndex(cols []moCol, name string) int {
	for i, c := range cols {
		if c.name == name {
			return i
		}
	}
	return -1
}

// rowEnv is one row seen by a WHERE clause, by lower-case column name.
type rowEnv map[string]mysqlwire.Value

func tableEnv(t *moTable, row []mysqlwire.Value) rowEnv {
	env := rowEnv{}
	for i, c := range t.cols {
		if i < len(row) {
			env[c.name] = row[i]
		}
	}
	return env
}

// withMatchedRows ends a DELETE or UPDATE: an optional WHERE expr and the
// end of the statement, then, holding s.mu, the table dbName.name and which
// of its rows the WHERE selects (all without a WHERE) go to change.
func (m *moSession) withMatchedRows(p *parser, dbName, name string,
	change func(t *moTable, hit []bool) (*mysqlwire.Result, *mysqlwire.Error)) (*mysqlwire.Result, *mysqlwire.Error) {
	var where *whereExpr
	if p.accept("WHERE") {
		w, e := parseWhere(p)
		if e != nil {
			return nil, e
		}
		where = w
	}
	if e := end(p); e != nil {
		return nil, e
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	t, e := m.table(dbName, name)
	if e != nil {
		return nil, e
	}
	hit := make([]bool, len(t.data))
	for i, row := range t.data {
		if hit[i], e = where.eval(tableEnv(t, row)); e != nil {
			return nil, e
		}
	}
	return change(t, hit)
}

// deleteRows: DELETE FROM [db.]t [WHERE expr] (rec 97, 107, 150).
func (m *moSession) deleteRows(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	if e := expect(p, "FROM"); e != nil {
		return nil, e
	}
	dbName, name, err := m.qualifiedName(p)
	if err != nil {
		return nil, err.(*mysqlwire.Error)
	}
	return m.withMatchedRows(p, dbName, name, func(t *moTable, hit []bool) (*mysqlwire.Result, *mysqlwire.Error) {
		kept := t.data[:0:0]
		for i, row := range t.data {
			if !hit[i] {
				kept = append(kept, row)
			}
		}
		n := len(t.data) - len(kept)
		t.data = kept
		t.rows = len(kept)
		return &mysqlwire.Result{AffectedRows: uint64(n)}, nil
	})
}

// updateRows: UPDATE [db.]t SET col = literal[, ...] [WHERE expr] (rec 98).
func (m *moSession) updateRows(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	dbName, name, err := m.qualifiedName(p)
	if err != nil {
		return nil, err.(*mysqlwire.Error)
	}
	if e := expect(p, "SET"); e != nil {
		return nil, e
	}
	set := map[string]mysqlwire.Value{}
	for {
		c, e := ident(p)
		if e != nil {
			return nil, e
		}
		if !p.acceptPunct('=') {
			return nil, errHere(p)
		}
		v, e := literal(p)
		if e != nil {
			return nil, e
		}
		set[strings.ToLower(c)] = v
		if !p.acceptPunct(',') {
			break
		}
	}
	return m.withMatchedRows(p, dbName, name, func(t *moTable, hit []bool) (*mysqlwire.Result, *mysqlwire.Error) {
		n := 0
		data := make([][]mysqlwire.Value, len(t.data))
		for i, row := range t.data {
			data[i] = row
			if !hit[i] {
				continue
			}
			nr := append([]mysqlwire.Value(nil), row...)
			for c, v := range set {
				ci := colIndex(t.cols, c)
				if ci < 0 {
					return nil, moErr(20301, "invalid input: column %s does not exist", c)
				}
				nr[ci] = v
			}
			data[i] = nr
			n++
		}
		t.data = data
		return &mysqlwire.Result{AffectedRows: uint64(n)}, nil
	})
}

// numeric reports whether s is a number, and its value.
func numeric(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
