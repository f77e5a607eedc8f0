package main

import (
	"database/sql"
	"fmt"

	"github.com/dbctl/dbctl/dbctltest"
)

// Demo data of the embedded servers, so that every command has something
// to work on.
var (
	manticoreDemo = []string{
		"CREATE TABLE products(title text, price float, tags multi)",
		"INSERT INTO products(id, title, price, tags) VALUES (1, 'espresso cup', 4.5, (1,2)), (2, 'tea pot', 19.9, (2)), (3, 'milk jug', 7.25, (3))",
		"FLUSH RAMCHUNK products",
		"INSERT INTO products(id, title, price, tags) VALUES (4, 'sugar bowl', 5.5, (1))",
		"CREATE TABLE alerts(title text) type='percolate'",
		"INSERT INTO alerts(query) VALUES ('cheap tea')",
		"CREATE TABLE everything type='distributed' local='products'",
	}
	matrixOneDemo = []string{
		"create database shop",
		"create table shop.orders (id int, amount decimal(10,2))",
		"insert into shop.orders values (1, 9.5), (2, 12.0)",
	}
)

// startEmbedded starts the embedded server for kind with the demo data,
// once per invocation, and returns its DSN.
func (a *app) startEmbedded(kind string) (string, error) {
	switch kind {
	case "manticore":
		s, err := dbctltest.StartManticore()
		if err != nil {
			return "", err
		}
		a.closers = append(a.closers, func() { _ = s.Close() })
		if err := seed(s.DSN(), manticoreDemo); err != nil {
			return "", err
		}
		a.info("dbctl: embedded Manticore at %s (data_dir %s) with tables products (rt), alerts (percolate), everything (distributed)", s.Addr(), s.DataDir())
		return s.DSN(), nil
	case "matrixone":
		s, err := dbctltest.StartMatrixOne()
		if err != nil {
			return "", err
		}
		a.closers = append(a.closers, func() { _ = s.Close() })
		if err := seed(s.DSN(), matrixOneDemo); err != nil {
			return "", err
		}
		a.info("dbctl: embedded MatrixOne at %s (sys root) with table shop.orders", s.Addr())
		return s.DSN(), nil
	}
	return "", fmt.Errorf("no embedded server for %s", kind)
}

func seed(dsn string, stmts []string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("seed %q: %w", q, err)
		}
	}
	return nil
}
