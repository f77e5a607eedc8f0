//go:build race

package backup

// raceEnabled: this test binary runs with the race detector (see
// runCampaign).
const raceEnabled = true
