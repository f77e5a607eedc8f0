package dbctltest

import (
	"sort"
	"strconv"
	"strings"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// A small SELECT engine for the statements the
// recovery capture reads rows with: user tables (rec 102-124), SHOW
// SNAPSHOTS / SHOW PITR ... WHERE (rec 84-88, 240-241), mo_catalog.
// mo_snapshots and mo_pitr (rec 74, 79, 90-91, 175, 243, 357-358) and
// information_schema.columns (rec 39-40).

// relation is a table the SELECT engine reads: its columns and rows.
type relation struct {
	cols []mysqlwire.Column
	rows [][]mysqlwire.Value
}

func (r *relation) env(row []mysqlwire.Value) rowEnv {
	env := rowEnv{}
	for i, c := range r.cols {
		env[strings.ToLower(c.Name)] = row[i]
	}
	return env
}

// filter keeps the rows where w holds.
func (r *relation) filter(w *whereExpr) (*relation, *mysqlwire.Error) {
	if e := w.check(r.cols); e != nil {
		return nil, e
	}
	out := &relation{cols: r.cols}
	for _, row := range r.rows {
		ok, e := w.eval(r.env(row))
		if e != nil {
			return nil, e
		}
		if ok {
			out.rows = append(out.rows, row)
		}
	}
	return out, nil
}

// selItem is one item of a select list.
type selItem struct {
	star  bool
	fn    string // "count", "length" or ""
	col   string
	name  string // the result column's name: the text as typed
	alias string
}

// selectRows answers SELECT ... FROM <table> for user tables and the
// virtual catalog tables; handled is false for the statements the base
// emulation answers (no FROM, or mo_catalog.mo_tables).
func (m *moSession) selectRows(p *parser) (*mysqlwire.Result, *mysqlwire.Error, bool) {
	start := p.i
	if p.peek().is("now") && p.toks[p.i+1].isPunct('(') && p.toks[p.i+2].isPunct(')') && p.toks[p.i+3].kind == tEnd {
		// select now(): TIMESTAMP in the session zone (rec 252).
		return &mysqlwire.Result{Columns: []mysqlwire.Column{{Name: "now()", Type: typeTimestamp, Length: 26, Decimals: 6}},
			Rows: [][]mysqlwire.Value{{mysqlwire.V(m.nowText())}}}, nil, true
	}
	from := -1
	depth := 0
	for i := p.i; p.toks[i].kind != tEnd; i++ {
		t := p.toks[i]
		if t.isPunct('(') {
			depth++
		} else if t.isPunct(')') {
			depth--
		} else if depth == 0 && t.is("FROM") {
			from = i
			break
		}
	}
	if from < 0 {
		return nil, nil, false
	}
	if p.toks[from+1].isPunct('(') {
		// a SHOW cannot be a subquery (rec 87, 242)
		return nil, syntaxAt(p, from+2), true
	}
	if p.toks[from+1].is("mo_catalog") && p.toks[from+3].is("mo_tables") {
		return nil, nil, false
	}
	var items []selItem
	for {
		t := p.peek()
		it := selItem{}
		switch {
		case t.isPunct('*'):
			p.next()
			it.star = true
		case t.kind == tIdent && p.toks[p.i+1].isPunct('('):
			fn := strings.ToLower(p.next().text)
			p.next()
			switch {
			case fn == "count" && p.acceptPunct('*'):
				it.fn = "count"
			case fn == "length" && p.peek().kind == tIdent:
				it.fn, it.col = "length", strings.ToLower(p.next().text)
			default:
				return nil, moErr(20105, "not supported: dbctltest does not emulate %s() here", fn), true
			}
			if !p.acceptPunct(')') {
				return nil, errHere(p), true
			}
			it.name = p.sql[t.pos : p.toks[p.i-1].pos+1]
		case t.kind == tIdent:
			p.next()
			it.col, it.name = strings.ToLower(t.text), t.text
		default:
			return nil, errHere(p), true
		}
		if p.accept("AS") {
			a, e := ident(p)
			if e != nil {
				return nil, e, true
			}
			it.alias = a
		}
		items = append(items, it)
		if !p.acceptPunct(',') {
			break
		}
	}
	if p.i != from {
		return nil, errHere(p), true
	}
	p.next()
	rel, e := m.relationAt(p)
	if e != nil {
		return nil, e, true
	}
	if p.accept("WHERE") {
		w, e := parseWhere(p)
		if e != nil {
			return nil, e, true
		}
		if rel, e = rel.filter(w); e != nil {
			return nil, e, true
		}
	}
	if p.accept("ORDER") {
		if e := expect(p, "BY"); e != nil {
			return nil, e, true
		}
		c, e := ident(p)
		if e != nil {
			return nil, e, true
		}
		desc := p.accept("DESC")
		if !desc {
			p.accept("ASC")
		}
		if e := rel.sortBy(strings.ToLower(c), desc); e != nil {
			return nil, e, true
		}
	}
	if e := end(p); e != nil {
		return nil, e, true
	}
	_ = start
	res, e := project(rel, items)
	return res, e, true
}

func (r *relation) sortBy(col string, desc bool) *mysqlwire.Error {
	ci := -1
	for i, c := range r.cols {
		if strings.EqualFold(c.Name, col) {
			ci = i
		}
	}
	if ci < 0 {
		return moErr(20301, "invalid input: column %s does not exist", col)
	}
	sort.SliceStable(r.rows, func(i, j int) bool {
		a, b := r.rows[i][ci], r.rows[j][ci]
		x, xok := numeric(a.S)
		y, yok := numeric(b.S)
		less := a.S < b.S
		if xok && yok {
			less = x < y
		}
		if desc {
			return !less && a.S != b.S
		}
		return less
	})
	return nil
}

// project evaluates the select list.
func project(rel *relation, items []selItem) (*mysqlwire.Result, *mysqlwire.Error) {
	res := &mysqlwire.Result{Columns: []mysqlwire.Column{}}
	index := func(name string) int {
		for i, c := range rel.cols {
			if strings.EqualFold(c.Name, name) {
				return i
			}
		}
		return -1
	}
	type getter func(row []mysqlwire.Value) mysqlwire.Value
	var gets []getter
	aggregate := false
	for _, it := range items {
		switch {
		case it.star:
			for i, c := range rel.cols {
				res.Columns = append(res.Columns, c)
				gets = append(gets, func(row []mysqlwire.Value) mysqlwire.Value { return row[i] })
			}
			continue
		case it.fn == "count":
			aggregate = true
			res.Columns = append(res.Columns, colBigint(nameOf(it)))
			gets = append(gets, nil)
			continue
		}
		ci := index(it.col)
		if ci < 0 {
			return nil, moErr(20301, "invalid input: column %s does not exist", it.col)
		}
		if it.fn == "length" {
			res.Columns = append(res.Columns, colBigint(nameOf(it)))
			gets = append(gets, func(row []mysqlwire.Value) mysqlwire.Value {
				if row[ci].Null {
					return mysqlwire.Null
				}
				return mysqlwire.V(strconv.Itoa(len([]rune(row[ci].S))))
			})
			continue
		}
		c := rel.cols[ci]
		c.Name = nameOf(it)
		res.Columns = append(res.Columns, c)
		gets = append(gets, func(row []mysqlwire.Value) mysqlwire.Value { return row[ci] })
	}
	if aggregate {
		row := make([]mysqlwire.Value, len(gets))
		for i, g := range gets {
			if g == nil {
				row[i] = mysqlwire.V(strconv.Itoa(len(rel.rows)))
			} else if len(rel.rows) > 0 {
				row[i] = g(rel.rows[0])
			} else {
				row[i] = mysqlwire.Null
			}
		}
		res.Rows = [][]mysqlwire.Value{row}
		return res, nil
	}
	for _, r := range rel.rows {
		row := make([]mysqlwire.Value, len(gets))
		for i, g := range gets {
			row[i] = g(r)
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

func nameOf(it selItem) string {
	if it.alias != "" {
		return it.alias
	}
	return it.name
}

// relationAt reads the FROM table: information_schema.columns,
// mo_catalog.mo_snapshots, mo_catalog.mo_pitr, or a user table.
func (m *moSession) relationAt(p *parser) (*relation, *mysqlwire.Error) {
	a, e := ident(p)
	if e != nil {
		return nil, e
	}
	dbName, name := m.db, strings.ToLower(a)
	if p.acceptPunct('.') {
		b, e := ident(p)
		if e != nil {
			return nil, e
		}
		dbName, name = strings.ToLower(a), strings.ToLower(b)
	}
	switch {
	case dbName == "information_schema" && name == "columns":
		return infoSchemaColumns(), nil
	case dbName == "mo_catalog" && name == "mo_snapshots":
		if !m.recAllowed() {
			return nil, moPrivErr // rec 200
		}
		return m.moSnapshotsRelation(), nil
	case dbName == "mo_catalog" && name == "mo_pitr":
		if !m.isSys() || !m.recAllowed() {
			return nil, moPrivErr // tenants: not captured (md §2: the table lives in sys)
		}
		return m.moPITRRelation(), nil
	}
	if dbName == "" {
		return nil, &mysqlwire.Error{Code: 1046, State: "3D000", Message: "No database selected"}
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	t, e := m.table(dbName, name)
	if e != nil {
		return nil, e
	}
	rel := &relation{}
	for _, c := range t.cols {
		rel.cols = append(rel.cols, c.col)
	}
	rel.rows = append(rel.rows, t.data...)
	return rel, nil
}

// infoSchemaColumns holds the columns of the two catalog tables behind the
// recovery statements, as the server listed them (rec 39-40).
func infoSchemaColumns() *relation {
	rel := &relation{cols: []mysqlwire.Column{varchar("table_schema"), varchar("table_name"), varchar("column_name"),
		varchar("data_type"), colBigint("character_maximum_length"), colBigint("ordinal_position")}}
	add := func(table string, cols ...string) {
		for i := 0; i < len(cols); i += 3 {
			l := mysqlwire.Null
			if cols[i+2] != "" {
				l = mysqlwire.V(cols[i+2])
			}
			rel.rows = append(rel.rows, []mysqlwire.Value{mysqlwire.V("mo_catalog"), mysqlwire.V(table),
				mysqlwire.V(cols[i]), mysqlwire.V(cols[i+1]), l, mysqlwire.V(strconv.Itoa(i/3 + 1))})
		}
	}
	add("mo_snapshots", "snapshot_id", "UUID", "", "sname", "VARCHAR", "64", "ts", "BIGINT", "", "level", "ENUM", "",
		"account_name", "VARCHAR", "300", "database_name", "VARCHAR", "5000", "table_name", "VARCHAR", "5000",
		"obj_id", "BIGINT UNSIGNED", "", "kind", "VARCHAR", "32")
	add("mo_pitr", "pitr_id", "UUID", "", "pitr_name", "VARCHAR", "5000", "create_account", "BIGINT UNSIGNED", "",
		"create_time", "BIGINT", "", "modified_time", "BIGINT", "", "level", "VARCHAR", "10",
		"account_id", "BIGINT UNSIGNED", "", "account_name", "VARCHAR", "300", "database_name", "VARCHAR", "5000",
		"table_name", "VARCHAR", "5000", "obj_id", "BIGINT UNSIGNED", "", "pitr_length", "TINYINT UNSIGNED", "",
		"pitr_unit", "VARCHAR", "10", "pitr_status", "TINYINT UNSIGNED", "", "pitr_status_changed_time", "BIGINT", "",
		"kind", "VARCHAR", "32", "__mo_cpkey_col", "VARCHAR", "65535")
	return rel
}
