package ring

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernels runs fn on the running kernel's features and again capped to 5.10, so every
// fallback path runs on this machine too.
func kernels(t *testing.T, fn func(t *testing.T, compat string)) {
	t.Helper()
	t.Run("native", func(t *testing.T) { fn(t, "") })
	t.Run("compat-5.10", func(t *testing.T) { fn(t, "5.10") })
}

func newRing(t testing.TB, opts Options) *Ring {
	t.Helper()
	r, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// reap collects exactly n caller CQEs (copied), waiting as needed.
func reap(t testing.TB, r *Ring, n int) []CQE {
	t.Helper()
	out := make([]CQE, 0, n)
	batch := make([]*CQE, 64)
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("reaped %d of %d completions before the deadline", len(out), n)
		}
		k := r.PeekBatch(batch)
		for _, c := range batch[:k] {
			out = append(out, *c)
		}
		r.Advance(uint32(k))
		if k == 0 {
			if _, err := r.SubmitAndWaitTimeout(1, time.Second); err != nil && !errors.Is(err, ErrTimeout) {
				t.Fatalf("SubmitAndWaitTimeout: %v", err)
			}
		}
	}
	return out
}

func mustSQE(t testing.TB, r *Ring) *SQE {
	t.Helper()
	sqe := r.GetSQE()
	if sqe == nil {
		if _, err := r.Submit(); err != nil {
			t.Fatalf("Submit: %v", err)
		}
		if sqe = r.GetSQE(); sqe == nil {
			t.Fatal("no SQE after Submit")
		}
	}
	return sqe
}

func TestLayoutMatchesUAPI(t *testing.T) {
	sizes := []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"io_uring_sqe", sizeofSQE, 64},
		{"io_uring_cqe", sizeofCQE, 16},
		{"io_uring_params", sizeofParams, 120},
		{"io_uring_probe", sizeofProbe, 16 + 256*8},
		{"io_uring_buf", sizeofBuf, 16},
		{"io_uring_buf_reg", sizeofBufReg, 40},
		{"io_uring_getevents_arg", sizeofGetEventsArg, 24},
		{"open_how", unsafe.Sizeof(OpenHow{}), 24},
		{"io_uring_files_update", unsafe.Sizeof(filesUpdate{}), 16},
		{"io_uring_rsrc_register", unsafe.Sizeof(rsrcRegister{}), 32},
		{"io_sqring_offsets", unsafe.Sizeof(sqringOffsets{}), 40},
	}
	for _, s := range sizes {
		if s.got != s.want {
			t.Errorf("sizeof(%s) = %d, want %d", s.name, s.got, s.want)
		}
	}
	var s SQE
	offs := []struct {
		name      string
		got, want uintptr
	}{
		{"fd", unsafe.Offsetof(s.Fd), 4}, {"off", unsafe.Offsetof(s.Off), 8},
		{"addr", unsafe.Offsetof(s.Addr), 16}, {"len", unsafe.Offsetof(s.Len), 24},
		{"rw_flags", unsafe.Offsetof(s.OpFlags), 28}, {"user_data", unsafe.Offsetof(s.UserData), 32},
		{"buf_index", unsafe.Offsetof(s.BufIndex), 40}, {"personality", unsafe.Offsetof(s.Personality), 42},
		{"file_index", unsafe.Offsetof(s.FileIndex), 44}, {"addr3", unsafe.Offsetof(s.Addr3), 48},
	}
	for _, o := range offs {
		if o.got != o.want {
			t.Errorf("offsetof(io_uring_sqe.%s) = %d, want %d", o.name, o.got, o.want)
		}
	}
	var p params
	if off := unsafe.Offsetof(p.sqOff); off != 40 {
		t.Errorf("offsetof(io_uring_params.sq_off) = %d, want 40", off)
	}
	if OpSendmsgZC != 48 || OpListen != 57 || OpProvideBuffers != 31 || OpShutdown != 34 {
		t.Errorf("opcode numbering drifted from the header: sendmsg_zc=%d listen=%d", OpSendmsgZC, OpListen)
	}
}

