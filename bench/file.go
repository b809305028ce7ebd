package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/uringd/uringd/fileio"
)

// FileJob is one run of the file benchmark: one engine, one access pattern, one file.
//
// Threads means, per engine:
//   - uring: Threads submitting goroutines, each keeping QD/Threads operations in flight.
//     With more than one each, a goroutine drives a fileio.Queue, which has a ring of its own
//     (so Threads=1 is fio's io_uring engine with one job); with exactly one each (Threads =
//     QD), every goroutine makes blocking File.ReadAt/WriteAt calls through the engine's
//     shared rings (Rings), whose loop batches all of them into each io_uring_enter.
//   - threadpool: Threads worker OS threads doing pread/pwrite; one goroutine keeps QD
//     operations in flight through a fileio.Queue on that pool (so at most min(Threads, QD)
//     system calls run at once, like fio's psync engine with Threads jobs).
//   - std: Threads submitting goroutines, each keeping QD/Threads operations in flight:
//     through a fileio.Queue whose goroutines call os.File.ReadAt/WriteAt when that is more
//     than one, else by calling them directly. QD system calls run at once, each on an OS
//     thread the Go runtime provides.
type FileJob struct {
	Engine   string        // uring, threadpool or std
	RW       string        // randread, read, randwrite or write
	BS       int           // bytes per operation
	QD       int           // operations in flight, in total
	Threads  int           // see above
	Size     int64         // bytes of the file used
	Path     string        // the file
	Direct   bool          // O_DIRECT
	Duration time.Duration // measured time

	Rings int // uring: rings of the engine's shared loops (Threads = QD); default 1
	// Batch is how many operations the uring engine hands the kernel per io_uring_enter,
	// in its Queues and its shared loops (fileio.QueueOptions.Batch, Options.SubmitBatch):
	// 0 everything ready at once, N every N. fio's equivalent is iodepth_batch_submit, whose
	// default is 1: FileBench passes 1 unless told otherwise, and passes it on to fio.
	Batch        int
	Park         bool   // uring Queues park in the netpoller (eventfd) instead of waiting in io_uring_enter
	KernelCompat string // uring: cap the rings to an older kernel's features
}

// FileRWModes are the access patterns a FileJob takes.
var FileRWModes = []string{"randread", "read", "randwrite", "write"}

// Validate checks the job and fills defaults (Threads 1, Rings 1).
func (j *FileJob) Validate() error {
	if j.Threads <= 0 {
		j.Threads = 1
	}
	if j.Rings <= 0 {
		j.Rings = 1
	}
	if j.Batch < 0 {
		j.Batch = 0
	}
	switch {
	case !containsStr(fileio.Engines(), j.Engine):
		return fmt.Errorf("bench file: engine %q: want uring, threadpool or std", j.Engine)
	case !containsStr(FileRWModes, j.RW):
		return fmt.Errorf("bench file: --rw %q: want randread, read, randwrite or write", j.RW)
	case j.BS <= 0:
		return fmt.Errorf("bench file: block size %d: must be positive", j.BS)
	case j.QD <= 0:
		return fmt.Errorf("bench file: queue depth %d: must be positive", j.QD)
	case j.Size < int64(j.BS):
		return fmt.Errorf("bench file: size %d is smaller than the block size %d", j.Size, j.BS)
	case j.Path == "":
		return errors.New("bench file: no --file")
	case j.Duration <= 0:
		return fmt.Errorf("bench file: duration %v: must be positive", j.Duration)
	case j.Engine != fileio.EngineThreadPool && j.QD < j.Threads:
		return fmt.Errorf("bench file: --qd %d is less than --threads %d: every %s goroutine keeps at least one operation in flight",
			j.QD, j.Threads, j.Engine)
	case j.Direct && j.BS%512 != 0:
		return fmt.Errorf("bench file: --direct needs a block size that is a multiple of the logical block size; %d is not a multiple of 512", j.BS)
	}
	return nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (j *FileJob) write() bool  { return j.RW == "randwrite" || j.RW == "write" }
func (j *FileJob) random() bool { return j.RW == "randread" || j.RW == "randwrite" }

// Scenario names the job's workload (not its engine), e.g. "randread-4k-qd32-direct".
func (j *FileJob) Scenario() string {
	s := j.RW + "-" + strings.ToLower(FormatSize(int64(j.BS))) + "-qd" + strconv.Itoa(j.QD)
	if j.Direct {
		return s + "-direct"
	}
	return s + "-buffered"
}

// depths splits QD over the submitting goroutines.
func (j *FileJob) depths() []int {
	n := j.Threads
	if j.Engine == fileio.EngineThreadPool {
		n = 1
	}
	d := make([]int, n)
	for i := range d {
		d[i] = j.QD / n
		if i < j.QD%n {
			d[i]++
		}
	}
	return d
}

// ParseSize reads a byte count with an optional binary suffix: "4096", "4k", "1M", "1G",
// "2GiB".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "b"), "i")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a number of bytes such as 4096, 4k, 64M or 1G", s)
	}
	return n * mult, nil
}

