package ring

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestProbeNativeAndCapped(t *testing.T) {
	f, err := Probe("")
	if err != nil {
		t.Fatal(err)
	}
	if f.Kernel == (Version{}) || f.Release == "" || !f.Supports(OpNop) || !f.Supports(OpRead) {
		t.Fatalf("probe: %+v", f)
	}
	for _, c := range []struct {
		cap     string
		missing []Op
		has     []Op
	}{
		{"5.10", []Op{OpShutdown, OpSocket, OpSendZC}, []Op{OpSplice, OpRead, OpProvideBuffers, OpOpenat2}},
		{"5.6", []Op{OpSplice, OpTee, OpProvideBuffers}, []Op{OpStatx, OpSend, OpRecv}},
	} {
		g, err := Probe(c.cap)
		if err != nil {
			t.Fatalf("Probe(%s): %v", c.cap, err)
		}
		if g.Effective().String() != c.cap && !g.Kernel.Less(g.Effective()) {
			t.Fatalf("Probe(%s) effective %s", c.cap, g.Effective())
		}
		for _, op := range c.missing {
			if g.Supports(op) {
				t.Errorf("capped to %s, %s still supported", c.cap, op)
			}
		}
		for _, op := range c.has {
			if !g.Supports(op) {
				t.Errorf("capped to %s, %s missing", c.cap, op)
			}
		}
		if g.MultishotAccept || g.BufRing || g.MultishotRecv || g.ExtArg || g.SingleIssuer || g.DeferTaskrun {
			t.Errorf("capped to %s, newer fast paths remain: %+v", c.cap, g)
		}
		if !g.NoDrop {
			t.Errorf("capped to %s, NODROP (5.5) missing", c.cap)
		}
	}
	if f.Kernel.AtLeast(6, 1) && (!f.DeferTaskrun || !f.BufRing || !f.MultishotAccept) {
		t.Errorf("kernel %s: newer fast paths not detected: %+v", f.Kernel, f)
	}
}

func TestProbeTooOldCap(t *testing.T) {
	_, err := Probe("5.4")
	u, ok := IsUnavailable(err)
	if !ok || u.Reason != TooOld || !strings.Contains(err.Error(), "5.6") {
		t.Fatalf("Probe(5.4) = %v", err)
	}
	if _, err := New(Options{KernelCompat: "banana"}); err == nil {
		t.Fatal("a bad compat version was accepted")
	}
}

func TestCompatFromEnvironment(t *testing.T) {
	t.Setenv(CompatEnv, "5.10")
	r := newRing(t, Options{Entries: 4})
	f := r.Features()
	if f.Kernel.AtLeast(5, 11) && (f.Compat != Version{5, 10} || f.ExtArg) {
		t.Fatalf("URINGD_KERNEL_COMPAT=5.10 ignored: %+v", f)
	}
	// An explicit option wins over the environment.
	r2 := newRing(t, Options{Entries: 4, KernelCompat: "5.15"})
	if r2.Features().Kernel.AtLeast(5, 16) && r2.Features().Compat != (Version{5, 15}) {
		t.Fatalf("option did not override the environment: %+v", r2.Features().Compat)
	}
}

func TestSetupFlagBeyondCapRefused(t *testing.T) {
	_, err := New(Options{Entries: 4, SingleIssuer: true, KernelCompat: "5.10"})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("SINGLE_ISSUER capped to 5.10: %v, want ErrUnsupported", err)
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{
		"5.10": {5, 10}, "6.1.0-13-cloud-amd64": {6, 1}, "6.18.44-fc-v669": {6, 18}, " 5.6 ": {5, 6},
	} {
		got, err := ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "5", "x.y", "-1.2", "5."} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

func TestSingleIssuerDeferTaskrun(t *testing.T) {
	f, err := Probe("")
	if err != nil {
		t.Fatal(err)
	}
	if !f.DeferTaskrun {
		t.Skipf("kernel %s has no DEFER_TASKRUN (6.1+)", f.Kernel)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := newRing(t, Options{Entries: 16, SingleIssuer: true, DeferTaskrun: true})
	for i := 0; i < 16; i++ {
		sqe := r.GetSQE()
		sqe.PrepNop()
		sqe.UserData = uint64(i)
	}
	if n, err := r.SubmitAndWait(16); n != 16 || err != nil {
		t.Fatalf("SubmitAndWait = %d, %v", n, err)
	}
	if got := len(reap(t, r, 16)); got != 16 {
		t.Fatalf("reaped %d", got)
	}
}

func TestSQPoll(t *testing.T) {
	r, err := New(Options{Entries: 16, SQPoll: true, SQThreadIdle: 10 * 1e6})
	if err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("SQPOLL needs privileges on this kernel: %v", err)
		}
		t.Fatal(err)
	}
	defer r.Close()
	for round := 0; round < 3; round++ {
		for i := 0; i < 8; i++ {
			sqe := r.GetSQE()
			sqe.PrepNop()
			sqe.UserData = uint64(i)
		}
		if _, err := r.SubmitAndWait(8); err != nil {
			t.Fatal(err)
		}
		if got := len(reap(t, r, 8)); got != 8 {
			t.Fatalf("reaped %d", got)
		}
	}
}

