package bench

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/diode"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/logger"
)

// logBufferSize is the buffer every target batches records in before writing them: the
// logger's default batch size, given to zap, zerolog's and slog's bufio.Writers too.
const logBufferSize = logger.DefaultBufferSize

// zerolog's diode: records it holds, and how often its drainer looks (its README's values
// for the interval; a ring about as large as the logger's 8 batches of ~130-byte records).
const (
	diodeSize     = 8192
	diodeInterval = 10 * time.Millisecond
)

// A logTarget is one logger under test, writing to one file.
type logTarget interface {
	// producer returns the function producer number i calls for each record. Each producer
	// has its own, with its own field values, so producers share nothing but the logger.
	producer(i int) logFunc
	// close flushes every record into the file (fdatasync'ed with LogJob.Fsync) and closes it.
	close() error
	drops() int64  // records accepted by a call but not written (queue or diode full)
	fsyncs() int64 // fdatasync calls on the file
	// waits is how many times a call waited for the writer to free queue space (uringd's
	// logger, PolicyBlock), or -1 for a logger without such a queue.
	waits() int64
	// approxDrops says drops is the target's own estimate, to be replaced by calls minus
	// the records in the file.
	approxDrops() bool
}

// logFieldKind is the type of a benchmark field.
type logFieldKind uint8

const (
	lfInt logFieldKind = iota
	lfString
	lfBool
	lfDuration
)

// logField is one field of the benchmark's records, in a form every target can build its own
// field from.
type logField struct {
	key  string
	kind logFieldKind
	s    string
	i    int
	d    time.Duration
}

// logFieldSpecs returns the n fields of every record: "seq", the record's number (set per
// call), then method="GET", status=200, ok=true, path="/static/app.js", bytes=5120,
// took=1.5ms, user="alice", cycling with numbered keys (method2, …) beyond eight.
func logFieldSpecs(n int) []logField {
	base := []logField{
		{key: "seq", kind: lfInt},
		{key: "method", kind: lfString, s: "GET"},
		{key: "status", kind: lfInt, i: 200},
		{key: "ok", kind: lfBool, i: 1},
		{key: "path", kind: lfString, s: "/static/app.js"},
		{key: "bytes", kind: lfInt, i: 5120},
		{key: "took", kind: lfDuration, d: 1500 * time.Microsecond},
		{key: "user", kind: lfString, s: "alice"},
	}
	fs := make([]logField, n)
	for k := range fs {
		fs[k] = base[k%len(base)]
		if k >= len(base) {
			fs[k].key += strconv.Itoa(k/len(base) + 1)
		}
	}
	return fs
}

// loggerFields builds the fields for uringd's logger (and the empty call).
func loggerFields(n int) []logger.Field {
	specs := logFieldSpecs(n)
	fs := make([]logger.Field, n)
	for k, s := range specs {
		switch s.kind {
		case lfInt:
			fs[k] = logger.Int(s.key, s.i)
		case lfString:
			fs[k] = logger.String(s.key, s.s)
		case lfBool:
			fs[k] = logger.Bool(s.key, s.i != 0)
		case lfDuration:
			fs[k] = logger.Duration(s.key, s.d)
		}
	}
	return fs
}

// emptyLog has the shape of a logging call and does nothing: timing it measures what the
// benchmark's timing, field building and call cost by themselves.
//
//go:noinline
func emptyLog(msg string, fields ...logger.Field) {}

// newEmptyLog returns a producer that builds its fields as uringd's logger's producer does
// and calls emptyLog.
func newEmptyLog(nfields int) logFunc {
	fs := loggerFields(nfields)
	if len(fs) == 0 {
		return func(int) { emptyLog("request") }
	}
	return func(seq int) {
		fs[0] = logger.Int("seq", seq)
		emptyLog("request", fs...)
	}
}

// newLogTarget creates j's logger on path (which exists and is empty).
func newLogTarget(j *LogJob, path string) (logTarget, error) {
	switch j.Engine {
	case "uring", "thread", "sync":
		o := logger.Options{Path: path, Engine: logger.Engine(j.Engine)}
		if j.Fsync {
			o.Fsync = logger.FsyncBatch
		}
		l, err := logger.New(o)
		if err != nil {
			return nil, fmt.Errorf("bench log: %w", err)
		}
		return &uringdTarget{l: l, fields: j.Fields}, nil
	}
	f, err := openSyncedFile(path, j.Fsync)
	if err != nil {
		return nil, err
	}
	switch j.Engine {
	case "zap":
		return newZapTarget(f, j.Fields), nil
	case "zerolog":
		return newZerologTarget(f, j.Fields), nil
	default:
		return newSlogTarget(f, j.Fields), nil
	}
}

