package fileio

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/ring"
)

// resolveFlags are openat2's containment rules: never above the Dir (no "..", absolute path
// or absolute symlink escapes), and no /proc magic links.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// maxSymlinks is how many symlinks one walk follows before it gives up with ELOOP, as the
// kernel's path lookup does.
const maxSymlinks = 40

// openFile is Engine.Open for every engine: resolve and open through the engine, then statx
// through the engine (the File keeps it as Info, and needs the file type and, with
// O_DIRECT, the alignment).
func openFile(ctx context.Context, b backend, dir *Dir, name string, flag int, perm os.FileMode) (*File, error) {
	path, dirfd := name, unix.AT_FDCWD
	if dir != nil {
		path, dirfd = strings.TrimSuffix(dir.path, "/")+"/"+name, dir.fd
	}
	openErr := func(op string, err error) error {
		return &Error{Engine: b.name(), Op: op, Path: path, Off: -1, Err: err}
	}
	if dir != nil && dir.fd < 0 {
		return nil, openErr("open", ErrClosed)
	}
	flag |= unix.O_CLOEXEC
	mode := unixMode(perm)
	var fd int
	var err error
	switch {
	case dir == nil:
		fd, err = openOne(ctx, b, opOpenat, dirfd, name, flag, mode)
	case b.useOpenat2():
		for range 16 { // EAGAIN: a rename raced with ".." in the lookup; the kernel asks to retry
			if fd, err = openOne(ctx, b, opOpen, dirfd, name, flag, mode); !errors.Is(err, syscall.EAGAIN) {
				break
			}
		}
		if errors.Is(err, syscall.ENOSYS) {
			// A seccomp profile that predates openat2 (5.6) answers ENOSYS: walk from now on.
			if d, ok := b.(interface{ disableOpenat2() }); ok {
				d.disableOpenat2()
			}
			fd, err = walkOpen(ctx, b, dirfd, name, flag, mode)
		}
	default:
		fd, err = walkOpen(ctx, b, dirfd, name, flag, mode)
	}
	if err != nil {
		return nil, openErr("open", err)
	}
	f := &File{eng: b, fd: fd, path: path, direct: flag&syscall.O_DIRECT != 0}
	st, err := statFd(ctx, b, f, fd, f.direct)
	if err != nil {
		unix.Close(fd)
		return nil, openErr("stat", err)
	}
	f.info = st
	f.stream = st.Mode&(fs.ModeNamedPipe|fs.ModeSocket|fs.ModeCharDevice) != 0
	if f.direct {
		f.align = directAlignment(&st)
	}
	if o, ok := b.(interface{ opened(*File) }); ok {
		o.opened(f)
	}
	return f, nil
}

func unixMode(perm os.FileMode) uint32 {
	m := uint32(perm.Perm())
	if perm&os.ModeSetuid != 0 {
		m |= unix.S_ISUID
	}
	if perm&os.ModeSetgid != 0 {
		m |= unix.S_ISGID
	}
	if perm&os.ModeSticky != 0 {
		m |= unix.S_ISVTX
	}
	return m
}

// openOne runs one open through the engine: opOpen is openat2 with resolveFlags, opOpenat
// a plain openat.
func openOne(ctx context.Context, b backend, code OpCode, dirfd int, name string, flag int, mode uint32) (int, error) {
	o := getOp()
	o.Code, o.dirfd, o.flags, o.mode = code, dirfd, flag, mode
	o.setPath(name)
	if code == opOpen {
		o.how = ring.OpenHow{Flags: uint64(flag), Resolve: resolveFlags}
		if flag&unix.O_CREAT != 0 || flag&unix.O_TMPFILE == unix.O_TMPFILE {
			o.how.Mode = uint64(mode)
		}
	}
	if !b.do(ctx, o) {
		return -1, ctx.Err()
	}
	defer putOp(o)
	if o.cause != nil || o.res < 0 {
		return -1, o.failure()
	}
	return int(o.res), nil
}

// walkOpen opens name beneath dirfd without openat2: one component at a time, each with
// O_NOFOLLOW on a descriptor already held, keeping the chain of directories so that ".."
// goes back one step and never above dirfd. A symlink is read (readlinkat) and its target
// walked in its place by the same rules: an absolute target fails with EXDEV, as
// RESOLVE_BENEATH does, and so does any ".." that would leave dirfd. Opens go through the
// engine (b); readlinkat is a plain system call.
func walkOpen(ctx context.Context, b backend, dirfd int, name string, flag int, mode uint32) (fd int, err error) {
	if name == "" {
		return -1, syscall.ENOENT
	}
	if strings.HasPrefix(name, "/") {
		return -1, syscall.EXDEV
	}
	if strings.HasSuffix(name, "/") {
		flag |= unix.O_DIRECTORY
	}
	comps := splitPath(name)
	stack := []int{dirfd} // stack[0] is the caller's; the rest are ours to close
	defer func() {
		for _, d := range stack[1:] {
			unix.Close(d)
		}
	}()
	links := 0
	// follow splices a symlink's target in place of comps[i].
	follow := func(cur int, c string, i int) (bool, error) {
		buf := make([]byte, unix.PathMax)
		n, lerr := unix.Readlinkat(cur, c, buf)
		if lerr != nil {
			return false, nil // not a symlink: the open's own error stands
		}
		if links++; links > maxSymlinks {
			return true, syscall.ELOOP
		}
		target := string(buf[:n])
		if strings.HasPrefix(target, "/") {
			return true, syscall.EXDEV
		}
		rest := append(splitPath(target), comps[i+1:]...)
		comps = rest
		return true, nil
	}
	for i := 0; i < len(comps); i++ {
		c := comps[i]
		last := i == len(comps)-1
		cur := stack[len(stack)-1]
		if c == ".." {
			if len(stack) == 1 {
				return -1, syscall.EXDEV
			}
			unix.Close(cur)
			stack = stack[:len(stack)-1]
			if last {
				return openOne(ctx, b, opOpenat, stack[len(stack)-1], ".", flag, mode)
			}
			continue
		}
		if !last {
			d, err := openOne(ctx, b, opOpenat, cur, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP) {
				if ok, ferr := follow(cur, c, i); ok {
					if ferr != nil {
						return -1, ferr
					}
					i = -1
					continue
				}
			}
			if err != nil {
				return -1, err
			}
			stack = append(stack, d)
			continue
		}
		fd, err := openOne(ctx, b, opOpenat, cur, c, flag|unix.O_NOFOLLOW, mode)
		if errors.Is(err, syscall.ELOOP) && flag&unix.O_NOFOLLOW == 0 {
			if ok, ferr := follow(cur, c, i); ok {
				if ferr != nil {
					return -1, ferr
				}
				i = -1
				continue
			}
		}
		return fd, err
	}
	// Only "." components (or a symlink to "."): the directory we are in.
	return openOne(ctx, b, opOpenat, stack[len(stack)-1], ".", flag, mode)
}

// splitPath splits a relative path into components, dropping empty ones and ".".
func splitPath(p string) []string {
	var out []string
	for c := range strings.SplitSeq(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}