func TestUnavailableErrorsSayWhatToDo(t *testing.T) {
	for _, c := range []struct {
		errno  syscall.Errno
		reason Reason
	}{{unix.ENOSYS, NotSupported}, {unix.EPERM, Denied}, {unix.ENOMEM, MemLock}} {
		err := classifySetupError(c.errno, 4096, Version{5, 10})
		u, ok := IsUnavailable(err)
		if !ok || u.Reason != c.reason || u.Remedy == "" || u.Detail == "" || !errors.Is(err, c.errno) {
			t.Errorf("%v: %#v", c.errno, err)
		}
	}
	if err := classifySetupError(unix.EINVAL, 4, Version{6, 1}); !errors.Is(err, unix.EINVAL) {
		t.Errorf("EINVAL: %v", err)
	}
	if _, ok := IsUnavailable(classifySetupError(unix.EINVAL, 4, Version{6, 1})); ok {
		t.Error("EINVAL classified as io_uring being unavailable")
	}
}

// TestMain doubles as the child of TestSeccompDenied: with RING_TEST_SECCOMP set it installs
// a real seccomp filter that answers EPERM to io_uring_setup, then tries to set up a ring.
func TestMain(m *testing.M) {
	if os.Getenv("RING_TEST_SECCOMP") == "1" {
		if err := denyIoUringSetup(); err != nil {
			os.Stdout.WriteString("install filter: " + err.Error() + "\n")
			os.Exit(3)
		}
		_, err := New(Options{Entries: 4})
		os.Stdout.WriteString(err.Error() + "\n")
		if u, ok := IsUnavailable(err); ok && u.Reason == Denied {
			os.Exit(0)
		}
		os.Exit(4)
	}
	os.Exit(m.Run())
}

func denyIoUringSetup() error {
	// no_new_privs is a thread's: without CAP_SYS_ADMIN, seccomp(2) is refused (EACCES) on
	// a thread that did not set it, so both calls must run on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	const (
		ldW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK = unix.BPF_RET | unix.BPF_K
	)
	prog := []unix.SockFilter{
		{Code: ldW, K: 0}, // seccomp_data.nr
		{Code: jeqK, Jt: 0, Jf: 1, K: unix.SYS_IO_URING_SETUP},
		{Code: retK, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: retK, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, 1 /* SECCOMP_SET_MODE_FILTER */, 1, /* SECCOMP_FILTER_FLAG_TSYNC */
		uintptr(unsafe.Pointer(fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return errno
	}
	return nil
}

func TestSeccompDenied(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the test filter matches amd64 syscall numbers")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RING_TEST_SECCOMP=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child under seccomp: %v\n%s", err, out)
	}
	if s := string(out); !strings.Contains(s, "seccomp") || !strings.Contains(s, "remedy") {
		t.Fatalf("the error does not say seccomp and what to do: %s", s)
	}
	t.Logf("under a seccomp filter: %s", strings.TrimSpace(string(out)))
}

// TestMemlockTooSmall needs an unprivileged user with a small RLIMIT_MEMLOCK, as
// `vmrun -u` provides (64 KiB). Before 5.12 ring memory itself is charged to the limit, so a
// large ring fails; stable kernels that carry the later io_uring (Debian's 5.10 does) charge
// only pinned memory, so there registered buffers past the limit fail. Either way the error
// is typed and says what to do.
func TestMemlockTooSmall(t *testing.T) {
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
	if os.Geteuid() == 0 || lim.Cur > 1<<20 {
		t.Skipf("needs a non-root user (euid %d) and a small RLIMIT_MEMLOCK (%d bytes)", os.Geteuid(), lim.Cur)
	}
	check := func(what string, err error) {
		t.Helper()
		u, ok := IsUnavailable(err)
		if !ok || u.Reason != MemLock || !errors.Is(err, syscall.ENOMEM) ||
			!strings.Contains(err.Error(), "RLIMIT_MEMLOCK") || u.Remedy == "" {
			t.Fatalf("%s under a %d-byte memlock limit: %v", what, lim.Cur, err)
		}
		t.Logf("as expected: %v", err)
	}
	r, err := New(Options{Entries: 4096})
	if err != nil {
		check("a 4096-entry ring", err)
		return
	}
	defer r.Close()
	t.Logf("kernel %s does not charge rings to RLIMIT_MEMLOCK; registered buffers it does", r.Features().Release)
	buf, err := MapBuffer(int(lim.Cur) * 4)
	if err != nil {
		t.Fatal(err)
	}
	defer UnmapBuffer(buf)
	check("registered buffers of 4x the limit", r.RegisterBuffers([][]byte{buf}))
}
