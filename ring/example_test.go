package ring_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

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
