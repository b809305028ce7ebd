//go:build race

package logger

// raceEnabled: the race detector slows logging many times over and makes sync.Pool drop
// items at random, so the stress test logs fewer records and the allocation tests are skipped.
const raceEnabled = true
