//go:build race

package kafka

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation guards do not hold under it.
const raceEnabled = true
