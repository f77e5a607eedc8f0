package dbctl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSysAccountCheckRefusesWithoutSendingMoCtl(t *testing.T) {
	tests := []struct{ account, user, role string }{
		{"acc1", "admin", "accountadmin"},
		{"sys", "u1", "public"},
	}
	for _, tc := range tests {
		t.Run(tc.account+"/"+tc.user, func(t *testing.T) {
			c, mock := newMock(t)
			mock.ExpectQuery(identityQuery).WillReturnRows(rowsOf(identityCols, []string{tc.account, tc.user, tc.role}))
			_, err := c.MoCtl().FlushTable(context.Background(), "db1", "t")
			require.ErrorIs(t, err, ErrNotSysAccount)
			assert.True(t, errors.Is(err, ErrNotSysAccount))
			assert.Contains(t, err.Error(), fmt.Sprintf("account %q", tc.account))
			assert.Contains(t, err.Error(), fmt.Sprintf("role %q", tc.role))
			// cached: the second call asks nothing and sends nothing
			_, err = c.MoCtl().IncrementalCheckpoint(context.Background())
			require.ErrorIs(t, err, ErrNotSysAccount)
		})
	}
}

func TestSysAccountCheckRunsOnceAcrossGoroutines(t *testing.T) {
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
	require.NoError(t, err)
	defer db.Close()
	mock.MatchExpectationsInOrder(false)
	c := New(db, nil)
	const n = 8
	expectSysRoot(mock)
	for i := 0; i < n; i++ {
		expectMoCtl(mock, "select mo_ctl('dn', 'flush', 'gold.t')", moFlushOK)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.MoCtl().FlushTable(context.Background(), "gold", "t")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, mock.ExpectationsWereMet())
}

func TestSysAccountCheckFailureIsNotCached(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery(identityQuery).WillReturnError(errors.New("read: connection reset"))
	expectSysRoot(mock)
	expectMoCtl(mock, "select mo_ctl('dn', 'flush', 'gold.t')", moFlushOK)
	_, err := c.MoCtl().FlushTable(context.Background(), "gold", "t")
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrNotSysAccount))
	_, err = c.MoCtl().FlushTable(context.Background(), "gold", "t")
	require.NoError(t, err)
}

func TestCheckSysAccount(t *testing.T) {
	c, mock := newMock(t)
	expectSysRoot(mock)
	mock.ExpectQuery(identityQuery).WillReturnRows(rowsOf(identityCols, []string{"sys", "u1", "public"}))
	id, err := c.MoCtl().CheckSysAccount(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &Identity{Account: "sys", User: "root", Role: "moadmin", SysAdmin: true}, id)
	id, err = c.MoCtl().CheckSysAccount(context.Background())
	require.ErrorIs(t, err, ErrNotSysAccount)
	assert.Equal(t, "u1", id.User, "the identity comes back with the error")
	assert.False(t, id.SysAdmin)
	// the refreshed answer is the cached one: no query, no mo_ctl
	_, err = c.MoCtl().GlobalCheckpoint(context.Background())
	require.ErrorIs(t, err, ErrNotSysAccount)
}

func TestSysAccountCheckBadShape(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery(identityQuery).WillReturnRows(rowsOf([]string{"a"}, []string{"sys"}))
	_, err := c.MoCtl().FlushTable(context.Background(), "gold", "t")
	assert.ErrorIs(t, err, ErrUnexpectedResult)
}
