// Package dbctltest runs embedded Manticore Search and MatrixOne servers
// in-process, speaking the real MySQL wire protocol on 127.0.0.1, so that
// tests of code built on dbctl (the root package's managers, package backup,
// or plain database/sql) run without Docker or a database. Each server
// answers only what a real one was seen to answer (searchd 29.2.2 and
// MatrixOne v4.2.0 captures, or the servers' sources), keeps real table
// files in a data folder, and can delay, hold or fail statements to test
// faults without timing.
//
// The one call a user makes, in a test:
//
//	srv := dbctltest.NewManticore(t) // or NewMatrixOne(t); closed by t.Cleanup
//	c, err := dbctl.Open(srv.DSN(), nil)
//
// StartManticore and StartMatrixOne do the same outside tests (call Close).
// Every statement a server receives is recorded as a shape for the
// statement-coverage check (a shape without a capture must be listed in
// testdata/unverified.txt).
package dbctltest
