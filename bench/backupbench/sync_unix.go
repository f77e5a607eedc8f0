//go:build unix

package main

import "syscall"

// syncAll is sync(2): every dirty page of every file system, as the
// peer's floors ran `sync`.
func syncAll() { syscall.Sync() }
