package dbctltest

import (
	"sort"
	"strconv"
	"strings"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

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
	var match *string
	var name string
	var ids []int64
	var hasWhere bool
	var err error
	if p.peek().is("FROM") && p.i+3 < len(p.toks) && p.toks[p.i+2].is("WHERE") && p.toks[p.i+3].is("MATCH") {
		var q string
		if name, q, err = parseMatch(p); err != nil {
			return nil, err
		}
		match = &q
	} else if name, ids, hasWhere, err = e.fromWhere(p); err != nil {
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
	if t.foreign && !(count && !hasWhere && match == nil) {
		return nil, foreignErr(t)
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
	if match != nil {
		var err error
		if docs, err = e.matchDocs(t, docs, *match); err != nil {
			return nil, err
		}
	}
	if count {
		n := len(docs)
		if t.foreign {
			n = t.docCount()
		}
		return &mysqlwire.Result{
			Columns: []mysqlwire.Column{{Name: "count(*)", Schema: "Manticore", Type: mysqlwire.TypeLongLong, Length: 20}},
			Rows:    textRows([]string{strconv.Itoa(n)}),
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

// parseMatch reads "FROM name WHERE MATCH('query')" (the search the tests
// run to check word forms; no capture: manticore_textproc.go).
func parseMatch(p *parser) (name, query string, err error) {
	p.next() // FROM
	if name = strings.ToLower(p.next().text); name == "" {
		return "", "", syntaxErr(p, p.toks[p.i-1])
	}
	p.next() // WHERE
	p.next() // MATCH
	if !p.acceptPunct('(') {
		return "", "", syntaxErr(p, p.peek())
	}
	q := p.next()
	if q.kind != tString || !p.acceptPunct(')') {
		return "", "", syntaxErr(p, q)
	}
	return name, q.text, nil
}
