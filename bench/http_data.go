package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// The served tree: the hot files (/4k.bin, /1m.bin, ...) and the cold data set under /c, 256
// files a directory. Every byte is a function of the file's name, so a server's answer is
// checked against content regenerated here, not against a copy read back from the disk.

func dataSetPath(i int) string { return fmt.Sprintf("/c/%03d/%05d.bin", i/256, i) }

func hotPath(size int64) string { return "/" + sizeLabel(size) + ".bin" }

// sizeLabel is "4k", "64k", "1m", "256k" or the byte count.
func sizeLabel(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dm", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dk", n>>10)
	}
	return fmt.Sprint(n)
}

// fillContent writes path's content into b: a PCG stream seeded by the path.
func fillContent(path string, b []byte) {
	var seed uint64 = 1469598103934665603
	for i := 0; i < len(path); i++ {
		seed = (seed ^ uint64(path[i])) * 1099511628211
	}
	g := rand.NewPCG(seed, 0x75726e67)
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, g.Uint64())
		b = b[8:]
	}
	for i := range b {
		b[i] = byte(g.Uint64())
	}
}

// dataManifest marks a finished data set; a directory whose manifest matches is reused.
type dataManifest struct {
	FileSize int64   `json:"file_size"`
	Count    int     `json:"count"`
	Hot      []int64 `json:"hot"`
}

const manifestName = ".uringd-bench-data.json"

// prepareTree makes root hold the hot files of sizes and, when count > 0, the cold data set
// of count files of fileSize bytes, unless its manifest says it does already. Directories
// are 0755 and files 0644: nginx's and lighttpd's workers read them as another user.
func prepareTree(root string, hot []int64, count int, fileSize int64, progress io.Writer) error {
	keepCold := false
	if b, err := os.ReadFile(filepath.Join(root, manifestName)); err == nil {
		var have dataManifest
		if json.Unmarshal(b, &have) == nil {
			if fmt.Sprint(have.Hot) == fmt.Sprint(hot) && (count == 0 || have.FileSize == fileSize && have.Count == count) {
				return nil
			}
			// Other hot files, or a hot-only run, keep the cold set that is there: writing it
			// again costs minutes.
			if count == 0 && have.Count > 0 {
				count, fileSize = have.Count, have.FileSize
			}
			keepCold = have.Count == count && have.FileSize == fileSize
		}
	}
	want := dataManifest{FileSize: fileSize, Count: count, Hot: hot}
	os.Remove(filepath.Join(root, manifestName))
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("bench http: data set: %w", err)
	}
	os.Chmod(root, 0o755)
	write := func(rel string, size int64, buf []byte) error {
		buf = buf[:size]
		fillContent(rel, buf)
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			return fmt.Errorf("bench http: data set: %w", err)
		}
		return os.Chmod(p, 0o644)
	}
	var biggest int64 = fileSize
	for _, s := range hot {
		biggest = max(biggest, s)
	}
	buf := make([]byte, biggest)
	for _, s := range hot {
		if err := write(hotPath(s), s, buf); err != nil {
			return err
		}
	}
	if count > 0 && !keepCold {
		p := NewProgress(progress, "bench http: writing the cold data set", int64(count)*fileSize)
		for i := 0; i < count; i++ {
			if i%256 == 0 {
				d := filepath.Join(root, "c", fmt.Sprintf("%03d", i/256))
				if err := os.MkdirAll(d, 0o755); err != nil {
					return fmt.Errorf("bench http: data set: %w", err)
				}
				os.Chmod(d, 0o755)
			}
			if err := write(dataSetPath(i), fileSize, buf); err != nil {
				return err
			}
			p.Add(fileSize)
		}
		p.Done()
	}
	b, _ := json.Marshal(want)
	return os.WriteFile(filepath.Join(root, manifestName), b, 0o644)
}

// verifyServer asks addr for each path and wants 200 and the exact bytes, retrying for up to
// wait while the server starts.
func verifyServer(ctx context.Context, addr string, paths []string, sizes []int64, wait time.Duration) error {
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	defer cl.CloseIdleConnections()
	deadline := time.Now().Add(wait)
	var want []byte
	for i, p := range paths {
		want = want[:0]
		want = append(want, make([]byte, sizes[i])...)
		fillContent(p, want)
		for {
			err := fetchExact(ctx, cl, "http://"+addr+p, want)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Now().After(deadline) {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func fetchExact(ctx context.Context, cl *http.Client, url string, want []byte) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: reading the body: %w", url, err)
	}
	if resp.StatusCode != 200 || !bytes.Equal(got, want) {
		at := 0
		for at < len(got) && at < len(want) && got[at] == want[at] {
			at++
		}
		return fmt.Errorf("GET %s: status %d, %d bytes, want 200 and the file's %d bytes (first difference at %d)",
			url, resp.StatusCode, len(got), len(want), at)
	}
	return nil
}