func TestNopBatches(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 256, KernelCompat: compat})
		for _, batch := range []int{1, 8, 32, 256} {
			for round := 0; round < 5; round++ {
				for i := 0; i < batch; i++ {
					sqe := mustSQE(t, r)
					sqe.PrepNop()
					sqe.UserData = uint64(round*1000 + i)
				}
				n, err := r.SubmitAndWait(uint32(batch))
				if err != nil || n != batch {
					t.Fatalf("SubmitAndWait(%d) = %d, %v", batch, n, err)
				}
				seen := make(map[uint64]bool)
				for _, c := range reap(t, r, batch) {
					if c.Res != 0 || seen[c.UserData] {
						t.Fatalf("batch %d: CQE %+v (duplicate=%v)", batch, c, seen[c.UserData])
					}
					seen[c.UserData] = true
				}
				for i := 0; i < batch; i++ {
					if !seen[uint64(round*1000+i)] {
						t.Fatalf("batch %d round %d: completion %d missing", batch, round, i)
					}
				}
			}
		}
		if r.CQReady() != 0 {
			t.Fatalf("CQ not empty after reaping: %d", r.CQReady())
		}
	})
}

func TestGetSQEFullQueue(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	for i := 0; i < 8; i++ {
		sqe := r.GetSQE()
		if sqe == nil {
			t.Fatalf("GetSQE %d returned nil with a free slot", i)
		}
		sqe.PrepNop()
	}
	if r.GetSQE() != nil {
		t.Fatal("GetSQE returned an entry from a full SQ")
	}
	if n, err := r.SubmitAndWait(8); n != 8 || err != nil {
		t.Fatalf("SubmitAndWait = %d, %v", n, err)
	}
	if r.SQSpace() != 8 || r.GetSQE() == nil {
		t.Fatalf("SQ space after submit = %d", r.SQSpace())
	}
}

func tempFile(t *testing.T, size int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.New(rand.NewSource(int64(size))).Read(data)
	path := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

func TestFileReadWriteMatchesOSFile(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 64, KernelCompat: compat})
		f, data := tempFile(t, 1<<16+123)
		fd := int(f.Fd())
		rng := rand.New(rand.NewSource(1))

		// Reads at random offsets and lengths, EOF included, against os.File.ReadAt.
		for i := 0; i < 200; i++ {
			off := rng.Intn(len(data) + 10)
			n := rng.Intn(9000)
			got := make([]byte, n)
			sqe := mustSQE(t, r)
			sqe.PrepRead(fd, got, uint64(off))
			sqe.UserData = uint64(i)
			c := reap(t, r, 1)[0]
			if err := ResultError(OpRead, c.Res); err != nil {
				t.Fatalf("read %d@%d: %v", n, off, err)
			}
			want := make([]byte, n)
			k, _ := f.ReadAt(want, int64(off))
			if int(c.Res) != k || !bytes.Equal(got[:c.Res], want[:k]) {
				t.Fatalf("read %d@%d: ring %d bytes, os.File %d bytes, equal=%v", n, off, c.Res, k, bytes.Equal(got[:c.Res], want[:k]))
			}
		}

		// Writes (plain and vectored) read back through os.File.
		patch := []byte("uringd was here")
		sqe := mustSQE(t, r)
		sqe.PrepWrite(fd, patch, 100)
		iov := make([]unix.Iovec, 2)
		a, b := []byte("vec-one|"), []byte("vec-two")
		iov[0].Base, iov[1].Base = &a[0], &b[0]
		iov[0].SetLen(len(a))
		iov[1].SetLen(len(b))
		sqe = mustSQE(t, r)
		sqe.PrepWritev(fd, iov, 5000)
		sqe.UserData = 1
		sqe = mustSQE(t, r)
		sqe.PrepFsync(fd, FsyncDatasync)
		sqe.UserData = 2
		for _, c := range reap(t, r, 3) {
			if c.Res < 0 {
				t.Fatalf("write/fsync %d: %v", c.UserData, syscall.Errno(-c.Res))
			}
		}
		check := make([]byte, len(patch))
		f.ReadAt(check, 100)
		if !bytes.Equal(check, patch) {
			t.Fatalf("read back %q, want %q", check, patch)
		}
		check = make([]byte, len(a)+len(b))
		f.ReadAt(check, 5000)
		if string(check) != "vec-one|vec-two" {
			t.Fatalf("writev read back %q", check)
		}
		runtime.KeepAlive(iov)

		// Readv across two buffers.
		r1, r2 := make([]byte, 7), make([]byte, 8)
		iov[0].Base, iov[1].Base = &r1[0], &r2[0]
		iov[0].SetLen(len(r1))
		iov[1].SetLen(len(r2))
		sqe = mustSQE(t, r)
		sqe.PrepReadv(fd, iov, 5000)
		if c := reap(t, r, 1)[0]; c.Res != 15 || string(r1)+string(r2) != "vec-one|vec-two" {
			t.Fatalf("readv = %d %q%q", c.Res, r1, r2)
		}
	})
}

