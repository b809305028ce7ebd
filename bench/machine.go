package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MachineInfo describes the machine a benchmark ran on, for report.md and JSON.
type MachineInfo struct {
	Kernel     string `json:"kernel"`          // uname -r
	OS         string `json:"os,omitempty"`    // PRETTY_NAME from /etc/os-release
	Arch       string `json:"arch"`            // GOARCH
	CPUModel   string `json:"cpu_model"`       // /proc/cpuinfo "model name" (or equivalent)
	Cores      int    `json:"cores"`           // CPUs this process may run on
	OnlineCPUs int    `json:"online_cpus"`     // CPUs online in the machine
	MemBytes   uint64 `json:"mem_total_bytes"` // MemTotal
	GoVersion  string `json:"go_version"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// TCPCongestion is net.ipv4.tcp_congestion_control, which every server's sockets get
	// unless it sets its own: it shapes large replies' latency even on loopback.
	TCPCongestion string `json:"tcp_congestion,omitempty"`
}

// Machine describes this machine. Fields it cannot read are left empty or zero.
func Machine() MachineInfo {
	m := MachineInfo{
		Arch:       runtime.GOARCH,
		Cores:      runtime.NumCPU(),
		GoVersion:  runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	m.CPUModel, m.OnlineCPUs = cpuInfo()
	m.MemBytes = memTotal()
	m.OS = osRelease()
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control"); err == nil {
		m.TCPCongestion = strings.TrimSpace(string(b))
	}
	return m
}

// String is a one-line description, e.g.
// "Linux 6.8.0 amd64, AMD EPYC 7B13 (2 cores), 7.8 GiB RAM, go1.26.0".
func (m MachineInfo) String() string {
	cpu := m.CPUModel
	if cpu == "" {
		cpu = "unknown CPU"
	}
	s := fmt.Sprintf("Linux %s %s, %s (%d cores", m.Kernel, m.Arch, cpu, m.Cores)
	if m.OnlineCPUs > m.Cores {
		s += fmt.Sprintf(" of %d", m.OnlineCPUs)
	}
	s += ")"
	if m.MemBytes > 0 {
		s += ", " + FormatBytes(int64(m.MemBytes)) + " RAM"
	}
	return s + ", " + m.GoVersion
}

func cpuInfo() (model string, online int) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "", 0
	}
	var fallback string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			online++
		case "model name", "cpu model", "cpu": // x86, mips, ppc
			if model == "" {
				model = v
			}
		case "Hardware", "uarch", "isa": // arm, riscv
			if fallback == "" {
				fallback = v
			}
		}
	}
	if model == "" {
		model = fallback
	}
	return strings.Join(strings.Fields(model), " "), online
}

func memTotal() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "PRETTY_NAME="); ok {
			if s, err := strconv.Unquote(rest); err == nil {
				return s
			}
			return strings.Trim(rest, `"'`)
		}
	}
	return ""
}

// FormatBytes formats n with binary units: "512 B", "4.0 KiB", "1.5 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		v /= unit
		if v < unit && v > -unit || u == "PiB" {
			return strconv.FormatFloat(v, 'f', 1, 64) + " " + u
		}
	}
	return ""
}
