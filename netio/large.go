package netio

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/ring"
)

// How file pieces of largeMin bytes and more are sent (Config.LargeFiles). Smaller pieces,
// and every piece in the thread-pool file IO mode, are READ into the connection's send
// buffer, head and body together, and sent by one SEND linked to the READs.
type largePath uint8

const (
	largeRead     largePath = iota // READ linked to SEND, 256 KiB at a time
	largeSplice                    // SPLICE file→pipe linked to SPLICE pipe→socket (io-wq)
	largeSendfile                  // sendfile(2) from the loop, for ranges in the page cache
	largeDirect                    // not a path but a count: uncached chunks READ with O_DIRECT
	largeFixed                     // not a path but a count: READ into registered buffers
)

const (
	largeMin      = 64 << 10 // file pieces from this size on take the large path
	spliceSize    = 1 << 20  // per splice pair (the pipe is sized to it where the kernel allows)
	sendfileChunk = 1 << 20  // per sendfile(2) call, each checked with cachestat(2) first
	sendfileTurn  = 4 << 20  // per connection per loop iteration; then the ring's turn
	// cachedFor is how long a cachestat verdict stands for the sendfile calls of one reply
	// that continue it after a full socket: past it, the pages are looked at again.
	cachedFor = 20 * time.Millisecond
)

// LargeFileStats counts the bytes of large file pieces (64 KiB and more) each path has sent
// since the server started: which path the kernel and Config.LargeFiles gave.
type LargeFileStats struct {
	Read     int64 // READ into a buffer, then SEND (also the fallback for uncached ranges)
	Splice   int64 // SPLICE file→pipe→socket through the ring
	Sendfile int64 // sendfile(2) from the loop's thread
	Direct   int64 // READ with O_DIRECT, then SEND: uncached ranges read once (Config.ColdReads)
	// Fixed counts the bytes of Read and Direct that were read into registered buffers
	// (READ_FIXED, Config.FixedBuffers).
	Fixed int64
	// UncachedLooks counts the cachestat(2) looks that found part of a range out of the page
	// cache, so that READ sent it instead of sendfile. (The kernel's count can also fall a
	// page short for a moment, on a file just written, and send a cached range by READ.)
	UncachedLooks int64
}

// LargeFileStats returns the bytes sent so far by each large-file path.
func (s *Server) LargeFileStats() LargeFileStats {
	return LargeFileStats{
		Read:     s.large[largeRead].Load(),
		Splice:   s.large[largeSplice].Load(),
		Sendfile: s.large[largeSendfile].Load(),
		Direct:   s.large[largeDirect].Load(),
		Fixed:    s.large[largeFixed].Load(),

		UncachedLooks: s.uncachedLooks.Load(),
	}
}

// SendfileUsable reports whether the sendfile path can be taken with features f: it needs
// cachestat(2) (Linux 6.5+, and not capped below 6.5), which tells the loop whether a range
// is in the page cache so that sendfile(2) cannot wait for a disk. It calls cachestat once,
// on an empty memfd, so a kernel or seccomp profile without it (ENOSYS, EPERM) says so.
func SendfileUsable(f *ring.Features) bool {
	if f == nil || !f.Effective().AtLeast(6, 5) {
		return false
	}
	fd, err := unix.MemfdCreate("uringd-cachestat-probe", unix.MFD_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var r unix.CachestatRange
	var cs unix.Cachestat_t
	return unix.Cachestat(uint(fd), &r, &cs, 0) == nil
}

// largePath decides a loop's large-file path from the configuration and what the kernel
// has; the thread-pool file IO mode reads every file through the pool.
func (s *Server) largePath(f *ring.Features, pool bool) largePath {
	switch {
	case pool:
		return largeRead
	case s.cfg.LargeFiles == "sendfile" && s.sendfileOK:
		return largeSendfile
	case s.cfg.LargeFiles == "splice" && f.Supports(ring.OpSplice):
		return largeSplice
	}
	return largeRead
}

// sendLarge sends (part of) file piece p by the loop's large path. It reports false, having
// done nothing, when the caller should READ and SEND the next chunk instead.
func (l *loop) sendLarge(c *conn, fd int, p *piece) bool {
	if l.large == largeSplice {
		return l.splice(c, fd, p)
	}
	return l.sendfile(c, fd, p)
}

// sendfile sends file piece p with sendfile(2) from the loop's own thread, up to
// sendfileTurn bytes, each chunk only after cachestat(2) has said all of it is in the page
// cache: sendfile moves page references into the socket (no copy through user memory) and,
// with the socket non-blocking and the pages cached, never blocks. When the socket is full
// a POLL for writability goes into the ring and the loop moves on; when the turn's bytes
// are sent, the same POLL (ready at once) gives the other connections their turn. It
// reports false, having sent nothing, when the next chunk is not all cached: the caller
// then READs it through the ring, which also brings it into the page cache. A page evicted
// between cachestat and sendfile makes that one call wait for the disk; that window is
// the price of a path with no thread at all.
func (l *loop) sendfile(c *conn, fd int, p *piece) bool {
	if !c.nonblock {
		if err := unix.SetNonblock(c.fd, true); err != nil {
			return false
		}
		c.nonblock = true
	}
	turn := int64(0)
	for {
		off := p.off + c.pieceDone
		n := min(p.n-c.pieceDone, sendfileChunk)
		l.lookCached(c, fd, p, off, n)
		if !l.knownCached(c, off, n) {
			if turn == 0 {
				return false
			}
			l.armPollOut(c) // the READ path takes the next chunk on the next turn
			return true
		}
		w, err := unix.Sendfile(c.fd, fd, &off, int(n))
		if w > 0 {
			c.pieceDone += int64(w)
			turn += int64(w)
			l.wrote(c, int64(w))
			l.s.large[largeSendfile].Add(int64(w))
		}
		switch {
		case err == syscall.EINTR:
			continue
		case errors.Is(err, syscall.EAGAIN) || (err == nil && w > 0 && int64(w) < n):
			l.armPollOut(c) // the socket is full
			return true
		case err != nil:
			if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
				l.s.cfg.Logf("loop %d: sendfile %s: %v", l.id, c.key, err)
			}
			l.closeConn(c)
			return true
		case w == 0:
			l.fileChanged(c)
			l.closeConn(c)
			return true
		}
		if c.pieceDone == p.n {
			c.piece, c.pieceDone = c.piece+1, 0
			l.nextChunk(c)
			return true
		}
		if turn >= sendfileTurn {
			l.armPollOut(c)
			return true
		}
	}
}

