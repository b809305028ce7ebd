package netio

import (
	"slices"
	"strings"
	"syscall"

	"github.com/uringd/uringd/netio/internal/http1"
)

// listDir lists a directory that has no index.html. Reading a directory has no io_uring
// opcode, so a goroutine reads it through os.Root (which cannot leave the served root) and
// posts the entries back to the loop; listings are rare, so this costs the loop nothing.
func (l *loop) listDir(c *conn) {
	dir := strings.TrimPrefix(string(c.req.Path), "/")
	if dir == "" {
		dir = "."
	}
	c.poolBusy++
	j := poolJob{kind: poolList, c: c, gen: c.gen}
	go func() {
		j.entries, j.errno = readDir(l.s, dir)
		l.post(j)
	}()
}

func readDir(s *Server, dir string) ([]http1.DirEntry, syscall.Errno) {
	f, err := s.root.Open(dir)
	if err != nil {
		return nil, errnoOf(err)
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, errnoOf(err)
	}
	entries := make([]http1.DirEntry, len(des))
	for i, de := range des {
		entries[i] = http1.DirEntry{Name: de.Name(), IsDir: de.IsDir()}
	}
	slices.SortFunc(entries, func(a, b http1.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	return entries, 0
}

func (l *loop) onListing(c *conn, entries []http1.DirEntry, errno syscall.Errno) {
	if c.closing {
		return
	}
	if errno != 0 {
		l.plan.planError(&c.rep, l.now, statusForOpenError(errno), c.req.Method == http1.MethodHEAD, !c.req.KeepAlive, false)
	} else {
		l.plan.planListing(&c.rep, l.now, &c.req, entries)
	}
	l.startReply(c)
}
