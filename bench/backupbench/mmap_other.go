//go:build !unix

package main

import "os"

// mapped: no mmap here; the file is read.
func mapped(*os.File, int64) ([]byte, func(), bool) { return nil, nil, false }