func TestOpenStatxClose(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 16, KernelCompat: compat})
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, ring\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		dirf, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer dirf.Close()
		path, _ := BytePtr("hello.txt")
		sqe := mustSQE(t, r)
		sqe.PrepOpenat(int(dirf.Fd()), path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		c := reap(t, r, 1)[0]
		if c.Res < 0 {
			t.Fatalf("openat: %v", c.Err(OpOpenat))
		}
		fd := int(c.Res)
		stx := new(unix.Statx_t)
		empty, _ := BytePtr("")
		sqe = mustSQE(t, r)
		sqe.PrepStatx(fd, empty, unix.AT_EMPTY_PATH, unix.STATX_SIZE|unix.STATX_MTIME, stx)
		if c := reap(t, r, 1)[0]; c.Res < 0 || stx.Size != 12 {
			t.Fatalf("statx: res %d size %d", c.Res, stx.Size)
		}
		sqe = mustSQE(t, r)
		sqe.PrepClose(fd)
		if c := reap(t, r, 1)[0]; c.Res != 0 {
			t.Fatalf("close: %v", c.Err(OpClose))
		}
		// A failed open names the opcode and wraps the errno.
		missing, _ := BytePtr("missing.txt")
		sqe = mustSQE(t, r)
		sqe.PrepOpenat(int(dirf.Fd()), missing, unix.O_RDONLY, 0)
		err = reap(t, r, 1)[0].Err(OpOpenat)
		if !errors.Is(err, syscall.ENOENT) || err.Error() != "io_uring openat: no such file or directory" {
			t.Fatalf("open missing: %v", err)
		}
		// openat2 with RESOLVE_BENEATH refuses to leave the directory.
		escape, _ := BytePtr("../../../../etc/passwd")
		how := &OpenHow{Flags: unix.O_RDONLY, Resolve: unix.RESOLVE_BENEATH}
		sqe = mustSQE(t, r)
		sqe.PrepOpenat2(int(dirf.Fd()), escape, how)
		if err := reap(t, r, 1)[0].Err(OpOpenat2); !errors.Is(err, syscall.EXDEV) {
			t.Fatalf("openat2 RESOLVE_BENEATH escape: %v, want EXDEV", err)
		}
	})
}

func TestRegisteredFilesAndBuffers(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 16, KernelCompat: compat})
		f, data := tempFile(t, 8192)
		if err := r.RegisterFilesSparse(4); err != nil {
			t.Fatal(err)
		}
		if n, err := r.UpdateFiles(2, []int32{int32(f.Fd())}); err != nil || n != 1 {
			t.Fatalf("UpdateFiles = %d, %v", n, err)
		}
		buf, err := MapBuffer(4096)
		if err != nil {
			t.Fatal(err)
		}
		defer UnmapBuffer(buf)
		if err := r.RegisterBuffers([][]byte{buf}); err != nil {
			t.Fatal(err)
		}
		sqe := mustSQE(t, r)
		sqe.PrepReadFixed(2, buf[:1000], 4000, 0)
		sqe.Flags |= SQEFixedFile
		if c := reap(t, r, 1)[0]; c.Res != 1000 || !bytes.Equal(buf[:1000], data[4000:5000]) {
			t.Fatalf("read_fixed: res %d", c.Res)
		}
		copy(buf, "fixed write")
		sqe = mustSQE(t, r)
		sqe.PrepWriteFixed(2, buf[:11], 0, 0)
		sqe.Flags |= SQEFixedFile
		if c := reap(t, r, 1)[0]; c.Res != 11 {
			t.Fatalf("write_fixed: %v", c.Err(OpWriteFixed))
		}
		got := make([]byte, 11)
		f.ReadAt(got, 0)
		if string(got) != "fixed write" {
			t.Fatalf("read back %q", got)
		}
		if err := r.UnregisterBuffers(); err != nil {
			t.Fatal(err)
		}
		if err := r.UnregisterFiles(); err != nil {
			t.Fatal(err)
		}
	})
}

// listener returns a blocking listening TCP socket on 127.0.0.1 and its address.
func listener(t *testing.T) (int, *net.TCPAddr) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 512); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	return fd, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port}
}

