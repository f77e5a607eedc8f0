package dbctltest

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// exec runs one statement and returns its result and the warnings it
// raised (for SHOW WARNINGS).
func (e *mEngine) exec(ctx context.Context, sql string) (*mysqlwire.Result, []warning, error) {
	p := newParser(sql, manticoreLex)
	first := p.peek()
	switch {
	case first.is("FREEZE"), first.is("UNFREEZE"):
		names, like, err := parseFreeze(p)
		if err != nil {
			return nil, nil, err
		}
		if first.is("UNFREEZE") {
			return e.unfreeze(names), nil, nil
		}
		return e.freeze(names, like)
	case first.is("CREATE"):
		p.next()
		return e.createTable(p)
	}
	res, err := e.dispatch(ctx, p)
	return res, nil, err
}

func (e *mEngine) dispatch(ctx context.Context, p *parser) (*mysqlwire.Result, error) {
	kw := p.next()
	switch {
	case kw.is("SHOW"):
		return e.show(p)
	case kw.is("FLUSH"):
		return e.flush(ctx, p)
	case kw.is("OPTIMIZE"):
		return e.optimizeStmt(p)
	case kw.is("DROP"):
		return e.dropTable(p)
	case kw.is("TRUNCATE"):
		return e.truncate(p)
	case kw.is("ALTER"):
		return &mysqlwire.Result{}, nil
	case kw.is("INSERT"), kw.is("REPLACE"):
		return e.insert(ctx, p, kw.is("REPLACE"))
	case kw.is("UPDATE"):
		return e.update(ctx, p)
	case kw.is("DELETE"):
		return e.delete(ctx, p)
	case kw.is("SELECT"):
		return e.selectStmt(p)
	case kw.is("DESCRIBE"), kw.is("DESC"):
		return e.describe(p)
	case kw.is("IMPORT"):
		return e.importTable(p)
	case kw.is("SET"), kw.is("BEGIN"), kw.is("COMMIT"), kw.is("ROLLBACK"):
		return &mysqlwire.Result{}, nil
	case kw.is("KILL"):
		return nil, mErr("Unknown connection id: %s", p.next().text)
	}
	return nil, mErr("P02: syntax error, unexpected %s near '%s'", tokenName(kw), p.rest(kw))
}

// tokenName is how Manticore's parsers name a token in "unexpected X".
func tokenName(t token) string {
	switch t.kind {
	case tEnd, tHigh:
		return "$end"
	case tIdent:
		if t.is("LIKE") {
			return "LIKE"
		}
		return "identifier"
	case tString:
		return "string"
	case tInt:
		return "CONST_INT"
	case tFloat:
		return "CONST_FLOAT"
	case tSubkey:
		return "BACKTICKED_SUBKEY"
	case tBadNum:
		return "integer"
	}
	return "invalid token"
}

// storesBounds reports whether the lexer records a token as the start of
// the "near" text: single characters and the end do not (so the text starts
// at the token before them).
func storesBounds(t token) bool {
	switch t.kind {
	case tEnd, tHigh, tPunct, tBadQuote:
		return false
	}
	return true
}

// parseFreeze parses "FREEZE t1[, t2 ...] [LIKE 'pattern']" and "UNFREEZE
// t1[, t2 ...]" with the error messages of Manticore's second grammar (P02).
// In the table list every word is a name (FREEZE TABLE t names a table
// "table"); names are lower-cased.
func parseFreeze(p *parser) ([]string, *string, error) {
	head := p.next()
	allowLike := head.is("FREEZE")
	near := head
	fail := func(t token, expecting string) error {
		if storesBounds(t) {
			near = t
		}
		msg := "P02: syntax error, unexpected " + tokenName(t)
		if expecting != "" {
			msg += ", expecting " + expecting
		}
		return mErr("%s near '%s'", msg, p.sql[near.pos:])
	}
	var names []string
	var like *string
	for {
		t := p.next()
		if t.kind != tIdent || (t.is("LIKE") && !t.quoted) {
			return nil, nil, fail(t, "")
		}
		near = t
		names = append(names, strings.ToLower(t.text))
		t = p.next()
		switch {
		case t.kind == tEnd:
			return names, like, nil
		case t.isPunct(','):
			continue
		case allowLike && t.is("LIKE"):
			near = t
			s := p.next()
			if s.kind != tString {
				return nil, nil, fail(s, "string")
			}
			near = s
			pat := s.text
			like = &pat
			if end := p.next(); end.kind != tEnd {
				return nil, nil, fail(end, "$end")
			}
			return names, like, nil
		default:
			return nil, nil, fail(t, "$end")
		}
	}
}

