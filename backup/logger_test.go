package backup

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer safe for the engine's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The engine's notes go to CreateOptions.Logger: a staged backup says
// where it stages. Without a Logger they are discarded (every other test).
func TestCreateLogsToItsLogger(t *testing.T) {
	f := newBackupFixture(t)
	var log lockedBuffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	man, err := Create(context.Background(), f.c.Manticore(), filepath.Join(t.TempDir(), "bk"), CreateOptions{Tables: []string{"a"}, Logger: logger})
	require.NoError(t, err)
	require.Equal(t, StagingStaged, man.Staging)
	assert.Contains(t, log.String(), `msg="dbctl: backup stages hard links"`)
}
