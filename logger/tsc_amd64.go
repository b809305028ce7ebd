package logger

// haveTSC says rdtsc reads the processor's time-stamp counter.
const haveTSC = true

// rdtsc returns the time-stamp counter (RDTSC; tsc_amd64.s).
func rdtsc() uint64
