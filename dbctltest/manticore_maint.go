package dbctltest

import (
	"context"
	"sort"
	"strconv"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// The maintenance statements: FLUSH ATTRIBUTES, FLUSH RAMCHUNK, FLUSH
// TABLE and OPTIMIZE.

// flushAttributes saves the attribute updates of every table that is not
// frozen and returns the tag: the number of saves since the start.
func (e *mEngine) flushAttributes() (*mysqlwire.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.sortedNames() {
		t := e.tables[n]
		if t.locked > 0 {
			continue
		}
		for _, c := range t.chunks {
			if c.attrDirty {
				if err := e.st.saveChunkAttrs(t, c); err != nil {
					return nil, mErr("FLUSH ATTRIBUTES: %v", err)
				}
				e.attrTag++
			}
		}
	}
	return &mysqlwire.Result{
		Columns: []mysqlwire.Column{{Name: "tag", Schema: "Manticore", Type: mysqlwire.TypeLong, Flags: mysqlwire.FlagUnsigned, Length: 11}},
		Rows:    textRows([]string{strconv.FormatInt(e.attrTag, 10)}),
	}, nil
}

// flushRAMChunk turns the RAM chunk into a new disk chunk; it waits while
// the table is frozen and is applied after the UNFREEZE, also when its
// client has gone (manticore.md §4.3 and §5.1, measured on 29.2.2: the
// manual's "will report 'success', but no real saving" is not what searchd
// does). A percolate table has no RAM chunk: OK, nothing to do
// (manticore-2.jsonl: "FLUSH RAMCHUNK cap_pq"); a distributed or missing
// table is refused (manticore-2.jsonl: "FLUSH RAMCHUNK cap_dist",
// "FLUSH RAMCHUNK cap_nope").
func (e *mEngine) flushRAMChunk(ctx context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tables[name]; t != nil && t.Type == "percolate" {
		return nil
	}
	if t := e.tables[name]; t == nil || t.Type != "rt" {
		return mErr("FLUSH RAMCHUNK requires an existing RT table")
	}
	t, err := e.waitFrozen(ctx, name)
	if err != nil {
		return err
	}
	if t == nil {
		return mErr("FLUSH RAMCHUNK requires an existing RT table")
	}
	return e.ramToChunk(t)
}

func (e *mEngine) ramToChunk(t *mTable) error {
	if len(t.ram) == 0 {
		return nil
	}
	c := &mChunk{ID: t.NextChunk, Docs: t.ram, Killed: map[int64]bool{}}
	t.NextChunk++
	t.chunks = append(t.chunks, c)
	t.ramReset()
	if err := e.st.saveChunk(t, c); err != nil {
		return mErr("FLUSH RAMCHUNK: %v", err)
	}
	t.ramFile = false
	_ = removeFile(e.st.path(t.Name, "ram"))
	return e.st.saveMeta(t)
}

// flushTable saves the RAM chunk to <t>.ram (FLUSH TABLE / FLUSH RTINDEX).
// On a frozen table it answers OK without saving. A percolate table is
// saved too (manticore-2.jsonl: "FLUSH TABLE cap_pq" is OK); a distributed
// or missing table is refused (manticore-2.jsonl: "FLUSH TABLE cap_dist",
// "FLUSH TABLE cap_nope").
func (e *mEngine) flushTable(name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil || !t.freezable() {
		return mErr("FLUSH RTINDEX requires an existing RT table")
	}
	if t.locked > 0 {
		return nil
	}
	if err := e.saveTable(t); err != nil {
		return mErr("FLUSH RTINDEX: %v", err)
	}
	return nil
}

func (e *mEngine) optimize(name string, cutoff int, sync bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil {
		// manticore-2.jsonl: "OPTIMIZE TABLE cap_nope"
		return mErr("OPTIMIZE TABLE requires an existing RT, distributed, or shard table")
	}
	if t.Type == "distributed" {
		// manticore-2.jsonl: "OPTIMIZE TABLE cap_dist" (refused) and
		// "OPTIMIZE TABLE cap_dist OPTION sync=1" (OK)
		if !sync {
			return mErr("OPTIMIZE TABLE on a distributed table requires OPTION sync=1")
		}
		return nil
	}
	if t.Type == "percolate" {
		// manticore-2.jsonl: "OPTIMIZE TABLE cap_pq" and "... OPTION sync=1"
		// are OK; a percolate table has no disk chunks to merge.
		return nil
	}
	if t.locked > 0 {
		if sync {
			// manticore.md §4.3: "OPTIMIZE TABLE f2 OPTION sync=1" while frozen
			return mErr("Can't optimize frozen table")
		}
		// searchd answers OK (manticore.md §4.3: "OPTIMIZE TABLE f2" while
		// frozen) and drops the job: the chunks never merge, also after the
		// UNFREEZE (issue 18, seen on 29.2.2; src/sphinxrt.cpp
		// RtIndex_c::StartOptimize starts nothing while the table holds a
		// freeze lock, and RtIndex_c::Optimize returns at once while
		// MergeCanRun is false, which LockFileState's StopOptimize makes
		// it). Nothing is queued here either.
		return nil
	}
	if t.foreign {
		return foreignErr(t)
	}
	t.counters["optimize"]++
	target := optimizeTarget(cutoff)
	// Merge the two smallest chunks until at most target remain, and drop
	// killed documents from every chunk rewritten.
	for len(t.chunks) > target {
		sort.Slice(t.chunks, func(i, j int) bool { return t.chunks[i].alive() < t.chunks[j].alive() })
		a, b := t.chunks[0], t.chunks[1]
		merged := &mChunk{ID: t.NextChunk, Killed: map[int64]bool{}}
		t.NextChunk++
		for _, c := range []*mChunk{a, b} {
			for _, d := range c.Docs {
				if !c.Killed[d.ID] {
					merged.Docs = append(merged.Docs, d)
				}
			}
			e.st.removeChunk(t, c)
		}
		t.chunks = append([]*mChunk{merged}, t.chunks[2:]...)
		if err := e.st.saveChunk(t, merged); err != nil {
			return mErr("OPTIMIZE: %v", err)
		}
	}
	sort.Slice(t.chunks, func(i, j int) bool { return t.chunks[i].ID < t.chunks[j].ID })
	return e.st.saveMeta(t)
}
