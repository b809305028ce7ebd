package fileio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/uringd/uringd/fileio"
)

// Every engine returns what os.File returns: the same bytes, the same count, and io.EOF
// exactly when os.File.ReadAt does (random offsets and lengths, reads across and past the
// end, zero-length reads).
func TestReadAtMatchesOSFile(t *testing.T) {
	const size = 96<<10 + 123
	dir, name, _ := testFile(t, size)
	ref, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	forEachEngine(t, func(t *testing.T, c engineCase, e fileio.Engine) {
		f := openIn(t, e, openDir(t, dir), name, os.O_RDONLY)
		if got := f.Info().Size; got != size {
			t.Fatalf("Info().Size = %d, want %d", got, size)
		}
		rnd := rand.New(rand.NewPCG(1, 2))
		type rd struct{ off, n int }
		cases := []rd{{0, 0}, {size, 0}, {size + 10, 0}, {0, size}, {0, size + 1}, {size - 1, 1},
			{size - 1, 2}, {size, 1}, {size + 4096, 100}, {4096, 4096}}
		for range 150 {
			cases = append(cases, rd{rnd.IntN(size + 2000), rnd.IntN(20000)})
		}
		for _, r := range cases {
			want := make([]byte, r.n)
			wn, werr := ref.ReadAt(want, int64(r.off))
			got := make([]byte, r.n)
			gn, gerr := f.ReadAt(got, int64(r.off))
			if gn != wn || gerr != werr || !bytes.Equal(got[:gn], want[:wn]) {
				t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; os.File: %d, %v (bytes equal: %v)",
					r.n, r.off, gn, gerr, wn, werr, bytes.Equal(got[:gn], want[:wn]))
			}
			// The same through ReadvAt, split into up to 3 buffers.
			a := rnd.IntN(r.n + 1)
			b := a + rnd.IntN(r.n-a+1)
			v := make([]byte, r.n)
			vn, verr := f.ReadvAt(context.Background(), [][]byte{v[:a], v[a:b], v[b:]}, int64(r.off))
			if vn != wn || verr != werr || !bytes.Equal(v[:vn], want[:wn]) {
				t.Fatalf("ReadvAt(%d bytes at %d split %d/%d) = %d, %v; os.File: %d, %v", r.n, r.off, a, b, vn, verr, wn, werr)
			}
		}
		if _, err := f.ReadAt(make([]byte, 1), -1); err == nil || !strings.Contains(err.Error(), "negative offset") {
			t.Errorf("negative offset: err = %v", err)
		}
	})
}

