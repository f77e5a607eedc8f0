package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// app is one invocation: its flags, output streams and the resources it
// opened (connections, embedded servers), closed at the end.
type app struct {
	stdout, stderr io.Writer

	dsn      string
	timeout  time.Duration
	json     bool
	quiet    bool
	embedded bool

	// interruptNote, set by a command that froze tables, says what an
	// interrupted (or timed out) run left behind, as verified (see
	// releaseNote).
	interruptNote string

	// stateDir is --state-dir (freezes.go); clients are the command's
	// clients, whose releases are awaited before exit, and released what
	// those releases unfroze.
	stateDir string
	clients  []*dbctl.Client
	released []string

	closers []func()
}

func newApp(stdout, stderr io.Writer) *app { return &app{stdout: stdout, stderr: stderr} }

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "dbctl",
		Short: "Control operations of MatrixOne (mo_ctl) and Manticore Search (freeze, flush, backup, ...)",
		Long: `dbctl runs the control operations of MatrixOne (mo_ctl) and Manticore Search from a shell.

Connection: --dsn or the DBCTL_DSN environment variable, in go-sql-driver/mysql form, e.g.
  root@tcp(127.0.0.1:9306)/          (Manticore)
  root:111@tcp(127.0.0.1:6001)/      (MatrixOne, sys account; other accounts: acc1#admin:pass@...)
--embedded runs the command against embedded demo servers instead (no database needed).

Exit codes: 0 ok, 1 operation failed or interrupted, 2 usage error.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.dsn, "dsn", "", "server DSN (default $DBCTL_DSN)")
	pf.DurationVar(&a.timeout, "timeout", 0, "deadline for the operation, e.g. 30s (a MatrixOne checkpoint sends the time left, less a margin, as the server's own timeout)")
	pf.BoolVar(&a.json, "json", false, "print one JSON document (stable field names)")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "no progress output")
	pf.BoolVar(&a.embedded, "embedded", false, "run against embedded demo servers (dbctltest) instead of --dsn")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	root.AddCommand(a.manticoreCmd(), a.matrixOneCmd(), a.versionCmd(), a.demoCmd())
	return root
}

// group makes a command that only holds subcommands: called with an
// unknown subcommand it is a usage error (cobra would print help and exit 0).
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %s", args[0], cmdName(cmd))
			}
			return usagef("%s needs a command: %s", cmdName(cmd), strings.Join(subNames(cmd), ", "))
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

func subNames(cmd *cobra.Command) []string {
	var out []string
	for _, c := range cmd.Commands() {
		out = append(out, c.Name())
	}
	return out
}

// execute runs args and turns the outcome into an exit code, printing the
// error (as JSON with --json). No message ever holds the DSN (dbctl.Open
// withholds a parser message that quotes the credentials), so nothing is
// masked: masking the password's text mangled names and addresses that
// happen to contain it ("db111" with password "111").
func (a *app) execute(ctx context.Context, args []string) int {
	defer a.close()
	root := a.root()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	// A FREEZE still running when the command stopped is waited for and
	// released before exit (freezes.go).
	_, werr := a.settleReleases()
	note := a.releasedNote(werr)
	if err == nil && werr != nil {
		err = werr
	}
	if err == nil {
		if note != "" {
			a.notice("dbctl: %s", note)
		}
		return exitOK
	}
	code := exitCode(err)
	msg := err.Error()
	if ctx.Err() != nil {
		msg = "interrupted: " + strings.TrimPrefix(msg, "dbctl: ")
	}
	switch {
	case a.interruptNote != "": // interrupted, or out of --timeout
		msg += " (" + a.interruptNote + ")"
	case note != "":
		msg += " (" + note + ")"
	}
	if !strings.HasPrefix(msg, "dbctl: ") {
		msg = "dbctl: " + msg
	}
	var printed quietErr
	if a.json && errors.As(err, &printed) {
		return code // the command's JSON document already says what failed
	}
	if a.json {
		doc := map[string]any{"error": map[string]any{"message": msg, "exit_code": code}}
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			doc["error"].(map[string]any)["server_code"] = me.Number
		}
		if errors.Is(err, dbctl.ErrOutcomeUnknown) {
			doc["error"].(map[string]any)["outcome_unknown"] = true
		}
		a.printJSON(doc)
	} else {
		fmt.Fprintln(a.stderr, msg)
		if code == exitUsage {
			fmt.Fprintln(a.stderr, "Run 'dbctl --help' for usage.")
		}
	}
	return code
}

// exitCode is 2 for a usage error: how the command was called (flags,
// arguments), or an argument dbctl refused before sending anything (an
// invalid name or value). Everything else is 1, a server's refusal
// included even when it is about an argument (MatrixOne says "input
// timestamp ... is less than the pitr valid time" with the code of any
// refusal, 20101), and a statement whose outcome is unknown.
func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) || errors.Is(err, dbctl.ErrOutcomeUnknown) {
		return exitFailed
	}
	if errors.Is(err, dbctl.ErrInvalidIdentifier) || errors.Is(err, dbctl.ErrInvalidArgument) || errors.Is(err, dbctl.ErrNoTables) {
		return exitUsage
	}
	return exitFailed
}

// isCobraUsage recognizes cobra's own argument errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "requires at most", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// opContext applies --timeout.
func (a *app) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.timeout > 0 {
		return context.WithTimeout(ctx, a.timeout)
	}
	return context.WithCancel(ctx)
}

// client connects to the server for kind ("manticore" or "matrixone"):
// the embedded one with --embedded, --dsn or $DBCTL_DSN otherwise.
func (a *app) client(kind string) (*dbctl.Client, error) {
	dsn := a.dsn
	if a.embedded {
		var err error
		if dsn, err = a.startEmbedded(kind); err != nil {
			return nil, err
		}
	}
	if dsn == "" {
		dsn = os.Getenv("DBCTL_DSN")
	}
	if dsn == "" {
		return nil, usagef("no server: pass --dsn, set DBCTL_DSN, or use --embedded")
	}
	a.dsn = dsn
	c, err := dbctl.Open(dsn, a.clientOptions())
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	a.clients = append(a.clients, c)
	a.closers = append(a.closers, func() { _ = c.Close() })
	return c, nil
}

func (a *app) printJSON(v any) {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// printTable prints aligned columns for people.
func (a *app) printTable(header []string, rows [][]string) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

// info prints a line for people on stderr (not with --quiet or --json).
func (a *app) info(format string, args ...any) {
	if a.quiet || a.json {
		return
	}
	fmt.Fprintf(a.stderr, format+"\n", args...)
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			goVersion := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
			}
			if a.json {
				a.printJSON(map[string]string{"version": version(), "go": goVersion})
				return nil
			}
			fmt.Fprintf(a.stdout, "dbctl %s (%s)\n", version(), goVersion)
			return nil
		},
	}
}

// Argument validators that report usage errors (exit 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmdName(cmd), args)
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s needs %s", cmdName(cmd), what)
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("%s needs %s", cmdName(cmd), what)
		}
		return nil
	}
}

func rangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usagef("%s needs %s", cmdName(cmd), what)
		}
		return nil
	}
}

// cmdName is the command path without the program name.
func cmdName(cmd *cobra.Command) string { return strings.TrimPrefix(cmd.CommandPath(), "dbctl ") }
