package dbctl

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
)

// Client is the entry point: one *sql.DB and the managers built on it.
// A Client is safe for concurrent use by many goroutines.
type Client struct {
	db     *sql.DB
	ownsDB bool
	opts   options

	moctl     *MoCtl
	manticore *Manticore

	// identity is the answer of the sys-account check (see
	// Options.SkipSysAccountCheck), asked once: concurrent first calls share one
	// query, and none holds a lock while it runs (probe.go).
	identity sharedProbe[*Identity]
	// identityRTT is how long the identity query took, in nanoseconds: a
	// measured round trip to the server (moctl.go, checkpointMargin).
	identityRTT atomic.Int64

	// fz is the freeze bookkeeping: the journal's server address and the
	// pending releasers (manticore_journal.go).
	fz freezeBook
}

// Open parses dsn (go-sql-driver/mysql syntax, e.g.
// "root:111@tcp(127.0.0.1:6001)/" for MatrixOne or
// "root@tcp(127.0.0.1:9306)/" for Manticore) and returns a Client over a
// new *sql.DB, configured by opts (nil: every default; see Options). It
// does not dial: use Ping to check the server. A malformed DSN is reported
// here, without the password.
//
// MatrixOne logins of another account are written "account#user" in a DSN;
// "account:user" would be split by the DSN parser at the first ':' and log in
// as user "account" with the rest as password.
func Open(dsn string, opts *Options) (*Client, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, opErr("open", ErrInvalidArgument, "parse DSN: "+dsnErrorText(dsn, err), nil)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, opErr("open", ErrInvalidArgument, "DSN configuration: "+dsnErrorText(dsn, err), nil)
	}
	c := New(sql.OpenDB(conn), opts)
	c.ownsDB = true
	c.fz.server = journalServer(cfg) // Options.ServerAddress is for New
	return c, nil
}

// New wraps an existing *sql.DB, which may come from any driver that speaks
// to a MySQL-protocol server (or from go-sqlmock). opts may be nil (every
// default). Close does not close a DB passed to New: its owner does.
func New(db *sql.DB, opts *Options) *Client {
	c := &Client{db: db, opts: resolveOptions(opts)}
	c.moctl = &MoCtl{c: c}
	c.manticore = &Manticore{c: c}
	c.fz.init()
	c.fz.server = c.opts.serverAddress // "" keeps no journal
	return c
}

// DB returns the underlying *sql.DB, for statements this package does not
// cover.
func (c *Client) DB() *sql.DB { return c.db }

// Close waits for the pending releases (see WaitReleases), at most the
// release timeout (Options.ReleaseTimeout), then cuts what is still waiting (a
// FREEZE still running on the server keeps its journal record for the next
// run) and closes the *sql.DB if Open created it; a *sql.DB passed to New
// is left open. The error names the releases it could not finish.
func (c *Client) Close() error {
	werr := c.closeReleasers()
	if !c.ownsDB {
		return werr
	}
	if err := c.db.Close(); err != nil {
		return errors.Join(werr, opErr("close", nil, "", err))
	}
	return werr
}

// Ping checks that the server answers (COM_PING on a pooled connection).
func (c *Client) Ping(ctx context.Context) error {
	if err := c.db.PingContext(ctx); err != nil {
		return opErr("ping", nil, "", err)
	}
	return nil
}

// MoCtl returns the MatrixOne mo_ctl manager.
func (c *Client) MoCtl() *MoCtl { return c.moctl }

// Manticore returns the Manticore table-control manager.
func (c *Client) Manticore() *Manticore { return c.manticore }

// conn takes one connection from the pool; statements that must see each
// other's session state (FREEZE then SHOW WARNINGS) run on it.
func (c *Client) conn(ctx context.Context, op string) (*sql.Conn, error) {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return nil, opErr(op, nil, "get connection", err)
	}
	return conn, nil
}

// dsnErrorText is the DSN parser's message, or a fixed text when that
// message could quote any part of the DSN's password: the driver names the
// "network" of a malformed DSN ("root:pw/db" gives "default addr for
// network 'root:pw' unknown", and "root:s3cr/et@tcp(h:1)" quotes
// "root:s3cr"). A message holding any min(3, len) characters of the
// password in a row is withheld whole; nothing of a DSN is ever masked in
// place.
func dsnErrorText(dsn string, err error) string {
	msg := err.Error()
	creds := dsn
	if i := strings.LastIndex(dsn, "@"); i >= 0 {
		creds = dsn[:i]
	}
	_, pw, ok := strings.Cut(creds, ":")
	if !ok || pw == "" {
		return msg
	}
	n := min(3, len(pw))
	for i := 0; i+n <= len(pw); i++ {
		if strings.Contains(msg, pw[i:i+n]) {
			return "malformed DSN (the parser's message is withheld: it may quote the credentials); want user:password@tcp(host:port)/"
		}
	}
	return msg
}

// isServerError reports whether err carries the server's own answer (as
// opposed to a network or context failure, after which it is unknown
// whether the statement ran).
func isServerError(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me)
}
