package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/uringd/uringd/netio"
	"github.com/uringd/uringd/ring"
)

func probeCommand() *cli.Command {
	return &cli.Command{
		Name:  "probe",
		Usage: "report the kernel's io_uring support and which uringd fast paths run or fall back",
		Description: "Exits 0 when io_uring is usable, 1 when it is not (the output says why and what to do).\n" +
			"--kernel-compat caps the report to what an older kernel had, as the server would be capped.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object for scripts"},
			&cli.StringFlag{Name: "kernel-compat", Usage: "cap features to kernel `VERSION` (e.g. 5.10)", EnvVars: []string{ring.CompatEnv}},
		},
		Action: func(c *cli.Context) error {
			rep := buildProbeReport(c.String("kernel-compat"))
			var err error
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				err = rep.writeText(c.App.Writer)
			}
			if err != nil {
				return err
			}
			if !rep.Usable {
				return &exitError{code: 1, err: fmt.Errorf("io_uring is not usable here: %s", rep.Problem.Detail)}
			}
			return nil
		},
	}
}

type probeReport struct {
	Release   string         `json:"release"`
	Kernel    ring.Version   `json:"kernel"`
	Compat    ring.Version   `json:"kernel_compat,omitzero"`
	Effective ring.Version   `json:"effective"`
	Usable    bool           `json:"usable"`
	Problem   *probeProblem  `json:"problem,omitempty"`
	Opcodes   []ring.Op      `json:"opcodes"`
	Features  []string       `json:"features"`
	FastPaths []probeFastPth `json:"fast_paths"`
}

type probeProblem struct {
	Reason string `json:"reason"`
	Errno  string `json:"errno,omitempty"`
	Detail string `json:"detail"`
	Remedy string `json:"remedy"`
}

type probeFastPth struct {
	Name     string `json:"name"`
	Since    string `json:"since"`
	Active   bool   `json:"active"`
	Fallback string `json:"fallback"`
}

var featureNames = []struct {
	bit  uint32
	name string
}{
	{ring.FeatSingleMmap, "single_mmap"}, {ring.FeatNoDrop, "nodrop"}, {ring.FeatSubmitStable, "submit_stable"},
	{ring.FeatRWCurPos, "rw_cur_pos"}, {ring.FeatCurPersonality, "cur_personality"}, {ring.FeatFastPoll, "fast_poll"},
	{ring.FeatPoll32Bits, "poll_32bits"}, {ring.FeatSQPollNonfixed, "sqpoll_nonfixed"}, {ring.FeatExtArg, "ext_arg"},
	{ring.FeatNativeWorkers, "native_workers"}, {ring.FeatRsrcTags, "rsrc_tags"}, {ring.FeatCQESkip, "cqe_skip"},
	{ring.FeatLinkedFile, "linked_file"}, {ring.FeatRegRegRing, "reg_reg_ring"},
}

func buildProbeReport(compat string) *probeReport {
	f, err := ring.Probe(compat)
	rep := &probeReport{Release: f.Release, Kernel: f.Kernel, Compat: f.Compat, Effective: f.Effective(), Usable: err == nil}
	if err != nil {
		p := &probeProblem{Reason: "error", Detail: err.Error()}
		if u, ok := ring.IsUnavailable(err); ok {
			p = &probeProblem{Reason: u.Reason.String(), Detail: u.Detail, Remedy: u.Remedy}
			if u.Errno != 0 {
				p.Errno = u.Errno.Error()
			}
		}
		p.Remedy = strings.TrimSpace(p.Remedy + "; until then uringd runs without io_uring: serve --net std --file-io threadpool")
		rep.Problem = p
		return rep
	}
	rep.Opcodes = f.SupportedOps()
	for _, fn := range featureNames {
		if f.Setup&fn.bit != 0 {
			rep.Features = append(rep.Features, fn.name)
		}
	}
	rep.FastPaths = []probeFastPth{
		{"multishot accept (serve)", "5.19", f.MultishotAccept, "a single ACCEPT re-armed after each connection"},
		{"multishot recv (serve)", "6.0", f.MultishotRecv, "a single RECV re-armed after each read"},
		{"provided buffer ring (serve)", "5.19", f.BufRing, "PROVIDE_BUFFERS SQEs"},
		{"skip successful file READ CQEs (serve)", "5.17", f.CQESkip, "every READ posts a CQE"},
		{"large files by sendfile(2) from the loop, cached ranges (serve; cachestat)", "6.5", netio.SendfileUsable(f), "READ into a buffer, then SEND"},
		{"uncached large ranges read with O_DIRECT on first use (serve --cold-reads direct; cachestat)", "6.5", netio.SendfileUsable(f), "buffered READ (nothing tells cached ranges from uncached)"},
		{"zero-copy large files: SPLICE file→pipe→socket (serve --large-files splice)", "5.7", f.Supports(ring.OpSplice), "READ into a buffer, then SEND"},
		{"batched wakeups (serve)", "6.12", f.MinTimeout, "the loop wakes for every completion"},
		{"single issuer + deferred task run (serve)", "6.1", f.DeferTaskrun, "COOP_TASKRUN, else interrupting task work"},
		{"wait with timeout in one enter", "5.11", f.ExtArg, "a TIMEOUT SQE per timed wait"},
		{"openat2 RESOLVE_BENEATH", "5.6", f.Supports(ring.OpOpenat2), "component-by-component O_NOFOLLOW walk (fileio)"},
		{"sparse registered files", "5.19", f.SparseFiles, "a table of -1 slots"},
		{"rings free of RLIMIT_MEMLOCK", "5.12", !f.MemlockCharged, "rings charged to RLIMIT_MEMLOCK (some 5.10 stable kernels no longer do)"},
	}
	return rep
}

func (rep *probeReport) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "kernel:\t%s (%s)\n", rep.Release, rep.Kernel)
	if rep.Compat != (ring.Version{}) {
		fmt.Fprintf(tw, "capped to:\t%s (kernel-compat)\n", rep.Compat)
	}
	if !rep.Usable {
		fmt.Fprintf(tw, "io_uring:\tNOT usable (%s", rep.Problem.Reason)
		if rep.Problem.Errno != "" {
			fmt.Fprintf(tw, ", %s", rep.Problem.Errno)
		}
		fmt.Fprintf(tw, ")\nwhy:\t%s\nwhat to do:\t%s\n", rep.Problem.Detail, rep.Problem.Remedy)
		return tw.Flush()
	}
	fmt.Fprintf(tw, "io_uring:\tusable\n")
	names := make([]string, len(rep.Opcodes))
	for i, op := range rep.Opcodes {
		names[i] = op.String()
	}
	fmt.Fprintf(tw, "opcodes (%d):\t%s\n", len(names), wrap(names, 80))
	fmt.Fprintf(tw, "features:\t%s\n", strings.Join(rep.Features, " "))
	fmt.Fprintln(tw, "\nfast path\tsince\tstate\tfallback")
	for _, fp := range rep.FastPaths {
		state := "falls back"
		if fp.Active {
			state = "runs"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", fp.Name, fp.Since, state, fp.Fallback)
	}
	return tw.Flush()
}

func wrap(words []string, width int) string {
	var b strings.Builder
	line := 0
	for i, w := range words {
		if i > 0 {
			if line+1+len(w) > width {
				b.WriteString("\n\t")
				line = 0
			} else {
				b.WriteByte(' ')
				line++
			}
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}
