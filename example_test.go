package dbctl_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/dbctl/dbctl"
	"github.com/go-sql-driver/mysql"
)

// The examples run against go-sqlmock so that they are tested; against a
// real server, use dbctl.Open with its DSN (or the embedded servers of
// package dbctltest) and drop the mock lines.

const (
	flushOK = "{\n  \"method\": \"Flush\",\n  \"result\": [\n    {\n      \"returnStr\": \"OK\"\n    }\n  ]\n}\n"
	dataDir = "/var/lib/manticore"
)

// mockClient is a Client over go-sqlmock; opts (at most one) configure it.
func mockClient(opts ...dbctl.Options) (*dbctl.Client, sqlmock.Sqlmock) {
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
	if err != nil {
		log.Fatal(err)
	}
	var o *dbctl.Options
	if len(opts) > 0 {
		o = &opts[0]
	}
	return dbctl.New(db, o), mock
}

func rows(cols []string, vals ...string) *sqlmock.Rows {
	r := sqlmock.NewRows(cols)
	for i := 0; i < len(vals); i += len(cols) {
		row := make([]driver.Value, len(cols))
		for j := range cols {
			row[j] = vals[i+j]
		}
		r.AddRow(row...)
	}
	return r
}

func moctlReturns(mock sqlmock.Sqlmock, stmt, value string) {
	mock.ExpectQuery(stmt).WillReturnRows(rows([]string{"mo_ctl"}, value))
}

func asRoot(mock sqlmock.Sqlmock) {
	mock.ExpectQuery("select current_account_name(), current_user_name(), current_role_name()").
		WillReturnRows(rows([]string{"a", "u", "r"}, "sys", "root", "moadmin"))
}

func expectFreeze(mock sqlmock.Sqlmock, table string) {
	var vals []string
	for _, ext := range []string{"meta", "ram", "settings"} {
		p := dataDir + "/" + table + "/" + table + "." + ext
		vals = append(vals, p, p)
	}
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rows([]string{"Type", "Name", "Lock Type", "Additional Info"}))
	mock.ExpectQuery("FREEZE `" + table + "`").WillReturnRows(rows([]string{"file", "normalized"}, vals...))
}

// expectRelease expects what a release sends: SHOW LOCKS (to verify the
// UNFREEZE if the connection breaks), then the UNFREEZE.
func expectRelease(mock sqlmock.Sqlmock, table string) {
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rows([]string{"Type", "Name", "Lock Type", "Additional Info"}, "rt", table, "freeze", "Count: 1"))
	mock.ExpectExec("UNFREEZE `" + table + "`").WillReturnResult(sqlmock.NewResult(0, 1))
}

func ExampleOpen() {
	// Open parses the DSN but does not dial; Ping would.
	c, err := dbctl.Open("root:111@tcp(127.0.0.1:6001)/", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, err = dbctl.Open("root:111@tcp(127.0.0.1:6001", nil)
	fmt.Println(err != nil)
	// Output: true
}

func ExampleNew() {
	c, mock := mockClient()
	mock.ExpectPing()
	fmt.Println(c.DB() != nil)
	// Output: true
}

func ExampleClient_Ping() {
	db, mock, _ := sqlmock.New(sqlmock.MonitorPingsOption(true))
	c := dbctl.New(db, nil)
	mock.ExpectPing()
	fmt.Println(c.Ping(context.Background()))
	// Output: <nil>
}

func ExampleMoCtl_FlushTable() {
	c, mock := mockClient()
	asRoot(mock) // the sys-account check runs before the first mo_ctl
	moctlReturns(mock, "select mo_ctl('dn', 'flush', 'db1.t')", flushOK)

	r, err := c.MoCtl().FlushTable(context.Background(), "db1", "t")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Method, r.ReturnStrs)
	// Output: Flush [OK]
}

func ExampleMoCtl_FlushTable_errors() {
	c, mock := mockClient(dbctl.Options{SkipSysAccountCheck: true})
	// An unknown database comes back as an error packet with errno 0.
	mock.ExpectQuery("select mo_ctl('dn', 'flush', 'nodb.t')").
		WillReturnError(&mysql.MySQLError{Number: 0, SQLState: [5]byte{'0', '0', '0', '0', '0'}, Message: "ExpectedEOB"})

	_, err := c.MoCtl().FlushTable(context.Background(), "nodb", "t")
	fmt.Println(errors.Is(err, dbctl.ErrTableNotFound))
	var me *mysql.MySQLError
	fmt.Println(errors.As(err, &me), me.Number)
	_, err = c.MoCtl().FlushTable(context.Background(), "db1", "a.b")
	fmt.Println(err)
	// Output:
	// true
	// true 0
	// dbctl: mo_ctl flush db1.a.b: invalid identifier: MatrixOne table name "a.b" contains '.', which mo_ctl flush cannot address by name; use FlushTableByID
}

