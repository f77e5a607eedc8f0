package dbctl

import (
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// recoveryRule maps a fragment of a MatrixOne error message to a sentinel.
// MatrixOne answers nearly every refusal of a recovery statement with 20101
// "internal error: ...", so the number says nothing; the texts below are the
// ones recorded in golden/matrixone-recovery.jsonl (record numbers from 0).
type recoveryRule struct {
	fragment string
	kind     error
}

// recoveryRules are tried in order; the first fragment found wins. More
// specific fragments come before the general ones they contain.
var recoveryRules = []recoveryRule{
	// Privilege: checked by the server before anything else.
	{"do not have privilege to execute the statement", ErrPermissionDenied},            // 194-203, 309
	{"only sys tenant can create", ErrPermissionDenied},                                // 171-173, 294-296
	{"non-sys account's snapshot can't restore to sys account", ErrPermissionDenied},   // 161
	{"non-sys account can't restore", ErrPermissionDenied},                             // 187-189
	{"is not allowed to restore other account", ErrPermissionDenied},                   // 303-304
	{"only sys account can show other account's recovery window", ErrPermissionDenied}, // 308

	// Missing snapshot / PITR.
	{"find 0 snapshot records by name", ErrSnapshotNotFound}, // 76, 125-128, 158, 185-186

	// Already there.
	{"already exists", ErrAlreadyExists},     // 52-53, 80-82 snapshot; 211, 215, 236 pitr
	{"already has a pitr", ErrAlreadyExists}, // 209, 213-214, 216-218, 237, 293

	// Range, unit, time window, level and name mismatches: the caller's
	// arguments do not fit the object.
	{"invalid pitr value", ErrInvalidArgument},                 // 219-220, 230, 258
	{"invalid pitr unit", ErrInvalidArgument},                  // 224-227, 259
	{"pitr name is reserved", ErrInvalidArgument},              // 235
	{"input timestamp", ErrInvalidArgument},                    // 264-266, ... "is less than the pitr valid time" / "is bigger than now timestamp"
	{"is not cluster level snapshot", ErrInvalidArgument},      // 129-130
	{"can't restore", ErrInvalidArgument},                      // 118, 131-132, 136-138
	{"does not match snapshot", ErrInvalidArgument},            // 117, 133-135, 162
	{"is not allowed", ErrInvalidArgument},                     // 277-278, 284, 302
	{"can not create snapshot for system", ErrInvalidArgument}, // 58-59, 61
	{"can not create pitr for", ErrInvalidArgument},            // 60, 234
	{"can not be restore", ErrInvalidArgument},                 // 285
	{"internal error: invalid input", ErrInvalidIdentifier},    // 12, 71: a back-tick in a name
}

// classifyRecoveryError maps a server error of a recovery statement to a
// sentinel, or nil when none fits (the *mysql.MySQLError stays wrapped
// either way).
func classifyRecoveryError(err error) error {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return nil
	}
	msg := me.Message
	switch {
	case me.Number == 1062: // 73: a name cut to 64 characters collided
		return ErrAlreadyExists
	case me.Number == 1105 && strings.HasPrefix(msg, `parsing time "`):
		// 267-271, 274: the restore timestamp did not parse. MatrixOne
		// sends 1105 (ER_UNKNOWN_ERROR) for any error without a number of
		// its own, so only the recorded texts are classified; any other
		// 1105 keeps Kind nil.
		return ErrInvalidArgument
	case me.Number == 1049: // 160
		return ErrTableNotFound
	}
	// "snapshot x does not exist" (77, 192-193, 310, 313, 319) and
	// "pitr x does not exist" (260, 273, 298-299, 301, 314, 316) name the
	// object first; "database/table/account x does not exist" (55-57,
	// 231-233) are the objects a target names.
	if strings.HasSuffix(msg, " does not exist") {
		body := strings.TrimPrefix(msg, "internal error: ")
		switch {
		case strings.HasPrefix(body, "snapshot "):
			return ErrSnapshotNotFound
		case strings.HasPrefix(body, "pitr "):
			return ErrPITRNotFound
		case strings.HasPrefix(body, "database "), strings.HasPrefix(body, "table "), strings.HasPrefix(body, "account "):
			return ErrTableNotFound
		}
	}
	for _, r := range recoveryRules {
		if strings.Contains(msg, r.fragment) {
			return r.kind
		}
	}
	return nil
}

// recoveryErr wraps a failed statement of operation op.
func recoveryErr(op string, err error) error {
	return opErr(op, classifyRecoveryError(err), "", err)
}
