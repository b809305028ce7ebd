package netio

import (
	"errors"
	"syscall"
	"time"

	"github.com/uringd/uringd/netio/internal/http1"
)

// fileMeta is what the server knows of a file or directory: enough to answer any request on
// it without touching the file again (the body itself is always read from the file).
type fileMeta struct {
	size    int64
	modtime time.Time
	isDir   bool
	etag    []byte // strong validator from size and mtime (http1.AppendETag)
	ctype   string
}

func newMeta(size int64, modtime time.Time, isDir bool, name []byte) fileMeta {
	m := fileMeta{size: size, modtime: modtime, isDir: isDir}
	if !isDir {
		m.etag = http1.AppendETag(nil, size, modtime)
		m.ctype = http1.ContentType(name)
	}
	return m
}

// piece is one part of a response on the wire: literal bytes from reply.buf[lo:hi], or, when
// file is true, n bytes of the file from offset off.
type piece struct {
	file   bool
	lo, hi int
	off, n int64
}

// reply is a planned response: the head and literal parts in buf, and the pieces to send in
// order. One reply per connection is reused, so planning does not allocate.
type reply struct {
	buf       []byte
	pieces    []piece
	status    int
	close     bool  // close the connection after sending
	bodyBytes int64 // body bytes sent (for access logs)
	total     int64 // bytes on the wire
}

func (r *reply) reset() {
	r.buf = r.buf[:0]
	r.pieces = r.pieces[:0]
	r.status, r.close, r.bodyBytes, r.total = 0, false, 0, 0
}

func (r *reply) lit(b []byte) {
	lo := len(r.buf)
	r.buf = append(r.buf, b...)
	r.litRange(lo)
}

func (r *reply) litRange(lo int) {
	if hi := len(r.buf); hi > lo {
		r.pieces = append(r.pieces, piece{lo: lo, hi: hi})
		r.total += int64(hi - lo)
	}
}

func (r *reply) fileRange(off, n int64) {
	if n > 0 {
		r.pieces = append(r.pieces, piece{file: true, off: off, n: n})
		r.total += n
	}
}

// planner builds replies. It holds the per-loop caches the HTTP code needs (the Date value).
type planner struct {
	dates http1.DateCache
	scr   []byte // scratch for Location
}

// errorReply is an error answer to plan.
type errorReply struct {
	Status int
	Head   bool // answering HEAD: the head alone
	Close  bool // Connection: close, and the connection closes after it
	Allow  bool // an Allow field (405)
}

// planError answers a request that cannot be served: a small text body.
func (p *planner) planError(r *reply, now time.Time, e errorReply) {
	status, head, close, allow := e.Status, e.Head, e.Close, e.Allow
	r.reset()
	resp := http1.Response{
		Status:        status,
		Date:          p.dates.Get(now),
		ContentType:   "text/plain; charset=utf-8",
		ContentLength: -1,
		Allow:         allow,
		NoSniff:       true,
		Close:         close,
		Head:          head,
		Body:          http1.StatusBody(status),
	}
	resp.ContentLength = int64(len(resp.Body))
	r.buf = http1.AppendResponseHeader(r.buf, &resp)
	r.litRange(0)
	r.status, r.close = status, close
	if !head {
		r.bodyBytes = int64(len(resp.Body))
	}
}

// planRedirect answers 301 to target (already escaped), keeping the query.
func (p *planner) planRedirect(r *reply, now time.Time, req *http1.Request, target []byte) {
	r.reset()
	p.scr = append(p.scr[:0], target...)
	if len(req.RawQuery) > 0 {
		p.scr = append(p.scr, '?')
		p.scr = append(p.scr, req.RawQuery...)
	}
	resp := http1.Response{
		Status:         301,
		Date:           p.dates.Get(now),
		Location:       p.scr,
		ContentLength:  0, // like net/http's FileServer redirects: no body
		Close:          !req.KeepAlive,
		KeepAliveReply: req.KeepAlive && req.Version == http1.Version10,
		Head:           req.Method == http1.MethodHEAD,
	}
	r.buf = http1.AppendResponseHeader(r.buf, &resp)
	r.litRange(0)
	r.status, r.close = 301, resp.Close
}

// planFile answers a GET or HEAD for a regular file.
func (p *planner) planFile(r *reply, now time.Time, req *http1.Request, m *fileMeta) {
	r.reset()
	d := http1.Evaluate(req, m.size, m.modtime, m.etag)
	head := req.Method == http1.MethodHEAD
	keep := req.KeepAlive
	resp := http1.Response{
		Status:         d.Status,
		Date:           p.dates.Get(now),
		LastModified:   m.modtime,
		ETag:           m.etag,
		Close:          !keep,
		KeepAliveReply: keep && req.Version == http1.Version10,
		Head:           head,
	}
	switch d.Status {
	case 200, 206:
		resp.AcceptRanges = true
		resp.ContentType = m.ctype
		resp.ContentLength = d.BodyLength(m.ctype)
		ranges := d.Ranges()
		if d.Status == 206 && !d.Multipart() {
			resp.HasRange, resp.Range, resp.Size = true, ranges[0], m.size
		}
		if d.Multipart() {
			resp.Boundary = d.Boundary()
			resp.ContentType = ""
		}
		r.buf = http1.AppendResponseHeader(r.buf, &resp)
		r.litRange(0)
		r.status, r.close = d.Status, resp.Close
		if head {
			return
		}
		switch {
		case d.Status == 200:
			r.fileRange(0, m.size)
		case !d.Multipart():
			r.fileRange(ranges[0].Start, ranges[0].Length)
		default:
			for i, rg := range ranges {
				lo := len(r.buf)
				r.buf = http1.AppendPartHeader(r.buf, i == 0, rg, m.size, m.ctype, resp.Boundary)
				r.litRange(lo)
				r.fileRange(rg.Start, rg.Length)
			}
			lo := len(r.buf)
			r.buf = http1.AppendMultipartEnd(r.buf, resp.Boundary)
			r.litRange(lo)
		}
		r.bodyBytes = resp.ContentLength
	case 304:
		resp.ContentLength = -1
		r.buf = http1.AppendResponseHeader(r.buf, &resp)
		r.litRange(0)
		r.status, r.close = 304, resp.Close
	default: // 412, 416; as net/http, a 416 carries no validators
		if d.Status == 416 {
			resp.LastModified, resp.ETag = time.Time{}, nil
		}
		resp.ContentType = "text/plain; charset=utf-8"
		resp.NoSniff = true
		resp.Body = http1.StatusBody(d.Status)
		resp.ContentLength = int64(len(resp.Body))
		if d.Status == 416 && d.Unsatisfied {
			resp.Unsatisfied, resp.Size = true, m.size
		}
		r.buf = http1.AppendResponseHeader(r.buf, &resp)
		r.litRange(0)
		r.status, r.close = d.Status, resp.Close
		if !head {
			r.bodyBytes = resp.ContentLength
		}
	}
}

// statusForOpenError maps an open/stat failure to a status: missing → 404, refused by the
// kernel or leading out of the root (RESOLVE_BENEATH gives EXDEV, symlink loops ELOOP) → 403,
// a name too long → 414, anything else → 500.
func statusForOpenError(err error) int {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return 500
	}
	switch errno {
	case syscall.ENOENT, syscall.ENOTDIR:
		return 404
	case syscall.EPERM, syscall.EACCES, syscall.EXDEV, syscall.ELOOP:
		return 403
	case syscall.ENAMETOOLONG:
		return 414
	}
	return 500
}
