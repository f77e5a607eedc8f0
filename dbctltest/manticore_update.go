package dbctltest

import (
	"context"
	"strconv"
	"strings"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

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
	} else if t.foreign {
		return nil, foreignErr(t)
	}
	// UPDATE waits while the table is frozen, even for RAM documents
	// (manticore.md §4.3 transcript; see waitFrozen for the source).
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
	if t.foreign {
		return nil, foreignErr(t)
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
