package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parseXML fails the test unless b is well-formed XML; it returns the character data.
func parseXML(t *testing.T, name string, b []byte) (root string, text string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var sb strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			sb.Write(tok)
			sb.WriteByte('\n')
		}
	}
	return root, sb.String()
}

func TestWriteReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out", "file")
	rs := derived(sampleResults())
	rs[2].Engine = "pool<&>" // must be escaped in the SVG
	iops := ColOpsPerSec.As("IOPS", "iops")
	r := Report{
		Title:   "File IO: uringd vs fio",
		Command: ShellQuote([]string{"uringd", "bench", "file", "--size", "1G"}),
		Date:    time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Columns: append([]Column{ColName}, FileColumns()...),
		Results: rs,
		Ratios:  Ratios(rs, "fio", iops, ColP99us),
		Charts: []Chart{
			{Column: iops, Title: "Random read IOPS (4 KiB, QD32)"},
			{Column: ColP99us, Title: "p99 latency (µs)", File: "p99.svg"},
			{Column: ColSQPoll}, // all zero: skipped
		},
		Notes: []string{"Page cache dropped before each round.", "fio used `ioengine=io_uring`."},
	}
	if err := WriteReport(dir, r); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := Machine()
	for _, want := range []string{
		"# File IO: uringd vs fio\n",
		"2025-01-02 03:04:05 UTC",
		"- Kernel: " + m.Kernel,
		"- Go: " + runtime.Version(),
		"uringd bench file --size 1G",
		"| name | engine | IOPS |",
		"| randread-4k | uring | 97000 |",
		"| randread-4k | fio | 100000 |",
		"randread-4k  uring/fio",
		"iops=0.97",
		"![Random read IOPS (4 KiB, QD32)](iops.svg)",
		"![p99 latency (µs)](p99.svg)",
		"(sqpoll: no data to chart.)",
		"Page cache dropped before each round.\n\nfio used `ioengine=io_uring`.\n",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if m.CPUModel != "" && !strings.Contains(string(md), m.CPUModel) {
		t.Errorf("report.md lacks the CPU model %q", m.CPUModel)
	}
	if t.Failed() {
		t.Logf("report.md:\n%s", md)
	}

	for _, f := range []string{"iops.svg", "p99.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		root, text := parseXML(t, f, b)
		if root != "svg" {
			t.Errorf("%s: root element %q", f, root)
		}
		for _, e := range []string{"uring", "fio", "pool<&>"} {
			if !strings.Contains(text, e) {
				t.Errorf("%s does not name engine %q; text:\n%s", f, e, text)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sqpoll_threads.svg")); err == nil {
		t.Error("an all-zero chart was written")
	}

	var back struct {
		Title   string
		Machine MachineInfo
		Results []Result
		Ratios  []struct {
			Num, Den string
			Ratio    *float64
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Results, rs) || back.Machine != m || back.Title != r.Title {
		t.Errorf("report.json does not round-trip:\n%s", b)
	}
	if len(back.Ratios) != 4 || back.Ratios[0].Ratio == nil || back.Ratios[0].Num != "uring" {
		t.Errorf("report.json ratios: %+v", back.Ratios)
	}
}

func TestWriteReportDefaults(t *testing.T) {
	dir := t.TempDir()
	rs := []Result{{Engine: "uring", OpsPerSec: 5000, Latency: Latency{P99: 40 * time.Microsecond}},
		{Engine: "zap", OpsPerSec: 5000, Latency: Latency{P99: 40 * time.Microsecond}}} // equal bars
	rs[1].SetExtra("nan", math.NaN())
	rs[1].MBPerSec = math.Inf(1)
	if err := WriteReport(dir, Report{Results: rs}); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"# uringd benchmark", "![Throughput (ops/s)](throughput.svg)",
		"![p99 latency (µs)](p99.svg)", "| uring |", "| zap |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(string(md), "| name |") {
		t.Error("empty name column in the default table")
	}
	for _, f := range []string{"throughput.svg", "p99.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		parseXML(t, f, b)
	}
	if !math.IsNaN(rs[1].Extra["nan"]) {
		t.Error("WriteReport changed its results")
	}
}

// TestChartRendersPNG converts a chart with rsvg-convert, when installed, to check it is
// more than well-formed XML. Set BENCH_CHART_PNG=path to keep the PNG for a look.
func TestChartRendersPNG(t *testing.T) {
	conv, err := exec.LookPath("rsvg-convert")
	if err != nil {
		t.Skip("rsvg-convert not installed")
	}
	dir := t.TempDir()
	rs := derived(sampleResults())
	if err := WriteReport(dir, Report{Results: rs}); err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("BENCH_CHART_PNG")
	if out == "" {
		out = filepath.Join(dir, "throughput.png")
	}
	if b, err := exec.Command(conv, "-o", out, filepath.Join(dir, "throughput.svg")).CombinedOutput(); err != nil {
		t.Fatalf("rsvg-convert: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("no PNG written: %v", err)
	}
}

func TestMachine(t *testing.T) {
	m := Machine()
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		if got := strings.TrimSpace(string(out)); m.Kernel != got {
			t.Errorf("Kernel = %q, uname -r says %q", m.Kernel, got)
		}
	} else if m.Kernel == "" {
		t.Error("no kernel release")
	}
	if m.Cores != runtime.NumCPU() || m.OnlineCPUs < 1 || m.GoVersion != runtime.Version() || m.Arch != runtime.GOARCH {
		t.Errorf("%+v", m)
	}
	if m.MemBytes < 64<<20 {
		t.Errorf("MemBytes = %d", m.MemBytes)
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control"); err == nil && m.TCPCongestion != strings.TrimSpace(string(b)) {
		t.Errorf("TCPCongestion = %q, the sysctl says %q", m.TCPCongestion, b)
	}
	if (runtime.GOARCH == "amd64" || runtime.GOARCH == "386") && m.CPUModel == "" {
		t.Error("no CPU model on x86")
	}
	s := m.String()
	if !strings.Contains(s, m.Kernel) || !strings.Contains(s, m.GoVersion) || !strings.Contains(s, "cores") {
		t.Errorf("String() = %q", s)
	}
	var back MachineInfo
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, &back); err != nil || back != m {
		t.Errorf("MachineInfo JSON round trip: %s", b)
	}
	if !strings.Contains(string(b), `"kernel":`) || !strings.Contains(string(b), `"cpu_model":`) {
		t.Errorf("MachineInfo JSON keys: %s", b)
	}
	t.Log(s)
}

// TestBarChartLabelsFit draws bars whose names wrap under them (a uringd mode with serve
// flags): every label line must lie inside the chart, none cut off at its bottom.
func TestBarChartLabelsFit(t *testing.T) {
	var rs []Result
	for _, e := range []string{"uringd", "uringd:--cold-reads buffered", "uringd:--fixed-buffers 0 --iowq-max-workers 2", "nginx-aio"} {
		rs = append(rs, Result{Name: "mixed", Engine: e, OpsPerSec: 12345})
	}
	var buf bytes.Buffer
	if ok, err := BarChartSVG(&buf, "mixed: requests/s", ColOpsPerSec, rs); !ok || err != nil {
		t.Fatalf("BarChartSVG: %v, %v", ok, err)
	}
	parseXML(t, "chart", buf.Bytes())
	svg := buf.String()
	var height float64
	if m := regexp.MustCompile(`<svg[^>]*viewBox="0 0 [0-9.]+ ([0-9.]+)"`).FindStringSubmatch(svg); m != nil {
		height, _ = strconv.ParseFloat(m[1], 64)
	}
	texts := regexp.MustCompile(`<text[^>]*\by="([0-9.]+)"[^>]*>([^<]*)</text>`).FindAllStringSubmatch(svg, -1)
	if height == 0 || len(texts) == 0 {
		t.Fatalf("no height or no text in the SVG:\n%s", svg)
	}
	for _, m := range texts {
		if y, _ := strconv.ParseFloat(m[1], 64); y > height-2 {
			t.Errorf("label line %q at y=%v, below the chart's height %v", m[2], y, height)
		}
	}
}
