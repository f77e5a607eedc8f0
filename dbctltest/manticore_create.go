package dbctltest

import (
	"strings"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

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
	ext := map[string][]string{} // external files: manticore_textproc.go
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
		case "wordforms", "stopwords", "exceptions":
			ext[key] = append(ext[key], strings.Fields(v.text)...)
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
	// The texts are those of src/indexsettings.cpp CheckPaths; the
	// "table ...: CREATE TABLE failed:" prefix is assumed (no capture).
	if err := checkExternal(ext); err != nil {
		return nil, nil, mErr("table '%s': CREATE TABLE failed: %v", name, err)
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
		if err := e.st.copyExternal(t, ext); err != nil {
			return nil, nil, mErr("table '%s': CREATE TABLE failed: %v", name, err)
		}
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
	if err := e.lockTable(t); err != nil {
		return nil, nil, mErr("CREATE TABLE failed: %v", err)
	}
	e.tables[name] = t
	return &mysqlwire.Result{}, t, e.saveState()
}

func (e *mEngine) saveState() error {
	all := e.tables
	if len(e.unserved) > 0 {
		all = map[string]*mTable{}
		for n, t := range e.unserved {
			all[n] = t
		}
		for n, t := range e.tables {
			all[n] = t
		}
	}
	if err := e.st.saveState(all); err != nil {
		return mErr("failed to save manticore.json: %v", err)
	}
	return nil
}
