package dbctltest

import (
	"context"
	"strconv"
	"strings"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

func moSyntaxErr(p *parser, t token) *mysqlwire.Error {
	near := p.rest(t)
	return &mysqlwire.Error{Code: 1064, State: "HY000", Message: "SQL parser error: You have an error in your SQL syntax; check the manual that corresponds to your MatrixOne server version for the right syntax to use. syntax error at line 1 column " + strconv.Itoa(t.pos) + " near \"" + near + "\";"}
}

func (m *moSession) exec(ctx context.Context, q mysqlwire.Query) (*mysqlwire.Result, error) {
	p := newParser(q.SQL, matrixOneLex)
	kw := p.next()
	if res, err, ok := m.recExec(ctx, kw, p, q); ok {
		return res, err
	}
	switch {
	case kw.is("SELECT"):
		return m.selectStmt(ctx, p, q)
	case kw.is("CREATE"):
		switch {
		case p.accept("DATABASE"):
			return m.createDatabase(p)
		} // CREATE TABLE: createTableCols (recExec)
	case kw.is("DROP"):
		switch {
		case p.accept("DATABASE"):
			return m.dropDatabase(p)
		case p.accept("TABLE"):
			return m.dropTable(p)
		}
	case kw.is("INSERT"):
		return m.insert(p)
	case kw.is("USE"):
		t := p.next()
		if t.kind != tIdent {
			return nil, moSyntaxErr(p, t)
		}
		return &mysqlwire.Result{}, m.InitDB(t.text)
	case kw.is("SET"), kw.is("BEGIN"), kw.is("START"), kw.is("COMMIT"), kw.is("ROLLBACK"):
		return &mysqlwire.Result{}, nil
	}
	return nil, moSyntaxErr(p, kw)
}

// qualifiedName reads [db.]name, lower-cased (lower_case_table_names = 1).
func (m *moSession) qualifiedName(p *parser) (db, name string, err error) {
	t := p.next()
	if t.kind != tIdent {
		return "", "", moSyntaxErr(p, t)
	}
	name = strings.ToLower(t.text)
	if p.acceptPunct('.') {
		t = p.next()
		if t.kind != tIdent {
			return "", "", moSyntaxErr(p, t)
		}
		db, name = name, strings.ToLower(t.text)
	}
	if db == "" {
		db = m.db
	}
	if db == "" {
		return "", "", &mysqlwire.Error{Code: 1046, State: "3D000", Message: "No database selected"}
	}
	return db, name, nil
}

func (m *moSession) createDatabase(p *parser) (*mysqlwire.Result, error) {
	ifNot := p.acceptSeq("IF", "NOT", "EXISTS")
	t := p.next()
	if t.kind != tIdent {
		return nil, moSyntaxErr(p, t)
	}
	name := strings.ToLower(t.text)
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.account.dbs[name] != nil {
		if ifNot {
			return &mysqlwire.Result{}, nil
		}
		return nil, moErr(1007, "Can't create database '%s'; database exists", name)
	}
	m.account.dbs[name] = &moDB{name: name, tables: map[string]*moTable{}}
	return &mysqlwire.Result{}, nil
}

func (m *moSession) dropDatabase(p *parser) (*mysqlwire.Result, error) {
	ifExists := p.acceptSeq("IF", "EXISTS")
	t := p.next()
	if t.kind != tIdent {
		return nil, moSyntaxErr(p, t)
	}
	name := strings.ToLower(t.text)
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.account.dbs[name] == nil {
		if ifExists {
			return &mysqlwire.Result{}, nil
		}
		return nil, moErr(1008, "Can't drop database '%s'; database doesn't exist", name)
	}
	delete(m.account.dbs, name)
	if m.db == name {
		m.db = ""
	}
	return &mysqlwire.Result{}, nil
}

func (m *moSession) dropTable(p *parser) (*mysqlwire.Result, error) {
	ifExists := p.acceptSeq("IF", "EXISTS")
	dbName, name, err := m.qualifiedName(p)
	if err != nil {
		return nil, err
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	db := m.account.dbs[dbName]
	if db == nil || db.tables[name] == nil {
		if ifExists {
			return &mysqlwire.Result{}, nil
		}
		return nil, moErr(1051, "Unknown table '%s.%s'", dbName, name)
	}
	delete(db.tables, name)
	return &mysqlwire.Result{}, nil
}

// insert counts the VALUES tuples: the catalog only needs to know that a
// table has unflushed rows.
func (m *moSession) insert(p *parser) (*mysqlwire.Result, error) {
	if !p.accept("INTO") {
		return nil, moSyntaxErr(p, p.peek())
	}
	dbName, name, err := m.qualifiedName(p)
	if err != nil {
		return nil, err
	}
	depth, tuples := 0, 0
	for t := p.next(); t.kind != tEnd; t = p.next() {
		switch {
		case t.isPunct('('):
			if depth == 0 && tuples >= 0 {
				tuples++
			}
			depth++
		case t.isPunct(')'):
			depth--
		case t.is("VALUES"):
			tuples = 0
		}
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	db := m.account.dbs[dbName]
	if db == nil {
		return nil, moErr(1049, "Unknown database '%s'", dbName)
	}
	tbl := db.tables[name]
	if tbl == nil {
		return nil, moErr(1146, "no such table %s.%s", dbName, name)
	}
	tbl.rows += tuples
	tbl.dirty = tuples > 0 || tbl.dirty
	return &mysqlwire.Result{AffectedRows: uint64(tuples)}, nil
}

// selectItem is one expression of a select list.
type selectItem struct {
	fn    string  // function name as typed; "" for a literal or variable
	args  []token // literal arguments
	text  string  // the expression as typed
	alias string
}

func (m *moSession) selectStmt(ctx context.Context, p *parser, q mysqlwire.Query) (*mysqlwire.Result, error) {
	var items []selectItem
	for {
		start := p.peek()
		var it selectItem
		switch {
		case start.isPunct('@'):
			p.next()
			p.acceptPunct('@')
			v := p.next()
			it.text = "@@" + v.text
		case start.kind == tIdent && p.toks[p.i+1].isPunct('('):
			p.next()
			p.next()
			it.fn = start.text
			for !p.acceptPunct(')') {
				a := p.next()
				if a.kind == tEnd {
					return nil, moSyntaxErr(p, a)
				}
				it.args = append(it.args, a)
				p.acceptPunct(',')
			}
			it.text = p.sql[start.pos : p.toks[p.i-1].pos+1]
		case start.kind == tInt || start.kind == tString || start.kind == tFloat:
			p.next()
			it.text = start.text
		case start.kind == tIdent:
			// a column: only the catalog query below has columns
			return m.catalogSelect(p)
		default:
			return nil, moSyntaxErr(p, start)
		}
		if p.accept("AS") {
			it.alias = p.next().text
		}
		items = append(items, it)
		if !p.acceptPunct(',') {
			break
		}
	}
	if !p.atEnd() {
		return nil, moSyntaxErr(p, p.peek())
	}
	res := &mysqlwire.Result{}
	var row []mysqlwire.Value
	for _, it := range items {
		col, val, err := m.evalItem(ctx, it, q)
		if err != nil {
			return nil, err
		}
		res.Columns = append(res.Columns, col)
		row = append(row, val)
	}
	res.Rows = [][]mysqlwire.Value{row}
	return res, nil
}

func (m *moSession) evalItem(ctx context.Context, it selectItem, q mysqlwire.Query) (mysqlwire.Column, mysqlwire.Value, error) {
	name := it.text
	if it.alias != "" {
		name = it.alias
	}
	switch strings.ToLower(it.fn) {
	case "mo_ctl":
		if it.alias == "" {
			name = renderCall(it, q)
		}
		out, err := m.moCtl(ctx, it.args)
		if err != nil {
			return mysqlwire.Column{}, mysqlwire.Value{}, err
		}
		return varchar(name), mysqlwire.V(out), nil
	case "current_account_name":
		return varchar(name), mysqlwire.V(m.account.name), nil
	case "current_user_name":
		return varchar(name), mysqlwire.V(m.user), nil
	case "current_role_name":
		return varchar(name), mysqlwire.V(m.role), nil
	case "user", "current_user":
		return varchar(name), mysqlwire.V(m.user + "@localhost"), nil
	case "database":
		v := mysqlwire.V(m.db)
		if m.db == "" {
			v = mysqlwire.Null
		}
		return varchar(name), v, nil
	case "version":
		return varchar(name), mysqlwire.V(matrixOneVersion), nil
	case "from_unixtime":
		if len(it.args) != 1 {
			return mysqlwire.Column{}, mysqlwire.Value{}, moErr(20105, "not supported: dbctltest emulates from_unixtime(N) only")
		}
		return mysqlwire.Column{Name: name, Type: typeDatetime, Length: 19}, m.fromUnixtime(it.args[0]), nil
	case "current_account_id", "current_user_id", "current_role_id":
		return mysqlwire.Column{Name: name, Type: mysqlwire.TypeLong}, mysqlwire.V(strconv.FormatUint(uint64(m.account.id), 10)), nil
	case "":
		switch strings.ToLower(it.text) {
		case "@@version":
			return mysqlwire.Column{Name: name, Type: mysqlwire.TypeBlob, Length: 0xffffffff}, mysqlwire.V(matrixOneVersion), nil
		case "@@version_comment":
			return varchar(name), mysqlwire.V("MatrixOne"), nil
		case "@@time_zone":
			// column type as @@version's (golden matrixone.jsonl); not captured
			return mysqlwire.Column{Name: name, Type: mysqlwire.TypeBlob, Length: 0xffffffff}, mysqlwire.V(m.timeZoneVar()), nil
		}
		if strings.HasPrefix(it.text, "@@") {
			return varchar(name), mysqlwire.Null, nil
		}
		if _, err := strconv.ParseInt(it.text, 10, 64); err == nil {
			return mysqlwire.Column{Name: name, Type: mysqlwire.TypeLongLong, Flags: mysqlwire.FlagNotNull}, mysqlwire.V(it.text), nil
		}
		return varchar(name), mysqlwire.V(it.text), nil
	}
	return mysqlwire.Column{}, mysqlwire.Value{}, moErr(20105, "not supported: function %s", it.fn)
}

// renderCall is the column name MatrixOne gives a function call: the name as
// typed and the argument values unquoted, joined by ", "; a prepared
// statement shows its placeholders.
func renderCall(it selectItem, q mysqlwire.Query) string {
	if q.Prepared && strings.Contains(q.Template, "?") {
		marks := make([]string, len(it.args))
		for i := range marks {
			marks[i] = "?"
		}
		return it.fn + "(" + strings.Join(marks, ", ") + ")"
	}
	vals := make([]string, len(it.args))
	for i, a := range it.args {
		vals[i] = a.text
	}
	return it.fn + "(" + strings.Join(vals, ", ") + ")"
}

// catalogSelect answers select rel_id|relname from mo_catalog.mo_tables
// where reldatabase = '...' [and relname = '...'] for the session's account.
func (m *moSession) catalogSelect(p *parser) (*mysqlwire.Result, error) {
	var cols []string
	for {
		t := p.next()
		if t.kind != tIdent {
			return nil, moSyntaxErr(p, t)
		}
		cols = append(cols, strings.ToLower(t.text))
		if !p.acceptPunct(',') {
			break
		}
	}
	if !p.accept("FROM") || !p.accept("mo_catalog") || !p.acceptPunct('.') || !p.accept("mo_tables") {
		return nil, &mysqlwire.Error{Code: 20101, State: "HY000", Message: "dbctltest: only mo_catalog.mo_tables can be queried here"}
	}
	where := map[string]string{}
	if p.accept("WHERE") {
		for {
			k := p.next()
			if !p.acceptPunct('=') {
				return nil, moSyntaxErr(p, p.peek())
			}
			v := p.next()
			where[strings.ToLower(k.text)] = v.text
			if !p.accept("AND") {
				break
			}
		}
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	res := &mysqlwire.Result{}
	for _, c := range cols {
		switch c {
		case "rel_id":
			res.Columns = append(res.Columns, mysqlwire.Column{Name: c, Type: mysqlwire.TypeLongLong, Flags: mysqlwire.FlagUnsigned, Length: 20})
		case "relname", "reldatabase":
			res.Columns = append(res.Columns, varchar(c))
		default:
			return nil, moErr(1054, "column '%s' does not exist", c)
		}
	}
	for _, dbName := range sortedKeys(m.account.dbs) {
		if v, ok := where["reldatabase"]; ok && v != dbName {
			continue
		}
		db := m.account.dbs[dbName]
		for _, tn := range sortedKeys(db.tables) {
			if v, ok := where["relname"]; ok && v != tn {
				continue
			}
			var row []mysqlwire.Value
			for _, c := range cols {
				switch c {
				case "rel_id":
					row = append(row, mysqlwire.V(strconv.FormatUint(db.tables[tn].relID, 10)))
				case "relname":
					row = append(row, mysqlwire.V(tn))
				case "reldatabase":
					row = append(row, mysqlwire.V(dbName))
				}
			}
			res.Rows = append(res.Rows, row)
		}
	}
	return res, nil
}
