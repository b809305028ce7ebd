package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uringd/uringd/fileio"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "4k": 4096, "4K": 4096, "64M": 64 << 20, "1G": 1 << 30,
		"2GiB": 2 << 30, "1t": 1 << 40, "512b": 512} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "k", "-1", "1x", "4kk"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
	if FormatSize(4096) != "4K" || FormatSize(1<<30) != "1G" || FormatSize(1536) != "1536" {
		t.Errorf("FormatSize: %s %s %s", FormatSize(4096), FormatSize(1<<30), FormatSize(1536))
	}
}

func TestPrepareFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.bin")
	var progress strings.Builder
	if wrote, err := PrepareFile(p, 3<<20+5, &progress); err != nil || !wrote {
		t.Fatalf("PrepareFile = %v, %v", wrote, err)
	}
	st, _ := os.Stat(p)
	if st.Size() != 3<<20+5 || !strings.Contains(progress.String(), "preparing") {
		t.Fatalf("size %d, progress %q", st.Size(), progress.String())
	}
	if wrote, err := PrepareFile(p, 1<<20, nil); err != nil || wrote {
		t.Fatalf("PrepareFile of a big enough file = %v, %v", wrote, err)
	}
}

// childEnv marks a run of this test binary as a FileBench child (fileChild): io_uring's io-wq
// workers then live and die in that process, not in the one the other benchmarks' tests
// count threads in.
const childEnv = "URINGD_BENCH_FILE_CHILD"

// fileChild is FileBench.Child for tests: this test binary, running TestFileChildHelper.
func fileChild(t *testing.T) []string {
	t.Setenv(childEnv, "1")
	return []string{os.Args[0], "-test.run=^TestFileChildHelper$", "--"}
}

