package main

import (
	"os"
	"strconv"
	"strings"
)

// loadAvg is the 1-minute load average (/proc/loadavg), -1 where there is
// none: printed with each run, so that a reader sees how busy the machine
// was while the bench ran.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
