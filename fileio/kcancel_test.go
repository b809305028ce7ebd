package fileio_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/uringd/uringd/fileio"
)

// The kernel cancels queued io-wq work it cannot start a worker for, even of a thread that
// lives on. Every third operation of the loop is made to look cancelled that way: each is
// submitted again, and every open and read returns the file's bytes. When every operation
// is, the open fails after maxKernelCancels tries with an error naming it and ECANCELED.
func TestUringKernelCancels(t *testing.T) {
	const size = 256 << 10
	dir, name, data := testFile(t, size)
	for _, compat := range []string{"", "5.10"} {
		t.Run("every-third/compat="+compat, func(t *testing.T) {
			opts := fileio.Options{RingEntries: 8, KernelCompat: compat}
			fileio.WithKernelCancels(&opts, 3)
			e := newFaultEngine(t, opts)
			defer e.Close()
			d := openDir(t, dir)
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					f, err := e.Open(context.Background(), d, name, os.O_RDONLY, 0)
					if err != nil {
						t.Errorf("open: %v", err)
						return
					}
					defer f.Close()
					buf := make([]byte, 4096)
					for i := range 200 {
						off := int64((g*7919 + i*4099) % (size - len(buf)))
						n, err := f.ReadAt(buf, off)
						if err != nil || n != len(buf) || !bytes.Equal(buf, data[off:off+int64(n)]) {
							t.Errorf("read at %d: %d bytes, %v, or the wrong bytes", off, n, err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
		t.Run("always/compat="+compat, func(t *testing.T) {
			opts := fileio.Options{RingEntries: 8, KernelCompat: compat}
			fileio.WithKernelCancels(&opts, 1)
			e := newFaultEngine(t, opts)
			defer e.Close()
			f, err := e.Open(context.Background(), openDir(t, dir), name, os.O_RDONLY, 0)
			if err == nil {
				f.Close()
				t.Fatal("open succeeded though the kernel cancelled every try")
			}
			if !errors.Is(err, syscall.ECANCELED) || !strings.Contains(err.Error(), name) {
				t.Fatalf("open: %v; want ECANCELED and the file's name", err)
			}
		})
	}
}
