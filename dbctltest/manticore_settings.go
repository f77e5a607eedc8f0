package dbctltest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// The emulated searchd has a server root: the folder of its configuration
// file, as a packaged searchd has /etc/manticoresearch/manticore.conf.
// It is a temporary folder of its own (never inside data_dir), holding
// manticore.conf, searchd.pid, searchd.log and query.log, and is removed on
// Close. SHOW SETTINGS reports it (manticore-2.jsonl: "SHOW SETTINGS",
// configuration_file = {server_root}/manticore.conf).

// serverConf is what SHOW SETTINGS reports.
type serverConf struct {
	root    string // folder of manticore.conf
	dataDir string
	listen  string // host:port of the MySQL listener
}

func (c serverConf) configFile() string { return filepath.Join(c.root, "manticore.conf") }

// httpListen is the HTTP listener the configuration declares, as a
// packaged searchd's does (manticore-2.jsonl: "SHOW SETTINGS" lists a
// mysql41 and an http listen line). The emulator does not serve HTTP.
const httpListen = "127.0.0.1:9308:http"

// pluginDir is searchd's compiled-in default (manticore-2.jsonl: "SHOW
// SETTINGS", common.plugin_dir).
const pluginDir = "/usr/local/lib/manticore"

// write creates the files of the server root: the configuration (RT mode:
// data_dir and no table sections), the pid file and empty logs.
func (c serverConf) write() error {
	conf := fmt.Sprintf(`# written by dbctltest: an embedded Manticore Search (RT mode)
searchd {
    listen = %s:mysql41
    listen = %s
    data_dir = %s
    pid_file = %s
    log = %s
    query_log = %s
    binlog_path = %s
}
`, c.listen, httpListen, c.dataDir, filepath.Join(c.root, "searchd.pid"), filepath.Join(c.root, "searchd.log"),
		filepath.Join(c.root, "query.log"), filepath.Join(c.dataDir, "binlog"))
	files := map[string]string{
		"manticore.conf": conf,
		"searchd.pid":    strconv.Itoa(os.Getpid()) + "\n",
		"searchd.log":    "",
		"query.log":      "",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(c.root, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// showSettings answers SHOW SETTINGS with the rows, names and order of
// manticore-2.jsonl: "SHOW SETTINGS" (a volatile record: values are this
// server's own).
func (c serverConf) showSettings() *mysqlwire.Result {
	res := &mysqlwire.Result{Columns: charCols("Setting_name", "Value")}
	for _, kv := range [][2]string{
		{"configuration_file", c.configFile()},
		{"worker_pid", strconv.Itoa(os.Getpid())},
		{"searchd.listen", c.listen + ":mysql41"},
		{"searchd.listen", httpListen},
		{"searchd.data_dir", c.dataDir},
		{"searchd.pid_file", filepath.Join(c.root, "searchd.pid")},
		{"searchd.log", filepath.Join(c.root, "searchd.log")},
		{"searchd.query_log", filepath.Join(c.root, "query.log")},
		{"searchd.buddy_path", ""},
		{"searchd.binlog_path", filepath.Join(c.dataDir, "binlog")},
		{"common.plugin_dir", pluginDir},
	} {
		res.Rows = append(res.Rows, textRows([]string{kv[0], kv[1]})...)
	}
	return res
}