func ExampleMoCtl_FlushTableByID() {
	c, mock := mockClient(dbctl.Options{SkipSysAccountCheck: true})
	moctlReturns(mock, "select mo_ctl('dn', 'flush', '282826')", flushOK)
	r, err := c.MoCtl().FlushTableByID(context.Background(), 282826)
	fmt.Println(r.Method, err)
	// Output: Flush <nil>
}

func ExampleMoCtl_FlushAccountTable() {
	c, mock := mockClient(dbctl.Options{SkipSysAccountCheck: true})
	moctlReturns(mock, "select mo_ctl('dn', 'flush', 'db1.t.10001')", flushOK)
	r, err := c.MoCtl().FlushAccountTable(context.Background(), "db1", "t", 10001)
	fmt.Println(r.Method, err)
	// Output: Flush <nil>
}

func ExampleMoCtl_IncrementalCheckpoint() {
	c, mock := mockClient(dbctl.Options{SkipSysAccountCheck: true})
	// No deadline on ctx: '' lets the server use its default of 90 s.
	moctlReturns(mock, "select mo_ctl('dn', 'checkpoint', '')",
		"{\n  \"method\": \"Checkpoint\",\n  \"result\": [\n    {\n      \"returnStr\": \"OK\"\n    }\n  ]\n}\n")
	r, err := c.MoCtl().IncrementalCheckpoint(context.Background())
	fmt.Println(r.Method, err)
	// Output: Checkpoint <nil>
}

func ExampleMoCtl_GlobalCheckpoint() {
	c, mock := mockClient(dbctl.Options{SkipSysAccountCheck: true})
	moctlReturns(mock, "select mo_ctl('dn', 'globalcheckpoint', '')",
		"{\n  \"method\": \"GlobalCheckpoint\",\n  \"result\": [\n    {\n      \"returnStr\": \"OK\"\n    }\n  ]\n}\n")
	r, err := c.MoCtl().GlobalCheckpoint(context.Background())
	fmt.Println(r.Method, err)
	// Output: GlobalCheckpoint <nil>
}

func ExampleMoCtl_Ping() {
	c, mock := mockClient(dbctl.Options{SkipSysAccountCheck: true})
	moctlReturns(mock, "select mo_ctl('dn', 'ping', '')",
		"{\n  \"method\": \"Ping\",\n  \"result\": [\n    {\n      \"serviceAddress\": \"127.0.0.1:22000\",\n      \"shardID\": 2,\n      \"replicaID\": 262146,\n      \"logShardID\": 1\n    }\n  ]\n}\n")
	shards, err := c.MoCtl().Ping(context.Background())
	fmt.Printf("%+v %v\n", shards, err)
	// Output: [{ServiceAddress:127.0.0.1:22000 ShardID:2 ReplicaID:262146 LogShardID:1}] <nil>
}

// Ping with shard ids pings those shards only; an id that names no shard
// is ErrEmptyResult.
func ExampleMoCtl_Ping_shard() {
	c, mock := mockClient(dbctl.Options{SkipSysAccountCheck: true})
	moctlReturns(mock, "select mo_ctl('dn', 'ping', '12345')", "{\n  \"method\": \"Ping\",\n  \"result\": []\n}\n")
	_, err := c.MoCtl().Ping(context.Background(), 12345)
	fmt.Println(errors.Is(err, dbctl.ErrEmptyResult))
	fmt.Println(err)
	// Output:
	// true
	// dbctl: mo_ctl ping shard 12345: empty result: mo_ctl Ping returned an empty result array: "{\n  \"method\": \"Ping\",\n  \"result\": []\n}\n"
}

func ExampleMoCtl_Exec() {
	c, mock := mockClient(dbctl.Options{SkipSysAccountCheck: true})
	moctlReturns(mock, "select mo_ctl('dn', 'inspect', 'catalog')", "\nmsg: catalog ...\n")
	r, err := c.MoCtl().Exec(context.Background(), "dn", "inspect", "catalog")
	fmt.Printf("%v %q %v\n", r.JSON, r.Raw, err)
	// Output: false "\nmsg: catalog ...\n" <nil>
}

