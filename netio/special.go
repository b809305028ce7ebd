package netio

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uringd/uringd/netio/internal/http1"
)

// Fallbacks and error pages (Config.Fallback, Config.ErrorPages). In the uring engine the
// file is looked up through lookup like any path, with conn.special saying which lookup it
// is; each is tried at most once per request, so a missing page cannot loop.

type special uint8

const (
	specialNone     special = iota
	specialFallback         // looking the fallback file up
	specialErrPage          // looking the error page for conn.errStatus up
)

// ParseErrorPage parses "STATUS=/path" (serve --error-page).
func ParseErrorPage(s string) (int, string, error) {
	code, p, ok := strings.Cut(s, "=")
	n, err := strconv.Atoi(strings.TrimSpace(code))
	if !ok || err != nil {
		return 0, "", fmt.Errorf("error page %q: want STATUS=/path, such as 404=/404.html", s)
	}
	if n < 400 || n > 599 {
		return 0, "", fmt.Errorf("error page %q: only 4xx and 5xx statuses have error pages", s)
	}
	return n, strings.TrimSpace(p), nil
}

func checkSpecialPages(fallback string, pages map[int]string) error {
	check := func(what, p string) error {
		if !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" {
			return fmt.Errorf("netio: %s %q: want a file's path in the root, such as /index.html", what, p)
		}
		return nil
	}
	if fallback != "" {
		if err := check("fallback", fallback); err != nil {
			return err
		}
	}
	for code, p := range pages {
		if code < 400 || code > 599 {
			return fmt.Errorf("netio: error page for %d: only 4xx and 5xx statuses have error pages", code)
		}
		if err := check("error page for "+strconv.Itoa(code), p); err != nil {
			return err
		}
	}
	return nil
}

// routeLike reports whether p's last segment has no '.': /app/settings is a route of a
// single-page app, /app.js or /logo.png a missing file.
func routeLike(p []byte) bool {
	for i := len(p) - 1; i >= 0 && p[i] != '/'; i-- {
		if p[i] == '.' {
			return false
		}
	}
	return true
}

// trySpecial starts the lookup of the file that answers status for c, if there is one:
// the fallback for a missing route, else the status's error page. It returns false when
// the plain answer is to be planned.
func (l *loop) trySpecial(c *conn, status int, errno syscall.Errno) bool {
	cfg := &l.s.cfg
	var p string
	switch {
	case status == 404 && cfg.Fallback != "" && !c.fellBack && missing(errno) && routeLike(c.req.Path):
		c.special, c.fellBack, p = specialFallback, true, cfg.Fallback
	case c.special != specialErrPage && cfg.ErrorPages[status] != "":
		c.special, c.errStatus, p = specialErrPage, status, cfg.ErrorPages[status]
	default:
		return false
	}
	c.indexTry = false
	c.key = append(c.key[:0], p...)
	l.lookup(c)
	return true
}

// specialFound acts on the lookup of c's fallback or error page: e is what was found.
func (l *loop) specialFound(c *conn, lk lookup, e *fileEntry) {
	sp := c.special
	if e == nil || !lk.regular {
		if e != nil {
			l.files.unpin(e, l)
		}
		l.specialMissing(sp, lk.errno)
		status := 404
		if sp == specialErrPage {
			status = c.errStatus
		}
		c.special = specialNone
		if sp == specialFallback && l.trySpecial(c, 404, syscall.ENOENT) {
			return // the 404 page then
		}
		l.plan.planError(&c.rep, l.now, errorReply{Status: status, Head: c.req.Method == http1.MethodHEAD, Close: !c.req.KeepAlive})
		l.startReply(c)
		return
	}
	c.special = specialNone
	c.file = e
	e.refs++
	if sp == specialFallback {
		if l.sibling(c) {
			return
		}
		l.planPlain(c)
	} else {
		e.uses++
		l.plan.planPage(&c.rep, l.now, &c.req, &e.meta, c.errStatus)
	}
	l.startReply(c)
}

// specialMissing says, at most once a minute per loop, that a configured page is missing.
func (l *loop) specialMissing(sp special, errno syscall.Errno) {
	if l.now.Sub(l.specialLogged) < time.Minute && !l.specialLogged.IsZero() {
		return
	}
	l.specialLogged = l.now
	what := "fallback " + l.s.cfg.Fallback
	if sp == specialErrPage {
		what = "error page"
	}
	if errno == 0 {
		errno = syscall.EISDIR
	}
	l.s.cfg.Logf("loop %d: %s: %v (the plain answer is sent; said at most once a minute)", l.id, what, errno)
}

// planPage answers status with the file m as its body: the whole file whatever the
// request's Range or conditionals (they are about the resource asked for, not this page).
func (p *planner) planPage(r *reply, now time.Time, req *http1.Request, m *fileMeta, status int) {
	r.reset()
	resp := http1.Response{
		Status:         status,
		Date:           p.dates.Get(now),
		ContentType:    m.ctype,
		ContentLength:  m.size,
		Extra:          p.cors,
		Vary:           p.vary(false),
		Close:          !req.KeepAlive,
		KeepAliveReply: req.KeepAlive && req.Version == http1.Version10,
		Head:           req.Method == http1.MethodHEAD,
	}
	r.buf = http1.AppendResponseHeader(r.buf, &resp)
	r.litRange(0)
	r.status, r.close = status, resp.Close
	if !resp.Head {
		r.fileRange(0, m.size)
		r.bodyBytes = m.size
	}
}
