package dbctltest

import (
	"fmt"
	"os"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

var statsKeys = []string{"insert_replace", "search", "update"}

func (e *mEngine) tableStatus(name string, like *string) (*mysqlwire.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil {
		// manticore-2.jsonl: "SHOW TABLE cap_nope STATUS LIKE 'locked'"
		return nil, mErr("SHOW TABLE STATUS requires an existing table")
	}
	var kv statusRows
	add := kv.add
	if t.Type == "distributed" {
		// manticore-2.jsonl: "SHOW TABLE cap_dist STATUS": table_type and
		// the query statistics only, no "locked" (so "... LIKE 'locked'" is
		// an empty result set).
		add("table_type", t.Type)
		queryStats(t, add)
		return kv.result(like), nil
	}
	diskBytes := 0
	for _, f := range e.st.files(t) {
		if fi, err := os.Stat(f); err == nil {
			diskBytes += int(fi.Size())
		}
	}
	ramBytes := int(t.ramSize())
	add("table_type", t.Type)
	if t.Type == "percolate" {
		add("stored_queries", len(t.Queries))
		add("ram_bytes", ramBytes+4096)
		add("disk_bytes", diskBytes)
		add("max_stack_need", 19528)
		add("average_stack_base", 24576)
		add("desired_thread_stack", 44160)
	} else {
		killed := 0
		for _, c := range t.chunks {
			killed += len(c.Killed)
		}
		docs := t.docCount()
		rate := 0.0
		if docs+killed > 0 {
			rate = 100 * float64(killed) / float64(docs+killed)
		}
		add("indexed_documents", docs)
		add("indexed_bytes", ramBytes/4)
		add("ram_bytes", ramBytes+2800)
		add("disk_bytes", diskBytes)
		for _, k := range []string{"disk_mapped", "disk_mapped_cached", "disk_mapped_doclists", "disk_mapped_cached_doclists", "disk_mapped_hitlists", "disk_mapped_cached_hitlists"} {
			add(k, 0)
		}
		add("killed_documents", killed)
		add("killed_rate", fmt.Sprintf("%.2f%%", rate))
		add("ram_chunk", ramBytes)
		segs := 0
		if len(t.ram) > 0 {
			segs = 1
		}
		add("ram_chunk_segments_count", segs)
		add("disk_chunks", len(t.chunks))
		add("mem_limit", t.memLimit())
		add("mem_limit_rate", "33.33%")
		add("ram_bytes_retired", 0)
		add("optimizing", 0)
	}
	add("locked", t.locked)
	add("tid", t.TID)
	add("tid_saved", t.tidSaved)
	queryStats(t, add)
	return kv.result(like), nil
}

// queryStats adds the rows every table kind ends with (manticore.jsonl:
// "SHOW TABLE gold_a STATUS"; manticore-2.jsonl: "SHOW TABLE cap_pq
// STATUS", "SHOW TABLE cap_dist STATUS").
func queryStats(t *mTable, add func(string, any)) {
	for _, w := range []string{"1min", "5min", "15min", "total"} {
		add("query_time_"+w, `{"queries":0, "avg":"-", "min":"-", "max":"-", "pct95":"-", "pct99":"-"}`)
	}
	for _, w := range []string{"1min", "5min", "15min", "total"} {
		add("found_rows_"+w, `{"queries":0, "avg":"-", "min":"-", "max":"-", "pct95":"-", "pct99":"-"}`)
	}
	t.counters["status"]++
	for _, c := range []string{"search", "excerpt", "update", "keywords", "status", "delete", "insert", "replace", "commit", "suggest", "callpq", "getfield", "shard_write", "optimize"} {
		add("command_"+c, t.counters[c])
	}
	for _, k := range statsKeys {
		n := t.counters[k]
		if k == "insert_replace" {
			n = t.counters["insert"] + t.counters["replace"]
		}
		for _, s := range []string{"avg", "min", "max", "pct95", "pct99"} {
			v := "N/A N/A N/A"
			if n > 0 {
				v = "0.100 0.100 0.100"
			}
			add(k+"_stats_ms_"+s, v)
		}
	}
}

// statusRows are the Variable_name/Value rows of a SHOW ... STATUS.
type statusRows [][2]string

func (kv *statusRows) add(k string, v any) { *kv = append(*kv, [2]string{k, fmt.Sprint(v)}) }

// result renders the rows whose name matches like (all when nil).
func (kv statusRows) result(like *string) *mysqlwire.Result {
	res := &mysqlwire.Result{Columns: charCols("Variable_name", "Value")}
	for _, p := range kv {
		if like != nil && !likeMatch(*like, p[0]) {
			continue
		}
		res.Rows = append(res.Rows, textRows([]string{p[0], p[1]})...)
	}
	return res
}
