//go:build unix && !linux

package backup

// mapPopulate: no MAP_POPULATE here; pages fault in as they are read.
const mapPopulate = 0
