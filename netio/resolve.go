package netio

import (
	"syscall"

	"github.com/uringd/uringd/netio/internal/http1"
)

// verdict is what answers a GET or HEAD once its path has been looked up.
type verdict uint8

const (
	vFile       verdict = iota // serve the file
	vAddSlash                  // 301 to the path with a slash: a directory asked for without one
	vDropSlash                 // 301 to the path without its slash: a file asked for as a directory
	vTryIndex                  // look dir/index.html up next
	vListing                   // list the directory: it has no index.html
	vForbidden                 // 403: a directory whose index is one too, or not a regular file
	vOpenFailed                // the lookup failed: the status follows from its errno
)

// lookup is what an engine found at a path, however it looked.
type lookup struct {
	errno    syscall.Errno // the open or stat failed
	dir      bool
	regular  bool
	indexTry bool // this was the lookup of a directory's index.html
}

// resolve decides what answers req from what its lookup found. It is the one copy of this
// logic: the uring loop, its threadpool mode and the std engine each look paths up their
// own way (OPENAT2 in the ring and statx, fileio's threadpool and std engines beneath the
// same root) and act on the verdict.
func resolve(req *http1.Request, l lookup) verdict {
	switch {
	case l.errno == syscall.ENOENT && l.indexTry:
		return vListing
	case l.errno != 0:
		return vOpenFailed
	case l.dir && !req.TrailingSlash:
		return vAddSlash
	case l.dir && l.indexTry:
		return vForbidden
	case l.dir:
		return vTryIndex
	case !l.regular:
		return vForbidden
	case req.TrailingSlash && len(req.Path) > 1 && !l.indexTry:
		return vDropSlash
	}
	return vFile
}