// Writes, vectored writes and syncs land where they should and read back.
func TestWriteReadBack(t *testing.T) {
	forEachEngine(t, func(t *testing.T, c engineCase, e fileio.Engine) {
		dir := t.TempDir()
		f := openIn(t, e, openDir(t, dir), "w.bin", os.O_RDWR|os.O_CREATE|os.O_TRUNC)
		want := make([]byte, 64<<10)
		rnd := rand.New(rand.NewPCG(3, 4))
		ctx := context.Background()
		for i := range 60 {
			off := rnd.IntN(len(want) - 3000)
			n := rnd.IntN(3000) + 1
			p := make([]byte, n)
			for j := range p {
				p[j] = byte(rnd.Uint32())
			}
			copy(want[off:], p)
			var got int
			var err error
			if i%2 == 0 {
				got, err = f.WriteAt(p, int64(off))
			} else {
				k := rnd.IntN(n + 1)
				got, err = f.WritevAt(ctx, [][]byte{p[:k], nil, p[k:]}, int64(off))
			}
			if err != nil || got != n {
				t.Fatalf("write %d at %d = %d, %v", n, off, got, err)
			}
		}
		if _, err := f.WriteAt(want[len(want)-1:], int64(len(want)-1)); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(ctx); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		if err := f.Datasync(ctx); err != nil {
			t.Fatalf("Datasync: %v", err)
		}
		st, err := f.Stat(ctx)
		if err != nil || st.Size != int64(len(want)) || !st.Mode.IsRegular() {
			t.Fatalf("Stat = %+v, %v; want a regular file of %d bytes", st, err, len(want))
		}
		disk, err := os.ReadFile(filepath.Join(dir, "w.bin"))
		if err != nil || !bytes.Equal(disk, want) {
			t.Fatalf("file content differs from what was written (%d vs %d bytes, err %v)", len(disk), len(want), err)
		}
		back := make([]byte, len(want))
		if n, err := f.ReadAt(back, 0); n != len(want) || err != nil || !bytes.Equal(back, want) {
			t.Fatalf("read back = %d, %v", n, err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := f.Close(); !errors.Is(err, fileio.ErrClosed) {
			t.Fatalf("second Close = %v, want ErrClosed", err)
		}
		if _, err := f.ReadAt(back, 0); !errors.Is(err, fileio.ErrClosed) {
			t.Fatalf("ReadAt after Close = %v, want ErrClosed", err)
		}
	})
}

// Errors name the engine, the operation, the path and the offset, and wrap the errno.
func TestErrorsNameOpPathErrno(t *testing.T) {
	forEachEngine(t, func(t *testing.T, c engineCase, e fileio.Engine) {
		dir, name, _ := testFile(t, 100)
		f := openIn(t, e, openDir(t, dir), name, os.O_WRONLY)
		_, err := f.ReadAt(make([]byte, 10), 4096)
		want := "fileio " + c.engine + " read " + filepath.Join(dir, name) + " at 4096: bad file descriptor"
		if err == nil || err.Error() != want || !errors.Is(err, syscall.EBADF) {
			t.Fatalf("read of a write-only file: %v\nwant %q wrapping EBADF", err, want)
		}
		var fe *fileio.Error
		if !errors.As(err, &fe) || fe.Op != "read" || fe.Off != 4096 || fe.Engine != c.engine {
			t.Fatalf("errors.As *fileio.Error: %#v", fe)
		}
		_, err = e.Open(context.Background(), openDir(t, dir), "missing", os.O_RDONLY, 0)
		if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "fileio "+c.engine+" open "+filepath.Join(dir, "missing")) {
			t.Fatalf("open of a missing file: %v", err)
		}
	})
}

// A Queue keeps many operations in flight for one goroutine and returns the same bytes
// (uring: waiting in io_uring_enter, parked on an eventfd, and submitting at every Submit).
func TestQueueReadsAndWrites(t *testing.T) {
	forEachEngine(t, func(t *testing.T, c engineCase, e fileio.Engine) {
		for _, qo := range []fileio.QueueOptions{{}, {Park: true}, {Batch: 1}} {
			testQueue(t, e, qo)
		}
	})
}

func testQueue(t *testing.T, e fileio.Engine, qo fileio.QueueOptions) {
	const size = 128<<10 + 77
	dir, name, data := testFile(t, size)
	f := openIn(t, e, openDir(t, dir), name, os.O_RDWR)
	const depth = 16
	q, err := e.NewQueue(depth, qo)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ops := make([]fileio.Op, depth)
	out := make([]*fileio.Op, depth)
	rnd := rand.New(rand.NewPCG(5, 6))
	check := func(o *fileio.Op) {
		t.Helper()
		n, off := len(o.Buf), int(o.Off)
		wantN := max(0, min(n, size-off))
		if o.N != wantN {
			t.Fatalf("queue read %d at %d: N = %d, want %d (err %v)", n, off, o.N, wantN, o.Err)
		}
		if (wantN < n) != (o.Err == io.EOF) || o.Err != nil && o.Err != io.EOF {
			t.Fatalf("queue read %d at %d: N = %d, Err = %v", n, off, o.N, o.Err)
		}
		if o.N > 0 && !bytes.Equal(o.Buf[:o.N], data[off:off+o.N]) {
			t.Fatalf("queue read %d at %d: wrong bytes", n, off)
		}
	}
	next := func(o *fileio.Op) {
		o.Code, o.File, o.Off = fileio.OpRead, f, int64(rnd.IntN(size+1000))
		o.Buf = make([]byte, rnd.IntN(9000)+1)
	}
	for i := range ops {
		next(&ops[i])
		ops[i].Tag = uint64(i)
		if err := q.Submit(&ops[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Submit(&fileio.Op{Code: fileio.OpRead, File: f, Buf: make([]byte, 1)}); !errors.Is(err, fileio.ErrQueueFull) {
		t.Fatalf("Submit beyond depth = %v, want ErrQueueFull", err)
	}
	if err := q.Submit(&ops[0]); err == nil {
		t.Fatal("Submit of an op in flight succeeded")
	}
	done := 0
	for done < 300 {
		n, err := q.Reap(out, 1)
		if err != nil || n < 1 {
			t.Fatalf("Reap = %d, %v", n, err)
		}
		for _, o := range out[:n] {
			check(o)
			done++
			next(o)
			if err := q.Submit(o); err != nil {
				t.Fatal(err)
			}
		}
	}
	for q.InFlight() > 0 {
		n, err := q.Reap(out, q.InFlight())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out[:n] {
			check(o)
		}
	}
	if n, err := q.Reap(out, 5); n != 0 || err != nil {
		t.Fatalf("Reap with nothing in flight = %d, %v", n, err)
	}

	// Writes, a vectored write and an fdatasync through the queue.
	w := []*fileio.Op{
		{Code: fileio.OpWrite, File: f, Buf: []byte("hello"), Off: 10},
		{Code: fileio.OpWritev, File: f, Bufs: [][]byte{[]byte("wor"), []byte("ld")}, Off: 1000},
	}
	for _, o := range w {
		if err := q.Submit(o); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.Reap(out, 2); n != 2 || err != nil {
		t.Fatalf("Reap writes = %d, %v", n, err)
	}
	for _, o := range w {
		if o.Err != nil || o.N != 5 {
			t.Fatalf("queue %v = %d, %v", o.Code, o.N, o.Err)
		}
	}
	s := &fileio.Op{Code: fileio.OpFdatasync, File: f}
	if err := q.Submit(s); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Reap(out, 1); n != 1 || err != nil || s.Err != nil {
		t.Fatalf("Reap fdatasync = %d, %v, %v", n, err, s.Err)
	}
	disk, _ := os.ReadFile(filepath.Join(dir, name))
	if string(disk[10:15]) != "hello" || string(disk[1000:1005]) != "world" {
		t.Fatalf("queue writes did not land: %q %q", disk[10:15], disk[1000:1005])
	}
}

// QueueOptions.Notify is called when completions are ready, so an event loop that waits
// elsewhere (here: on a channel) can reap with min 0.
func TestQueueNotify(t *testing.T) {
	forEachEngine(t, func(t *testing.T, c engineCase, e fileio.Engine) {
		dir, name, data := testFile(t, 8192)
		f := openIn(t, e, openDir(t, dir), name, os.O_RDONLY)
		wake := make(chan struct{}, 1)
		q, err := e.NewQueue(4, fileio.QueueOptions{Notify: func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		ops := make([]fileio.Op, 4)
		for i := range ops {
			ops[i] = fileio.Op{Code: fileio.OpRead, File: f, Buf: make([]byte, 1000), Off: int64(i * 1000)}
			if err := q.Submit(&ops[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Flush(); err != nil {
			t.Fatal(err)
		}
		out := make([]*fileio.Op, 4)
		got := 0
		for got < 4 {
			<-wake
			n, err := q.Reap(out, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out[:n] {
				if o.Err != nil || !bytes.Equal(o.Buf, data[o.Off:o.Off+1000]) {
					t.Fatalf("notified read at %d: %d, %v", o.Off, o.N, o.Err)
				}
			}
			got += n
		}
	})
}
