package fileio_test

import (
	"context"
	"os"
	"testing"

	"github.com/uringd/uringd/fileio"
)

// The hot paths allocate nothing: File.ReadAt (pooled Ops) on every engine, and Queue
// Submit + Reap.
func TestZeroAllocs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, c engineCase, e fileio.Engine) {
		dir, name, _ := testFile(t, 1<<20)
		f := openIn(t, e, openDir(t, dir), name, os.O_RDONLY)
		buf := make([]byte, 4096)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		off := int64(0)
		if a := testing.AllocsPerRun(200, func() {
			off = (off + 4096) % (1 << 20)
			if _, err := f.ReadAt(buf, off); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("ReadAt: %v allocations per call, want 0", a)
		}
		if a := testing.AllocsPerRun(200, func() {
			if _, err := f.ReadAtContext(ctx, buf, 4096); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("ReadAtContext with a cancellable context: %v allocations per call, want 0", a)
		}

		q, err := e.NewQueue(8, fileio.QueueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		ops := make([]fileio.Op, 8)
		out := make([]*fileio.Op, 8)
		for i := range ops {
			ops[i] = fileio.Op{Code: fileio.OpRead, File: f, Buf: make([]byte, 4096), Off: int64(i) * 4096}
		}
		if a := testing.AllocsPerRun(200, func() {
			for i := range ops {
				if err := q.Submit(&ops[i]); err != nil {
					t.Fatal(err)
				}
			}
			for got := 0; got < len(ops); {
				n, err := q.Reap(out, len(ops)-got)
				if err != nil {
					t.Fatal(err)
				}
				got += n
			}
		}); a != 0 {
			t.Errorf("Queue Submit+Reap of 8 ops: %v allocations, want 0", a)
		}
	})
}

// BenchmarkReadAt: 4 KiB reads from the page cache through File.ReadAt, from GOMAXPROCS
// goroutines (-benchmem shows 0 allocs/op).
func BenchmarkReadAt(b *testing.B) {
	for _, c := range engineCases() {
		b.Run(c.name, func(b *testing.B) {
			e := newEngine(b, c, nil)
			dir, name, _ := testFile(b, 4<<20)
			f := openIn(b, e, openDir(b, dir), name, os.O_RDONLY)
			b.ReportAllocs()
			b.SetBytes(4096)
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 4096)
				off := int64(0)
				for pb.Next() {
					off = (off + 4096) % (4 << 20)
					if _, err := f.ReadAt(buf, off); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkQueue: one goroutine keeps 32 4 KiB page-cache reads in flight through a Queue.
func BenchmarkQueue(b *testing.B) {
	for _, c := range engineCases() {
		b.Run(c.name, func(b *testing.B) {
			e := newEngine(b, c, nil)
			dir, name, _ := testFile(b, 4<<20)
			f := openIn(b, e, openDir(b, dir), name, os.O_RDONLY)
			const depth = 32
			q, err := e.NewQueue(depth, fileio.QueueOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			ops := make([]fileio.Op, depth)
			out := make([]*fileio.Op, depth)
			off := int64(0)
			next := func(o *fileio.Op) {
				off = (off + 4096) % (4 << 20)
				o.Off = off
			}
			b.ReportAllocs()
			b.SetBytes(4096)
			b.ResetTimer()
			submitted := 0
			for i := range ops {
				ops[i] = fileio.Op{Code: fileio.OpRead, File: f, Buf: make([]byte, 4096)}
				next(&ops[i])
				if submitted < b.N {
					q.Submit(&ops[i])
					submitted++
				}
			}
			for done := 0; done < b.N; {
				n, err := q.Reap(out, 1)
				if err != nil {
					b.Fatal(err)
				}
				done += n
				for _, o := range out[:n] {
					if submitted < b.N {
						next(o)
						q.Submit(o)
						submitted++
					}
				}
			}
		})
	}
}
