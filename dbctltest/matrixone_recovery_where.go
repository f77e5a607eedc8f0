package dbctltest

// A WHERE evaluator for the rows the recovery capture reads: user tables
// (rec 102-124), SHOW SNAPSHOTS / SHOW PITR ... WHERE (rec 84-88,
// 240-241), the catalog tables (rec 74, 79, 90-91, 243, 357-358).

import (
	"strings"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// whereExpr is a parsed condition: op is "and", "or", or a comparison
// ("=", "!=", "<", ">", "<=", ">=", "like", "not like") of col with val.
type whereExpr struct {
	op          string
	left, right *whereExpr
	col         string
	val         string
	valIsCol    bool
}

func parseWhere(p *parser) (*whereExpr, *mysqlwire.Error) { return parseOr(p) }

func parseOr(p *parser) (*whereExpr, *mysqlwire.Error) {
	l, e := parseAnd(p)
	for e == nil && p.accept("OR") {
		var r *whereExpr
		if r, e = parseAnd(p); e == nil {
			l = &whereExpr{op: "or", left: l, right: r}
		}
	}
	return l, e
}

func parseAnd(p *parser) (*whereExpr, *mysqlwire.Error) {
	l, e := parseCmp(p)
	for e == nil && p.accept("AND") {
		var r *whereExpr
		if r, e = parseCmp(p); e == nil {
			l = &whereExpr{op: "and", left: l, right: r}
		}
	}
	return l, e
}

func parseCmp(p *parser) (*whereExpr, *mysqlwire.Error) {
	if p.acceptPunct('(') {
		w, e := parseOr(p)
		if e != nil {
			return nil, e
		}
		if !p.acceptPunct(')') {
			return nil, errHere(p)
		}
		return w, nil
	}
	col, e := ident(p)
	if e != nil {
		return nil, e
	}
	w := &whereExpr{col: strings.ToLower(col)}
	switch {
	case p.accept("LIKE"):
		w.op = "like"
	case p.accept("NOT"):
		if e := expect(p, "LIKE"); e != nil {
			return nil, e
		}
		w.op = "not like"
	case p.acceptPunct('='):
		w.op = "="
	case p.acceptPunct('!'):
		if !p.acceptPunct('=') {
			return nil, errHere(p)
		}
		w.op = "!="
	case p.acceptPunct('<'):
		w.op = "<"
		if p.acceptPunct('=') {
			w.op = "<="
		} else if p.acceptPunct('>') {
			w.op = "!="
		}
	case p.acceptPunct('>'):
		w.op = ">"
		if p.acceptPunct('=') {
			w.op = ">="
		}
	default:
		return nil, errHere(p)
	}
	neg := p.acceptPunct('-')
	t := p.next()
	switch t.kind {
	case tInt, tFloat:
		w.val = t.text
		if neg {
			w.val = "-" + t.text
		}
	case tString:
		w.val = t.text
	case tIdent:
		w.val, w.valIsCol = strings.ToLower(t.text), true
	default:
		return nil, syntaxAt(p, p.i-1)
	}
	return w, nil
}

// eval applies the condition to a row; a nil condition holds for every
// row. An unknown column is MatrixOne's 20301 (rec 88).
func (w *whereExpr) eval(env rowEnv) (bool, *mysqlwire.Error) {
	if w == nil {
		return true, nil
	}
	switch w.op {
	case "and", "or":
		l, e := w.left.eval(env)
		if e != nil {
			return false, e
		}
		if (w.op == "and" && !l) || (w.op == "or" && l) {
			return l, nil
		}
		return w.right.eval(env)
	}
	v, ok := env[w.col]
	if !ok {
		return false, moErr(20301, "invalid input: column %s does not exist", w.col)
	}
	want := w.val
	if w.valIsCol {
		o, ok := env[w.val]
		if !ok {
			return false, moErr(20301, "invalid input: column %s does not exist", w.val)
		}
		if o.Null {
			return false, nil
		}
		want = o.S
	}
	if v.Null {
		return false, nil
	}
	switch w.op {
	case "like":
		return sqlLike(v.S, want), nil
	case "not like":
		return !sqlLike(v.S, want), nil
	}
	var c int
	a, aok := numeric(v.S)
	b, bok := numeric(want)
	switch {
	case aok && bok && a < b:
		c = -1
	case aok && bok && a > b:
		c = 1
	case aok && bok:
		c = 0
	default:
		c = strings.Compare(v.S, want)
	}
	switch w.op {
	case "=":
		return c == 0, nil
	case "!=":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	}
	return c >= 0, nil
}

// check reports the first column w names that cols lacks, also when there
// are no rows to evaluate (rec 88).
func (w *whereExpr) check(cols []mysqlwire.Column) *mysqlwire.Error {
	if w == nil {
		return nil
	}
	if w.op == "and" || w.op == "or" {
		if e := w.left.check(cols); e != nil {
			return e
		}
		return w.right.check(cols)
	}
	names := []string{w.col}
	if w.valIsCol {
		names = append(names, w.val)
	}
	for _, n := range names {
		found := false
		for _, c := range cols {
			if strings.EqualFold(c.Name, n) {
				found = true
			}
		}
		if !found {
			return moErr(20301, "invalid input: column %s does not exist", n)
		}
	}
	return nil
}
