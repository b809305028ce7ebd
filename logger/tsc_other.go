//go:build !amd64

package logger

// haveTSC says rdtsc reads a time-stamp counter: not on this architecture, where the clock
// uses Go's monotonic clock.
const haveTSC = false

func rdtsc() uint64 { return 0 }
