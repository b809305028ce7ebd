// Package http1 owns the pure HTTP/1.1 layer of uringd: it turns received bytes into
// parsed requests (Parse), request targets into safe cleaned paths (CleanPath), file
// metadata and request headers into decisions (Evaluate, ParseRange, ContentType,
// AppendETag) and decisions into serialized response heads (AppendResponseHeader,
// AppendPartHeader, AppendDirListing).
//
// It never touches sockets, files, io_uring, goroutines or clocks: every function is a
// pure function of its arguments (the current time is passed in by the caller), nothing
// here blocks, and nothing keeps global mutable state. The request, decision and header
// paths do not allocate: requests hold slices into the caller's receive buffer, and
// output is appended into caller-provided buffers.
//
// # Intended use by an event loop
//
//	n, err := c.scan.Parse(c.rbuf, &c.req, limits) // c.scan: a HeadScanner per connection
//	if err == http1.ErrNeedMore {
//		// read more bytes (c.rbuf must be able to hold MaxHeaderBytes+1), Parse again
//	} else if e, ok := err.(http1.Error); ok {
//		resp := http1.NewErrorResponse(e.Status(), dates.Get(now)) // Close set
//		if !e.Close() {
//			resp.ApplyRequest(&c.req) // 405/501: the head was framed; may keep alive
//		}
//		out = http1.AppendResponseHeader(out, &resp)
//		// close if resp.Close, else drop n bytes and go on
//	} else {
//		// drop n bytes, then discard c.req.ContentLength body bytes, or for
//		// c.req.Chunked feed what follows to a ChunkedDecoder (Reset per request)
//		// until it reports done; its errors are answered like Parse's;
//		// open+stat c.req.Path below the root (redirect on c.req.TrailingSlash mismatch,
//		// index.html or AppendDirListing for directories), then:
//		etag := http1.AppendETag(c.etag[:0], size, mtime)
//		d := http1.Evaluate(&c.req, size, mtime, etag)
//		ctype := http1.ContentType(c.req.Path)
//		resp := http1.FileResponse(&c.req, &d, ctype, mtime, etag, dates.Get(now))
//		out = http1.AppendResponseHeader(out, &resp)
//		// unless HEAD: send d.Ranges() of the file (whole file for 200); for
//		// d.Multipart(), wrap each in AppendPartHeader and finish with
//		// AppendMultipartEnd, using d.Boundary().
//	}
//
// # Protocol choices
//
//   - Line endings: CRLF only. RFC 9112 §2.2 lets a recipient accept a bare LF; uringd
//     does not (a bare LF or bare CR is answered 400 and the connection closed), which
//     removes one class of request-smuggling disagreements with intermediaries.
//   - Empty lines before the request line are skipped (RFC 9112 §2.2).
//   - obs-fold, whitespace before a colon, whitespace before the first field, control
//     bytes (including NUL) in fields, duplicate Host, duplicate or malformed
//     Content-Length, Content-Length together with Transfer-Encoding and any
//     Transfer-Encoding other than "chunked" are answered 400 and close the connection.
//   - Request bodies: a Content-Length or chunked body is allowed on any request and
//     must be discarded by the caller (Request.ContentLength bytes after the header
//     block, or a chunked body through ChunkedDecoder, RFC 9112 §7.1: a recipient must
//     be able to parse chunked). Both are bounded by Limits.MaxBodyBytes (413, close):
//     a static file server has no use for request bodies and reads them only to keep
//     the connection. Transfer-Encoding is accepted only as the single value
//     "chunked" on HTTP/1.1 without Content-Length; any other spelling or coding, or
//     Transfer-Encoding on HTTP/1.0, is answered 400 and closes the connection.
//   - Host is checked byte by byte against uri-host [":" port] (RFC 3986: reg-name,
//     IPv4address, IP-literal with IPv6address, a "%25" zone or IPvFuture; port
//     digits only): anything else is 400.
//   - A head arriving in pieces is scanned once (HeadScanner), not re-parsed from its
//     first byte on every receive.
//   - Methods: GET and HEAD are served. POST, PUT, DELETE, PATCH, OPTIONS, TRACE and
//     CONNECT are answered 405 with "Allow: GET, HEAD"; other tokens 501. These two are
//     reported only once the whole header block is parsed, so the connection may be
//     kept open (Error.Close is false) unless the request carries a body.
//   - Versions HTTP/1.0 and HTTP/1.1 are served; any other well-formed HTTP/x.y gets
//     505; a malformed version gets 400. Host is required for HTTP/1.1 (400).
//   - Repeated fields other than Host, Content-Length, Transfer-Encoding and Connection:
//     the first occurrence wins (like net/http's Header.Get).
//   - Limits: the whole header block (request line, fields, blank lines) is bounded by
//     Limits.MaxHeaderBytes (431) and the request target by Limits.MaxTargetBytes (414),
//     both checked also while the block is still incomplete.
package http1
