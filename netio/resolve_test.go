package netio

import (
	"syscall"
	"testing"

	"github.com/uringd/uringd/netio/internal/http1"
)

func TestResolve(t *testing.T) {
	req := func(path string, slash bool) *http1.Request {
		return &http1.Request{Path: []byte(path), TrailingSlash: slash}
	}
	for _, tc := range []struct {
		name string
		req  *http1.Request
		l    lookup
		want verdict
	}{
		{"file", req("/a.txt", false), lookup{regular: true}, vFile},
		{"root index", req("/", true), lookup{regular: true, indexTry: true}, vFile},
		{"file as dir", req("/a.txt", true), lookup{regular: true}, vDropSlash},
		{"dir without slash", req("/d", false), lookup{dir: true}, vAddSlash},
		{"dir", req("/d", true), lookup{dir: true}, vTryIndex},
		{"root", req("/", true), lookup{dir: true}, vTryIndex},
		{"index is a dir", req("/d", true), lookup{dir: true, indexTry: true}, vForbidden},
		{"no index", req("/d", true), lookup{errno: syscall.ENOENT, indexTry: true}, vListing},
		{"index unreadable", req("/d", true), lookup{errno: syscall.EACCES, indexTry: true}, vOpenFailed},
		{"missing", req("/nope", false), lookup{errno: syscall.ENOENT}, vOpenFailed},
		{"outside", req("/etc", false), lookup{errno: syscall.EXDEV}, vOpenFailed},
		{"fifo", req("/p", false), lookup{}, vForbidden},
	} {
		if got := resolve(tc.req, tc.l); got != tc.want {
			t.Errorf("%s: resolve = %d, want %d", tc.name, got, tc.want)
		}
	}
}
