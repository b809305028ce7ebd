// Package netio owns the uringd HTTP/1.1 static file server: event loops that each own an
// io_uring ring, connections, limits and shutdown. File IO goes through package fileio or the
// loop's own ring; HTTP semantics live in pure functions that know nothing of io_uring.
package netio
