package netio_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uringd/uringd/netio"
)

// Serve a directory with io_uring event loops, fetch a file, and shut down gracefully.
func Example() {
	dir, _ := os.MkdirTemp("", "netio-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from uringd\n"), 0o644)

	srv, err := netio.NewServer(netio.Config{Root: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err) // on a machine without io_uring: says why; Net: "std" still works
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx) }()

	resp, err := http.Get("http://" + srv.Addr().String() + "/hello.txt")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.Status, " ", resp.Header.Get("Content-Type"), " ", string(body))

	stop()                            // stop accepting, finish in-flight responses
	fmt.Println("shut down:", <-done) // nil after a clean shutdown
	// Output:
	// 200 OK text/plain; charset=utf-8 hello from uringd
	// shut down: <nil>
}

// Listen on a TCP port and a unix socket at once; Listeners says where.
func ExampleServer_Listeners() {
	dir, _ := os.MkdirTemp("", "netio-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello over a unix socket\n"), 0o644)
	sock := filepath.Join(dir, "uringd.sock")

	srv, err := netio.NewServer(netio.Config{Root: dir, Addr: "127.0.0.1:0", Addrs: []string{"unix:" + sock}, UnixMode: 0o660})
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range srv.Listeners() {
		fmt.Println("listening on", a.Network())
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx) }()

	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := c.Get("http://uringd/hello.txt") // the host is not looked up: every connection goes to sock
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.Status, " ", string(body))

	stop()
	<-done
	_, err = os.Stat(sock)
	fmt.Println("socket file removed:", os.IsNotExist(err))
	// Output:
	// listening on tcp
	// listening on unix
	// 200 OK hello over a unix socket
	// socket file removed: true
}

// Count what the server did, and export it to Prometheus.
func ExampleServer_Stats() {
	dir, _ := os.MkdirTemp("", "netio-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644)

	srv, err := netio.NewServer(netio.Config{Root: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx) }()
	for _, p := range []string{"/hello.txt", "/missing.txt"} {
		resp, err := http.Get("http://" + srv.Addr().String() + p)
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	stop()
	<-done // after Serve, Stats has the loops' final counts at once

	st := srv.Stats(context.Background())
	fmt.Println("2xx GET:", st.Responses[1][0], "4xx GET:", st.Responses[3][0])
	// Register the same counts with a registry served by promhttp at /metrics:
	prometheus.NewRegistry().MustRegister(netio.NewCollector(srv, netio.CollectorOptions{}))
	// Output:
	// 2xx GET: 1 4xx GET: 1
}