func ExampleMoCtl_CheckSysAccount() {
	c, mock := mockClient()
	mock.ExpectQuery("select current_account_name(), current_user_name(), current_role_name()").
		WillReturnRows(rows([]string{"a", "u", "r"}, "acc1", "admin", "accountadmin"))
	id, err := c.MoCtl().CheckSysAccount(context.Background())
	fmt.Println(id.Account, id.Role, errors.Is(err, dbctl.ErrNotSysAccount))
	fmt.Println(err)
	// Output:
	// acc1 accountadmin true
	// dbctl: mo_ctl sys-account check: mo_ctl requires the sys account with the moadmin role: session is account "acc1", user "admin", role "accountadmin"
}

func ExampleManticore_Freeze() {
	c, mock := mockClient()
	expectFreeze(mock, "products")

	files, err := c.Manticore().Freeze(context.Background(), "products")
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range files {
		fmt.Println(f.Table, f.Normalized)
	}
	// Output:
	// products /var/lib/manticore/products/products.meta
	// products /var/lib/manticore/products/products.ram
	// products /var/lib/manticore/products/products.settings
}

func ExampleManticore_Freeze_missingTable() {
	c, mock := mockClient()
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rows([]string{"Type", "Name", "Lock Type", "Additional Info"}))
	mock.ExpectQuery("FREEZE `products`, `nope`").WillReturnRows(rows([]string{"file", "normalized"},
		"/d/products/products.meta", "/d/products/products.meta"))
	mock.ExpectQuery("SHOW WARNINGS").WillReturnRows(rows([]string{"Level", "Code", "Message"},
		"warning", "1000", "Some tables are not suitable for freezing: nope"))
	// products was frozen: Freeze releases it before reporting.
	expectRelease(mock, "products")

	_, err := c.Manticore().Freeze(context.Background(), "products", "nope")
	fmt.Println(err)
	fmt.Println(mock.ExpectationsWereMet())
	// Output:
	// dbctl: manticore freeze products, nope: table not found: not frozen (missing, plain or distributed): nope; the connection's last warning: "Some tables are not suitable for freezing: nope"
	// <nil>
}

func ExampleManticore_Unfreeze() {
	c, mock := mockClient()
	mock.ExpectExec("UNFREEZE `products`").WillReturnResult(sqlmock.NewResult(0, 1))
	fmt.Println(c.Manticore().Unfreeze(context.Background(), "products"))
	// Output: <nil>
}

func ExampleManticore_WithFrozen() {
	c, mock := mockClient()
	expectFreeze(mock, "products")
	expectRelease(mock, "products")

	err := c.Manticore().WithFrozen(context.Background(), []string{"products"},
		func(ctx context.Context, files []dbctl.FrozenFile) error {
			fmt.Println("copy", len(files), "files")
			return errors.New("disk full")
		})
	// The table was unfrozen anyway; the callback's error comes back.
	fmt.Println(err)
	fmt.Println(mock.ExpectationsWereMet())
	// Output:
	// copy 3 files
	// dbctl: manticore with frozen products: callback: disk full
	// <nil>
}

func ExampleManticore_Locks() {
	c, mock := mockClient()
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rows([]string{"Type", "Name", "Lock Type", "Additional Info"},
		"rt", "products", "freeze", "Count: 2"))
	locks, _ := c.Manticore().Locks(context.Background())
	fmt.Printf("%+v\n", locks)
	// Output: [{Type:rt Name:products LockType:freeze AdditionalInfo:Count: 2 Count:2}]
}

func ExampleManticore_TableStatus() {
	c, mock := mockClient()
	mock.ExpectQuery("SHOW TABLE `products` STATUS").WillReturnRows(rows([]string{"Variable_name", "Value"},
		"table_type", "rt", "indexed_documents", "3", "locked", "0"))
	st, err := c.Manticore().TableStatus(context.Background(), "products")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.TableType, st.IndexedDocuments, st.Locked, st.DiskChunks, len(st.Vars))
	// Output: rt 3 0 0 3
}

func ExampleManticore_FlushAttributes() {
	c, mock := mockClient()
	mock.ExpectQuery("FLUSH ATTRIBUTES").WillReturnRows(rows([]string{"tag"}, "2"))
	tag, err := c.Manticore().FlushAttributes(context.Background())
	fmt.Println(tag, err)
	// Output: 2 <nil>
}

func ExampleManticore_FlushHostnames() {
	c, mock := mockClient()
	mock.ExpectExec("FLUSH HOSTNAMES").WillReturnResult(sqlmock.NewResult(0, 0))
	n, err := c.Manticore().FlushHostnames(context.Background())
	fmt.Println(n, err)
	// Output: 0 <nil>
}

