package netio

import (
	"testing"
	"unsafe"
)

// TestConnSize keeps what every open connection costs in the loop's own struct small: the
// threadpool's reads live apart, allocated only in that mode (bench/idle-conns.py measures
// what an idle connection costs).
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 1536 {
		t.Errorf("conn is %d bytes, over 1.5 KiB", n)
	}
}
