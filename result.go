package dbctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// MoCtlResult is the answer of one mo_ctl call.
type MoCtlResult struct {
	// Method is the "method" field, e.g. "Flush", "Checkpoint",
	// "GlobalCheckpoint", "Ping". Empty for answers that are not JSON.
	Method string
	// Result is the "result" field as JSON: an array with one element per
	// TN shard for TN-routed commands, any JSON value for others. Nil for
	// answers that are not JSON.
	Result json.RawMessage
	// Raw is the exact text the server returned (pretty-printed JSON with
	// a trailing newline, or console text for inspect and mergeobjects).
	Raw string
	// JSON is whether the answer was a JSON document {"method": ...,
	// "result": ...}: false for the console text of inspect and
	// mergeobjects, which is only in Raw.
	JSON bool
	// ReturnStrs is the "returnStr" of every element of the result array,
	// in shard order (["OK"] for a flush or checkpoint on one TN shard,
	// matrixone.md §4.3). Nil when the result is not an array of objects
	// that each carry a string returnStr (ping, inspect, CN-local
	// commands); the typed calls that expect it fail with
	// ErrUnexpectedResult and the raw text then.
	ReturnStrs []string

	// elems caches Result decoded as an array of objects (nil until check
	// or returnStrs decoded it, or when it is not one).
	elems []map[string]json.RawMessage
}

// objects decodes Result as an array of objects, once.
func (r *MoCtlResult) objects() ([]map[string]json.RawMessage, bool) {
	if r.elems != nil {
		return r.elems, true
	}
	var elems []map[string]json.RawMessage
	if err := json.Unmarshal(r.Result, &elems); err != nil || elems == nil {
		return nil, false
	}
	r.elems = elems
	return elems, true
}

// returnStrs reads the "returnStr" of every element of the result array,
// in shard order. It fails, with the raw text, when the result is not an
// array of objects that each carry a string returnStr.
func (r *MoCtlResult) returnStrs() ([]string, error) {
	elems, ok := r.objects()
	if !ok {
		return nil, fmt.Errorf("%w: mo_ctl result is not an array of objects: %s", ErrUnexpectedResult, quoteForMessage(r.Raw))
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		v, ok := lookupFold(e, "returnStr")
		var s string
		if !ok || json.Unmarshal(v, &s) != nil {
			return nil, fmt.Errorf("%w: mo_ctl result element without a string returnStr: %s", ErrUnexpectedResult, quoteForMessage(r.Raw))
		}
		out = append(out, s)
	}
	return out, nil
}

