package http1

import (
	"strconv"
	"time"
)

// ServerName is the value of the Server field.
const ServerName = "uringd"

// statusBody returns "<code> <reason>\n" for the statuses uringd sends, "" otherwise.
// It doubles as the source of reason phrases and of the small error bodies.
func statusBody(code int) string {
	switch code {
	case 200:
		return "200 OK\n"
	case 204:
		return "204 No Content\n"
	case 206:
		return "206 Partial Content\n"
	case 301:
		return "301 Moved Permanently\n"
	case 302:
		return "302 Found\n"
	case 304:
		return "304 Not Modified\n"
	case 307:
		return "307 Temporary Redirect\n"
	case 308:
		return "308 Permanent Redirect\n"
	case 400:
		return "400 Bad Request\n"
	case 403:
		return "403 Forbidden\n"
	case 404:
		return "404 Not Found\n"
	case 405:
		return "405 Method Not Allowed\n"
	case 408:
		return "408 Request Timeout\n"
	case 412:
		return "412 Precondition Failed\n"
	case 413:
		return "413 Content Too Large\n"
	case 414:
		return "414 URI Too Long\n"
	case 416:
		return "416 Range Not Satisfiable\n"
	case 431:
		return "431 Request Header Fields Too Large\n"
	case 500:
		return "500 Internal Server Error\n"
	case 501:
		return "501 Not Implemented\n"
	case 503:
		return "503 Service Unavailable\n"
	case 505:
		return "505 HTTP Version Not Supported\n"
	}
	return ""
}

// StatusText returns the reason phrase for code ("" if unknown to uringd).
func StatusText(code int) string {
	if b := statusBody(code); b != "" {
		return b[4 : len(b)-1]
	}
	return ""
}

// StatusBody returns the standard small text/plain body for an error status,
// e.g. "404 Not Found\n" ("" if unknown to uringd).
func StatusBody(code int) string { return statusBody(code) }

// Response is everything AppendResponseHeader writes. Build it with FileResponse,
// NewErrorResponse or NewRedirectResponse, or by hand.
type Response struct {
	Status int
	Date   []byte // Date value, e.g. from DateCache.Get; omitted if empty

	ContentType   string // omitted if empty (and Boundary is empty)
	Boundary      []byte // if set: Content-Type: multipart/byteranges; boundary=...
	ContentLength int64  // omitted if negative

	LastModified time.Time // omitted if zero or the Unix epoch
	ETag         []byte    // omitted if empty
	AcceptRanges bool      // Accept-Ranges: bytes

	HasRange    bool  // Content-Range: bytes Range.Start-Range.End()/Size
	Unsatisfied bool  // Content-Range: bytes */Size
	Range       Range // for HasRange
	Size        int64 // complete length for Content-Range

	Location []byte // for redirects; must already be escaped (AppendEscapedPath)

	ContentEncoding string // omitted if empty (a precompressed file: "br", "zstd", "gzip")
	Vary            string // omitted if empty
	// Extra is written as is after the fields above: whole "Name: value\r\n" lines, such
	// as a server's configured header rules. The caller makes sure they are well formed.
	Extra   []byte
	Allow   bool // Allow: GET, HEAD (for 405)
	NoSniff bool // X-Content-Type-Options: nosniff (error bodies, as net/http)

	Close          bool // Connection: close
	KeepAliveReply bool // Connection: keep-alive (HTTP/1.0 clients that asked for it)

	Head bool   // response to HEAD: Body is not written (Content-Length still is)
	Body string // small body written after the head (error and redirect texts)
}

// ApplyRequest sets the connection and HEAD fields from a parsed request: Close unless
// req.KeepAlive, "Connection: keep-alive" for kept-alive HTTP/1.0, and Head for HEAD.
func (r *Response) ApplyRequest(req *Request) {
	r.Close = !req.KeepAlive
	r.KeepAliveReply = req.KeepAlive && req.Version == Version10
	r.Head = req.Method == MethodHEAD
}

// NewErrorResponse returns a response for an error status with the standard small
// text/plain body ("404 Not Found\n"), "Allow: GET, HEAD" for 405, and Close set:
// call ApplyRequest to keep the connection when the request allows it.
func NewErrorResponse(status int, date []byte) Response {
	body := statusBody(status)
	return Response{
		Status:        status,
		Date:          date,
		ContentType:   "text/plain; charset=utf-8",
		ContentLength: int64(len(body)),
		Body:          body,
		NoSniff:       true,
		Allow:         status == 405,
		Close:         true,
	}
}

// NewRedirectResponse returns a redirect (e.g. 301 for "/dir" -> "/dir/") to location,
// which must already be escaped, with a small text body. Call ApplyRequest next.
func NewRedirectResponse(status int, location, date []byte) Response {
	r := NewErrorResponse(status, date)
	r.Location = location
	r.NoSniff = false
	return r
}

