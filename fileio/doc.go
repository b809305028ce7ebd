// Package fileio owns file IO for uringd: engines behind one interface that open files
// beneath a directory, stat, read and write at offsets, sync and close them.
//
// Engines: "uring" (io_uring through package ring, no OS thread parked per IO),
// "threadpool" (N goroutines locked to OS threads doing pread/pwrite: the comparison mode),
// and "std" (os.File, Go's implicit threads: the baseline). fileio never speaks HTTP.
package fileio