// socketPair connects a client to a listener through the ring: ACCEPT and CONNECT.
func socketPair(t *testing.T, r *Ring) (server, client int) {
	t.Helper()
	lfd, addr := listener(t)
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(cfd) })
	sa := new(unix.RawSockaddrAny)
	in4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
	in4.Family = unix.AF_INET
	in4.Addr = [4]byte{127, 0, 0, 1}
	in4.Port = uint16(addr.Port>>8) | uint16(addr.Port&0xff)<<8
	peer, peerLen := new(unix.RawSockaddrAny), new(uint32)
	*peerLen = unix.SizeofSockaddrAny
	sqe := mustSQE(t, r)
	sqe.PrepAccept(lfd, peer, peerLen, unix.SOCK_CLOEXEC)
	sqe.UserData = 1
	sqe = mustSQE(t, r)
	sqe.PrepConnect(cfd, sa, unix.SizeofSockaddrInet4)
	sqe.UserData = 2
	for _, c := range reap(t, r, 2) {
		switch c.UserData {
		case 1:
			if c.Res < 0 {
				t.Fatalf("accept: %v", c.Err(OpAccept))
			}
			server = int(c.Res)
			t.Cleanup(func() { unix.Close(server) })
		case 2:
			if c.Res != 0 {
				t.Fatalf("connect: %v", c.Err(OpConnect))
			}
		}
	}
	if (*unix.RawSockaddrInet4)(unsafe.Pointer(peer)).Family != unix.AF_INET {
		t.Fatalf("accept did not fill the peer address")
	}
	return server, cfd
}

func TestAcceptConnectSendRecv(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 32, KernelCompat: compat})
		server, client := socketPair(t, r)
		msg := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		got := make([]byte, 256)
		sqe := mustSQE(t, r)
		sqe.PrepRecv(server, got, 0)
		sqe.UserData = 10
		sqe = mustSQE(t, r)
		sqe.PrepSend(client, msg, unix.MSG_NOSIGNAL)
		sqe.UserData = 11
		for _, c := range reap(t, r, 2) {
			if c.Res != int32(len(msg)) {
				t.Fatalf("op %d: res %d, want %d", c.UserData, c.Res, len(msg))
			}
		}
		if !bytes.Equal(got[:len(msg)], msg) {
			t.Fatalf("received %q", got[:len(msg)])
		}
		// sendmsg / recvmsg with iovecs.
		out := []byte("via sendmsg")
		in := make([]byte, 64)
		iovOut := &unix.Iovec{Base: &out[0]}
		iovOut.SetLen(len(out))
		iovIn := &unix.Iovec{Base: &in[0]}
		iovIn.SetLen(len(in))
		mOut, mIn := &unix.Msghdr{Iov: iovOut, Iovlen: 1}, &unix.Msghdr{Iov: iovIn, Iovlen: 1}
		sqe = mustSQE(t, r)
		sqe.PrepRecvmsg(server, mIn, 0)
		sqe = mustSQE(t, r)
		sqe.PrepSendmsg(client, mOut, unix.MSG_NOSIGNAL)
		for _, c := range reap(t, r, 2) {
			if c.Res != int32(len(out)) {
				t.Fatalf("sendmsg/recvmsg res %d", c.Res)
			}
		}
		if string(in[:len(out)]) != "via sendmsg" {
			t.Fatalf("recvmsg got %q", in[:len(out)])
		}
		// Shutdown: the peer's recv sees EOF. SHUTDOWN is 5.11+; older kernels use shutdown(2).
		if r.Features().Supports(OpShutdown) {
			sqe = mustSQE(t, r)
			sqe.PrepShutdown(client, unix.SHUT_WR)
			if c := reap(t, r, 1)[0]; c.Res != 0 {
				t.Fatalf("shutdown: %v", c.Err(OpShutdown))
			}
		} else if err := unix.Shutdown(client, unix.SHUT_WR); err != nil {
			t.Fatal(err)
		}
		sqe = mustSQE(t, r)
		sqe.PrepRecv(server, got, 0)
		if c := reap(t, r, 1)[0]; c.Res != 0 {
			t.Fatalf("recv after shutdown = %d, want 0 (EOF)", c.Res)
		}
		runtime.KeepAlive(mOut)
		runtime.KeepAlive(mIn)
	})
}

