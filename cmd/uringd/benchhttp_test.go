package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchHTTPHot runs `uringd bench http --workload hot` against uringd alone for a
// second per phase: the real binary serving, wrk loading it, the fixed-rate client timing it.
func TestBenchHTTPHot(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end bench runs in the full go test run")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed (apt-get install wrk): bench http needs it")
	}
	data, rep := t.TempDir(), filepath.Join(t.TempDir(), "report")
	stdout, stderr := benchHTTP(t, "--workload", "hot", "--servers", "uringd",
		"--duration", "1s", "--rounds", "1", "--path-size", "4k,64k", "--conns", "8", "--hot-rate", "200",
		"--data-dir", data, "--json", "--report", rep)

	dec := json.NewDecoder(&stdout)
	rows := map[string]map[string]any{}
	for {
		var row map[string]any
		if err := dec.Decode(&row); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("--json output: %v\n%s", err, stdout.String())
		}
		rows[row["workload"].(string)] = row
	}
	for _, name := range []string{"hot-4k", "hot-64k"} {
		row := rows[name]
		if row == nil {
			t.Fatalf("no %s row in %v", name, rows)
		}
		if row["server"] != "uringd" {
			t.Errorf("%s: server %v, want uringd", name, row["server"])
		}
		for _, k := range []string{"req_per_s", "mbps", "p50_ms", "p99_ms", "cpu_us_per_req", "ctxsw_per_req", "os_threads", "wrk_cpu_pct"} {
			v, ok := row[k].(float64)
			if !ok || v <= 0 {
				t.Errorf("%s: %s = %v, want a positive number", name, k, row[k])
			}
		}
		// The hypervisor's share of the CPUs while the row ran: 0 on bare metal, never absent.
		if v, ok := row["steal_pct"].(float64); !ok || v < 0 || v > 100 {
			t.Errorf("%s: steal_pct = %v, want a share of 0 to 100", name, row["steal_pct"])
		}
		// The CPUs' idle share while wrk ran: wrk and the server both ran, so below 100.
		if v, ok := row["idle_pct"].(float64); !ok || v < 0 || v >= 100 {
			t.Errorf("%s: idle_pct = %v, want a share of 0 to under 100", name, row["idle_pct"])
		}
		// The stall probe ran through the fixed-rate phase, as root; without CAP_SYS_NICE it
		// says it cannot and its columns stay empty.
		if os.Geteuid() == 0 {
			over, ok1 := row["stall_over_pct"].(float64)
			mx, ok2 := row["stall_max_ms"].(float64)
			if !ok1 || !ok2 || over < 0 || over > 100 || mx <= 0 {
				t.Errorf("%s: stall_over_pct = %v, stall_max_ms = %v: want a share and a positive latest wakeup", name, row["stall_over_pct"], row["stall_max_ms"])
			}
		} else if _, ok := row["stall_over_pct"]; ok || !strings.Contains(stderr.String(), "stall columns stay empty") {
			t.Errorf("%s: without root, stall_over_pct = %v and stderr %q", name, row["stall_over_pct"], stderr.String())
		}
		if ok, _ := row["rate_ok_pct"].(float64); ok < 90 {
			t.Errorf("%s: the fixed-rate client got %v%% of its 200 req/s answered", name, row["rate_ok_pct"])
		}
	}
	if !strings.Contains(stderr.String(), "hot round 1/1: uringd") {
		t.Errorf("no progress line on stderr:\n%s", stderr.String())
	}

	md, err := os.ReadFile(filepath.Join(rep, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| hot-4k | uringd |", "hot-4k-latency.svg", "hot-64k-throughput.svg", "## Machine"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	for _, f := range []string{"hot-4k-latency.svg", "hot-4k-throughput.svg", "hot-64k-latency.svg"} {
		b, err := os.ReadFile(filepath.Join(rep, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := xmlWellFormed(b); err != nil || !bytes.Contains(b, []byte("<svg")) {
			t.Errorf("%s is not an SVG: %v", f, err)
		}
		if strings.HasSuffix(f, "latency.svg") && !bytes.Contains(b, []byte("uringd")) {
			t.Errorf("%s has no uringd curve", f)
		}
	}
	var js struct {
		Results []struct {
			Engine string `json:"engine"`
		} `json:"results"`
	}
	b, _ := os.ReadFile(filepath.Join(rep, "report.json"))
	if err := json.Unmarshal(b, &js); err != nil || len(js.Results) != 2 {
		t.Errorf("report.json: %v, %d results", err, len(js.Results))
	}
}

// benchHTTP runs this binary's `bench http` with args, failing the test if it fails or takes
// more than 90 s.
func benchHTTP(t *testing.T, args ...string) (stdout, stderr bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"bench", "http"}, args...)...)
	cmd.Env = append(os.Environ(), "URINGD_TEST_AS_MAIN=1")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("bench http: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("bench http did not finish in 90 s\nstderr:\n%s", stderr.String())
	}
	return stdout, stderr
}

// TestBenchHTTPBeside runs a hot row with --beside cpu: the row is measured while a busy loop
// runs on every CPU, and the row and the report say so.
func TestBenchHTTPBeside(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end bench runs in the full go test run")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed (apt-get install wrk): bench http needs it")
	}
	data, rep := t.TempDir(), filepath.Join(t.TempDir(), "report")
	stdout, _ := benchHTTP(t, "--workload", "hot", "--servers", "uringd", "--duration", "1s", "--rounds", "1",
		"--path-size", "4k", "--conns", "8", "--hot-rate", "0", "--beside", "cpu", "--data-dir", data, "--json", "--report", rep)
	var row map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &row); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	if v, _ := row["req_per_s"].(float64); row["workload"] != "hot-4k" || v <= 0 {
		t.Errorf("row %v: want hot-4k with a positive req_per_s", row)
	}
	md, err := os.ReadFile(filepath.Join(rep, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte("Beside every server's row (--beside), a load no server serves: a busy loop on each of the")) {
		t.Errorf("report.md does not say what ran beside the rows:\n%s", md)
	}
	if !bytes.Contains(md, []byte("Latency (p50 … max): wrk's own")) {
		t.Errorf("report.md does not say that with --hot-rate 0 the latency is wrk's:\n%s", md)
	}
	// The busy loops ran through the row: on an idle machine they get nearly every CPU, and
	// even on a busy one far more than nothing.
	if v, _ := row["beside_cpu_pct"].(float64); v < 10 || v > 100 {
		t.Errorf("beside_cpu_pct = %v, want the busy loops' share of the CPUs", row["beside_cpu_pct"])
	}
}

func xmlWellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := d.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}
