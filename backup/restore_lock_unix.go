//go:build unix

package backup

// restoreCanLock: a restore folder's marker is flock'd (tryLock), so the
// next run tells a killed restore's folder from a running one's.
const restoreCanLock = true
