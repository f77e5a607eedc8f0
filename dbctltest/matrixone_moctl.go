package dbctltest

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// moCommands maps each emulated mo_ctl command to the service it must be
// sent to: "DN" for TN-routed commands, "" for CN-local ones that ignore the
// service.
var moCommands = map[string]string{
	"PING": "DN", "FLUSH": "DN", "CHECKPOINT": "DN", "GLOBALCHECKPOINT": "DN", "INSPECT": "DN",
	"FORCEGC": "", "GETSNAPSHOT": "", "SYNCCOMMIT": "", "GETPROTOCOLVERSION": "",
	"MERGEOBJECTS": "CN", "TABLE-EXTRA": "CN", "GCCATALOGCACHE": "CN", "MOTABLESTATS": "CN",
}

// wrongServiceCN is how the CN-only commands that check the service
// themselves answer 'dn' (v4.2.0; MoTableStats words it differently).
var wrongServiceCN = map[string]string{
	"TABLE-EXTRA":    "wrong service, expecting CN, got DN",
	"GCCATALOGCACHE": "wrong service, expecting CN, got DN",
	"MOTABLESTATS":   "wrong service, expecting expected CN, got DN",
}

type moReturn struct {
	ReturnStr string `json:"returnStr"`
}

type moPingShard struct {
	ServiceAddress string `json:"serviceAddress"`
	ShardID        uint64 `json:"shardID"`
	ReplicaID      uint64 `json:"replicaID"`
	LogShardID     uint64 `json:"logShardID"`
}

// moJSON renders an answer as MatrixOne does: pretty-printed with two
// spaces and a trailing newline.
func moJSON(method string, result any) string {
	b, _ := json.MarshalIndent(struct {
		Method string `json:"method"`
		Result any    `json:"result"`
	}{method, result}, "", "  ")
	return string(b) + "\n"
}

// moCtl evaluates mo_ctl(service, command, parameter) in the order the
// real server checks: arity, privilege, service, command, then the
// command's own parameter.
func (m *moSession) moCtl(ctx context.Context, args []token) (string, error) {
	if len(args) != 3 {
		types := make([]string, len(args))
		for i, a := range args {
			types[i] = "VARCHAR"
			if a.kind == tInt {
				types[i] = "BIGINT"
			}
		}
		return "", moErr(20203, "invalid argument function mo_ctl, bad value [%s]", strings.Join(types, " "))
	}
	if m.account.name != "sys" || m.role != "moadmin" {
		return "", moErr(20101, "internal error: do not have privilege to execute the statement")
	}
	vals := make([]string, 3)
	for i, a := range args {
		if !a.is("NULL") {
			vals[i] = a.text
		}
	}
	service, command, param := strings.ToUpper(vals[0]), strings.ToUpper(vals[1]), vals[2]
	if service != "DN" && service != "CN" {
		return "", moErr(20105, "not supported: service type %s not supported", service)
	}
	want, ok := moCommands[command]
	if !ok {
		return "", moErr(20105, "not supported: command %s not supported", command)
	}
	if msg, ok := wrongServiceCN[command]; ok && service == "DN" {
		return "", moErr(20424, "%s", msg)
	}
	if want != "" && want != service {
		return "", moErr(20105, "not supported: service %s not supported", service)
	}
	switch command {
	case "FLUSH":
		return m.moFlush(param)
	case "CHECKPOINT", "GLOBALCHECKPOINT":
		return m.moCheckpoint(ctx, command, param)
	case "PING":
		return m.moPing(param)
	case "INSPECT":
		return "\nmsg: " + inspectText(param), nil
	case "MERGEOBJECTS":
		// raw text, not JSON
		return "\nmerged success\n" + param + ", rows 0\n\n", nil
	case "GCCATALOGCACHE":
		return moJSON(command, "GC catalog cache entries older than 20m0s done"), nil
	case "GETSNAPSHOT":
		return moJSON(command, strconv.FormatInt(time.Now().UnixNano(), 10)+"-0"), nil
	case "GETPROTOCOLVERSION":
		return moJSON(command, "dbctltest-cn:9"), nil
	case "SYNCCOMMIT":
		return moJSON(command, "sync 1 cn services's commit ts to "+strconv.FormatInt(time.Now().UnixNano(), 10)+"-0"), nil
	}
	return moJSON(command, "OK"), nil
}

func inspectText(param string) string {
	if strings.TrimSpace(param) == "" {
		return "Usage:\n  inspect [command]\n\nAvailable Commands:\n  catalog       show catalog\n  object        show object\n"
	}
	return param + " verbose 0\n"
}

