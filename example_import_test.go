package dbctl_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/dbctl/dbctl"
	"github.com/go-sql-driver/mysql"
)

// ImportTable names the table files by their common prefix, "<dir>/<table>";
// searchd reads them itself. A table of that name on the server is
// ErrTableExists (golden/manticore-2.jsonl).
func ExampleManticore_ImportTable() {
	c, mock := mockClient()
	mock.ExpectExec("IMPORT TABLE `products_restored` FROM '/var/backups/b1/data/products/products'").
		WillReturnResult(sqlmock.NewResult(0, 0))
	fmt.Println(c.Manticore().ImportTable(context.Background(), "products_restored", "/var/backups/b1/data/products/products"))

	mock.ExpectExec("IMPORT TABLE `products` FROM '/var/backups/b1/data/products/products'").
		WillReturnError(&mysql.MySQLError{Number: 1064, SQLState: [5]byte{'4', '2', '0', '0', '0'}, Message: "table 'products' already exists"})
	err := c.Manticore().ImportTable(context.Background(), "products", "/var/backups/b1/data/products/products")
	fmt.Println(errors.Is(err, dbctl.ErrTableExists))
	// Output:
	// <nil>
	// true
}
