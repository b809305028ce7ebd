package logger

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
)

// Handler returns a slog.Handler that writes through l: slog.New(l.Handler()) gives a
// *slog.Logger with the same file, queue, writer, encoding and level as l (and l's With
// fields). It is NewHandler(nil).
func (l *Logger) Handler() slog.Handler { return l.NewHandler(nil) }

// NewHandler is Handler with slog's options: Level (nil means l's level, which follows
// SetLevel), AddSource and ReplaceAttr, with the meanings slog.HandlerOptions documents.
//
// The handler is an adapter: it turns slog attributes into the Fields of the typed API and
// uses the same encoder and sink, so records from both APIs interleave in one file. Attribute
// kinds map to fields without allocating; KindAny values (other than errors, which are
// written as their message) go through Any.
func (l *Logger) NewHandler(opts *slog.HandlerOptions) slog.Handler {
	h := &handler{core: l.core, prefix: l.prefix}
	if opts != nil {
		h.level = opts.Level
		h.addSource = opts.AddSource
		h.replace = opts.ReplaceAttr
	}
	return h
}

// handler implements slog.Handler over a core. Handlers are immutable once built; WithAttrs
// and WithGroup return new ones.
type handler struct {
	core      *core
	level     slog.Leveler // nil: the core's level
	addSource bool
	replace   func(groups []string, a slog.Attr) slog.Attr

	// prefix holds the attributes of With/WithAttrs, encoded once, without a leading
	// separator. It may end inside groups: the first opened of groups are open in it.
	prefix []byte
	opened int
	// groups are the WithGroup names, outermost first. Those past opened are pending: they
	// are opened only if a record has attributes to put in them (slog omits empty groups).
	groups []string
	// keyPrefix is groups joined as "a.b.", which logfmt writes before keys.
	keyPrefix string
}

func (h *handler) Enabled(_ context.Context, level slog.Level) bool {
	if h.level != nil {
		return level >= h.level.Level()
	}
	return level >= Level(h.core.level.Load())
}

func (h *handler) clone() *handler {
	h2 := *h
	h2.prefix = append([]byte(nil), h.prefix...)
	h2.groups = h.groups[:len(h.groups):len(h.groups)]
	return &h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := h.clone()
	h2.groups = append(h2.groups, name)
	h2.keyPrefix = h.keyPrefix + name + "."
	return h2
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := h.clone()
	b := h2.prefix
	pendingOpen := false
	for _, a := range attrs {
		mark := len(b)
		if !pendingOpen {
			b = h2.openPending(b)
		}
		before := len(b)
		b = h2.appendAttr(b, h2.keyPrefix, a, h2.groups)
		if len(b) == before {
			b = b[:mark]
		} else {
			pendingOpen = true
		}
	}
	if pendingOpen {
		h2.opened = len(h2.groups)
	}
	h2.prefix = b
	return h2
}

// openPending opens the groups named by WithGroup that are not open yet.
func (h *handler) openPending(b []byte) []byte {
	for _, g := range h.groups[h.opened:] {
		b = h.core.enc.openGroup(b, g)
	}
	return b
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	c := h.core
	enc := c.enc
	e := c.getBuf()
	b := e.b[:0]
	var ts stamp
	ok := false
	if h.replace == nil && !r.Time.IsZero() {
		ts, ok = stampOf(r.Time.Unix(), int64(r.Time.Nanosecond()))
	}
	if ok {
		b = enc.header(b, stampInstant(&ts), r.Level, r.Message)
		if h.addSource && r.PC != 0 {
			b = h.appendSource(b, r.PC)
		}
	} else {
		b = enc.begin(b)
		if !r.Time.IsZero() {
			b = h.appendBuiltin(b, slog.Time(slog.TimeKey, r.Time))
		}
		b = h.appendBuiltin(b, slog.Any(slog.LevelKey, r.Level))
		if h.addSource && r.PC != 0 {
			if h.replace == nil {
				b = h.appendSource(b, r.PC)
			} else {
				b = h.appendBuiltin(b, slog.Any(slog.SourceKey, source(r.PC)))
			}
		}
		b = h.appendBuiltin(b, slog.String(slog.MessageKey, r.Message))
	}
	if len(h.prefix) > 0 {
		b = enc.sep(b)
		b = append(b, h.prefix...)
	}
	open := h.opened
	if r.NumAttrs() > 0 {
		pendingOpen := h.opened == len(h.groups)
		r.Attrs(func(a slog.Attr) bool {
			mark := len(b)
			if !pendingOpen {
				b = h.openPending(b)
			}
			before := len(b)
			b = h.appendAttr(b, h.keyPrefix, a, h.groups)
			if len(b) == before {
				b = b[:mark]
			} else {
				pendingOpen = true
			}
			return true
		})
		if pendingOpen {
			open = len(h.groups)
		}
	}
	for i := 0; i < open; i++ {
		b = enc.closeGroup(b)
	}
	b = enc.end(b)
	err := c.sink.put(ctx, b)
	e.b = b
	c.putBuf(e)
	return err
}