func TestMultishotAccept100(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 64, CQEntries: 256, KernelCompat: compat})
		lfd, addr := listener(t)
		multishot := r.Features().MultishotAccept
		wantMultishot := compat == "" && r.Features().Kernel.AtLeast(5, 19)
		if multishot != wantMultishot {
			t.Fatalf("multishot accept = %v on kernel %s with cap %q", multishot, r.Features().Kernel, compat)
		}
		arm := func() {
			sqe := mustSQE(t, r)
			if multishot {
				sqe.PrepMultishotAccept(lfd, unix.SOCK_CLOEXEC)
			} else {
				sqe.PrepAccept(lfd, nil, nil, unix.SOCK_CLOEXEC)
			}
			sqe.UserData = 7
		}
		arm()
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		const conns = 100
		clients := make(chan error, conns)
		var dialed []net.Conn
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < conns; i++ {
				c, err := net.Dial("tcp", addr.String())
				if err != nil {
					clients <- err
					return
				}
				dialed = append(dialed, c)
			}
		}()
		accepted, rearms := 0, 0
		for accepted < conns {
			for _, c := range reap(t, r, 1) {
				if c.Res < 0 {
					t.Fatalf("accept %d: %v", accepted, c.Err(OpAccept))
				}
				unix.Close(int(c.Res))
				accepted++
				if !(c.Flags&CQEFMore != 0) && accepted < conns {
					arm()
					rearms++
					r.Submit()
				}
			}
		}
		<-done
		select {
		case err := <-clients:
			t.Fatal(err)
		default:
		}
		for _, c := range dialed {
			c.Close()
		}
		if multishot && rearms != 0 {
			t.Fatalf("multishot accept needed %d re-arms", rearms)
		}
		if !multishot && rearms != conns-1 {
			t.Fatalf("single accepts re-armed %d times, want %d", rearms, conns-1)
		}
		t.Logf("accepted %d connections, multishot=%v, re-arms=%d", accepted, multishot, rearms)
	})
}

func TestRecvProvidedBuffers(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 32, KernelCompat: compat})
		f := r.Features()
		g, err := r.NewBufferGroup(3, 4, 64)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if g.Ring() != f.BufRing {
			t.Fatalf("buffer ring used = %v, features say %v", g.Ring(), f.BufRing)
		}
		server, client := socketPair(t, r)
		multishot := f.MultishotRecv
		arm := func() {
			sqe := mustSQE(t, r)
			if multishot {
				sqe.PrepRecvMultishot(server, g.Group(), 0)
			} else {
				sqe.PrepRecvSelect(server, g.Group(), uint32(g.Size()), 0)
			}
			sqe.UserData = 42
		}
		arm()
		for i := 0; i < 20; i++ { // more messages than buffers: recycling must work
			msg := []byte("message number " + string(rune('A'+i)))
			if _, err := unix.Write(client, msg); err != nil {
				t.Fatal(err)
			}
			c := reap(t, r, 1)[0]
			if c.UserData != 42 || c.Res < 0 {
				t.Fatalf("recv %d: %+v %v", i, c, c.Err(OpRecv))
			}
			bid, ok := (&c).BufferID()
			if !ok {
				t.Fatalf("recv %d: no buffer ID in flags %#x", i, c.Flags)
			}
			if got := g.Buffer(bid)[:c.Res]; !bytes.Equal(got, msg) {
				t.Fatalf("recv %d: buffer %d holds %q, want %q", i, bid, got, msg)
			}
			if err := g.Recycle(bid); err != nil {
				t.Fatal(err)
			}
			if !(&c).More() {
				arm()
			}
		}
		t.Logf("buffer ring=%v multishot recv=%v", g.Ring(), multishot)
		// Cancel the armed recv so the group can be closed.
		sqe := mustSQE(t, r)
		sqe.PrepCancel(42, 0)
		sqe.UserData = 43
		for _, c := range reap(t, r, 2) {
			if c.UserData == 42 && c.Res != -int32(syscall.ECANCELED) {
				t.Fatalf("cancelled recv res %d", c.Res)
			}
		}
	})
}