// directAlign is the alignment O_DIRECT reads keep, of buffer, offset and length: a page,
// which is a multiple of every logical block size Linux file systems use on this path.
const directAlign = 4096

// directLen returns how many of the n bytes at off of c's file, not in the page cache, are to
// be READ with O_DIRECT into c.out (0: none, read them buffered). O_DIRECT keeps a file read
// once out of the page cache: no readahead, no page allocation or cgroup reclaim on the
// loop's thread, one copy less. Only a file's first use per open-file cache entry reads
// direct; the next one reads buffered, so a file that is asked for again gets cached.
func (l *loop) directLen(c *conn, off, n int64) int64 {
	e := c.file
	if !l.s.coldDirect || e == nil || e.uses > 1 || c.outLen != 0 || off%directAlign != 0 {
		return 0
	}
	d := n &^ (directAlign - 1)
	if d == 0 || uintptr(unsafe.Pointer(&c.out[0]))%directAlign != 0 {
		return 0
	}
	if e.direct == 0 {
		// Opened again through /proc: the inode is in memory and held by fd, so this walks no
		// disk, and it is once per cache entry. A file system without O_DIRECT says EINVAL.
		fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(e.fd), unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
		if err != nil {
			e.direct = -1
			return 0
		}
		e.dfd, e.direct = fd, 1
	}
	if e.direct < 0 {
		return 0
	}
	return d
}

// knownCached reports whether the last look (lookCached) found [off, off+n) of c's file
// cached, no longer than cachedFor ago.
func (l *loop) knownCached(c *conn, off, n int64) bool {
	if e := c.file; e != nil && e.cachedAll && l.now.Sub(e.cachedAt) <= cachedFor {
		return true
	}
	return off >= c.cachedOff && off+n <= c.cachedEnd && l.now.Sub(c.cachedAt) <= cachedFor
}

// lookCached looks with cachestat(2) at what the next sendfile calls of piece p will send,
// unless a look of this reply's, or of any reply's for the whole file, already covers it.
// One look covers the turn's bytes (the whole file, for files up to sendfileTurn), so the
// calls that continue a reply after a full socket, and the next replies of a hot file, make
// none; a chunk is looked at alone when not all of the turn's bytes are cached.
func (l *loop) lookCached(c *conn, fd int, p *piece, off, n int64) {
	if l.knownCached(c, off, n) {
		return
	}
	c.cachedOff, c.cachedEnd, c.cachedAt = off, off, l.now
	ahead := min(p.n-c.pieceDone, sendfileTurn)
	if l.cached(fd, off, ahead) {
		c.cachedEnd = off + ahead
		if e := c.file; e != nil && off == 0 && ahead == e.meta.size {
			e.cachedAll, e.cachedAt = true, l.now
		}
		return
	}
	if ahead > n && l.cached(fd, off, n) {
		c.cachedEnd = off + n
	}
}

// cached reports whether every page of fd's bytes [off, off+n) is in the page cache.
func (l *loop) cached(fd int, off, n int64) bool {
	l.crange = unix.CachestatRange{Off: uint64(off), Len: uint64(n)}
	if err := unix.Cachestat(uint(fd), &l.crange, &l.cstat, 0); err != nil {
		return false
	}
	ps := int64(os.Getpagesize())
	if int64(l.cstat.Cache) >= (off+n+ps-1)/ps-off/ps {
		return true
	}
	l.s.uncachedLooks.Add(1)
	return false
}

func (l *loop) armPollOut(c *conn) {
	if !l.reserve(1) {
		l.deferStep(c, stepPollOut)
		return
	}
	sqe, u := l.prep(opPollOut, c)
	sqe.PrepPollAdd(c.fd, unix.POLLOUT)
	sqe.UserData = u
	c.pollOut = true
}

