// Command uringd is the uringd binary: probe the kernel's io_uring support (and, as the
// other packages land, serve files and run the benchmarks). It only parses flags and hands
// over to the packages that do the work.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "uringd:", err)
		os.Exit(exitCode(err))
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "uringd",
		Usage: "an io_uring static file server, file IO engines and async logger",
		Commands: []*cli.Command{
			serveCommand(),
			probeCommand(),
			benchCommand(),
		},
		HideHelpCommand: true,
		// Repeatable flags take one value each: a header rule's value may hold commas
		// ("public, max-age=31536000").
		DisableSliceFlagSeparator: true,
	}
}

// exitError carries an exit status through urfave/cli.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}
