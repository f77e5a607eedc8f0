// Package dbctl is a thin, typed client for the control operations of two
// databases that speak the MySQL wire protocol: MatrixOne's mo_ctl (flush,
// checkpoints, ping) and recovery (snapshots, PITR, restore), and Manticore
// Search's table control (FREEZE and UNFREEZE, SHOW LOCKS, table status,
// FLUSH, OPTIMIZE, IMPORT TABLE, and WithFrozen, which never leaves a table
// frozen). It wraps a *sql.DB and imports nothing beyond the standard
// library and go-sql-driver/mysql.
//
// The one call a user makes is Open (or New over an existing *sql.DB), then
// the manager of the database at hand:
//
//	c, err := dbctl.Open("root:111@tcp(127.0.0.1:6001)/", nil)
//	...
//	defer c.Close()
//	r, err := c.MoCtl().FlushTable(ctx, "db1", "orders")
//
// c.Manticore(), c.Snapshots() and c.PITRs() are the other managers. Every
// call takes a context, validates its input before anything is sent, builds
// its one statement from validated and quoted parts, parses the answer by
// column name, and fails with an *OpError wrapping a sentinel (errors.Is:
// ErrTableNotFound, ErrNotSysAccount, ...) and the server's
// *mysql.MySQLError.
//
// The Manticore backup engine (backup, verify, restore, import, to a folder
// or S3) is package github.com/dbctl/dbctl/backup, its stores are
// github.com/dbctl/dbctl/backupstore, and the embedded servers for tests are
// github.com/dbctl/dbctl/dbctltest.
package dbctl