func TestFileChildHelper(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("only as a FileBench child")
	}
	args := flag.Args()
	if err := RunFileChild(context.Background(), args[len(args)-1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Every engine runs every access pattern, in Queue and in blocking-call mode, and reports
// sane numbers.
func TestRunFileJob(t *testing.T) {
	child := fileChild(t)
	p := filepath.Join(t.TempDir(), "f.bin")
	if _, err := PrepareFile(p, 4<<20, nil); err != nil {
		t.Fatal(err)
	}
	for _, engine := range fileio.Engines() {
		for _, rw := range FileRWModes {
			for _, threads := range []int{1, 4} {
				j := FileJob{Engine: engine, RW: rw, BS: 4096, QD: 4, Threads: threads, Size: 4 << 20, Path: p,
					Duration: 50 * time.Millisecond}
				res, err := runFileJobChild(context.Background(), child, j)
				if err != nil {
					if strings.Contains(err.Error(), "io_uring unavailable") {
						t.Skipf("io_uring unavailable: %v", err)
					}
					t.Fatalf("%s %s threads %d: %v", engine, rw, threads, err)
				}
				if res.Ops <= 0 || res.OpsPerSec <= 0 || res.P50 <= 0 || res.Errors != 0 || res.OSThreads <= 0 ||
					res.Bytes != res.Ops*4096 || res.Engine != engine || res.Name != rw+"-4k-qd4-buffered" {
					t.Fatalf("%s %s threads %d: %+v", engine, rw, threads, res)
				}
			}
		}
	}
}

func TestFileJobValidate(t *testing.T) {
	ok := FileJob{Engine: "uring", RW: "randread", BS: 4096, QD: 8, Size: 1 << 20, Path: "x", Duration: time.Second}
	if err := ok.Validate(); err != nil || ok.Threads != 1 || ok.Rings != 1 {
		t.Fatalf("Validate = %v (%+v)", err, ok)
	}
	for _, mod := range []func(*FileJob){
		func(j *FileJob) { j.Engine = "aio" }, func(j *FileJob) { j.RW = "trim" }, func(j *FileJob) { j.BS = 0 },
		func(j *FileJob) { j.QD = 0 }, func(j *FileJob) { j.Size = 100 }, func(j *FileJob) { j.Path = "" },
		func(j *FileJob) { j.Threads = 16 }, func(j *FileJob) { j.Direct, j.BS = true, 1000 },
	} {
		j := ok
		mod(&j)
		if err := j.Validate(); err == nil {
			t.Errorf("Validate accepted %+v", j)
		}
	}
}

func TestFioJob(t *testing.T) {
	j := FileJob{Engine: "uring", RW: "randread", BS: 4096, QD: 32, Threads: 1, Size: 1 << 30, Path: "/f", Direct: true,
		Duration: 10 * time.Second, Batch: 1}
	label, args := FioJob(j)
	for _, want := range []string{"--ioengine=io_uring", "--iodepth=32", "--numjobs=1", "--direct=1", "--rw=randread",
		"--bs=4096", "--runtime=10", "--filename=/f", "--invalidate=0", "--iodepth_batch_submit=1"} {
		if !slices.Contains(args, want) {
			t.Errorf("io_uring job lacks %s: %v", want, args)
		}
	}
	if label != "fio-io_uring-j1" {
		t.Errorf("label %q", label)
	}
	j.Engine, j.Threads = "threadpool", 32
	if label, args = FioJob(j); label != "fio-psync-j32" || !slices.Contains(args, "--numjobs=32") {
		t.Errorf("threadpool: %s %v", label, args)
	}
	j.Engine, j.Threads = "std", 1
	if label, _ = FioJob(j); label != "fio-psync-j32" {
		t.Errorf("std: %s", label)
	}
}

func TestParseFio(t *testing.T) {
	out := []byte(`note: something
{"jobs":[{"read":{"io_bytes":409600,"bw_bytes":4096000,"iops":1000.5,"runtime":100,"total_ios":100,
"lat_ns":{"min":1000,"max":90000,"mean":20000.5,"percentile":{"50.000000":15000,"99.000000":80000,"99.900000":89000}},
"clat_ns":{"min":1,"max":2,"mean":1}},"write":{"iops":0}}]}`)
	var r Result
	if err := parseFio(out, false, &r); err != nil {
		t.Fatal(err)
	}
	if r.OpsPerSec != 1000.5 || r.MBPerSec != 4.096 || r.P50 != 15*time.Microsecond || r.P99 != 80*time.Microsecond ||
		r.P999 != 89*time.Microsecond || r.Ops != 100 || r.Wall != 100*time.Millisecond {
		t.Fatalf("parsed %+v", r)
	}
}

// The whole command, small: every engine, JSON lines with the documented keys, and a report.
func TestFileBenchRun(t *testing.T) {
	dir := t.TempDir()
	var out, errs strings.Builder
	b := &FileBench{Job: FileJob{Engine: "all", RW: "randread", BS: 4096, QD: 4, Size: 2 << 20,
		Path: filepath.Join(dir, "f.bin"), Duration: 50 * time.Millisecond}, Rounds: 2, JSON: true,
		Report: filepath.Join(dir, "report"), Stdout: &out, Stderr: &errs, Child: fileChild(t)}
	rows, err := b.Run(context.Background())
	if err != nil {
		if strings.Contains(err.Error(), "io_uring unavailable") {
			t.Skipf("io_uring unavailable: %v", err)
		}
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(rows) != 3 || len(lines) != 3 {
		t.Fatalf("%d rows, output:\n%s", len(rows), out.String())
	}
	for _, key := range []string{`"engine":`, `"iops":`, `"mbps":`, `"p50_us":`, `"p99_us":`, `"cpu_user_s":`,
		`"cpu_sys_s":`, `"os_threads":`, `"iowq_workers":`} {
		if !strings.Contains(lines[0], key) {
			t.Errorf("JSON line lacks %s: %s", key, lines[0])
		}
	}
	if rows[0].Rounds != 2 || !strings.Contains(errs.String(), "round 2/2") {
		t.Errorf("rounds: %d; progress:\n%s", rows[0].Rounds, errs.String())
	}
	for _, f := range []string{"report.md", "report.json", "iops.svg"} {
		if _, err := os.Stat(filepath.Join(dir, "report", f)); err != nil {
			t.Error(err)
		}
	}
}
