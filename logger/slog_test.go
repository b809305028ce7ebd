package logger

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
)

// TestSlogtest runs the standard library's slog.Handler conformance tests against Handler,
// for both formats. Each case gets a fresh Logger and file; the result is parsed back from
// the file (JSON with encoding/json, logfmt by splitting dotted keys into nested groups).
func TestSlogtest(t *testing.T) {
	for _, format := range []Format{FormatJSON, FormatLogfmt} {
		t.Run(string(format), func(t *testing.T) {
			var l *Logger
			var path string
			slogtest.Run(t, func(t *testing.T) slog.Handler {
				path = logPath(t)
				l = newLogger(t, Options{Path: path, Format: format})
				return l.Handler()
			}, func(t *testing.T) map[string]any {
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
				lines := readLines(t, path)
				if len(lines) != 1 {
					t.Fatalf("want one record, got %d: %q", len(lines), lines)
				}
				if format == FormatJSON {
					var m map[string]any
					if err := json.Unmarshal(lines[0], &m); err != nil {
						t.Fatal(err)
					}
					return m
				}
				m := map[string]any{}
				for k, v := range parseLogfmt(t, string(lines[0])) {
					parts := strings.Split(k, ".")
					g := m
					for _, p := range parts[:len(parts)-1] {
						sub, ok := g[p].(map[string]any)
						if !ok {
							sub = map[string]any{}
							g[p] = sub
						}
						g = sub
					}
					g[parts[len(parts)-1]] = v
				}
				return m
			})
		})
	}
}

// TestSlogOptions covers HandlerOptions (Level, AddSource, ReplaceAttr), LogValuer, inline
// and nested groups, and records from slog and the typed API sharing one file.
func TestSlogOptions(t *testing.T) {
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			path := logPath(t)
			l := newLogger(t, Options{Path: path, Engine: eng})
			var lv slog.LevelVar
			lv.Set(slog.LevelDebug)
			h := l.NewHandler(&slog.HandlerOptions{
				Level:     &lv,
				AddSource: true,
				ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
					switch {
					case a.Key == "secret":
						return slog.String("secret", "***")
					case a.Key == "drop":
						return slog.Attr{}
					case len(groups) == 1 && groups[0] == "req" && a.Key == "path":
						return slog.String("path", strings.ToUpper(a.Value.String()))
					case groups == nil && a.Key == slog.MessageKey:
						return slog.String("message", a.Value.String())
					}
					return a
				},
			})
			sl := slog.New(h)
			sl.Debug("debug shown", "secret", "hunter2", "drop", 1, slog.Group("req", "path", "/a", "n", 2),
				slog.Group("", "inline", true), slog.Group("empty"), "user", userValue{"ann"})
			lv.Set(slog.LevelWarn)
			sl.Info("hidden")
			sl.WithGroup("g").With("a", 1).WithGroup("h").Warn("nested", "b", 2)
			l.Warn("typed", String("api", "fast"))
			l.SetLevel(LevelError)
			slog.New(l.Handler()).Warn("below the logger's level")
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			recs := readJSON(t, path)
			if len(recs) != 3 {
				t.Fatalf("want 3 records, got %d: %v", len(recs), recs)
			}
			r := recs[0]
			if r["message"] != "debug shown" || r["level"] != "DEBUG" || r["secret"] != "***" || r["drop"] != nil ||
				r["inline"] != true || r["empty"] != nil || r["user"] != "ann" {
				t.Errorf("record 1: %v", r)
			}
			if req, _ := r["req"].(map[string]any); req["path"] != "/A" || req["n"] != 2.0 {
				t.Errorf("group req: %v", r["req"])
			}
			if src, _ := r["source"].(map[string]any); !strings.HasSuffix(src["file"].(string), "slog_test.go") || src["line"].(float64) <= 0 {
				t.Errorf("source: %v", r["source"])
			}
			g, _ := recs[1]["g"].(map[string]any)
			if h, _ := g["h"].(map[string]any); g["a"] != 1.0 || h["b"] != 2.0 {
				t.Errorf("record 2: %v", recs[1])
			}
			if recs[2]["msg"] != "typed" || recs[2]["api"] != "fast" {
				t.Errorf("record 3: %v", recs[2])
			}
		})
	}
}

type userValue struct{ name string }

func (u userValue) LogValue() slog.Value { return slog.StringValue(u.name) }

func slogRecord(msg string) slog.Record {
	return slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
}

func slogHandle(l *Logger, msg string) error {
	return l.Handler().Handle(context.Background(), slogRecord(msg))
}
