package backup

// What the external tests (package backup_test) need of the package's
// insides.

// SyncFSReportsErrors is syncFSReportsErrors: whether a synced backup is
// made durable with one syncfs on this machine (durable.go).
var SyncFSReportsErrors = syncFSReportsErrors

// PerFileSync returns opts with the per-file fsync forced: the way of
// kernels whose syncfs does not report errors, and of other systems.
func PerFileSync(opts CreateOptions) CreateOptions {
	h := &backupHooks{}
	if opts.hooks != nil {
		*h = *opts.hooks
	}
	h.perFileSync = true
	opts.hooks = h
	return opts
}