// ddlSyntaxErr is a syntax error of searchd's DDL grammar (src/ddl.y,
// which parses statements starting with CREATE, ALTER, DROP, JOIN and
// IMPORT: src/sphinxql.l TOK_DDLCLAUSE), prefixed "P03:" (manticore.md
// §4.7). The text after "unexpected" is written as the other grammars
// write it; no capture shows an IMPORT TABLE parse error.
func ddlSyntaxErr(p *parser, t token) error {
	return mErr("P03: syntax error, unexpected %s near '%s'", tokenName(t), p.rest(t))
}

func syntaxErr(p *parser, t token) error {
	return mErr("P01: syntax error, unexpected %s near '%s'", tokenName(t), p.rest(t))
}

// tableName reads one table name (lower-cased).
func (e *mEngine) tableName(p *parser) (string, error) {
	t := p.next()
	if t.kind != tIdent {
		return "", syntaxErr(p, t)
	}
	return strings.ToLower(t.text), nil
}

func (e *mEngine) optLike(p *parser) (*string, error) {
	if !p.accept("LIKE") {
		return nil, nil
	}
	t := p.next()
	if t.kind != tString {
		return nil, syntaxErr(p, t)
	}
	return &t.text, nil
}

func (e *mEngine) show(p *parser) (*mysqlwire.Result, error) {
	t := p.next()
	switch {
	case t.is("LOCKS"):
		return e.showLocks(), nil
	case t.is("TABLES"):
		like, err := e.optLike(p)
		if err != nil {
			return nil, err
		}
		return e.showTables(like), nil
	case t.is("TABLE"), t.is("INDEX"):
		name, err := e.tableName(p)
		if err != nil {
			return nil, err
		}
		if !p.accept("STATUS") {
			return nil, syntaxErr(p, p.peek())
		}
		like, err := e.optLike(p)
		if err != nil {
			return nil, err
		}
		return e.tableStatus(name, like)
	case t.is("STATUS"):
		like, err := e.optLike(p)
		if err != nil {
			return nil, err
		}
		return e.showStatus(like), nil
	case t.is("VARIABLES"):
		like, err := e.optLike(p)
		if err != nil {
			return nil, err
		}
		return e.showVariables(like), nil
	case t.is("SETTINGS"):
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.conf.showSettings(), nil
	case t.is("META"):
		return &mysqlwire.Result{Columns: charCols("Variable_name", "Value"), Rows: textRows([]string{"total", "0"})}, nil
	}
	return nil, mErr("P01: syntax error, unexpected %s, expecting VARIABLES near '%s'", tokenName(t), p.rest(t))
}

// showStatus answers SHOW STATUS [LIKE 'p'] with a few counters; version
// as 29.2.2 reports it (manticore-2.jsonl and manticore.jsonl: "SHOW STATUS
// LIKE 'version'"). The other counters rest on manticore.md §4.5; uptime
// (§4.8: "SHOW STATUS LIKE 'uptime'") is whole seconds since the daemon
// started, as src/searchd.cpp BuildStatus computes it (time(nullptr) minus
// m_uStarted), so it restarts at 0 when the server restarts.
func (e *mEngine) showStatus(like *string) *mysqlwire.Result {
	e.mu.Lock()
	uptime := int(time.Since(e.started).Seconds())
	e.mu.Unlock()
	res := &mysqlwire.Result{Columns: charCols("Counter", "Value")}
	for _, kv := range [][2]string{{"uptime", strconv.Itoa(uptime)}, {"connections", "1"}, {"version", manticoreVersion}, {"mysql_version", manticoreVersion}} {
		if like == nil || likeMatch(*like, kv[0]) {
			res.Rows = append(res.Rows, textRows([]string{kv[0], kv[1]})...)
		}
	}
	return res
}

