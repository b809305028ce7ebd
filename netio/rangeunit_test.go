package netio

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestRangeUnknownUnitIgnored: a Range in a unit other than bytes is ignored (RFC 9110
// §14.2), in every engine: 200 with the whole file and no Content-Range, for a small file
// and for one taken by the large-file paths; a bytes Range beside it still gets its 206.
func TestRangeUnknownUnitIgnored(t *testing.T) {
	root := testRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		for _, name := range []string{"hello.txt", "odd.bin"} {
			file, err := os.ReadFile(filepath.Join(root, name))
			if err != nil {
				t.Fatal(err)
			}
			for _, rh := range []string{"items=0-5", "Items=0-5", "none=1-2,4-"} {
				resp, body := get(t, rs.url+"/"+name, "Range", rh)
				if resp.StatusCode != 200 || !bytes.Equal(body, file) || resp.Header.Get("Content-Range") != "" {
					t.Errorf("GET /%s, Range: %s: %d, %d bytes (equal to the file: %v), Content-Range %q; want 200 with the whole file (%d bytes), no Content-Range",
						name, rh, resp.StatusCode, len(body), bytes.Equal(body, file), resp.Header.Get("Content-Range"), len(file))
				}
			}
			resp, body := get(t, rs.url+"/"+name, "Range", "bytes=0-5")
			if resp.StatusCode != 206 || !bytes.Equal(body, file[:6]) {
				t.Errorf("GET /%s, Range: bytes=0-5: %d %q; want 206 %q", name, resp.StatusCode, body, file[:6])
			}
		}
	})
}