// FormatSize is the short form ParseSize reads back: "4K", "1G", "1536".
func FormatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// PrepareFile makes sure path holds at least size bytes: it creates or extends the file with
// pseudo-random data (so no layer can compress or skip it), reporting progress on progress,
// and syncs it. It reports whether it wrote anything.
func PrepareFile(path string, size int64, progress io.Writer) (bool, error) {
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return false, fmt.Errorf("bench file: %s is not a regular file", path)
		}
		if st.Size() >= size {
			return false, nil
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return false, fmt.Errorf("bench file: prepare: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("bench file: prepare: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	p := NewProgress(progress, "preparing "+path, size)
	p.Set(st.Size())
	buf := make([]byte, 1<<20)
	rnd := rand.New(rand.NewPCG(uint64(size), 0x75726e67))
	for off := st.Size(); off < size; {
		for i := 0; i+8 <= len(buf); i += 8 {
			v := rnd.Uint64()
			for k := range 8 {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		n := int64(len(buf))
		if size-off < n {
			n = size - off
		}
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			p.Done()
			return true, fmt.Errorf("bench file: prepare %s: %w", path, err)
		}
		off += n
		p.Set(off)
	}
	if err := f.Sync(); err != nil {
		p.Done()
		return true, fmt.Errorf("bench file: prepare %s: %w", path, err)
	}
	p.Done()
	return true, nil
}

// warmCache reads the file once through the page cache, so that buffered reads measure the
// cache and not the disk.
func warmCache(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, io.LimitReader(f, size))
	return err
}

// offsets hands out the offsets of one submitting goroutine: uniformly random blocks, or a
// sequential walk from its own starting point that wraps at the end of the file.
type offsets struct {
	rnd    *rand.Rand
	random bool
	bs     int64
	blocks int64
	pos    int64
}

func newOffsets(j *FileJob, g, n int) *offsets {
	blocks := j.Size / int64(j.BS)
	return &offsets{rnd: rand.New(rand.NewPCG(uint64(g)+1, uint64(time.Now().UnixNano()))), random: j.random(),
		bs: int64(j.BS), blocks: blocks, pos: blocks * int64(g) / int64(n)}
}

func (o *offsets) next() int64 {
	if o.random {
		return o.rnd.Int64N(o.blocks) * o.bs
	}
	off := o.pos * o.bs
	if o.pos++; o.pos >= o.blocks {
		o.pos = 0
	}
	return off
}

// fileWorker is what one submitting goroutine measured.
type fileWorker struct {
	h     *Histogram
	ops   int64
	bytes int64
	errs  int64
	err   error
}

func (w *fileWorker) done(o *fileio.Op, lat time.Duration) {
	w.h.Record(lat)
	if o.Err != nil && o.Err != io.EOF {
		w.errs++
		if w.err == nil {
			w.err = o.Err
		}
		return
	}
	w.ops++
	w.bytes += int64(o.N)
}

// RunFileJob runs j once and returns its row: IOPS, MB/s, latency, CPU, and the process's
// threads at peak (io-wq workers among them) against the same process idle, with the engine
// started, the file open and the queues ready, just before the first IO (so a thread pool's
// threads count as idle threads: they exist whether or not IO is in flight).
func RunFileJob(ctx context.Context, j FileJob) (Result, error) {
	if err := j.Validate(); err != nil {
		return Result{}, err
	}
	res := Result{Name: j.Scenario(), Engine: j.Engine}
	if !j.Direct && !j.write() {
		if err := warmCache(j.Path, j.Size); err != nil {
			return res, fmt.Errorf("bench file: warm the page cache: %w", err)
		}
	}
	opts := fileio.Options{Rings: j.Rings, KernelCompat: j.KernelCompat, SubmitBatch: j.Batch}
	if j.Engine == fileio.EngineThreadPool {
		opts.Workers, opts.QueueLen = j.Threads, max(j.QD, j.Threads)
	}
	eng, err := fileio.New(j.Engine, opts)
	if err != nil {
		return res, fmt.Errorf("bench file: %w", err)
	}
	defer eng.Close()
	dir, err := fileio.OpenDir(filepath.Dir(j.Path))
	if err != nil {
		return res, fmt.Errorf("bench file: %w", err)
	}
	defer dir.Close()
	flag := os.O_RDONLY
	if j.write() {
		flag = os.O_RDWR
	}
	if j.Direct {
		flag |= syscall.O_DIRECT
	}
	f, err := eng.Open(ctx, dir, filepath.Base(j.Path), flag, 0)
	if err != nil {
		return res, fmt.Errorf("bench file: %w", err)
	}
	defer f.Close()
	if f.Info().Size < j.Size {
		return res, fmt.Errorf("bench file: %s holds %d bytes, the job uses %d", j.Path, f.Info().Size, j.Size)
	}

	depths := j.depths()
	workers := make([]fileWorker, len(depths))
	bufs := make([][]byte, len(depths))
	for i, d := range depths {
		workers[i].h = NewHistogram()
		if bufs[i], err = fileio.AllocAligned(d * j.BS); err != nil {
			return res, err
		}
		defer fileio.FreeAligned(bufs[i])
		if j.write() {
			rnd := rand.New(rand.NewPCG(uint64(i), 9))
			for k := range bufs[i] {
				bufs[i][k] = byte(rnd.Uint32())
			}
		}
	}

	// Queues (and their rings) exist before the baseline too: "idle" is this process with
	// the engine started, the file open and the queues ready, just before the first IO, so
	// that os_threads - idle_threads is what the IO in flight added.
	queues := make([]fileio.Queue, len(depths))
	for i, d := range depths {
		if d == 1 && j.Engine != fileio.EngineThreadPool {
			continue
		}
		if queues[i], err = eng.NewQueue(d, fileio.QueueOptions{Park: j.Park, Batch: j.Batch}); err != nil {
			return res, fmt.Errorf("bench file: %w", err)
		}
		defer queues[i].Close()
	}
	warmScheduler()
	sampler := NewProcSampler(0)
	if _, err := sampler.Baseline(); err != nil {
		return res, err
	}
	if err := sampler.Start(ctx); err != nil {
		return res, err
	}
	start := time.Now()
	deadline := start.Add(j.Duration)
	var wg sync.WaitGroup
	for i, d := range depths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &workers[i]
			offs := newOffsets(&j, i, len(depths))
			if queues[i] == nil {
				w.err = runFileSync(ctx, &j, f, bufs[i], offs, deadline, w)
			} else {
				w.err = runFileQueue(ctx, &j, queues[i], f, bufs[i], d, offs, deadline, w)
			}
		}()
	}
	wg.Wait()
	res.Wall = time.Since(start)
	st := sampler.Stop()

	h := NewHistogram()
	var firstErr error
	for i := range workers {
		w := &workers[i]
		h.Merge(w.h)
		res.Ops += w.ops
		res.Bytes += w.bytes
		res.Errors += w.errs
		if firstErr == nil {
			firstErr = w.err
		}
	}
	res.Latency = h.Latency()
	res.SetProc(st)
	res.Derive()
	if firstErr != nil && res.Ops == 0 {
		return res, fmt.Errorf("bench file: %s: %w", j.Engine, firstErr)
	}
	return res, ctx.Err()
}

