//go:build !unix

package freezejournal

import "os"

// Supported reports whether the journal works here: not without flock(2),
// where a record's holder cannot be told alive or dead (Open returns
// ErrUnsupported).
const Supported = false

func lock(*os.File) error { return ErrUnsupported }

func lockShared(*os.File) error { return ErrUnsupported }

func tryLock(*os.File) (bool, error) { return false, ErrUnsupported }
