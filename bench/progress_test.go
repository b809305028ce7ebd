package bench

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestProgressNotTerminal(t *testing.T) {
	var buf bytes.Buffer
	if IsTerminal(&buf) {
		t.Fatal("a bytes.Buffer is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Fatal("a regular file is a terminal")
	}
	p := NewProgress(&buf, "preparing /tmp/f", 4<<20)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 4 {
				p.Add(256 << 10)
			}
		})
	}
	wg.Wait()
	if buf.Len() != 0 {
		t.Errorf("output before Done on a non-terminal: %q", buf.String())
	}
	p.Done()
	p.Done()
	out := buf.String()
	if strings.Contains(out, "\r") || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("want one final line, got %q", out)
	}
	if !strings.HasPrefix(out, "preparing /tmp/f: 4.0 MiB in ") || !strings.Contains(out, "MB/s") {
		t.Errorf("final line %q", out)
	}
}

// openPTY returns both ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skip("no pseudo-terminals:", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skip("unlockpt:", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skip("ptsname:", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skip("open pts:", err)
	}
	t.Cleanup(func() { s.Close() })
	// Raw output: no "\n" -> "\r\n" translation.
	tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err == nil {
		tio.Oflag &^= unix.OPOST
		unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio)
	}
	return m, s
}

func TestProgressTerminal(t *testing.T) {
	master, slave := openPTY(t)
	if !IsTerminal(slave) {
		t.Fatal("a pty is not a terminal")
	}
	read := make(chan string)
	go func() {
		var all []byte
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil || bytes.HasSuffix(all, []byte("\n")) {
				read <- string(all)
				return
			}
		}
	}()
	p := NewProgress(slave, "preparing file", 1<<20)
	p.Interval = time.Millisecond
	for range 4 {
		io.Copy(p, bytes.NewReader(make([]byte, 256<<10)))
		time.Sleep(2 * time.Millisecond)
	}
	p.Done()
	var out string
	select {
	case out = <-read:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing read from the pty")
	}
	t.Logf("%q", out)
	if strings.Count(out, "\r") < 2 {
		t.Errorf("want several \\r redraws, got %q", out)
	}
	if !strings.HasPrefix(out, "\rpreparing file: ") || !strings.HasSuffix(out, "\n") {
		t.Errorf("output %q", out)
	}
	last := out[strings.LastIndex(out, "\r")+1:]
	if !strings.Contains(last, "100% 1.0 MiB / 1.0 MiB") {
		t.Errorf("last redraw %q", last)
	}
}

func TestProgressUnknownTotal(t *testing.T) {
	master, slave := openPTY(t)
	p := NewProgress(slave, "x", 0)
	p.Set(3 << 20)
	p.Done()
	buf := make([]byte, 256)
	master.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := master.Read(buf)
	if got := string(buf[:n]); !strings.Contains(got, "x: 3.0 MiB") || strings.Contains(got, "%") {
		t.Errorf("%q", got)
	}
}
