package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// figure is one line of the report: a measurement beside its baseline.
type figure struct {
	name     string
	value    summary
	valueTxt string  // replaces value in the table when set (figures that are not times)
	baseName string  // what the baseline is; "" when the figure has none
	baseline summary // measured in the same run
	baseTxt  string  // replaces baseline when set
	target   string
	verdict  string // "pass", "miss" or "—"
	note     string // what else a reader needs to read the line
}

// ratioText is the ratio of the medians, or "—".
func (f figure) ratioText() string {
	if f.baseName == "" || f.baseline.n == 0 || f.value.n == 0 || f.valueTxt != "" {
		return "—"
	}
	return fmt.Sprintf("%.2f×", ratio(f.value.median, f.baseline.median))
}

// verdictOf turns a condition into "pass" or "miss".
func verdictOf(ok bool) string {
	if ok {
		return "pass"
	}
	return "miss"
}

// writeTable prints figures as a Markdown table.
func writeTable(w io.Writer, figs []figure) {
	fmt.Fprintln(w, "| figure | median / p99 / max (n) | baseline: median / p99 / max (n) "+
		"| ratio | target | result |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, f := range figs {
		value := fmt.Sprintf("%s (%d)", f.value, f.value.n)
		if f.valueTxt != "" {
			value = f.valueTxt
		}
		base := "—"
		switch {
		case f.baseTxt != "":
			base = f.baseName + ": " + f.baseTxt
		case f.baseName != "":
			base = fmt.Sprintf("%s: %s (%d)", f.baseName, f.baseline, f.baseline.n)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", f.name, value, base,
			f.ratioText(), f.target, f.verdict)
	}
	var notes []string
	for _, f := range figs {
		if f.note != "" {
			notes = append(notes, fmt.Sprintf("- %s: %s", f.name, f.note))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, strings.Join(notes, "\n"))
	}
}

// writeAcross prints, for each figure of the first run, its median, ratio and
// result in every run, so the spread between runs is in plain sight.
func writeAcross(w io.Writer, runs [][]figure) {
	fmt.Fprintln(w, "| figure | medians, run by run | ratios | results |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for i, f := range runs[0] {
		var meds, ratios, verdicts []string
		for _, figs := range runs {
			if i >= len(figs) || figs[i].name != f.name {
				continue
			}
			g := figs[i]
			med := fmtDur(g.value.median)
			if g.valueTxt != "" {
				med = g.valueTxt
			}
			meds = append(meds, med)
			ratios = append(ratios, g.ratioText())
			verdicts = append(verdicts, g.verdict)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.name, strings.Join(meds, "; "),
			strings.Join(ratios, ", "), strings.Join(verdicts, ", "))
	}
}

// machine describes where the figures were taken.
func machine(bin string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- CPUs: %d (nproc), %s\n", runtime.NumCPU(), cpuModel())
	fmt.Fprintf(&b, "- Go: %s (bench tool); stratd binary: %s\n", runtime.Version(),
		stratdVersion(bin))
	fmt.Fprintf(&b, "- kernel: %s\n", strings.TrimSpace(readFirstLine("/proc/version")))
	fmt.Fprintf(&b, "- load average at start: %s\n", loadAvg())
	fmt.Fprintf(&b, "- date: %s", time.Now().UTC().Format(time.RFC3339))
	return b.String()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAvg() string {
	f := strings.Fields(readFirstLine("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func readFirstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}

// stratdVersion asks the binary for its version and the Go it was built with.
func stratdVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	v := strings.TrimSpace(string(out))
	if err != nil || v == "" {
		v = "version unknown"
	}
	if gv, err := exec.Command("go", "version", bin).Output(); err == nil {
		if f := strings.Fields(string(gv)); len(f) >= 2 {
			v += ", built with " + f[len(f)-1]
		}
	}
	return v
}
