package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"
)

// applyConfig is serve's Before: it applies the --config file, if one is named, to the
// command's flags, so that every later check sees the file's values as the flags' own.
func applyConfig(c *cli.Context) error {
	path := c.String("config")
	if path == "" {
		return nil
	}
	return applyConfigFile(c, path, c.Command.Flags)
}

// applyConfigFile reads the TOML file at path and sets each flag of flags that the file
// names and the command line did not set (c.IsSet: an environment variable a flag reads,
// such as URINGD_KERNEL_COMPAT, counts as set too).
//
// The file's keys are the flags' names, at the top level (no tables). A string flag takes
// a TOML string, an int flag an integer, a bool flag true or false, a duration flag a
// string for time.ParseDuration ("30s"), and a string-slice flag an array of strings or a
// single string (a list of one). A slice flag given on the command line replaces the file's
// list: the two are not merged. The file is checked whole, even the keys the command line
// overrides; an unknown key, a value of the wrong type and a TOML syntax error are errors
// naming the file and the line. The key "config" is refused (one file, named on the
// command line); every other flag, cpuprofile and kernel-compat among them, may be given.
func applyConfigFile(c *cli.Context, path string, flags []cli.Flag) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var prims map[string]toml.Primitive
	md, err := toml.Decode(string(data), &prims)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &configError{path: path, line: pe.Position.Line, msg: "invalid TOML: " + pe.Message, err: err}
		}
		return &configError{path: path, msg: err.Error(), err: err}
	}
	cf := &configFile{path: path, data: data, md: &md}

	byName := map[string]cli.Flag{}
	var names []string
	for _, f := range flags {
		name := f.Names()[0]
		if slices.Contains(cli.HelpFlag.Names(), name) {
			continue
		}
		byName[name] = f
		names = append(names, name)
	}

	// The keys in the file's order, so that the first problem reported is the first one
	// in the file; md.Keys() also lists the keys inside tables, which are skipped.
	type setting struct {
		name   string
		line   int
		values []string
	}
	var settings []setting
	seen := map[string]bool{}
	for _, k := range md.Keys() {
		name := k[0]
		if seen[name] {
			continue
		}
		seen[name] = true
		prim := prims[name]
		line := cf.line(prim)
		f, ok := byName[name]
		switch {
		case name == "config":
			return cf.errorf(line, nil, "config: a config file cannot name another (give --config on the command line)")
		case !ok:
			msg := fmt.Sprintf("unknown key %q", name)
			if near := nearest(name, names); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			} else if isTable(cf.value(prim)) {
				msg += " (the settings are top-level keys, under no [table] header)"
			}
			return cf.errorf(line, nil, "%s", msg)
		}
		values, err := flagValues(f, name, cf.value(prim))
		if err != nil {
			return cf.errorf(line, errors.Unwrap(err), "%v", err)
		}
		settings = append(settings, setting{name, line, values})
	}

	for _, s := range settings {
		if c.IsSet(s.name) {
			continue // the command line's value wins (a list is replaced, not added to)
		}
		// The first Set of a slice flag that was not given replaces its default; the
		// others append.
		for _, v := range s.values {
			if err := c.Set(s.name, v); err != nil {
				return cf.errorf(s.line, err, "%s = %s: %v", s.name, strconv.Quote(v), err)
			}
		}
	}
	return nil
}

// configError is a problem in a config file, at a line of it (0: not known).
type configError struct {
	path string
	line int
	msg  string
	err  error // the underlying error, or nil
}

func (e *configError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("config %s:%d: %s", e.path, e.line, e.msg)
	}
	return fmt.Sprintf("config %s: %s", e.path, e.msg)
}

func (e *configError) Unwrap() error { return e.err }

// configFile is a decoded config file, with what is needed to say where a key is.
type configFile struct {
	path string
	data []byte
	md   *toml.MetaData
}

func (cf *configFile) errorf(line int, err error, format string, args ...any) error {
	return &configError{path: cf.path, line: line, msg: fmt.Sprintf(format, args...), err: err}
}

// value is a top-level key's value as the library decodes it into an any: string,
// int64, float64, bool, a time, []any or map[string]any.
func (cf *configFile) value(p toml.Primitive) any {
	var v any
	if err := cf.md.PrimitiveDecode(p, &v); err != nil {
		return nil // decoding into an any does not fail
	}
	return v
}

