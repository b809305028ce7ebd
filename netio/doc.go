// Package netio owns the uringd HTTP/1.1 static file server: event loops that each own an
// io_uring ring, connections, limits and shutdown, and the server's counts (Server.Stats,
// exported to Prometheus by NewCollector). File IO goes through package fileio or the
// loop's own ring (large cached files by sendfile(2) from the loop: Config.LargeFiles says
// why); HTTP semantics live in pure functions that know nothing of io_uring.
//
// # Who owns which buffer
//
// Memory the kernel reads or writes while an operation is in flight is always on the heap
// and stays referenced from the loop until the operation's completion is reaped:
//
//   - Receive buffers belong to the loop's provided-buffer group (package ring): the kernel
//     picks one per receive; the loop copies the bytes into the connection's input buffer and
//     hands the buffer back at once.
//   - A connection's send buffer (16 KiB, or 256 KiB for large replies, from per-loop pools)
//     is filled by READs and read by the linked SEND; the connection holds it until every
//     CQE of that reply is reaped, then returns it to the pool.
//   - OPENAT2's path and open_how buffers live in the heap-allocated connection, never on a
//     goroutine stack.
//   - In threadpool mode the fileio.Ops (and the buffers they read into) are owned by the
//     fileio Queue from Submit until Reap returns them to the loop.
//   - Large file pieces sent by sendfile(2) or SPLICE never pass through user memory: the
//     kernel moves page-cache references into the socket (or the connection's pipe, which
//     the connection owns and closes). cachestat(2)'s arguments live in the loop and are
//     used only during the synchronous call.
//   - Access-log lines are formatted into pooled buffers and copied by the AccessLogger
//     during Log; nothing is kept after the call.
package netio
