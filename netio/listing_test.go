package netio

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hugeDirRoot is a root with a directory of n empty files and a small file beside it.
func hugeDirRoot(t *testing.T, n int) string {
	t.Helper()
	root := t.TempDir()
	// On a tmpfs if there is one: creating 100 000 files on a journaled disk is slow.
	if shm, err := os.MkdirTemp("/dev/shm", "uringd-huge"); err == nil {
		root = shm
		t.Cleanup(func() { os.RemoveAll(shm) })
	}
	write(t, filepath.Join(root, "hello.txt"), []byte("hello, uringd\n"))
	dir := filepath.Join(root, "huge")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dfd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	for i := range n {
		fd, err := unix.Openat(dfd, fmt.Sprintf("f%06d", i), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			t.Fatalf("create entry %d: %v", i, err)
		}
		unix.Close(fd)
	}
	return root
}

// TestHugeDirectoryListing: several clients list a directory of 100 000 entries over and
// over while other connections fetch a small file. The listing is cut, says so, and the
// small requests keep being answered.
func TestHugeDirectoryListing(t *testing.T) {
	entries := 100_000
	if testing.Short() {
		entries = 12_000 // still past the listing's cut (10 000)
	}
	root := hugeDirRoot(t, entries)
	for _, m := range []mode{modes()[0], modes()[3], modes()[4]} { // uring, threadpool, 5.10
		t.Run(m.name, func(t *testing.T) {
			rs := start(t, m, root, nil)
			client := &http.Client{Timeout: 10 * time.Second}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			errs := make(chan error, 64)
			const listers, rounds = 6, 4
			for i := 0; i < listers; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := 0; r < rounds; r++ {
						resp, err := client.Get(rs.url + "/huge/")
						if err != nil {
							errs <- fmt.Errorf("listing: %w", err)
							return
						}
						b, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || resp.StatusCode != 200 {
							errs <- fmt.Errorf("listing: %d, %d bytes, %v", resp.StatusCode, len(b), err)
							return
						}
						body := string(b)
						n := strings.Count(body, "<a href=")
						if !strings.Contains(body, "listing cut at 10000 entries") || n != 10000 {
							tail := body[max(0, len(body)-200):]
							errs <- fmt.Errorf("listing of 100000 entries: %d links, %d bytes, no note \"listing cut at 10000 entries\"; ends %q", n, len(b), tail)
							return
						}
					}
				}()
			}
			small := 0
			smallDone := make(chan struct{})
			go func() {
				defer close(smallDone)
				sc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
				for {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := sc.Get(rs.url + "/hello.txt")
					if err != nil {
						errs <- fmt.Errorf("small file during listings (after %d answered): %w", small, err)
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != "hello, uringd\n" {
						errs <- fmt.Errorf("small file during listings: %d %q", resp.StatusCode, b)
						return
					}
					small++
				}
			}()
			wg.Wait()
			close(stop)
			<-smallDone
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if small == 0 {
				t.Error("no small request answered while the listings ran")
			}
			rs.s.lists.mu.Lock()
			peak := rs.s.lists.peak
			rs.s.lists.mu.Unlock()
			if peak > listWorkers || peak == 0 {
				t.Errorf("%d listings ran at once, want 1 to %d", peak, listWorkers)
			}
			t.Logf("%d listings (at most %d at once), %d small requests answered meanwhile", listers*rounds, peak, small)
		})
	}
}

// TestListingCutAtLimit: a directory of exactly MaxListingEntries entries is listed whole;
// one more entry cuts it, and the listing says so.
func TestListingCutAtLimit(t *testing.T) {
	root := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		write(t, filepath.Join(root, "three", n), []byte(n))
		write(t, filepath.Join(root, "four", n), []byte(n))
	}
	write(t, filepath.Join(root, "four", "d"), []byte("d"))
	for _, m := range modes()[:5] { // the uring engines; the std engine cuts without the note
		t.Run(m.name, func(t *testing.T) {
			rs := start(t, m, root, func(c *Config) { c.MaxListingEntries = 3 })
			_, three := get(t, rs.url+"/three/")
			if n := strings.Count(string(three), "<a href="); n != 3 || strings.Contains(string(three), "listing cut") {
				t.Errorf("3 entries, limit 3: %d links:\n%s", n, three)
			}
			_, four := get(t, rs.url+"/four/")
			if n := strings.Count(string(four), "<a href="); n != 3 || !strings.Contains(string(four), "<p>listing cut at 3 entries: the directory has more</p>") {
				t.Errorf("4 entries, limit 3: %d links:\n%s", n, four)
			}
		})
	}
}