// appendBuiltin writes a built-in attribute (time, level, source, msg) through ReplaceAttr.
func (h *handler) appendBuiltin(b []byte, a slog.Attr) []byte {
	if h.replace != nil {
		a = h.replace(nil, a)
		a.Value = a.Value.Resolve()
		if a.Key == "" {
			return b
		}
	}
	if a.Value.Kind() == slog.KindGroup {
		return h.appendAttr(b, "", a, nil)
	}
	return h.core.enc.field(b, "", valueField(a.Key, a.Value))
}

func source(pc uintptr) *slog.Source {
	fs := runtime.CallersFrames([]uintptr{pc})
	f, _ := fs.Next()
	return &slog.Source{Function: f.Function, File: f.File, Line: f.Line}
}

// appendSource writes the source as slog's handlers do: a group {function, file, line} in
// JSON, source=file:line in logfmt.
func (h *handler) appendSource(b []byte, pc uintptr) []byte {
	enc := h.core.enc
	s := source(pc)
	if !enc.nested() {
		return enc.field(b, "", String(slog.SourceKey, s.File+":"+strconv.Itoa(s.Line)))
	}
	b = enc.openGroup(b, slog.SourceKey)
	b = enc.field(b, "", String("function", s.Function))
	b = enc.field(b, "", String("file", s.File))
	b = enc.field(b, "", Int("line", s.Line))
	return enc.closeGroup(b)
}

// appendAttr writes one attribute: resolved, passed through ReplaceAttr, empty ones and
// empty groups omitted, groups with an empty key inlined.
func (h *handler) appendAttr(b []byte, keyPrefix string, a slog.Attr, groups []string) []byte {
	enc := h.core.enc
	a.Value = a.Value.Resolve()
	if h.replace != nil && a.Value.Kind() != slog.KindGroup {
		a = h.replace(groups, a)
		a.Value = a.Value.Resolve()
	}
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() != slog.KindGroup {
		return enc.field(b, keyPrefix, valueField(a.Key, a.Value))
	}
	attrs := a.Value.Group()
	if len(attrs) == 0 {
		return b
	}
	if a.Key == "" {
		for _, ga := range attrs {
			b = h.appendAttr(b, keyPrefix, ga, groups)
		}
		return b
	}
	mark := len(b)
	b = enc.openGroup(b, a.Key)
	inner := len(b)
	childPrefix := keyPrefix
	if !enc.nested() {
		childPrefix = keyPrefix + a.Key + "."
	}
	if h.replace != nil {
		groups = append(groups[:len(groups):len(groups)], a.Key)
	}
	for _, ga := range attrs {
		b = h.appendAttr(b, childPrefix, ga, groups)
	}
	if len(b) == inner {
		return b[:mark]
	}
	return enc.closeGroup(b)
}

// valueField converts a resolved, non-group slog.Value to a Field without allocating.
func valueField(key string, v slog.Value) Field {
	switch v.Kind() {
	case slog.KindString:
		return String(key, v.String())
	case slog.KindInt64:
		return Int64(key, v.Int64())
	case slog.KindUint64:
		return Uint64(key, v.Uint64())
	case slog.KindFloat64:
		return Float64(key, v.Float64())
	case slog.KindBool:
		return Bool(key, v.Bool())
	case slog.KindDuration:
		return Duration(key, v.Duration())
	case slog.KindTime:
		return Time(key, v.Time())
	}
	x := v.Any()
	if lv, ok := x.(slog.Level); ok {
		return String(key, levelString(lv))
	}
	return Any(key, x)
}
