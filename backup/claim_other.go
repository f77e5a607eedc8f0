//go:build !linux

package backup

// bootAndPIDNamespace: not known here; claims of this machine are then
// judged by their age only, as those of other machines (readSign).
func bootAndPIDNamespace() (boot, pidNS string) { return "", "" }