// FileResponse builds the response head for a file request evaluated by Evaluate.
// ctype is the file's Content-Type (ContentType), modtime and etag as given to
// Evaluate. Validators are sent on 200, 206 and 304 (on 304 Last-Modified only when
// there is no ETag, as net/http); 412 and 416 get the small error body, 416 with
// "Content-Range: bytes */size" when unsatisfiable. Connection fields come from req.
func FileResponse(req *Request, d *Decision, ctype string, modtime time.Time, etag, date []byte) Response {
	var r Response
	switch d.Status {
	case 200, 206, 304:
		r = Response{Status: d.Status, Date: date, ContentLength: -1, ETag: etag}
		if d.Status != 304 || len(etag) == 0 {
			r.LastModified = modtime
		}
		if d.Status != 304 {
			r.AcceptRanges = true
			r.ContentType = ctype
			r.ContentLength = d.BodyLength(ctype)
		}
		if d.Status == 206 {
			if d.Multipart() {
				r.Boundary = d.Boundary()
			} else {
				r.HasRange, r.Range, r.Size = true, d.ranges[0], d.Size
			}
		}
	default:
		r = NewErrorResponse(d.Status, date)
		if d.Unsatisfied {
			r.Unsatisfied, r.Size = true, d.Size
		}
	}
	r.ApplyRequest(req)
	return r
}

// AppendResponseHeader appends the status line and header fields of r, the blank line,
// and then r.Body unless r.Head. The response is always HTTP/1.1. Fields are written
// in a fixed order: Date, Server, Content-Type, Content-Length, Last-Modified, ETag,
// Accept-Ranges, Content-Range, Location, Content-Encoding, Vary, Extra, Allow,
// X-Content-Type-Options, Connection.
// It never allocates when dst has enough capacity.
func AppendResponseHeader(dst []byte, r *Response) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	if b := statusBody(r.Status); b != "" {
		dst = append(dst, b[:len(b)-1]...)
	} else {
		dst = strconv.AppendInt(dst, int64(r.Status), 10)
		dst = append(dst, " Status"...)
	}
	dst = append(dst, '\r', '\n')
	if len(r.Date) > 0 {
		dst = append(dst, "Date: "...)
		dst = append(dst, r.Date...)
		dst = append(dst, '\r', '\n')
	}
	dst = append(dst, "Server: "+ServerName+"\r\n"...)
	if len(r.Boundary) > 0 {
		dst = append(dst, "Content-Type: multipart/byteranges; boundary="...)
		dst = append(dst, r.Boundary...)
		dst = append(dst, '\r', '\n')
	} else if r.ContentType != "" {
		dst = append(dst, "Content-Type: "...)
		dst = append(dst, r.ContentType...)
		dst = append(dst, '\r', '\n')
	}
	if r.ContentLength >= 0 {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, r.ContentLength, 10)
		dst = append(dst, '\r', '\n')
	}
	if !isZeroTime(r.LastModified) {
		dst = append(dst, "Last-Modified: "...)
		dst = AppendHTTPDate(dst, r.LastModified)
		dst = append(dst, '\r', '\n')
	}
	if len(r.ETag) > 0 {
		dst = append(dst, "ETag: "...)
		dst = append(dst, r.ETag...)
		dst = append(dst, '\r', '\n')
	}
	if r.AcceptRanges {
		dst = append(dst, "Accept-Ranges: bytes\r\n"...)
	}
	if r.HasRange {
		dst = append(dst, "Content-Range: "...)
		dst = AppendContentRange(dst, r.Range, r.Size)
		dst = append(dst, '\r', '\n')
	} else if r.Unsatisfied {
		dst = append(dst, "Content-Range: bytes */"...)
		dst = strconv.AppendInt(dst, r.Size, 10)
		dst = append(dst, '\r', '\n')
	}
	if len(r.Location) > 0 {
		dst = append(dst, "Location: "...)
		dst = append(dst, r.Location...)
		dst = append(dst, '\r', '\n')
	}
	if r.ContentEncoding != "" {
		dst = append(dst, "Content-Encoding: "...)
		dst = append(dst, r.ContentEncoding...)
		dst = append(dst, '\r', '\n')
	}
	if r.Vary != "" {
		dst = append(dst, "Vary: "...)
		dst = append(dst, r.Vary...)
		dst = append(dst, '\r', '\n')
	}
	dst = append(dst, r.Extra...)
	if r.Allow {
		dst = append(dst, "Allow: GET, HEAD\r\n"...)
	}
	if r.NoSniff {
		dst = append(dst, "X-Content-Type-Options: nosniff\r\n"...)
	}
	if r.Close {
		dst = append(dst, "Connection: close\r\n"...)
	} else if r.KeepAliveReply {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	dst = append(dst, '\r', '\n')
	if !r.Head {
		dst = append(dst, r.Body...)
	}
	return dst
}

// ValidFieldName reports whether s may name a header field (a token).
func ValidFieldName(s string) bool { return isToken([]byte(s)) }

// ValidFieldValue reports whether s may be a field value: no control characters but tab.
func ValidFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
