package ring

import (
	"errors"
)

// Probe answers what this kernel offers: it sets up a small ring, reads its feature bits and
// IORING_REGISTER_PROBE, and tries the newer setup flags and a buffer ring for real, then
// applies the cap (compat, else $URINGD_KERNEL_COMPAT). When io_uring cannot be used, it
// returns the kernel's version in Features and an *UnavailableError saying why.
func Probe(compatVersion string) (*Features, error) {
	r, err := New(Options{Entries: 4, KernelCompat: compatVersion})
	if err != nil {
		f := &Features{}
		f.Release, f.Kernel, _ = KernelRelease()
		if cap, cerr := compat(compatVersion); cerr == nil && cap != (Version{}) && cap.Less(f.Kernel) {
			f.Compat = cap
		}
		return f, err
	}
	f := r.Features()
	defer r.Close()
	// The table says what the version should have; the kernel says what it really has.
	try := func(opts Options) bool {
		opts.Entries, opts.KernelCompat = 4, compatVersion
		t, err := New(opts)
		if err != nil {
			return false
		}
		t.Close()
		return true
	}
	if f.CoopTaskrun {
		f.CoopTaskrun = try(Options{CoopTaskrun: true})
	}
	if f.SubmitAll {
		f.SubmitAll = try(Options{SubmitAll: true})
	}
	if f.SingleIssuer {
		f.SingleIssuer = try(Options{SingleIssuer: true})
	}
	if f.DeferTaskrun {
		f.DeferTaskrun = f.SingleIssuer && try(Options{SingleIssuer: true, DeferTaskrun: true})
	}
	if f.BufRing {
		br, err := r.SetupBufRing(1, 0xfff0)
		f.BufRing = err == nil
		if br != nil {
			br.Close()
		}
	}
	return f, nil
}

// IsUnavailable reports whether err says io_uring cannot be used here, and returns the
// details.
func IsUnavailable(err error) (*UnavailableError, bool) {
	var u *UnavailableError
	ok := errors.As(err, &u)
	return u, ok
}
