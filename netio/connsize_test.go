package netio

import (
	"testing"
	"unsafe"
)

// TestConnSize keeps what every open connection costs in the loop's own struct small: the
// threadpool's reads (2.5 KiB) live apart, allocated only in that mode (idle connections
// after a request: 4,733 bytes each before, 2,420 after, bench/idle-conns.py 5000).
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 1536 {
		t.Errorf("conn is %d bytes, over 1.5 KiB", n)
	}
}
