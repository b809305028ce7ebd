package fileio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/uringd/uringd/fileio"
)

// O_DIRECT: aligned IO from AllocAligned buffers works (and reads the same bytes, with
// io.EOF at the end); misaligned buffers, offsets and lengths are refused before they reach
// the kernel, with an error that names the operation, the path and what was misaligned.
func TestDirectIO(t *testing.T) {
	const size = 64<<10 + 1000 // the tail is not block-aligned
	dir, name, data := testFile(t, size)
	if !directSupported(t, dir) {
		t.Skipf("O_DIRECT is not supported by the filesystem of %s (tmpfs answers EINVAL): direct IO tests skipped", dir)
	}
	forEachEngine(t, func(t *testing.T, c engineCase, e fileio.Engine) {
		f := openIn(t, e, openDir(t, dir), name, os.O_RDWR|syscall.O_DIRECT)
		mem, off := f.DirectAlignment()
		if !f.Direct() || mem <= 0 || off <= 0 || mem > 4096 || off > 4096 {
			t.Fatalf("Direct() = %v, DirectAlignment() = %d, %d", f.Direct(), mem, off)
		}
		buf, err := fileio.AllocAligned(16 << 10)
		if err != nil {
			t.Fatal(err)
		}
		defer fileio.FreeAligned(buf)

		if n, err := f.ReadAt(buf[:8192], 8192); n != 8192 || err != nil || !bytes.Equal(buf[:n], data[8192:16384]) {
			t.Fatalf("aligned read = %d, %v", n, err)
		}
		// Across the end of the file: the bytes up to it, then io.EOF.
		n, err := f.ReadAt(buf[:8192], 64<<10)
		if n != 1000 || err != io.EOF || !bytes.Equal(buf[:n], data[64<<10:]) {
			t.Fatalf("read across EOF = %d, %v; want 1000, EOF", n, err)
		}
		// Vectored, two aligned segments.
		if n, err := f.ReadvAt(context.Background(), [][]byte{buf[:4096], buf[8192:12288]}, 0); n != 8192 || err != nil ||
			!bytes.Equal(buf[:4096], data[:4096]) || !bytes.Equal(buf[8192:12288], data[4096:8192]) {
			t.Fatalf("aligned readv = %d, %v", n, err)
		}
		// An aligned write reads back.
		copy(buf[:4096], bytes.Repeat([]byte("x"), 4096))
		if n, err := f.WriteAt(buf[:4096], 4096); n != 4096 || err != nil {
			t.Fatalf("aligned write = %d, %v", n, err)
		}
		if n, err := f.ReadAt(buf[4096:8192], 4096); n != 4096 || err != nil || buf[4096] != 'x' || buf[8191] != 'x' {
			t.Fatalf("read back = %d, %v", n, err)
		}
		copy(buf[:4096], data[4096:8192]) // put the block back for the next engine
		if n, err := f.WriteAt(buf[:4096], 4096); n != 4096 || err != nil {
			t.Fatalf("aligned write = %d, %v", n, err)
		}

		for _, tc := range []struct {
			what string
			p    []byte
			off  int64
		}{
			{"buffer address", buf[1 : 1+4096], 0},
			{"offset", buf[:4096], 100},
			{"length", buf[:100], 0},
		} {
			_, err := f.ReadAt(tc.p, tc.off)
			var ae *fileio.AlignError
			if !errors.As(err, &ae) || ae.What != tc.what || !errors.Is(err, syscall.EINVAL) {
				t.Fatalf("misaligned %s: err = %v", tc.what, err)
			}
			msg := err.Error()
			for _, want := range []string{"fileio " + c.engine + " read ", f.Name(), "O_DIRECT misaligned " + tc.what} {
				if !strings.Contains(msg, want) {
					t.Fatalf("misaligned %s: %q does not say %q", tc.what, msg, want)
				}
			}
			if _, err := f.WriteAt(tc.p, tc.off); !errors.As(err, &ae) || !strings.Contains(err.Error(), " write ") {
				t.Fatalf("misaligned %s write: err = %v", tc.what, err)
			}
		}
		t.Logf("example: %v", func() error { _, err := f.ReadAt(buf[:100], 0); return err }())

		// A Queue refuses misaligned O_DIRECT ops at Submit.
		q, err := e.NewQueue(2, fileio.QueueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		var ae *fileio.AlignError
		if err := q.Submit(&fileio.Op{Code: fileio.OpRead, File: f, Buf: buf[:4096], Off: 512 + 1}); !errors.As(err, &ae) {
			t.Fatalf("queue submit of a misaligned op = %v", err)
		}
	})
}

func TestAllocAligned(t *testing.T) {
	b, err := fileio.AllocAligned(10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 10000 || uintptrOf(b)%4096 != 0 {
		t.Fatalf("AllocAligned(10000): len %d, address %#x", len(b), uintptrOf(b))
	}
	b[9999] = 1
	if err := fileio.FreeAligned(b); err != nil {
		t.Fatal(err)
	}
	if _, err := fileio.AllocAligned(0); err == nil {
		t.Fatal("AllocAligned(0) succeeded")
	}
}
