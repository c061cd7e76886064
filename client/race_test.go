//go:build race

package client

// raceEnabled: the race detector changes what escapes, so allocation
// counts are only asserted without it.
const raceEnabled = true