// errWhere is what whereProbe returns, to learn where a key's value starts.
var errWhere = errors.New("where")

// whereProbe, as a decoding destination, fails at once: the library's error then carries
// the position of the key being decoded.
type whereProbe struct{}

func (*whereProbe) UnmarshalTOML(any) error { return errWhere }

// line is the line of a top-level key of the file, 0 if it cannot be told.
//
// The library keeps each key's position but does not export it; it does report it in the
// error of a value that fails to decode. Of that position the line is the one where the
// library's lexer ended the value (the last line of a multi-line string), while the start
// offset is the value's first byte, which TOML puts on the key's line. A table named only
// by its keys ([a.b], a.b = 1) has no position of its own: its first key's line is used.
func (cf *configFile) line(p toml.Primitive) int {
	var pe toml.ParseError
	if errors.As(cf.md.PrimitiveDecode(p, &whereProbe{}), &pe) && pe.Position.Line > 0 {
		if s := pe.Position.Start; s >= 0 && s <= len(cf.data) {
			return 1 + strings.Count(string(cf.data[:s]), "\n")
		}
		return pe.Position.Line
	}
	var sub map[string]toml.Primitive
	if cf.md.PrimitiveDecode(p, &sub) != nil {
		return 0
	}
	first := 0
	for _, sp := range sub {
		if l := cf.line(sp); l > 0 && (first == 0 || l < first) {
			first = l
		}
	}
	return first
}

// flagValues checks a config value against the flag's type and returns the arguments to
// give the flag for it (one, or one per element of a list). An error says what was
// expected, as "KEY: want ..., not VALUE".
func flagValues(f cli.Flag, name string, v any) ([]string, error) {
	want := func(what string) error {
		return fmt.Errorf("%s: want %s, not %s", name, what, describe(v))
	}
	switch f := f.(type) {
	case *cli.StringFlag:
		if s, ok := v.(string); ok {
			return []string{s}, nil
		}
		return nil, want("a string")
	case *cli.IntFlag:
		if n, ok := v.(int64); ok {
			return []string{strconv.FormatInt(n, 10)}, nil
		}
		return nil, want("an integer")
	case *cli.BoolFlag:
		if b, ok := v.(bool); ok {
			return []string{strconv.FormatBool(b)}, nil
		}
		return nil, want("true or false")
	case *cli.DurationFlag:
		s, ok := v.(string)
		if !ok {
			return nil, want(`a duration string such as "30s"`)
		}
		if _, err := time.ParseDuration(s); err != nil {
			return nil, fmt.Errorf("%s: want a duration such as \"30s\": %w", name, err)
		}
		return []string{s}, nil
	case *cli.StringSliceFlag:
		switch v := v.(type) {
		case string:
			return []string{v}, nil
		case []any:
			if len(v) == 0 && f.Value != nil && len(f.Value.Value()) > 0 {
				return nil, fmt.Errorf("%s: an empty list: give at least one, or leave the key out for the default (%s)",
					name, strings.Join(f.Value.Value(), ", "))
			}
			out := make([]string, len(v))
			for i, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s[%d]: want a string, not %s", name, i, describe(e))
				}
				out[i] = s
			}
			return out, nil
		}
		return nil, want("an array of strings")
	}
	return nil, fmt.Errorf("%s: a %T cannot be set from a config file", name, f)
}

// describe shows a decoded TOML value in an error: a string quoted, a number or boolean
// as written, anything else by its kind.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case int64, float64, bool:
		return fmt.Sprint(v)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case time.Time:
		return "a date-time"
	}
	return fmt.Sprintf("a %T", v)
}

func isTable(v any) bool {
	switch v.(type) {
	case map[string]any, []map[string]any:
		return true
	}
	return false
}

// nearest is the name closest to key by edit distance, if it is close enough to be
// a likely typo of it (a third of the key's length, or 2, at most), else "".
func nearest(key string, names []string) string {
	best, bestD := "", max(2, len(key)/3)+1
	for _, n := range names {
		if d := editDistance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, by bytes (the flag names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