// lookupFold finds key in m, exactly first and then case-insensitively, the
// way encoding/json matches struct fields.
func lookupFold(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// decodeMoCtl decodes the text of a mo_ctl answer. Every JSON answer is an
// object {"method": ..., "result": ...}; anything else is reported as
// ErrUnexpectedResult, with the raw text, and the caller decides whether
// non-JSON is acceptable (it is for Exec).
func decodeMoCtl(raw string) (*MoCtlResult, error) {
	r := &MoCtlResult{Raw: raw}
	var doc struct {
		Method *string          `json:"method"`
		Result *json.RawMessage `json:"result"`
	}
	trimmed := strings.TrimSpace(raw)
	if !strings.HasPrefix(trimmed, "{") || json.Unmarshal([]byte(trimmed), &doc) != nil || doc.Method == nil {
		return r, fmt.Errorf("%w: mo_ctl answer is not a JSON object with a method: %s", ErrUnexpectedResult, quoteForMessage(raw))
	}
	r.Method = *doc.Method
	r.JSON = true
	r.Result = json.RawMessage("null")
	if doc.Result != nil {
		r.Result = *doc.Result
	}
	r.ReturnStrs, _ = r.returnStrs()
	return r, nil
}

// check applies the rules every JSON mo_ctl answer must pass: a missing,
// null or empty result array is ErrEmptyResult, and an element whose
// returnStr is not "OK" is ErrMoCtlFailed.
func (r *MoCtlResult) check() error {
	res := bytes.TrimSpace(r.Result)
	if len(res) == 0 || bytes.Equal(res, []byte("null")) {
		return fmt.Errorf("%w: mo_ctl %s returned no result: %s", ErrEmptyResult, r.Method, quoteForMessage(r.Raw))
	}
	if res[0] != '[' {
		return nil // CN-local commands answer with a string or an object.
	}
	objs, isObjects := r.objects()
	if !isObjects {
		// an array of scalars (e.g. tracespan's message strings) carries no
		// status, but it must decode and must not be empty
		var elems []json.RawMessage
		if err := json.Unmarshal(res, &elems); err != nil {
			return fmt.Errorf("%w: mo_ctl result array does not decode: %s", ErrUnexpectedResult, quoteForMessage(r.Raw))
		}
		if len(elems) == 0 {
			return fmt.Errorf("%w: mo_ctl %s returned an empty result array: %s", ErrEmptyResult, r.Method, quoteForMessage(r.Raw))
		}
		return nil
	}
	if len(objs) == 0 {
		return fmt.Errorf("%w: mo_ctl %s returned an empty result array: %s", ErrEmptyResult, r.Method, quoteForMessage(r.Raw))
	}
	for _, obj := range objs {
		v, ok := lookupFold(obj, "returnStr")
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return fmt.Errorf("%w: mo_ctl returnStr is not a string: %s", ErrUnexpectedResult, quoteForMessage(r.Raw))
		}
		if s != "OK" {
			return fmt.Errorf("%w: %s returned %s", ErrMoCtlFailed, r.Method, quoteForMessage(s))
		}
	}
	return nil
}

// Identity is who a MatrixOne session runs as: the answer of "select
// current_account_name(), current_user_name(), current_role_name()"
// (golden matrixone.jsonl record 5).
type Identity struct {
	Account, User, Role string
	// SysAdmin is whether the identity may run mo_ctl: account sys with
	// role moadmin (root and dump on a fresh server), compared
	// case-insensitively.
	SysAdmin bool
}

// TNShard is one element of the answer to mo_ctl('dn', 'ping', ...).
type TNShard struct {
	ServiceAddress string
	ShardID        uint64
	ReplicaID      uint64
	LogShardID     uint64
}

// flexUint64 accepts a JSON number or a decimal string (protobuf's JSON
// form of uint64), so a server that switches between them still parses.
type flexUint64 uint64

func (f *flexUint64) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an unsigned integer: %s", b)
	}
	*f = flexUint64(v)
	return nil
}

func parseTNShards(r *MoCtlResult) ([]TNShard, error) {
	var elems []struct {
		ServiceAddress *string     `json:"serviceAddress"`
		ShardID        *flexUint64 `json:"shardID"`
		ReplicaID      *flexUint64 `json:"replicaID"`
		LogShardID     *flexUint64 `json:"logShardID"`
	}
	if err := json.Unmarshal(r.Result, &elems); err != nil {
		return nil, fmt.Errorf("%w: mo_ctl ping result: %v: %s", ErrUnexpectedResult, err, quoteForMessage(r.Raw))
	}
	out := make([]TNShard, 0, len(elems))
	for _, e := range elems {
		if e.ServiceAddress == nil || e.ShardID == nil {
			return nil, fmt.Errorf("%w: mo_ctl ping element without serviceAddress or shardID: %s", ErrUnexpectedResult, quoteForMessage(r.Raw))
		}
		s := TNShard{ServiceAddress: *e.ServiceAddress, ShardID: uint64(*e.ShardID)}
		if e.ReplicaID != nil {
			s.ReplicaID = uint64(*e.ReplicaID)
		}
		if e.LogShardID != nil {
			s.LogShardID = uint64(*e.LogShardID)
		}
		out = append(out, s)
	}
	return out, nil
}
