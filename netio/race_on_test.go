//go:build race

package netio

// raceEnabled: under the race detector sync.Pool drops items at random, so allocation
// tests are skipped.
const raceEnabled = true
