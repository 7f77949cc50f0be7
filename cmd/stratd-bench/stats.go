package main

import (
	"fmt"
	"slices"
	"time"
)

// samples is a list of measured durations.
type samples []time.Duration

// summary is the shape of a list of samples: its median, 99th percentile and
// maximum, and how many there were.
type summary struct {
	n                int
	median, p99, max time.Duration
}

// summarize sorts a copy of s and reads off its median, p99 and max. The
// percentile is nearest-rank: with fewer than 100 samples the p99 is the max.
func summarize(s samples) summary {
	if len(s) == 0 {
		return summary{}
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	return summary{
		n:      len(sorted),
		median: percentile(sorted, 50),
		p99:    percentile(sorted, 99),
		max:    sorted[len(sorted)-1],
	}
}

// percentile returns the nearest-rank p-th percentile of sorted samples.
func percentile(sorted samples, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(0, min(rank, len(sorted))-1)]
}

// String renders a summary as "median / p99 / max".
func (s summary) String() string {
	if s.n == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s / %s", fmtDur(s.median), fmtDur(s.p99), fmtDur(s.max))
}

// fmtDur renders a duration with three significant digits in a unit that suits
// it: µs below a millisecond, ms below ten seconds, s above.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// ratio is a/b, or 0 when b is zero.
func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// fmtBytes renders a byte count in KiB or MiB.
func fmtBytes(n int64) string {
	if n >= 10<<20 || n <= -10<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
}
