//go:build !unix

package main

// syncAll: no sync(2) here; the benchmark's runs then start with the last
// run's writeback possibly still pending.
func syncAll() {}
