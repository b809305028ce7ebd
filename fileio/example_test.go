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
