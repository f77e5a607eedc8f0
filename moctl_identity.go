package dbctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The sys-account check of MoCtl: who the session is, asked once per
// Client.

// CheckSysAccount asks the server who this session is and reports
// ErrNotSysAccount, naming the account and role, unless it is the sys
// account with the moadmin role. The answer replaces the one cached for the
// client's first mo_ctl.
func (m *MoCtl) CheckSysAccount(ctx context.Context) (*Identity, error) {
	const op = "mo_ctl sys-account check"
	id, err := m.queryIdentity(ctx, op)
	if err != nil {
		return nil, err
	}
	m.c.identity.set(id)
	return id, identityError(op, id)
}

// ensureSysAccount runs the sys-account check once per Client (unless it is
// turned off) and refuses before any mo_ctl is sent (see
// Client.sessionIdentity for how callers share the query).
func (m *MoCtl) ensureSysAccount(ctx context.Context, op string) error {
	if !m.c.opts.sysAccountCheck {
		return nil
	}
	id, err := m.c.sessionIdentity(ctx, op)
	if err != nil {
		return err
	}
	return identityError(op, id)
}

// sessionIdentity returns who the Client's sessions run as, asking once.
// Concurrent callers share one query in flight and each waits on its own
// context: a caller whose deadline passes returns its context's error at
// once while the others keep waiting (probe.go). A failed query is not
// cached.
func (c *Client) sessionIdentity(ctx context.Context, op string) (*Identity, error) {
	id, err := c.identity.get(ctx, func(qctx context.Context) (*Identity, error) {
		return c.moctl.queryIdentity(qctx, op)
	})
	if err != nil {
		var oe *OpError
		if errors.As(err, &oe) {
			return nil, err
		}
		return nil, opErr(op, nil, "identity query", err)
	}
	return id, nil
}

const identityQuery = "select current_account_name(), current_user_name(), current_role_name()"

// queryIdentity runs the identity query (captured: golden matrixone.jsonl
// record 5) and records how long it took as the client's measured round
// trip.
func (m *MoCtl) queryIdentity(ctx context.Context, op string) (*Identity, error) {
	start := time.Now()
	t, err := m.c.query(ctx, m.c.db, identityQuery)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	m.c.identityRTT.Store(int64(time.Since(start)))
	if len(t.rows) != 1 || len(t.cols) < 3 {
		return nil, opErr(op, ErrUnexpectedResult, fmt.Sprintf("identity query: want 1 row of 3 columns, got %d rows of %d columns", len(t.rows), len(t.cols)), nil)
	}
	var vals [3]string
	for i := range vals {
		if vals[i], err = t.text(0, i); err != nil {
			return nil, opErr(op, nil, "identity query", err)
		}
	}
	return &Identity{Account: vals[0], User: vals[1], Role: vals[2],
		SysAdmin: strings.EqualFold(vals[0], "sys") && strings.EqualFold(vals[2], "moadmin")}, nil
}

func identityError(op string, id *Identity) error {
	if id.SysAdmin {
		return nil
	}
	return opErr(op, ErrNotSysAccount, fmt.Sprintf("session is account %q, user %q, role %q", id.Account, id.User, id.Role), nil)
}
