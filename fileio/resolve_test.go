package fileio_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/uringd/uringd/fileio"
)

// Open beneath a Dir refuses every way out of it ("..", absolute paths, absolute symlinks,
// relative symlinks that climb out), with openat2(RESOLVE_BENEATH) and with the fallback
// walk alike, and follows symlinks that stay inside.
func TestOpenBeneath(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "root")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "sub", "deeper"), 0o755))
	must(os.WriteFile(filepath.Join(top, "secret.txt"), []byte("secret"), 0o644))
	must(os.WriteFile(filepath.Join(root, "a.txt"), []byte("a"), 0o644))
	must(os.WriteFile(filepath.Join(root, "sub", "b.txt"), []byte("b"), 0o644))
	links := map[string]string{
		"in-rel":             "sub/b.txt",                      // stays inside
		"sub/up-in":          "../a.txt",                       // climbs, but not out
		"sub/deeper/up2-in":  "../../sub/b.txt",                // climbs twice, not out
		"dirlink":            "sub",                            // a directory inside
		"out-abs":            filepath.Join(top, "secret.txt"), // absolute: out
		"out-abs-inside":     filepath.Join(root, "a.txt"),     // absolute, even pointing inside: refused as RESOLVE_BENEATH does
		"out-rel":            "../secret.txt",                  // relative: out
		"sub/out-rel2":       "../../secret.txt",               // relative from a subdirectory: out
		"sub/deeper/out-dir": "../../..",                       // a directory out
		"loop1":              "loop2",                          // a loop
		"loop2":              "loop1",                          //
		"etc":                "/etc",                           // absolute directory
	}
	for name, target := range links {
		must(os.Symlink(target, filepath.Join(root, name)))
	}
	inside := map[string]string{
		"a.txt": "a", "sub/b.txt": "b", "in-rel": "b", "sub/up-in": "a", "sub/deeper/up2-in": "b",
		"dirlink/b.txt": "b", "sub/../a.txt": "a", "./sub/./b.txt": "b", "sub/deeper/../../a.txt": "a",
	}
	escaping := []string{
		"../secret.txt", "sub/../../secret.txt", "/etc/passwd", filepath.Join(top, "secret.txt"),
		"out-abs", "out-abs-inside", "out-rel", "sub/out-rel2", "sub/deeper/out-dir/secret.txt",
		"etc/passwd", "dirlink/../../secret.txt",
	}
	for _, c := range engineCases() {
		for _, walk := range []bool{false, true} {
			name := c.name + "/openat2"
			if walk {
				name = c.name + "/walk"
			}
			t.Run(name, func(t *testing.T) {
				e := newEngine(t, c, func(o *fileio.Options) { o.ForceWalk = walk })
				want := "openat2"
				if walk {
					want = "walk"
				}
				if got := e.OpenMethod(); got != want {
					t.Fatalf("OpenMethod() = %q, want %q", got, want)
				}
				d := openDir(t, root)
				ctx := context.Background()
				for p, content := range inside {
					f, err := e.Open(ctx, d, p, os.O_RDONLY, 0)
					if err != nil {
						t.Errorf("open %q (inside): %v", p, err)
						continue
					}
					b := make([]byte, 10)
					n, err := f.ReadAt(b, 0)
					if err != io.EOF || string(b[:n]) != content {
						t.Errorf("read %q = %q, %v; want %q", p, b[:n], err, content)
					}
					f.Close()
				}
				for _, p := range escaping {
					f, err := e.Open(ctx, d, p, os.O_RDONLY, 0)
					if err == nil {
						f.Close()
						t.Errorf("open %q escaped the root", p)
						continue
					}
					if !errors.Is(err, syscall.EXDEV) {
						t.Errorf("open %q = %v, want EXDEV", p, err)
					}
				}
				if _, err := e.Open(ctx, d, "loop1", os.O_RDONLY, 0); !errors.Is(err, syscall.ELOOP) {
					t.Errorf("open of a symlink loop = %v, want ELOOP", err)
				}
				if _, err := e.Open(ctx, d, "missing/x", os.O_RDONLY, 0); !errors.Is(err, syscall.ENOENT) {
					t.Errorf("open of a missing path = %v, want ENOENT", err)
				}
				// Creating through the Dir works, and lands inside.
				f, err := e.Open(ctx, d, "sub/new.txt", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				f.WriteAt([]byte("new"), 0)
				f.Close()
				if b, err := os.ReadFile(filepath.Join(root, "sub", "new.txt")); string(b) != "new" || err != nil {
					t.Fatalf("created file = %q, %v", b, err)
				}
				if st, _ := os.Stat(filepath.Join(root, "sub", "new.txt")); st.Mode().Perm() != 0o600 {
					t.Errorf("created file mode %v, want 0600", st.Mode())
				}
				os.Remove(filepath.Join(root, "sub", "new.txt"))
				// Opening a directory beneath the root for stat.
				dd, err := e.Open(ctx, d, "sub", os.O_RDONLY|syscall.O_DIRECTORY, 0)
				if err != nil || !dd.Info().Mode.IsDir() {
					t.Fatalf("open directory: %v", err)
				}
				dd.Close()
			})
		}
	}
}
