package dbctl_test

import (
	"context"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/itest"
)

// A Client made with New over the caller's own *sql.DB journals its
// freezes when Options.ServerAddress names the server: a process killed
// while it holds a WithFrozen freeze through such a Client is repaired by
// the next run, which opens the server by its DSN (the bare "host:port"
// and the DSN's "tcp(host:port)" name the same server). Without the
// address nothing is journaled, and the freeze stays for a person to
// release. Runs unchanged against a real searchd (DBCTL_MANTICORE_DSN).
func TestIntegrationJournalNewClientServerAddress(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	ctx := context.Background()
	cfg, err := mysql.ParseDSN(target.DSN)
	require.NoError(t, err)
	addr := cfg.Net + "(" + cfg.Addr + ")"
	if cfg.Net == "tcp" {
		addr = cfg.Addr // the bare form, as a caller of New writes it
	}
	for _, tc := range []struct {
		name, addr string
		journaled  bool
	}{{"with ServerAddress", addr, true}, {"without", "-", false}} {
		t.Run(tc.name, func(t *testing.T) {
			c := itest.OpenClient(t, target.DSN)
			a := itest.RTTable(t, c)
			state := t.TempDir()
			kill := holdingChildEnv(t, []string{envNew + "=" + tc.addr}, target.DSN, state, a)
			assert.Equal(t, 1, itest.Locked(t, c, a))
			if tc.journaled {
				require.Len(t, journalNames(t, state), 1, "the holder's record")
			} else {
				require.Empty(t, journalNames(t, state), "a New client without an address keeps no journal")
			}
			kill()

			next := itest.OpenClient(t, target.DSN, dbctl.Options{StateDir: state})
			orphans, err := next.Manticore().ReleaseOrphanedFreezes(ctx)
			require.NoError(t, err)
			if !tc.journaled {
				assert.Empty(t, orphans)
				assert.Equal(t, 1, itest.Locked(t, c, a), "nothing told the next run the freeze was dbctl's")
				itest.ExecAll(t, c.DB(), "UNFREEZE "+a)
				return
			}
			require.Len(t, orphans, 1)
			assert.True(t, orphans[0].Done)
			assert.Equal(t, []string{a}, orphans[0].Release)
			assert.Equal(t, 0, itest.Locked(t, c, a), "released by the next run")
			assert.Empty(t, journalNames(t, state))
		})
	}
}