func (l *loop) onPollOut(c *conn, res int32) {
	c.pollOut = false
	if c.closing {
		return
	}
	if res < 0 || res&(unix.POLLERR|unix.POLLHUP) != 0 {
		l.closeConn(c)
		return
	}
	if c.spliceLeft > 0 {
		l.spliceOut(c) // what is still in the pipe
		return
	}
	l.fillAndSend(c) // the rest of the piece: sendfile again, or READ+SEND if not cached
}

// splice sends the next part of file piece p without copying it through user memory: SPLICE
// file→pipe linked to SPLICE pipe→socket. Both run on io-wq workers (file splices cannot be
// done non-blocking), which is why only large pieces take this path.
func (l *loop) splice(c *conn, fd int, p *piece) bool {
	if c.pipe[0] <= 0 && len(l.pipes) > 0 {
		pp := l.pipes[len(l.pipes)-1]
		l.pipes = l.pipes[:len(l.pipes)-1]
		c.pipe, c.pipeSize = pp.fds, pp.size
	}
	if c.pipe[0] <= 0 {
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			return false
		}
		// An unprivileged user past pipe-user-pages-soft gets small pipes and no resize: a
		// splice larger than the pipe would come up short and break its link.
		size, err := unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, spliceSize)
		if err != nil {
			if size, err = unix.FcntlInt(uintptr(fds[1]), unix.F_GETPIPE_SZ, 0); err != nil || size <= 0 {
				size = os.Getpagesize()
			}
		}
		c.pipe, c.pipeSize = fds, int64(min(size, spliceSize))
	}
	n := min(p.n-c.pieceDone, c.pipeSize)
	// Both SQEs come out of fillAndSend's reservation, so the link holds.
	l.injectChainCancel(c)
	sqe, u := l.prep(opSpliceIn, c)
	sqe.PrepSplice(fd, p.off+c.pieceDone, c.pipe[1], -1, uint32(n), 0)
	sqe.UserData = u
	l.link(sqe)
	c.spliceLeft = int(n)
	l.spliceOut(c)
	l.s.large[largeSplice].Add(n)
	c.pieceDone += n
	if c.pieceDone == p.n {
		c.piece, c.pieceDone = c.piece+1, 0
	}
	return true
}

// pipePair is a splice pipe and what it holds.
type pipePair struct {
	fds  [2]int
	size int64
}

// maxIdlePipes bounds the loop's spare splice pipes: enough for the replies that overlap.
const maxIdlePipes = 16

// putPipe takes c's pipe when its reply is done: an idle keep-alive connection holds no pipe
// (two fds), and the next splice reply takes a spare one instead of creating it. A finished
// reply leaves its pipe empty: every byte spliced in was spliced out.
func (l *loop) putPipe(c *conn) {
	if c.pipe[0] <= 0 {
		return
	}
	if c.spliceLeft == 0 && len(l.pipes) < maxIdlePipes {
		l.pipes = append(l.pipes, pipePair{c.pipe, c.pipeSize})
	} else {
		unix.Close(c.pipe[0])
		unix.Close(c.pipe[1])
	}
	c.pipe, c.pipeSize = [2]int{}, 0
}

func (l *loop) spliceOut(c *conn) {
	if !l.reserve(1) {
		l.deferStep(c, stepSpliceOut)
		return
	}
	sqe, u := l.prep(opSpliceOut, c)
	sqe.PrepSplice(c.pipe[0], -1, c.fd, -1, uint32(c.spliceLeft), 0)
	sqe.UserData = u
}

func (l *loop) onSpliceOut(c *conn, res int32) {
	if c.closing {
		return
	}
	if res == -int32(syscall.EAGAIN) {
		// The socket is full. The kernel (6.x) may return EAGAIN from an io-wq splice into
		// a socket even without SPLICE_F_NONBLOCK: wait for room in the ring, then again.
		l.armPollOut(c)
		return
	}
	if res == -int32(syscall.ECANCELED) && c.chainRetry && !c.closing {
		l.retryChain(c) // its splice-in was cancelled unasked: the pipe is empty
		return
	}
	if res == -int32(syscall.ECANCELED) && !c.spliceShort && !c.readFailed && c.kcancels < maxKernelCancels {
		// The splice-in moved all it was asked (or this is a later splice-out of what the
		// pipe holds) and the kernel cancelled this one unasked (it runs on io-wq): the pipe
		// still holds spliceLeft bytes, so it goes again.
		c.kcancels++
		l.spliceOut(c)
		return
	}
	if res <= 0 {
		if res == -int32(syscall.ECANCELED) && !c.readFailed {
			l.fileChanged(c) // its splice-in came up short and broke the link (no CQE_SKIP_SUCCESS)
		}
		l.closeConn(c) // the pipe may hold part of the file: it goes with the connection
		return
	}
	c.spliceLeft -= int(res)
	l.wrote(c, int64(res))
	if c.spliceLeft > 0 {
		l.spliceOut(c) // the rest of what is in the pipe
		return
	}
	l.nextChunk(c)
}
