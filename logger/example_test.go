package logger_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/uringd/uringd/logger"
)

// Embedding the logger: New with a path (defaults: io_uring engine, block policy, JSON),
// log with typed fields, Close to flush.
func Example() {
	dir := tempDir()
	defer os.RemoveAll(dir)

	l, err := logger.New(logger.Options{Path: filepath.Join(dir, "app.log")})
	if err != nil {
		log.Fatal(err)
	}
	l.Info("listening", logger.String("addr", ":8080"), logger.Int("workers", 4))
	l.Close() // writes what is still queued

	show(filepath.Join(dir, "app.log"))
	// Output:
	// {"time":"…","level":"INFO","msg":"listening","addr":":8080","workers":4}
}

// The same logger behind log/slog: groups, With and levels all work, and records share the
// file, queue and writer with the typed API.
func Example_slog() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	l, err := logger.New(logger.Options{Path: path, Level: logger.LevelDebug})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	sl := slog.New(l.Handler()).With("service", "api")
	sl.Debug("request", "method", "GET", slog.Group("resp", "status", 200, "took", 1500*time.Microsecond))

	l.Sync()
	show(path)
	// Output:
	// {"time":"…","level":"DEBUG","msg":"request","service":"api","method":"GET","resp":{"status":200,"took":"1.5ms"}}
}

// logfmt instead of JSON, and a child logger with fixed fields.
func Example_logfmt() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	l, err := logger.New(logger.Options{Path: path, Format: logger.FormatLogfmt, Engine: logger.EngineThread})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	db := l.With(logger.String("component", "db"))
	db.Warn("slow query", logger.Duration("took", 2*time.Second), logger.String("sql", "SELECT 1"))

	l.Sync()
	show(path)
	// Output:
	// time=… level=WARN msg="slow query" component=db took=2s sql="SELECT 1"
}

// Log rotation with logrotate (or by hand): rename the file, then Reopen. Records logged
// before Reopen are in the old file, later ones in the new file at Path; none is lost.
func ExampleLogger_Reopen() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")
	l, err := logger.New(logger.Options{Path: path})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	l.Info("before rotation")
	os.Rename(path, path+".1") // what logrotate does
	if err := l.Reopen(); err != nil {
		log.Print(err)
	}
	l.Info("after rotation")

	l.Sync()
	show(path + ".1")
	show(path)
	// Output:
	// {"time":"…","level":"INFO","msg":"before rotation"}
	// {"time":"…","level":"INFO","msg":"after rotation"}
}

var timestamp = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z`)

// show prints a log file with the timestamps elided, so the examples' output is stable.
func show(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(timestamp.ReplaceAllString(string(data), "…"))
}

func tempDir() string {
	dir, err := os.MkdirTemp("", "logger-example")
	if err != nil {
		log.Fatal(err)
	}
	return dir
}

// Preformatted lines, such as an access log in Apache's combined format, go through the
// same queue and writer as typed records, as they are.
func ExampleLogger_Write() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "access.log")

	l, err := logger.New(logger.Options{Path: path})
	if err != nil {
		log.Fatal(err)
	}
	l.Write([]byte(`127.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0"` + "\n"))
	l.Close()

	data, _ := os.ReadFile(path)
	fmt.Print(string(data))
	// Output:
	// 127.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0"
}

// A slog handler with options of its own: a stricter level than the Logger's, and ReplaceAttr
// redacting an attribute. Typed and slog records still share one file.
func ExampleLogger_NewHandler() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	l, err := logger.New(logger.Options{Path: path}) // LevelInfo
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	sl := slog.New(l.NewHandler(&slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == "token" {
				a.Value = slog.StringValue("REDACTED")
			}
			return a
		},
	}))

	l.Info("typed record")               // the Logger's level: logged
	sl.Info("below the handler's level") // filtered by the handler
	sl.Warn("login failed", "user", "ann", "token", "s3cr3t")

	l.Sync()
	show(path)
	// Output:
	// {"time":"…","level":"INFO","msg":"typed record"}
	// {"time":"…","level":"WARN","msg":"login failed","user":"ann","token":"REDACTED"}
}

// Stats accounts for every record that passed the level check: after Close each one is
// either written or counted as dropped, here one logged too late.
func ExampleLogger_Stats() {
	dir := tempDir()
	defer os.RemoveAll(dir)

	l, err := logger.New(logger.Options{Path: filepath.Join(dir, "app.log")})
	if err != nil {
		log.Fatal(err)
	}
	for i := range 3 {
		l.Info("tick", logger.Int("i", i))
	}
	l.Debug("below the level: not a record at all")
	l.Close()
	err = l.Log(context.Background(), logger.LevelInfo, "after Close")

	st := l.Stats()
	fmt.Println("closed:", errors.Is(err, logger.ErrClosed))
	fmt.Printf("accepted %d, written %d, dropped %d (after Close: %d)\n",
		st.Accepted, st.Written, st.Dropped, st.DroppedClosed)
	// Output:
	// closed: true
	// accepted 3, written 3, dropped 1 (after Close: 1)
}
