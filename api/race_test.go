//go:build race

package api

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation guards do not hold under it.
const raceEnabled = true
