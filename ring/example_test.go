package ring_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/ring"
)

// Read a file through a ring: get an SQE, prepare it, submit, reap the completion.
func Example() {
	dir, _ := os.MkdirTemp("", "ring-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "greeting.txt")
	os.WriteFile(path, []byte("hello from io_uring\n"), 0o644)
	f, _ := os.Open(path)
	defer f.Close()

	r, err := ring.New(ring.Options{Entries: 8})
	if err != nil {
		log.Fatal(err) // an *ring.UnavailableError says why and what to do
	}
	defer r.Close()

	buf := make([]byte, 64) // on the heap, and kept alive until the CQE is reaped
	sqe := r.GetSQE()
	sqe.PrepRead(int(f.Fd()), buf, 0)
	sqe.UserData = 1
	if _, err := r.SubmitAndWait(1); err != nil {
		log.Fatal(err)
	}
	cqe := r.PeekCQE()
	if err := cqe.Err(ring.OpRead); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d: %s", cqe.UserData, buf[:cqe.Res])
	r.Advance(1)
	// Output: 1: hello from io_uring
}

// Probe what the kernel offers, capped to what 5.10 had.
func ExampleProbe() {
	f, err := ring.Probe("5.10")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("read:", f.Supports(ring.OpRead), "shutdown:", f.Supports(ring.OpShutdown))
	fmt.Println("buffer rings:", f.BufRing, "multishot accept:", f.MultishotAccept)
	// Output:
	// read: true shutdown: false
	// buffer rings: false multishot accept: false
}

// Wait for completions from another goroutine without holding an OS thread.
func ExampleNotifier() {
	r, err := ring.New(ring.Options{Entries: 8})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	n, err := ring.NewNotifier(r)
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()

	done := make(chan error)
	go func() { done <- n.Wait(context.Background()) }() // parks in the netpoller

	sqe := r.GetSQE()
	sqe.PrepNop()
	r.Submit()
	fmt.Println("woken:", <-done == nil, "ready:", r.CQReady())
	// Output: woken: true ready: 1
}

// An event loop's round trip: prepare several SQEs, submit them with one io_uring_enter,
// then take the completions in one batch and give their slots back with one Advance.
func ExampleRing_PeekBatch() {
	r, err := ring.New(ring.Options{Entries: 8})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	for token := uint64(1); token <= 3; token++ {
		sqe := r.GetSQE() // nil only when the SQ is full
		sqe.PrepNop()     // completes at once with result 0
		sqe.UserData = token
	}
	if _, err := r.SubmitAndWait(3); err != nil {
		log.Fatal(err)
	}
	cqes := make([]*ring.CQE, 8)
	n := r.PeekBatch(cqes)
	for _, c := range cqes[:n] {
		fmt.Println("token", c.UserData, "res", c.Res)
	}
	r.Advance(uint32(n)) // the CQEs may be overwritten from here on
	fmt.Println("ready after Advance:", r.CQReady())
	// Output:
	// token 1 res 0
	// token 2 res 0
	// token 3 res 0
	// ready after Advance: 0
}

// A failed operation completes with a negative errno in Res; CQE.Err turns it into an
// *OpError that errors.Is matches against the errno or the io/fs sentinels.
func ExampleCQE_Err() {
	dir, _ := os.MkdirTemp("", "ring-example")
	defer os.RemoveAll(dir)

	r, err := ring.New(ring.Options{Entries: 8})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	path, _ := ring.BytePtr(filepath.Join(dir, "missing.txt")) // NUL-terminated, on the heap
	sqe := r.GetSQE()
	sqe.PrepOpenat(unix.AT_FDCWD, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	cqe, err := r.WaitCQE() // submits the SQE, then waits for its completion
	if err != nil {
		log.Fatal(err)
	}
	runtime.KeepAlive(path) // the kernel read it until the CQE arrived
	err = cqe.Err(ring.OpOpenat)
	r.Advance(1)
	fmt.Println(err)
	fmt.Println(errors.Is(err, unix.ENOENT), errors.Is(err, fs.ErrNotExist))
	// Output:
	// io_uring openat: no such file or directory
	// true true
}

// A ring counts what it hands the kernel; an event loop publishes these counts itself,
// since, as every method but Close, Stats is for the ring's own goroutine.
func ExampleRing_Stats() {
	r, err := ring.New(ring.Options{Entries: 8})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < 3; i++ {
		r.GetSQE().PrepNop()
	}
	if _, err := r.SubmitAndWait(3); err != nil {
		log.Fatal(err)
	}
	st := r.Stats()
	fmt.Println("SQEs:", st.SQEs, "enters at least 1:", st.Enters >= 1, "CQ overflows:", st.CQOverflows)
	// Output:
	// SQEs: 3 enters at least 1: true CQ overflows: 0
}
