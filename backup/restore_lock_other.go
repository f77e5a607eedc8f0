//go:build !unix

package backup

// restoreCanLock: no flock here (tryLock), so a killed restore's folder
// could not be told from a running one's: Restore refuses with
// dbctl.ErrNotSupported before it writes anything.
const restoreCanLock = false