// uringdTarget is uringd's logger with one of its engines.
type uringdTarget struct {
	l      *logger.Logger
	fields int
}

func (t *uringdTarget) producer(int) logFunc {
	l, fs := t.l, loggerFields(t.fields)
	if len(fs) == 0 {
		return func(int) { l.Info("request") }
	}
	return func(seq int) {
		fs[0] = logger.Int("seq", seq)
		l.Info("request", fs...)
	}
}

func (t *uringdTarget) close() error {
	if err := t.l.Close(); err != nil {
		return fmt.Errorf("bench log: %w", err)
	}
	if err := t.l.Stats().LastError; err != nil {
		return fmt.Errorf("bench log: the logger met an error: %w", err)
	}
	return nil
}

func (t *uringdTarget) approxDrops() bool { return false }
func (t *uringdTarget) drops() int64      { return int64(t.l.Stats().Dropped) }
func (t *uringdTarget) fsyncs() int64     { return int64(t.l.Stats().Fsyncs) }
func (t *uringdTarget) waits() int64      { return int64(t.l.Stats().Waits) }

// syncedFile is the file under zap's, zerolog's and slog's buffers: it passes every write
// on and, with fsync, calls fdatasync after it. Its callers serialise their writes (zap's
// BufferedWriteSyncer and slog's handler hold a mutex, the diode has one drainer).
type syncedFile struct {
	f     *os.File
	fd    int
	fsync bool
	n     atomic.Int64 // fdatasync calls
}

func openSyncedFile(path string, fsync bool) (*syncedFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("bench log: %w", err)
	}
	return &syncedFile{f: f, fd: int(f.Fd()), fsync: fsync}, nil
}

func (s *syncedFile) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	if err == nil && s.fsync {
		err = s.fdatasync()
	}
	return n, err
}

func (s *syncedFile) fdatasync() error {
	if err := unix.Fdatasync(s.fd); err != nil {
		return fmt.Errorf("bench log: fdatasync %s: %w", s.f.Name(), err)
	}
	s.n.Add(1)
	return nil
}

// Sync is fdatasync with fsync, else nothing (as uringd's logger with FsyncNever).
func (s *syncedFile) Sync() error {
	if !s.fsync {
		return nil
	}
	return s.fdatasync()
}

// finish syncs (with fsync) and closes the file, after the target flushed its buffers.
func (s *syncedFile) finish() error {
	err := s.Sync()
	if cerr := s.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("bench log: %w", cerr)
	}
	return err
}

// zapTarget is zap with a JSON encoder over a BufferedWriteSyncer.
type zapTarget struct {
	f      *syncedFile
	ws     *zapcore.BufferedWriteSyncer
	l      *zap.Logger
	fields int
}

func newZapTarget(f *syncedFile, fields int) *zapTarget {
	cfg := zapcore.EncoderConfig{
		TimeKey: "time", LevelKey: "level", MessageKey: "msg", LineEnding: zapcore.DefaultLineEnding,
		EncodeTime: zapcore.RFC3339NanoTimeEncoder, EncodeLevel: zapcore.CapitalLevelEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
	}
	ws := &zapcore.BufferedWriteSyncer{WS: f, Size: logBufferSize}
	l := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(cfg), ws, zapcore.InfoLevel))
	return &zapTarget{f: f, ws: ws, l: l, fields: fields}
}

func (t *zapTarget) producer(int) logFunc {
	specs := logFieldSpecs(t.fields)
	fs := make([]zap.Field, len(specs))
	for k, s := range specs {
		switch s.kind {
		case lfInt:
			fs[k] = zap.Int(s.key, s.i)
		case lfString:
			fs[k] = zap.String(s.key, s.s)
		case lfBool:
			fs[k] = zap.Bool(s.key, s.i != 0)
		case lfDuration:
			fs[k] = zap.Duration(s.key, s.d)
		}
	}
	l := t.l
	if len(fs) == 0 {
		return func(int) { l.Info("request") }
	}
	return func(seq int) {
		fs[0] = zap.Int("seq", seq)
		l.Info("request", fs...)
	}
}

