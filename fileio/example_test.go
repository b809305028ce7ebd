package fileio_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/uringd/uringd/fileio"
)

// Open a file beneath a directory with the uring engine, read it with ReadAt (any number of
// goroutines may do this at once), then keep several reads in flight from one goroutine
// with a Queue.
func Example() {
	root, _ := os.MkdirTemp("", "fileio-example")
	defer os.RemoveAll(root)
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello from io_uring\n"), 0o644)

	eng, err := fileio.New(fileio.EngineUring, fileio.Options{}) // or EngineThreadPool, EngineStd
	if err != nil {
		log.Fatal(err) // wraps a *ring.UnavailableError saying why and what to do
	}
	defer eng.Close()
	dir, err := fileio.OpenDir(root)
	if err != nil {
		log.Fatal(err)
	}
	defer dir.Close()

	ctx := context.Background()
	f, err := eng.Open(ctx, dir, "hello.txt", os.O_RDONLY, 0) // "../x" or a symlink out would fail
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	buf := make([]byte, 64)
	n, err := f.ReadAtContext(ctx, buf, 0) // a short read at the end of the file: io.EOF
	fmt.Printf("%q %v\n", buf[:n], err == io.EOF)

	q, err := eng.NewQueue(4, fileio.QueueOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	ops := []fileio.Op{
		{Code: fileio.OpRead, File: f, Buf: make([]byte, 5), Off: 0},
		{Code: fileio.OpRead, File: f, Buf: make([]byte, 8), Off: 11},
	}
	for i := range ops {
		if err := q.Submit(&ops[i]); err != nil { // no system call, no allocation
			log.Fatal(err)
		}
	}
	out := make([]*fileio.Op, 4)
	for done := 0; done < len(ops); {
		k, err := q.Reap(out, 1) // one io_uring_enter submits both, then wait
		if err != nil {
			log.Fatal(err)
		}
		done += k
	}
	fmt.Printf("%q %q\n", ops[0].Buf[:ops[0].N], ops[1].Buf[:ops[1].N])
	// Output:
	// "hello from io_uring\n" true
	// "hello" "io_uring"
}

// The three engines behind the one Engine interface: the same code writes a file beneath a
// Dir, syncs it and reads it back with each, from io_uring to plain os.File calls.
func ExampleNew() {
	root, _ := os.MkdirTemp("", "fileio-example")
	defer os.RemoveAll(root)
	dir, err := fileio.OpenDir(root)
	if err != nil {
		log.Fatal(err)
	}
	defer dir.Close()
	ctx := context.Background()

	for _, name := range fileio.Engines() {
		eng, err := fileio.New(name, fileio.Options{Workers: 2})
		if err != nil {
			log.Fatal(err)
		}
		f, err := eng.Open(ctx, dir, name+".txt", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("written by "+name), 0); err != nil {
			log.Fatal(err)
		}
		if err := f.Datasync(ctx); err != nil {
			log.Fatal(err)
		}
		st, err := f.Stat(ctx)
		if err != nil {
			log.Fatal(err)
		}
		buf := make([]byte, st.Size)
		if _, err := f.ReadAt(buf, 0); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-10s %d bytes %q\n", eng.Name(), st.Size, buf)
		f.Close()
		eng.Close() // after its files: they must not be used once the engine is closed
	}
	// Output:
	// uring      16 bytes "written by uring"
	// threadpool 21 bytes "written by threadpool"
	// std        14 bytes "written by std"
}
