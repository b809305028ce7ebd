package netio

import (
	"syscall"
	"time"

	"github.com/uringd/uringd/netio/internal/http1"
)

// Precompressed siblings in the uring engine (both file IO modes). A sibling is looked up
// like any path, through lookup: the open-file cache, the open waiters, a full SQ's
// deferral and the kernel's cancellations all apply to it as to the original. While it is
// looked up, c.file pins the original (its entry's refs), and c.key holds the sibling's
// path with the original's as its first mainLen bytes.

// sibling is called with c.file the original regular file just found. It starts a
// sibling lookup and returns true when one is needed: to learn which siblings exist (once
// per cache entry), or to fetch the one the client's Accept-Encoding prefers.
func (l *loop) sibling(c *conn) bool {
	pre := l.s.pre
	if len(pre) == 0 {
		return false
	}
	e := c.file
	c.mainLen = len(c.key)
	if !e.sibsKnown {
		c.sib, c.sibServe = 0, false
		l.lookSibling(c)
		return true
	}
	k := chooseSibling(pre, e.sibs, c.req.AcceptEncoding)
	if k < 0 {
		return false
	}
	c.sib, c.sibServe = int8(k), true
	l.lookSibling(c)
	return true
}

func (l *loop) lookSibling(c *conn) {
	c.key = append(c.key[:c.mainLen], l.s.pre[c.sib].Ext()...)
	l.lookup(c)
}

// siblingFound acts on the lookup of c's sibling: s is what was found (nil if nothing, for
// errno). A sibling counts when it is a regular file at least as new as the original (fresh; an
// older one is stale: the original changed after it was compressed). One that cannot be
// opened for another reason than its absence (a symlink out of the root, EXDEV; no
// permission) counts as absent until the original's cache entry goes, and is said.
func (l *loop) siblingFound(c *conn, s *fileEntry, errno syscall.Errno) {
	orig := c.file
	i := c.sib
	if s == nil && !missing(errno) {
		l.s.cfg.Logf("loop %d: open %s (precompressed sibling, not served): %v", l.id, c.key, errno)
	}
	ok := s != nil && !s.meta.isDir && fresh(s.meta.modtime, orig.meta.modtime)
	c.sib = -1
	c.key = c.key[:c.mainLen]
	if !c.sibServe {
		if ok {
			orig.sibs |= 1 << i
		}
		if s != nil {
			l.files.unpin(s, l) // kept by the cache for the request that sends it
		}
		if int(i)+1 < len(l.s.pre) {
			c.sib = i + 1
			l.lookSibling(c)
			return
		}
		orig.sibsKnown = true
		if l.sibling(c) {
			return
		}
		l.planPlain(c)
		l.startReply(c)
		return
	}
	if !ok { // gone, or replaced by an older one, since it was found: the original goes
		orig.sibs &^= 1 << i
		if s != nil {
			l.files.unpin(s, l)
		}
		l.planPlain(c)
		l.startReply(c)
		return
	}
	s.refs++
	s.uses++
	c.file = s
	orig.refs--
	l.files.unpin(orig, l)
	v := l.plan.codedView(&s.meta, &orig.meta, l.s.pre[i], orig.hdrs)
	l.plan.planFile(&c.rep, l.now, &c.req, &s.meta, &v)
	l.startReply(c)
}

// fresh reports whether a sibling modified at sib is at least as new as its original,
// modified at orig, to the second: brotli -k gives its output the input's time cut to whole
// seconds, and Last-Modified has no finer grain either.
func fresh(sib, orig time.Time) bool { return sib.Unix() >= orig.Unix() }

// missing reports whether errno, an open's, says the path does not exist.
func missing(errno syscall.Errno) bool { return errno == syscall.ENOENT || errno == syscall.ENOTDIR }

// planPlain plans c.file, pinned, as it is.
func (l *loop) planPlain(c *conn) {
	e := c.file
	e.uses++
	v := l.plan.plainView(&e.meta, e.hdrs, e.sibs != 0)
	l.plan.planFile(&c.rep, l.now, &c.req, &e.meta, &v)
}

// chooseSibling returns the index in pre of the sibling to send for Accept-Encoding ae,
// among those sibs says exist, or -1 for the file as it is. Only the codings that exist
// are offered to the negotiation, in the server's order.
func chooseSibling(pre []http1.Coding, sibs uint8, ae []byte) int {
	if sibs == 0 || len(ae) == 0 {
		return -1
	}
	var have [3]http1.Coding
	var idx [3]int
	n := 0
	for i, cd := range pre {
		if sibs&(1<<i) != 0 {
			have[n], idx[n] = cd, i
			n++
		}
	}
	if k := http1.PreferEncoding(ae, have[:n]); k >= 0 {
		return idx[k]
	}
	return -1
}
