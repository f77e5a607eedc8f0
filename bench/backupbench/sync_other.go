//go:build !unix

package main

// syncAll does nothing where there is no sync(2); the bench's floors are
// then without it.
func syncAll() {}