func TestLinkTimeoutCancelsRecv(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 16, KernelCompat: compat})
		server, _ := socketPair(t, r)
		buf := make([]byte, 16)
		ts := &Timespec{Nsec: int64(30 * time.Millisecond)}
		sqe := mustSQE(t, r)
		sqe.PrepRecv(server, buf, 0)
		sqe.Flags |= SQEIOLink
		sqe.UserData = 1
		sqe = mustSQE(t, r)
		sqe.PrepLinkTimeout(ts, 0)
		sqe.UserData = 2
		for _, c := range reap(t, r, 2) {
			switch c.UserData {
			case 1:
				if c.Res != -int32(syscall.ECANCELED) {
					t.Fatalf("recv res %d, want -ECANCELED", c.Res)
				}
			case 2:
				if c.Res != -int32(syscall.ETIME) {
					t.Fatalf("link timeout res %d, want -ETIME", c.Res)
				}
			}
		}
		runtime.KeepAlive(ts)
	})
}

func TestAsyncCancel(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 16, KernelCompat: compat})
		server, _ := socketPair(t, r)
		buf := make([]byte, 16)
		sqe := mustSQE(t, r)
		sqe.PrepRecv(server, buf, 0)
		sqe.UserData = 100
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		sqe = mustSQE(t, r)
		sqe.PrepCancel(100, 0)
		sqe.UserData = 101
		for _, c := range reap(t, r, 2) {
			switch c.UserData {
			case 100:
				if c.Res != -int32(syscall.ECANCELED) {
					t.Fatalf("recv res %d, want -ECANCELED", c.Res)
				}
			case 101:
				if c.Res != 0 {
					t.Fatalf("cancel res %d, want 0", c.Res)
				}
			}
		}
		// Cancelling something that is not in flight says so.
		sqe = mustSQE(t, r)
		sqe.PrepCancel(12345, 0)
		if c := reap(t, r, 1)[0]; c.Res != -int32(syscall.ENOENT) {
			t.Fatalf("cancel of nothing = %d, want -ENOENT", c.Res)
		}
	})
}

func TestCQOverflowLosesNothing(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 8, CQEntries: 16, KernelCompat: compat})
		if !r.Features().NoDrop {
			t.Fatal("kernel without IORING_FEAT_NODROP")
		}
		const total = 200 // far more than the 16 CQ entries, never reaped while submitting
		seen := make(map[uint64]int)
		next, busy := 0, 0
		for next < total {
			for r.SQSpace() > 0 && next < total {
				sqe := r.GetSQE()
				sqe.PrepNop()
				sqe.UserData = uint64(next)
				next++
			}
			if _, err := r.Submit(); err != nil {
				if !errors.Is(err, ErrBusy) {
					t.Fatal(err)
				}
				// Older kernels refuse submissions while overflowed CQEs wait: reap some.
				busy++
				for _, c := range reap(t, r, 1) {
					seen[c.UserData]++
				}
			}
		}
		if r.CQReady() < r.CQEntries() && busy == 0 {
			t.Fatalf("CQ holds %d of %d: no overflow happened", r.CQReady(), r.CQEntries())
		}
		for _, c := range reap(t, r, total-len(seen)) {
			seen[c.UserData]++
		}
		for i := 0; i < total; i++ {
			if seen[uint64(i)] != 1 {
				t.Fatalf("completion %d seen %d times", i, seen[uint64(i)])
			}
		}
		if r.Overflowed() != 0 {
			t.Fatalf("kernel dropped %d completions", r.Overflowed())
		}
		// Every NOP went to the kernel; the CQ was found full at least once on the way.
		if st := r.Stats(); st.SQEs != total || st.Enters == 0 || st.CQOverflows == 0 || st.CQDropped != 0 {
			t.Fatalf("stats %+v: want %d SQEs, some enters, overflows seen, none dropped", st, total)
		}
		t.Logf("%d completions through a %d-entry CQ, %d refused submissions; %+v", total, r.CQEntries(), busy, r.Stats())
	})
}

func TestWaitTimeout(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 8, KernelCompat: compat})
		start := time.Now()
		_, err := r.SubmitAndWaitTimeout(1, 30*time.Millisecond)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("wait on an idle ring: %v, want ErrTimeout", err)
		}
		if el := time.Since(start); el < 25*time.Millisecond || el > 5*time.Second {
			t.Fatalf("timed out after %v, want about 30ms", el)
		}
		if usedTimer := r.internalOps; usedTimer == r.Features().ExtArg {
			t.Fatalf("fallback TIMEOUT SQE used=%v with EXT_ARG=%v", usedTimer, r.Features().ExtArg)
		}
		sqe := mustSQE(t, r)
		sqe.PrepNop()
		sqe.UserData = 5
		if _, err := r.SubmitAndWaitTimeout(1, time.Second); err != nil {
			t.Fatalf("wait with a NOP queued: %v", err)
		}
		// Only the caller's completion is visible, never the ring's own TIMEOUT.
		time.Sleep(40 * time.Millisecond)
		cqes := reap(t, r, 1)
		if cqes[0].UserData != 5 || r.PeekCQE() != nil {
			t.Fatalf("peeked %+v and then %v", cqes[0], r.PeekCQE())
		}
	})
}

