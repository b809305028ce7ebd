package netio

import (
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/netio/internal/http1"
)

// listWorkers is how many directory listings a server reads at once. A listing reads at
// most MaxListingEntries entries, so each takes a bounded time, and a few workers keep a
// burst of listings from taking every core from the loops.
const listWorkers = 4

// listQueue runs the server's directory listings on at most listWorkers goroutines.
// Listings beyond those wait in a FIFO rather than get 503: a listing is bounded work,
// so the wait is short, and someone browsing a directory wants the page, not an error to
// retry. The FIFO is bounded too, by MaxConns: a connection waits for at most one
// listing at a time (its requests are answered in order).
type listQueue struct {
	mu      sync.Mutex
	jobs    []listJob
	running int // workers
	peak    int // most workers ever running at once (tests check the bound)
}

type listJob struct {
	l    *loop
	j    poolJob
	dir  string
	info bool // a JSON listing: sizes and times too
}

// listDir lists a directory that has no index.html. Reading a directory has no io_uring
// opcode, so a listing worker reads it through os.Root (which cannot leave the served root)
// and posts the entries back to the loop; the loop never waits for the directory.
func (l *loop) listDir(c *conn) {
	dir := strings.TrimPrefix(string(c.req.Path), "/")
	if dir == "" {
		dir = "."
	}
	c.poolBusy++
	q := &l.s.lists
	q.mu.Lock()
	info := http1.WantsJSON(c.req.Accept, c.req.RawQuery)
	q.jobs = append(q.jobs, listJob{l: l, j: poolJob{kind: poolList, c: c, gen: c.gen}, dir: dir, info: info})
	start := q.running < listWorkers
	if start {
		q.running++
		q.peak = max(q.peak, q.running)
	}
	q.mu.Unlock()
	if start {
		go l.s.listWorker()
	}
}

// listWorker reads queued listings until the queue is empty.
func (s *Server) listWorker() {
	q := &s.lists
	for {
		q.mu.Lock()
		if len(q.jobs) == 0 {
			q.running--
			q.mu.Unlock()
			return
		}
		job := q.jobs[0]
		q.jobs[0] = listJob{}
		q.jobs = q.jobs[1:]
		q.mu.Unlock()
		job.j.entries, job.j.errno = readDirCut(s, job.dir, job.info)
		if !s.loopFailed(job.l) { // a failed loop's connections are already closed
			job.l.post(job.j)
		}
	}
}

func (s *Server) loopFailed(l *loop) bool {
	s.failedMu.Lock()
	defer s.failedMu.Unlock()
	return slices.Contains(s.failed, l)
}

// readDirCut reads at most MaxListingEntries+1 entries of dir, sorted by name: more than
// MaxListingEntries says the directory has more, and the listing is cut. The cut keeps the
// work bounded: a directory of millions of entries is not read to the end for one page.
// With info, each entry's size and time are read too (an lstat each: for JSON listings).
func readDirCut(s *Server, dir string, info bool) ([]http1.DirEntry, syscall.Errno) {
	f, err := openDirBeneath(s, dir)
	if err != nil {
		return nil, errnoOf(err)
	}
	defer f.Close()
	des, err := f.ReadDir(s.cfg.MaxListingEntries + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, errnoOf(err)
	}
	entries := make([]http1.DirEntry, len(des))
	for i, de := range des {
		entries[i] = http1.DirEntry{Name: de.Name(), IsDir: de.IsDir()}
		if info {
			// Relative to the directory's fd (DirEntry.Info would resolve its name from
			// the working directory); gone since it was read: no size, no time.
			var st unix.Stat_t
			if unix.Fstatat(int(f.Fd()), de.Name(), &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
				entries[i].Size, entries[i].ModTime = st.Size, time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
			}
		}
	}
	slices.SortFunc(entries, func(a, b http1.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	return entries, 0
}

// openDirBeneath opens dir beneath the root for reading its entries. openat2 with
// RESOLVE_BENEATH needs only search permission on the directories above it, as serving a
// file does (os.Root opens each of them for reading: a readable directory inside an
// execute-only one got 403); os.Root remains for kernels without openat2.
func openDirBeneath(s *Server, dir string) (*os.File, error) {
	fd, err := unix.Openat2(s.rootFd, dir, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case err == nil:
		return os.NewFile(uintptr(fd), dir), nil
	case errors.Is(err, syscall.ENOSYS):
		return s.root.Open(dir)
	}
	return nil, &os.PathError{Op: "openat2", Path: dir, Err: err}
}

func (l *loop) onListing(c *conn, entries []http1.DirEntry, errno syscall.Errno) {
	if c.closing {
		return
	}
	if errno != 0 {
		l.plan.planError(&c.rep, l.now, errorReply{Status: statusForOpenError(errno), Head: c.req.Method == http1.MethodHEAD, Close: !c.req.KeepAlive})
	} else {
		l.plan.planDirListing(&c.rep, l.now, &c.req, entries, l.s.cfg.MaxListingEntries)
	}
	l.startReply(c)
}

// planDirListing answers a directory without index.html with a listing of at most limit
// entries, HTML or, when the client asks for it (http1.WantsJSON), JSON; when entries
// holds more (readDirCut), the HTML listing ends with a line saying it was cut and the
// JSON one says "truncated": true.
func (p *planner) planDirListing(r *reply, now time.Time, req *http1.Request, entries []http1.DirEntry, limit int) {
	r.reset()
	cut := len(entries) > limit
	if cut {
		entries = entries[:limit]
	}
	var body []byte
	ctype := http1.DirListingContentType
	if http1.WantsJSON(req.Accept, req.RawQuery) {
		body = http1.AppendDirListingJSON(nil, entries, cut)
		ctype = http1.DirListingJSONContentType
	} else {
		body = http1.AppendDirListing(nil, entries)
		if cut {
			body = append(body, "<p>listing cut at "...)
			body = strconv.AppendInt(body, int64(limit), 10)
			body = append(body, " entries: the directory has more</p>\n"...)
		}
	}
	vary := "Accept" // HTML or JSON
	if p.corsVary {
		vary = "Accept, Origin"
	}
	resp := http1.Response{
		Status:         200,
		Date:           p.dates.Get(now),
		ContentType:    ctype,
		ContentLength:  int64(len(body)),
		Close:          !req.KeepAlive,
		KeepAliveReply: req.KeepAlive && req.Version == http1.Version10,
		Head:           req.Method == http1.MethodHEAD,
		Extra:          p.cors,
		Vary:           vary,
	}
	r.buf = http1.AppendResponseHeader(r.buf, &resp)
	if !resp.Head {
		r.buf = append(r.buf, body...)
		r.bodyBytes = int64(len(body))
	}
	r.litRange(0)
	r.status, r.close = 200, resp.Close
}
