package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 18: an OPTIMIZE of a frozen table is never reported "queued"
// (searchd would drop it): the command exits 1 with the SDK's typed
// message, not a usage error.
func TestOptimizeFrozenTable(t *testing.T) {
	s := newServers(t)
	r := dbctlRun(t, s.m("freeze", "products")...)
	require.Equal(t, 0, r.code, r.stderr)
	for _, args := range [][]string{s.m("optimize", "products", "--cutoff", "1"), s.m("optimize", "products", "--sync")} {
		r = dbctlRun(t, args...)
		assert.Equal(t, 1, r.code, "stdout %s stderr %s", r.stdout, r.stderr)
		assert.Contains(t, r.stderr, "dbctl: manticore optimize products: table is frozen: not sent")
		assert.NotContains(t, r.stdout, "queued")
		assert.NotContains(t, r.stderr, "--help")
		r = dbctlRun(t, append([]string{"--json"}, args...)...)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, jsonOf(t, r)["error"].(map[string]any)["message"], "table is frozen")
	}
	r = dbctlRun(t, s.m("unfreeze", "products")...)
	require.Equal(t, 0, r.code, r.stderr)
	r = dbctlRun(t, s.m("optimize", "products", "--cutoff", "1", "--sync")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "done")
}
