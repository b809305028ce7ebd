package fileio

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uringd/uringd/internal/token"
	"github.com/uringd/uringd/ring"
)

// within runs fn on its own goroutine and reports whether it returned within d: a hang
// fails the test instead of hanging it (the goroutine is then left behind).
func within(t *testing.T, d time.Duration, what string, fn func()) bool {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		t.Errorf("%s did not return within %v", what, d)
		return false
	}
}

// genTestFile writes size bytes of a pattern to a new file and returns its path and bytes.
func genTestFile(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	p := filepath.Join(t.TempDir(), "gen.bin")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func newTestUring(t *testing.T, opts Options) *uringEngine {
	t.Helper()
	e, err := newUring(opts)
	if err != nil {
		if u, ok := ring.IsUnavailable(err); ok {
			t.Skipf("io_uring unavailable here: %v", u)
		}
		t.Fatal(err)
	}
	return e
}

// genCases are generations slot 0 is forced to before its next use: the value after which
// the old gen<<32|slot encoding produced udCancel (1<<62), the last generation before the
// codec's wrap, and the last value a uint32 holds.
var genCases = []struct {
	name string
	gen  uint32
}{
	{"udCancel-1", 1<<30 - 1},
	{"GenMask", token.GenMask},
	{"MaxUint32", ^uint32(0)},
}

// The File methods' loop completes operations whatever generation slot 0 has reached: across
// the value that once made a read's user_data equal the cancel marker, and across the
// codec's wrap to 0. Each read returns the file's bytes; Close returns.
func TestUringGenerationWrap(t *testing.T) {
	p, data := genTestFile(t, 64<<10)
	for _, compat := range []string{"", "5.10"} {
		for _, gc := range genCases {
			t.Run(gc.name+"/compat="+compat, func(t *testing.T) {
				e := newTestUring(t, Options{RingEntries: 8, KernelCompat: compat})
				f, err := e.Open(context.Background(), nil, p, os.O_RDONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				// The Open's completion ordered the loop's last write of gens before this
				// one; the next push orders it before the loop's next read.
				e.loops[0].gens[0] = gc.gen
				ok := within(t, 5*time.Second, "reads across the generation wrap", func() {
					buf := make([]byte, 4096)
					for i := range 8 { // the free list hands out slot 0 again each time
						off := int64(i) * 4096
						ctx, cancel := context.WithCancel(context.Background())
						n, err := f.ReadAtContext(ctx, buf, off)
						cancel()
						if n != len(buf) || err != nil || !bytes.Equal(buf, data[off:off+4096]) {
							t.Errorf("read %d at %d = %d, %v (bytes equal: %v)", i, off, n, err,
								bytes.Equal(buf[:n], data[off:off+int64(n)]))
							return
						}
					}
				})
				if !ok {
					return // the loop is stuck: Close would hang too
				}
				if within(t, 5*time.Second, "Close", func() {
					f.Close()
					if err := e.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}) {
					// The loop has exited: its table is ours to read. Slot 0 went through
					// the wrap, or the test did not test it.
					if g := e.loops[0].gens[0]; g >= gc.gen {
						t.Errorf("slot 0's generation is %d after the reads, from %d: it did not wrap", g, gc.gen)
					}
				}
			})
		}
	}
}

// The same for a Queue's ring.
func TestUringQueueGenerationWrap(t *testing.T) {
	p, data := genTestFile(t, 64<<10)
	for _, gc := range genCases {
		t.Run(gc.name, func(t *testing.T) {
			e := newTestUring(t, Options{RingEntries: 8})
			defer e.Close()
			f, err := e.Open(context.Background(), nil, p, os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			qi, err := e.NewQueue(4, QueueOptions{})
			if err != nil {
				t.Fatal(err)
			}
			q := qi.(*uringQueue)
			q.gens[0] = gc.gen
			ok := within(t, 5*time.Second, "queue reads across the generation wrap", func() {
				out := make([]*Op, 1)
				for i := range 8 {
					o := &Op{Code: OpRead, File: f, Buf: make([]byte, 4096), Off: int64(i) * 4096}
					if err := q.Submit(o); err != nil {
						t.Error(err)
						return
					}
					n, err := q.Reap(out, 1)
					if n != 1 || err != nil || out[0] != o || o.Err != nil || o.N != 4096 ||
						!bytes.Equal(o.Buf, data[o.Off:o.Off+4096]) {
						t.Errorf("queue read %d = %d, %v (op err %v, N %d)", i, n, err, o.Err, o.N)
						return
					}
				}
				if g := q.gens[0]; g >= gc.gen {
					t.Errorf("slot 0's generation is %d after the reads, from %d: it did not wrap", g, gc.gen)
				}
			})
			if ok {
				within(t, 5*time.Second, "Queue.Close", func() {
					if err := q.Close(); err != nil {
						t.Errorf("Queue.Close: %v", err)
					}
				})
			}
		})
	}
}
