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
	scr   []byte // scratch for Location and a preflight's fields
	etag  []byte // scratch for a precompressed file's ETag
	// cors is the Access-Control-Allow-Origin line every response carries (Config.CORS),
	// corsVary that it names one origin, so caches must key on Origin.
	cors     []byte
	corsVary bool
}

// fileView is how a file is presented: a precompressed sibling is sent with its
// original's Content-Type and header rules, its own Content-Encoding and an ETag of its own.
type fileView struct {
	ctype    string
	encoding string
	etag     []byte
	vary     string
	hdrs     []byte // header rule and CORS lines (fileEntry.hdrs of the original)
}

// plainView presents a file as it is; siblings says precompressed ones exist, so the
// response depends on Accept-Encoding.
func (p *planner) plainView(m *fileMeta, hdrs []byte, siblings bool) fileView {
	return fileView{ctype: m.ctype, etag: m.etag, hdrs: hdrs, vary: p.vary(siblings)}
}

// codedView presents sibling m, precompressed in c, for original orig: its ETag is its
// own with the coding appended (distinct per encoding even when gzip -k kept the mtime).
func (p *planner) codedView(m, orig *fileMeta, c http1.Coding, hdrs []byte) fileView {
	p.etag = append(p.etag[:0], m.etag[:len(m.etag)-1]...)
	p.etag = append(append(append(p.etag, '-'), c.Name()...), '"')
	return fileView{ctype: orig.ctype, encoding: c.Name(), etag: p.etag, hdrs: hdrs, vary: p.vary(true)}
}

func (p *planner) vary(encoding bool) string {
	switch {
	case encoding && p.corsVary:
		return "Accept-Encoding, Origin"
	case encoding:
		return "Accept-Encoding"
	case p.corsVary:
		return "Origin"
	}
	return ""
}

// planPreflight answers OPTIONS (only parsed when CORS is on): 204 with the methods
// allowed, the request headers asked for, and how long a browser may keep the answer.
func (p *planner) planPreflight(r *reply, now time.Time, req *http1.Request) {
	r.reset()
	p.scr = append(p.scr[:0], p.cors...)
	p.scr = append(p.scr, "Access-Control-Allow-Methods: GET, HEAD\r\nAccess-Control-Max-Age: 86400\r\n"...)
	if len(req.AccessControlRequestHeaders) > 0 {
		p.scr = append(p.scr, "Access-Control-Allow-Headers: "...)
		p.scr = append(p.scr, req.AccessControlRequestHeaders...)
		p.scr = append(p.scr, '\r', '\n')
	}
	resp := http1.Response{
		Status:         204,
		Date:           p.dates.Get(now),
		ContentLength:  -1, // a 204 has none (RFC 9110 §8.6)
		Allow:          true,
		Vary:           p.vary(false),
		Extra:          p.scr,
		Close:          !req.KeepAlive,
		KeepAliveReply: req.KeepAlive && req.Version == http1.Version10,
	}
	r.buf = http1.AppendResponseHeader(r.buf, &resp)
	r.litRange(0)
	r.status, r.close = 204, resp.Close
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
		Extra:         p.cors,
		Vary:          p.vary(false),
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
		Extra:          p.cors,
		Vary:           p.vary(false),
		ContentLength:  0, // like net/http's FileServer redirects: no body
		Close:          !req.KeepAlive,
		KeepAliveReply: req.KeepAlive && req.Version == http1.Version10,
		Head:           req.Method == http1.MethodHEAD,
	}
	r.buf = http1.AppendResponseHeader(r.buf, &resp)
	r.litRange(0)
	r.status, r.close = 301, resp.Close
}

// planFile answers a GET or HEAD for the regular file m, presented as v says; ranges and
// conditionals apply to m's bytes (for a precompressed file, the encoded ones).
func (p *planner) planFile(r *reply, now time.Time, req *http1.Request, m *fileMeta, v *fileView) {
	r.reset()
	d := http1.Evaluate(req, m.size, m.modtime, v.etag)
	head := req.Method == http1.MethodHEAD
	keep := req.KeepAlive
	resp := http1.Response{
		Status:         d.Status,
		Date:           p.dates.Get(now),
		LastModified:   m.modtime,
		ETag:           v.etag,
		Vary:           v.vary,
		Extra:          v.hdrs,
		Close:          !keep,
		KeepAliveReply: keep && req.Version == http1.Version10,
		Head:           head,
	}
	switch d.Status {
	case 200, 206:
		resp.AcceptRanges = true
		resp.ContentType = v.ctype
		resp.ContentEncoding = v.encoding
		resp.ContentLength = d.BodyLength(v.ctype)
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
				r.buf = http1.AppendPartHeader(r.buf, i == 0, rg, m.size, v.ctype, resp.Boundary)
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
		resp.Extra = p.cors
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

// setCORS makes every reply carry Access-Control-Allow-Origin: origin ("" for none).
func (p *planner) setCORS(origin string) {
	if origin != "" {
		p.cors = []byte("Access-Control-Allow-Origin: " + origin + "\r\n")
		p.corsVary = origin != "*"
	}
}
