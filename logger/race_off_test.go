//go:build !race

package logger

const raceEnabled = false