func TestNotifierParksWithoutThread(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 8, KernelCompat: compat})
		nt, err := NewNotifier(r)
		if err != nil {
			t.Fatal(err)
		}
		defer nt.Close()
		woke := make(chan error, 1)
		go func() { woke <- nt.Wait(context.Background()) }()
		ts := &Timespec{Nsec: int64(20 * time.Millisecond)}
		sqe := mustSQE(t, r)
		sqe.PrepTimeout(ts, 0, 0)
		sqe.UserData = 9
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-woke:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Notifier.Wait did not return after the completion")
		}
		if c := reap(t, r, 1)[0]; c.UserData != 9 || c.Res != -int32(syscall.ETIME) {
			t.Fatalf("timeout CQE %+v", c)
		}
		runtime.KeepAlive(ts)
		// Wake from another goroutine.
		go func() { woke <- nt.Wait(context.Background()) }()
		if err := nt.Wake(); err != nil {
			t.Fatal(err)
		}
		if err := <-woke; err != nil {
			t.Fatal(err)
		}
		// Context cancellation.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := nt.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait(ctx) = %v, want deadline exceeded", err)
		}
		if err := nt.WaitDeadline(time.Now().Add(10 * time.Millisecond)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("WaitDeadline = %v", err)
		}
	})
}

func TestSubmitCompleteAllocatesNothing(t *testing.T) {
	r := newRing(t, Options{Entries: 64})
	cqes := make([]*CQE, 32)
	allocs := testing.AllocsPerRun(200, func() {
		for i := 0; i < 32; i++ {
			sqe := r.GetSQE()
			sqe.PrepNop()
			sqe.UserData = uint64(i)
		}
		r.SubmitAndWait(32)
		n := r.PeekBatch(cqes)
		r.Advance(uint32(n))
	})
	if allocs != 0 {
		t.Fatalf("submit+complete of 32 NOPs allocates %.1f times", allocs)
	}
}

func TestCloseTwice(t *testing.T) {
	r, err := New(Options{Entries: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.Submit(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
	if r.PeekCQE() != nil || r.CQReady() != 0 {
		t.Fatal("closed ring reports completions")
	}
}

func TestSubmitAndWaitBatch(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		r := newRing(t, Options{Entries: 16, KernelCompat: compat})
		// Fewer completions than asked for: the wait settles for them after the grace period
		// (6.12+), or returns with the one it waits for on older kernels.
		ts := &Timespec{Nsec: int64(5 * time.Millisecond)}
		sqe := mustSQE(t, r)
		sqe.PrepTimeout(ts, 0, 0)
		sqe.UserData = 1
		start := time.Now()
		if _, err := r.SubmitAndWaitBatch(8, time.Millisecond, 5*time.Second); err != nil {
			t.Fatalf("batch wait: %v", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("batch wait for 8 with one completion took %v", el)
		}
		if c := reap(t, r, 1)[0]; c.UserData != 1 {
			t.Fatalf("CQE %+v", c)
		}
		runtime.KeepAlive(ts)
		// Nothing in flight: the timeout ends it.
		start = time.Now()
		if _, err := r.SubmitAndWaitBatch(8, time.Millisecond, 20*time.Millisecond); !errors.Is(err, ErrTimeout) {
			t.Fatalf("idle batch wait: %v, want ErrTimeout", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("a 20ms wait took %v (a leftover timer kept it waiting?)", el)
		}
		// A full batch returns at once.
		for i := 0; i < 8; i++ {
			sqe := mustSQE(t, r)
			sqe.PrepNop()
			sqe.UserData = uint64(10 + i)
		}
		start = time.Now()
		if _, err := r.SubmitAndWaitBatch(8, time.Second, 5*time.Second); err != nil || r.userReady() == 0 {
			t.Fatalf("full batch: %v, ready %d", err, r.userReady())
		}
		reap(t, r, 8)
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("a full batch took %v", el)
		}
	})
}
