//go:build !unix

package backup

// pidAlive cannot ask here: every process is taken to run, and claims are
// judged by their age (readSign).
func pidAlive(int) bool { return true }
