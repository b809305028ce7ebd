package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func runApp(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := newApp()
	app.Writer = &out
	app.ErrWriter = &out
	err := app.Run(append([]string{"uringd"}, args...))
	return out.String(), err
}

func TestProbeText(t *testing.T) {
	out, err := runApp(t, "probe")
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	for _, want := range []string{"kernel:", "io_uring:      usable", "opcodes (", "multishot accept", "fallback"} {
		if !strings.Contains(out, want) {
			t.Errorf("probe output lacks %q:\n%s", want, out)
		}
	}
}

func TestProbeJSONCapped(t *testing.T) {
	out, err := runApp(t, "probe", "--json", "--kernel-compat", "5.6")
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	var rep struct {
		Kernel    string   `json:"kernel"`
		Effective string   `json:"effective"`
		Usable    bool     `json:"usable"`
		Opcodes   []string `json:"opcodes"`
		FastPaths []struct {
			Name   string `json:"name"`
			Active bool   `json:"active"`
		} `json:"fast_paths"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("probe --json is not JSON: %v\n%s", err, out)
	}
	if !rep.Usable || rep.Effective != "5.6" {
		t.Fatalf("capped probe: %+v", rep)
	}
	for _, op := range rep.Opcodes {
		if op == "splice" || op == "shutdown" {
			t.Errorf("capped to 5.6, opcode %s reported", op)
		}
	}
	seen := 0
	for _, fp := range rep.FastPaths {
		if fp.Active && fp.Name != "openat2 RESOLVE_BENEATH" {
			t.Errorf("capped to 5.6, %q reported active", fp.Name)
		}
		seen++
	}
	if seen < 8 {
		t.Errorf("only %d fast paths reported", seen)
	}
}

func TestProbeTooOldExplains(t *testing.T) {
	out, err := runApp(t, "probe", "--kernel-compat", "5.4")
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("probe capped to 5.4 should fail with exit 1: %v", err)
	}
	if !strings.Contains(out, "NOT usable") || !strings.Contains(out, "what to do:") || !strings.Contains(out, "--net std") {
		t.Fatalf("probe does not explain:\n%s", out)
	}
}
