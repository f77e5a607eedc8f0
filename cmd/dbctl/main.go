// Command dbctl runs the control operations of MatrixOne (mo_ctl) and
// Manticore Search (FREEZE, UNFREEZE, SHOW LOCKS, FLUSH ..., OPTIMIZE,
// backup, verify, restore, import) from a shell.
//
//	dbctl --dsn 'root@tcp(127.0.0.1:9306)/' manticore locks
//	dbctl --embedded manticore backup --dir /tmp/bk   # against an embedded demo server
//	dbctl demo                                        # every command, no database needed
//
// Exit codes: 0 ok, 1 the operation failed (or was interrupted), 2 usage
// error.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	return app.execute(ctx, args)
}
