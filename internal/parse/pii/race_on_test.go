//go:build race

package pii

// raceEnabled: the race detector makes sync.Pool drop items on purpose, so
// allocation counts that rely on the pool do not hold.
const raceEnabled = true
