package fileio_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/uringd/uringd/fileio"
	"github.com/uringd/uringd/ring"
)

// engineCase is one engine configuration the tests run against: every test runs each
// engine natively, and the uring engine again with its rings capped to what Linux 5.10 had.
// Rings stay small so that the tests fit in 64 KiB of RLIMIT_MEMLOCK on 5.10 (where ring
// memory is charged to it).
type engineCase struct {
	name, engine string
	opts         fileio.Options
}

func engineCases() []engineCase {
	return []engineCase{
		{"uring", fileio.EngineUring, fileio.Options{RingEntries: 64}},
		{"uring-5.10", fileio.EngineUring, fileio.Options{RingEntries: 64, KernelCompat: "5.10"}},
		{"threadpool", fileio.EngineThreadPool, fileio.Options{Workers: 4}},
		{"std", fileio.EngineStd, fileio.Options{}},
	}
}

// newEngine starts the engine of c (with extra options applied) and closes it at the end of
// the test. Without io_uring here, uring cases are skipped, saying why.
func newEngine(t testing.TB, c engineCase, mod func(*fileio.Options)) fileio.Engine {
	t.Helper()
	opts := c.opts
	if mod != nil {
		mod(&opts)
	}
	e, err := fileio.New(c.engine, opts)
	if err != nil {
		if u, ok := ring.IsUnavailable(err); ok {
			t.Skipf("io_uring unavailable here, uring engine not tested: %v", u)
		}
		t.Fatalf("fileio.New(%s): %v", c.engine, err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("%s: Close: %v", c.name, err)
		}
	})
	return e
}

// forEachEngine runs fn as a subtest per engine case.
func forEachEngine(t *testing.T, fn func(t *testing.T, c engineCase, e fileio.Engine)) {
	for _, c := range engineCases() {
		t.Run(c.name, func(t *testing.T) { fn(t, c, newEngine(t, c, nil)) })
	}
}

// testFile writes size pseudo-random bytes to a new file in a temporary directory and
// returns the directory, the file's name in it, and the bytes.
func testFile(t testing.TB, size int) (dir, name string, data []byte) {
	t.Helper()
	dir = t.TempDir()
	name = "data.bin"
	data = make([]byte, size)
	rnd := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range data {
		data[i] = byte(rnd.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, name, data
}

func openDir(t testing.TB, path string) *fileio.Dir {
	t.Helper()
	d, err := fileio.OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func openIn(t testing.TB, e fileio.Engine, dir *fileio.Dir, name string, flag int) *fileio.File {
	t.Helper()
	f, err := e.Open(context.Background(), dir, name, flag, 0o644)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// directSupported reports whether dir's filesystem takes O_DIRECT (tmpfs, as in the test
// VMs, does not: EINVAL).
func directSupported(t testing.TB, dir string) bool {
	t.Helper()
	p := filepath.Join(dir, ".odirect-probe")
	fd, err := syscall.Open(p, syscall.O_RDWR|syscall.O_CREAT|syscall.O_DIRECT, 0o600)
	if err != nil {
		if errors.Is(err, syscall.EINVAL) {
			return false
		}
		t.Fatalf("probing O_DIRECT in %s: %v", dir, err)
	}
	syscall.Close(fd)
	os.Remove(p)
	return true
}

// osThreads counts this process's tasks under /proc/self/task: all of them, and the
// io_uring io-wq workers (comm "iou-wrk-*") among them.
func osThreads(t testing.TB) (all, iowq int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		comm, err := os.ReadFile("/proc/self/task/" + e.Name() + "/comm")
		if err != nil {
			continue // exited meanwhile
		}
		all++
		if strings.HasPrefix(string(comm), "iou-wrk-") {
			iowq++
		}
	}
	return all, iowq
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