// moFlush resolves "tableId", "db.table" or "db.table.accountId" the way
// v4.2.0 does: split on '.', no unquoting, names matched byte for byte
// against the stored lower-case catalog; an unknown database or account is
// the errno-0 ExpectedEOB packet, an unknown table 1146, an unknown numeric
// id is OK.
func (m *moSession) moFlush(param string) (string, error) {
	ok := moJSON("Flush", []moReturn{{"OK"}})
	parts := strings.Split(param, ".")
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	account := m.account
	switch len(parts) {
	case 1:
		id, err := strconv.ParseUint(param, 10, 64)
		if err != nil {
			return "", moErr(20101, "internal error: handleFlush: table id parse fail")
		}
		for _, a := range m.s.accounts {
			for _, db := range a.dbs {
				for _, t := range db.tables {
					if t.relID == id {
						t.dirty = false
					}
				}
			}
		}
		return ok, nil
	case 2:
	case 3:
		id, err := strconv.ParseUint(parts[2], 0, 32)
		if err != nil {
			return "", moErr(20101, "internal error: handleFlush: invalid account id")
		}
		account = nil
		for _, a := range m.s.accounts {
			if uint64(a.id) == id {
				account = a
			}
		}
		if account == nil {
			return "", expectedEOB
		}
	default:
		return "", moErr(20101, `internal error: handleFlush: expected "TableId" or "DbName.TableName[.AccountId]" `)
	}
	db := account.dbs[parts[0]]
	if db == nil {
		return "", expectedEOB
	}
	t := db.tables[parts[1]]
	if t == nil {
		return "", moErr(1146, "no such table %s.%s", parts[0], parts[1])
	}
	t.dirty = false
	return ok, nil
}

// moCheckpoint takes "" (or "0") for the default timeout of 90 s, or a Go
// duration that bounds the TN-side work (matrixone.md §5: cmd_checkpoint.go
// passes it to the TN's HandleForceCheckpoint, default 90 s; §6.6 and
// Appendix C: "1ns" and "-5s" answer 20101 "internal error: force flush
// failed: context deadline exceeded", "0" the default, "abc" 1105 "time:
// invalid duration"; golden matrixone.jsonl record 33 has the text without
// "force flush failed:", see checkpointTimeoutErr). The work takes
// SetCheckpointDuration (2 ms by
// default); a timeout shorter than that gives up when it runs out and
// answers the timeout error. The TN's clock runs on the server: a client
// that leaves meanwhile does not stop it (ctx is the server's).
func (m *moSession) moCheckpoint(ctx context.Context, command, param string) (string, error) {
	method := "Checkpoint"
	if command == "GLOBALCHECKPOINT" {
		method = "GlobalCheckpoint"
	}
	timeout := 90 * time.Second
	if param != "" && param != "0" {
		d, err := time.ParseDuration(param)
		if err != nil {
			return "", moErr(1105, "%s", err.Error())
		}
		timeout = d
	}
	m.s.mu.Lock()
	work := m.s.checkpointWork
	m.s.mu.Unlock()
	if timeout < work {
		if timeout > 0 {
			sleepCtx(ctx, timeout)
		}
		return "", m.s.checkpointTimeoutErr()
	}
	sleepCtx(ctx, work)
	m.s.mu.Lock()
	for _, a := range m.s.accounts {
		for _, db := range a.dbs {
			for _, t := range db.tables {
				t.dirty = false
			}
		}
	}
	m.s.mu.Unlock()
	return moJSON(method, []moReturn{{"OK"}}), nil
}

func (m *moSession) moPing(param string) (string, error) {
	shard := moPingShard{ServiceAddress: "127.0.0.1:22000", ShardID: 2, ReplicaID: 262146, LogShardID: 1}
	if param == "" {
		return moJSON("Ping", []moPingShard{shard}), nil
	}
	id, err := strconv.ParseUint(param, 10, 64)
	if err != nil {
		return "", moErr(20101, "internal error: convert go error to mo error %s", err.Error())
	}
	if id != shard.ShardID {
		return moJSON("Ping", []moPingShard{}), nil
	}
	return moJSON("Ping", []moPingShard{shard}), nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// SetCheckpointDuration sets how long a checkpoint (incremental or global)
// takes on the emulated TN; a timeout parameter shorter than d makes it
// give up after that timeout with the server's timeout error (see
// moCheckpoint). Default 2 ms.
func (s *MatrixOne) SetCheckpointDuration(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkpointWork = d
}

// checkpointTimeoutErr is the answer of a checkpoint whose timeout ran out:
// "force flush failed: context deadline exceeded" when there were rows to
// flush (matrixone.md Appendix C D2 and K3, each right after an insert),
// "context deadline exceeded" alone when there were none (golden
// matrixone.jsonl record 33).
func (s *MatrixOne) checkpointTimeoutErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		for _, db := range a.dbs {
			for _, t := range db.tables {
				if t.dirty {
					return moErr(20101, "internal error: force flush failed: context deadline exceeded")
				}
			}
		}
	}
	return moErr(20101, "internal error: context deadline exceeded")
}
