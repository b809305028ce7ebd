package logger

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// TestSyncCloseReportLoss logs to /dev/full, where every write fails with ENOSPC. Sync
// promises that the records accepted before it are written, so it must fail (wrapping
// ENOSPC) when records accepted since the previous Sync were lost, and succeed when there
// were none; Close likewise for the records since the last Sync. Every engine.
func TestSyncCloseReportLoss(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			l, err := New(Options{Path: "/dev/full", Engine: eng, QueueSize: 2, BufferSize: 4096})
			if err != nil {
				t.Fatal(err)
			}
			const n = 20000
			for i := range n {
				l.Info("doomed", Int("i", i))
			}
			if err := l.Sync(); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("Sync after %d lost records: %v, want an error wrapping ENOSPC", n, err)
			}
			if err := l.Sync(); err != nil {
				t.Errorf("second Sync, nothing accepted since the first: %v", err)
			}
			l.Info("doomed too")
			if err := l.Close(); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("Close after a lost record: %v, want an error wrapping ENOSPC", err)
			}
			if st := l.Stats(); st.DroppedError != n+1 || !errors.Is(st.LastError, syscall.ENOSPC) {
				t.Errorf("%+v", st)
			}

			// Without any Sync, Close reports the loss of everything.
			l, err = New(Options{Path: "/dev/full", Engine: eng, QueueSize: 2, BufferSize: 4096})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				l.Info("doomed", Int("i", i))
			}
			if err := l.Close(); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("Close after 100 lost records: %v, want an error wrapping ENOSPC", err)
			}

			// A healthy file: nil throughout.
			l, err = New(Options{Path: logPath(t), Engine: eng})
			if err != nil {
				t.Fatal(err)
			}
			l.Info("fine")
			if err := l.Sync(); err != nil {
				t.Errorf("Sync: %v", err)
			}
			l.Info("fine")
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}