func (t *zapTarget) close() error {
	err := t.ws.Stop() // writes what is buffered
	if ferr := t.f.finish(); err == nil {
		err = ferr
	}
	return err
}

func (t *zapTarget) approxDrops() bool { return false }
func (t *zapTarget) drops() int64      { return 0 }
func (t *zapTarget) fsyncs() int64     { return t.f.n.Load() }
func (t *zapTarget) waits() int64      { return -1 }

// zerologTarget is zerolog over its diode writer over a bufio.Writer.
type zerologTarget struct {
	f      *syncedFile
	bw     *bufio.Writer
	dw     diode.Writer
	l      zerolog.Logger
	fields []logField
	missed atomic.Int64
}

func newZerologTarget(f *syncedFile, fields int) *zerologTarget {
	t := &zerologTarget{f: f, bw: bufio.NewWriterSize(f, logBufferSize), fields: logFieldSpecs(fields)}
	t.dw = diode.NewWriter(t.bw, diodeSize, diodeInterval, func(missed int) { t.missed.Add(int64(missed)) })
	t.l = zerolog.New(t.dw).With().Timestamp().Logger()
	return t
}

func (t *zerologTarget) producer(int) logFunc {
	l, specs := &t.l, t.fields
	return func(seq int) {
		e := l.Info()
		for k := range specs {
			s := &specs[k]
			switch {
			case k == 0:
				e = e.Int(s.key, seq)
			case s.kind == lfInt:
				e = e.Int(s.key, s.i)
			case s.kind == lfString:
				e = e.Str(s.key, s.s)
			case s.kind == lfBool:
				e = e.Bool(s.key, s.i != 0)
			default:
				e = e.Dur(s.key, s.d)
			}
		}
		e.Msg("request")
	}
}

func (t *zerologTarget) close() error {
	err := t.dw.Close() // drains the diode into bw
	if ferr := t.bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("bench log: %w", ferr)
	}
	if ferr := t.f.finish(); err == nil {
		err = ferr
	}
	return err
}

func (t *zerologTarget) approxDrops() bool { return true }
func (t *zerologTarget) drops() int64      { return t.missed.Load() }
func (t *zerologTarget) fsyncs() int64     { return t.f.n.Load() }
func (t *zerologTarget) waits() int64      { return -1 }

// slogTarget is log/slog's JSONHandler over a bufio.Writer.
type slogTarget struct {
	f      *syncedFile
	bw     *bufio.Writer
	l      *slog.Logger
	fields int
}

func newSlogTarget(f *syncedFile, fields int) *slogTarget {
	bw := bufio.NewWriterSize(f, logBufferSize)
	return &slogTarget{f: f, bw: bw, l: slog.New(slog.NewJSONHandler(bw, nil)), fields: fields}
}

func (t *slogTarget) producer(int) logFunc {
	specs := logFieldSpecs(t.fields)
	as := make([]slog.Attr, len(specs))
	for k, s := range specs {
		switch s.kind {
		case lfInt:
			as[k] = slog.Int(s.key, s.i)
		case lfString:
			as[k] = slog.String(s.key, s.s)
		case lfBool:
			as[k] = slog.Bool(s.key, s.i != 0)
		case lfDuration:
			as[k] = slog.Duration(s.key, s.d)
		}
	}
	l, ctx := t.l, context.Background()
	if len(as) == 0 {
		return func(int) { l.LogAttrs(ctx, slog.LevelInfo, "request") }
	}
	return func(seq int) {
		as[0] = slog.Int("seq", seq)
		l.LogAttrs(ctx, slog.LevelInfo, "request", as...)
	}
}

func (t *slogTarget) close() error {
	// The handler's mutex is not ours to take, but every producer has returned.
	err := t.bw.Flush()
	if err != nil {
		err = fmt.Errorf("bench log: %w", err)
	}
	if ferr := t.f.finish(); err == nil {
		err = ferr
	}
	return err
}

func (t *slogTarget) approxDrops() bool { return false }
func (t *slogTarget) drops() int64      { return 0 }
func (t *slogTarget) fsyncs() int64     { return t.f.n.Load() }
func (t *slogTarget) waits() int64      { return -1 }