func ExampleManticore_FlushRAMChunk() {
	c, mock := mockClient()
	mock.ExpectExec("FLUSH RAMCHUNK `products`").WillReturnResult(sqlmock.NewResult(0, 0))
	fmt.Println(c.Manticore().FlushRAMChunk(context.Background(), "products"))
	// Output: <nil>
}

func ExampleManticore_FlushTable() {
	c, mock := mockClient()
	mock.ExpectExec("FLUSH TABLE `products`").WillReturnError(&mysql.MySQLError{Number: 1064, Message: "FLUSH RTINDEX requires an existing RT table"})
	err := c.Manticore().FlushTable(context.Background(), "products")
	fmt.Println(errors.Is(err, dbctl.ErrTableNotFound))
	// Output: true
}

func ExampleManticore_Optimize() {
	c, mock := mockClient()
	// a freeze is looked for first: searchd drops an OPTIMIZE of a frozen table
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rows([]string{"Type", "Name", "Lock Type", "Additional Info"}, "rt", "orders", "freeze", "Count: 1"))
	mock.ExpectExec("OPTIMIZE TABLE `products` OPTION cutoff=1, sync=1").WillReturnResult(sqlmock.NewResult(0, 0))
	fmt.Println(c.Manticore().Optimize(context.Background(), "products", dbctl.OptimizeOptions{Cutoff: 1, Sync: true}))

	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rows([]string{"Type", "Name", "Lock Type", "Additional Info"}, "rt", "orders", "freeze", "Count: 1"))
	err := c.Manticore().Optimize(context.Background(), "orders", dbctl.OptimizeOptions{})
	fmt.Println(errors.Is(err, dbctl.ErrTableFrozen))
	// Output:
	// <nil>
	// true
}

func ExampleManticore_Tables() {
	c, mock := mockClient()
	mock.ExpectQuery("SHOW TABLES").WillReturnRows(rows([]string{"Table", "Type"}, "products", "rt", "dist", "distributed"))
	tables, _ := c.Manticore().Tables(context.Background())
	for _, t := range tables {
		fmt.Println(t.Name, t.Type, t.Freezable)
	}
	// Output:
	// products rt true
	// dist distributed false
}

func ExampleManticore_ServerVersion() {
	c, mock := mockClient()
	mock.ExpectQuery("SHOW STATUS LIKE 'version'").WillReturnRows(rows([]string{"Counter", "Value"}, "version", "29.2.2 fe8f84c8b@260821"))
	v, _ := c.Manticore().ServerVersion(context.Background())
	fmt.Println(v)
	// Output: 29.2.2 fe8f84c8b@260821
}

func ExampleValidateManticoreTable() {
	fmt.Println(dbctl.ValidateManticoreTable("products_2024"))
	fmt.Println(dbctl.ValidateManticoreTable("products; DROP TABLE x"))
	// Output:
	// <nil>
	// dbctl: invalid identifier: Manticore table name "products; DROP TABLE x": character ';' at byte 8 is not allowed (only ASCII letters, digits and '_')
}

// The server's own error stays reachable through every wrap: errors.As
// with *mysql.MySQLError.
func ExampleOpError_serverError() {
	c, mock := mockClient()
	mock.ExpectQuery("SHOW TABLE `nope` STATUS").WillReturnError(&mysql.MySQLError{Number: 1064, Message: "SHOW TABLE STATUS requires an existing table"})
	_, err := c.Manticore().TableStatus(context.Background(), "nope")
	var me *mysql.MySQLError
	fmt.Println(errors.As(err, &me), me.Number, errors.Is(err, dbctl.ErrTableNotFound))
	// Output: true 1064 true
}

func ExampleOptions_keepNameCase() {
	// MatrixOne stores names lower-cased; the SDK matches that by default.
	c, mock := mockClient(dbctl.Options{SkipSysAccountCheck: true})
	moctlReturns(mock, "select mo_ctl('dn', 'flush', 'shop.orders')", flushOK)
	_, err := c.MoCtl().FlushTable(context.Background(), "Shop", "Orders")
	fmt.Println(err)

	// On a server whose catalog keeps case, send the names as they are.
	c, mock = mockClient(dbctl.Options{SkipSysAccountCheck: true, KeepNameCase: true})
	moctlReturns(mock, "select mo_ctl('dn', 'flush', 'Shop.Orders')", flushOK)
	_, err = c.MoCtl().FlushTable(context.Background(), "Shop", "Orders")
	fmt.Println(err)
	// Output:
	// <nil>
	// <nil>
}