// showVariables answers SHOW VARIABLES [LIKE 'p']. searchd has no data_dir
// variable: "SHOW VARIABLES LIKE 'data_dir'" is an empty result set
// (manticore-2.jsonl); SHOW SETTINGS says where data_dir is.
func (e *mEngine) showVariables(like *string) *mysqlwire.Result {
	res := &mysqlwire.Result{Columns: charCols("Variable_name", "Value")}
	for _, kv := range [][2]string{{"autocommit", "1"}, {"character_set_client", "utf8"}, {"character_set_connection", "utf8"}, {"version", manticoreVersion}} {
		if like == nil || likeMatch(*like, kv[0]) {
			res.Rows = append(res.Rows, textRows([]string{kv[0], kv[1]})...)
		}
	}
	return res
}

func (e *mEngine) flush(ctx context.Context, p *parser) (*mysqlwire.Result, error) {
	t := p.next()
	switch {
	case t.is("ATTRIBUTES"):
		return e.flushAttributes()
	case t.is("HOSTNAMES"), t.is("LOGS"):
		return &mysqlwire.Result{}, nil
	case t.is("RAMCHUNK"):
		name, err := e.tableName(p)
		if err != nil {
			return nil, err
		}
		return &mysqlwire.Result{}, e.flushRAMChunk(ctx, name)
	case t.is("TABLE"), t.is("RTINDEX"):
		name, err := e.tableName(p)
		if err != nil {
			return nil, err
		}
		return &mysqlwire.Result{}, e.flushTable(name)
	}
	return nil, syntaxErr(p, t)
}

func (e *mEngine) optimizeStmt(p *parser) (*mysqlwire.Result, error) {
	if !p.accept("TABLE") && !p.accept("INDEX") {
		return nil, syntaxErr(p, p.peek())
	}
	name, err := e.tableName(p)
	if err != nil {
		return nil, err
	}
	opts, err := parseOptions(p)
	if err != nil {
		return nil, err
	}
	cutoff, _ := strconv.Atoi(opts["cutoff"])
	return &mysqlwire.Result{}, e.optimize(name, cutoff, opts["sync"] == "1")
}

// parseOptions reads "OPTION k=v[, k=v ...]".
func parseOptions(p *parser) (map[string]string, error) {
	opts := map[string]string{}
	if !p.accept("OPTION") {
		if !p.atEnd() {
			return nil, syntaxErr(p, p.peek())
		}
		return opts, nil
	}
	for {
		k := p.next()
		if k.kind != tIdent || !p.acceptPunct('=') {
			return nil, syntaxErr(p, k)
		}
		v := p.next()
		opts[strings.ToLower(k.text)] = v.text
		if !p.acceptPunct(',') {
			break
		}
	}
	if !p.atEnd() {
		return nil, syntaxErr(p, p.peek())
	}
	return opts, nil
}

// likeMatch is SQL LIKE with % and _ (case-insensitive, as Manticore).
func likeMatch(pattern, s string) bool {
	pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	var match func(p, s string) bool
	match = func(p, s string) bool {
		for len(p) > 0 {
			switch p[0] {
			case '%':
				for i := 0; i <= len(s); i++ {
					if match(p[1:], s[i:]) {
						return true
					}
				}
				return false
			case '_':
				if s == "" {
					return false
				}
			case '\\':
				if len(p) > 1 {
					p = p[1:]
				}
				fallthrough
			default:
				if s == "" || s[0] != p[0] {
					return false
				}
			}
			p, s = p[1:], s[1:]
		}
		return s == ""
	}
	return match(pattern, s)
}
