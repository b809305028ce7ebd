package http1

// Error is the typed error returned by Parse, HeadScanner and ChunkedDecoder. Each value
// carries the HTTP status the server must answer and whether the connection must be
// closed afterwards.
//
// Error is a small integer type, so returning it as an error never allocates.
type Error uint8

// Results. ErrNeedMore is not a failure: the header block is incomplete and Parse must
// be called again once more bytes have arrived.
const (
	ErrNeedMore            Error = iota // header block incomplete; read more
	ErrBadRequestLine                   // 400 malformed request line
	ErrBadVersion                       // 400 malformed HTTP-version
	ErrVersionNotSupported              // 505 well-formed version other than 1.0/1.1
	ErrBadTarget                        // 400 malformed request target
	ErrBadPath                          // 400 invalid percent-escape, %00 or control byte in path
	ErrTargetTooLong                    // 414 request target longer than Limits.MaxTargetBytes
	ErrHeaderTooLarge                   // 431 header block longer than Limits.MaxHeaderBytes
	ErrBadHeader                        // 400 malformed field line or field name
	ErrObsFold                          // 400 obsolete line folding (line starts with SP/HTAB)
	ErrSpaceBeforeColon                 // 400 whitespace between field name and colon
	ErrControlChar                      // 400 NUL or other control byte in a field
	ErrBadLineEnding                    // 400 bare LF or bare CR
	ErrMissingHost                      // 400 HTTP/1.1 request without Host
	ErrBadHost                          // 400 duplicate or invalid Host
	ErrBadContentLength                 // 400 invalid or duplicate Content-Length
	ErrContentLengthAndTE               // 400 both Content-Length and Transfer-Encoding
	ErrBadTransferEncoding              // 400 Transfer-Encoding other than chunked, or on HTTP/1.0
	ErrBadChunk                         // 400 malformed chunked body (ChunkedDecoder)
	ErrBodyTooLarge                     // 413 request body larger than Limits.MaxBodyBytes
	ErrMethodNotAllowed                 // 405 known method other than GET/HEAD (send Allow)
	ErrNotImplemented                   // 501 unknown method token
	numErrors
)

var errorText = [numErrors]string{
	ErrNeedMore:            "http1: need more bytes",
	ErrBadRequestLine:      "http1: malformed request line",
	ErrBadVersion:          "http1: malformed HTTP version",
	ErrVersionNotSupported: "http1: HTTP version not supported",
	ErrBadTarget:           "http1: malformed request target",
	ErrBadPath:             "http1: invalid request path",
	ErrTargetTooLong:       "http1: request target too long",
	ErrHeaderTooLarge:      "http1: header block too large",
	ErrBadHeader:           "http1: malformed header field",
	ErrObsFold:             "http1: obsolete line folding",
	ErrSpaceBeforeColon:    "http1: whitespace between field name and colon",
	ErrControlChar:         "http1: control byte in header",
	ErrBadLineEnding:       "http1: bare LF or CR",
	ErrMissingHost:         "http1: missing Host header",
	ErrBadHost:             "http1: invalid or duplicate Host header",
	ErrBadContentLength:    "http1: invalid or duplicate Content-Length",
	ErrContentLengthAndTE:  "http1: both Content-Length and Transfer-Encoding",
	ErrBadTransferEncoding: "http1: unsupported Transfer-Encoding",
	ErrBadChunk:            "http1: malformed chunked body",
	ErrBodyTooLarge:        "http1: request body too large",
	ErrMethodNotAllowed:    "http1: method not allowed",
	ErrNotImplemented:      "http1: method not implemented",
}

var errorStatus = [numErrors]uint16{
	ErrNeedMore:            0,
	ErrBadRequestLine:      400,
	ErrBadVersion:          400,
	ErrVersionNotSupported: 505,
	ErrBadTarget:           400,
	ErrBadPath:             400,
	ErrTargetTooLong:       414,
	ErrHeaderTooLarge:      431,
	ErrBadHeader:           400,
	ErrObsFold:             400,
	ErrSpaceBeforeColon:    400,
	ErrControlChar:         400,
	ErrBadLineEnding:       400,
	ErrMissingHost:         400,
	ErrBadHost:             400,
	ErrBadContentLength:    400,
	ErrContentLengthAndTE:  400,
	ErrBadTransferEncoding: 400,
	ErrBadChunk:            400,
	ErrBodyTooLarge:        413,
	ErrMethodNotAllowed:    405,
	ErrNotImplemented:      501,
}

func (e Error) Error() string {
	if e < numErrors {
		return errorText[e]
	}
	return "http1: unknown error"
}

// Status is the HTTP status code to answer with (0 for ErrNeedMore).
func (e Error) Status() int {
	if e < numErrors {
		return int(errorStatus[e])
	}
	return 500
}

// Close reports whether the connection must be closed after answering. It is false only
// for ErrNeedMore, ErrMethodNotAllowed and ErrNotImplemented: for the last two the
// whole header block was parsed, Parse returned its length, and the Request is filled
// in (its KeepAlive is false when the request carries a body), so the caller answers,
// skips the consumed bytes and continues iff Request.KeepAlive.
func (e Error) Close() bool {
	return e != ErrNeedMore && e != ErrMethodNotAllowed && e != ErrNotImplemented
}