// warmScheduler runs goroutines on every P for a few milliseconds, so that the idle baseline
// is a process that has run goroutines, not one exec'd a moment ago: the Go runtime creates its
// few threads (one per P busy at once, one for a goroutine in a blocking system call, a
// spinning one) lazily, in the first milliseconds any program runs.
func warmScheduler() {
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				runtime.Gosched()
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond)
}

// runFileSync is one goroutine making blocking calls, one operation at a time.
func runFileSync(ctx context.Context, j *FileJob, f *fileio.File, buf []byte, offs *offsets, deadline time.Time, w *fileWorker) error {
	buf = buf[:j.BS]
	var o fileio.Op
	for {
		off := offs.next()
		t0 := time.Now()
		var n int
		var err error
		if j.write() {
			n, err = f.WriteAtContext(ctx, buf, off)
		} else {
			n, err = f.ReadAtContext(ctx, buf, off)
		}
		t1 := time.Now()
		if ctx.Err() != nil {
			return nil
		}
		o.N, o.Err = n, err
		w.done(&o, t1.Sub(t0))
		if t1.After(deadline) {
			return nil
		}
	}
}

// runFileQueue is one goroutine keeping depth operations in flight through a Queue.
func runFileQueue(ctx context.Context, j *FileJob, q fileio.Queue, f *fileio.File, buf []byte, depth int,
	offs *offsets, deadline time.Time, w *fileWorker) error {
	code := fileio.OpRead
	if j.write() {
		code = fileio.OpWrite
	}
	ops := make([]fileio.Op, depth)
	starts := make([]time.Time, depth)
	out := make([]*fileio.Op, depth)
	now := time.Now()
	for i := range ops {
		ops[i] = fileio.Op{Code: code, File: f, Buf: buf[i*j.BS : (i+1)*j.BS], Off: offs.next(), Tag: uint64(i)}
		starts[i] = now
		if err := q.Submit(&ops[i]); err != nil {
			return err
		}
	}
	stopping := false
	for q.InFlight() > 0 {
		n, err := q.Reap(out, 1)
		if err != nil {
			return err
		}
		now := time.Now()
		if !stopping && (now.After(deadline) || ctx.Err() != nil) {
			stopping = true
		}
		for _, o := range out[:n] {
			w.done(o, now.Sub(starts[o.Tag]))
			if stopping {
				continue
			}
			o.Off = offs.next()
			starts[o.Tag] = now
			if err := q.Submit(o); err != nil {
				return err
			}
		}
	}
	return nil
}
