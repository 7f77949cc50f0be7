package main

// REPL tests in real terminals: the built binary, OpenSSH clients and tmux, read back
// the way a person reads them. They assert on the screen (capture-pane), on where
// the terminal's cursor is, and on the raw bytes the terminal received.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// uiDeadline bounds every wait on a terminal.
const uiDeadline = 15 * time.Second

// uiPoll re-reads a terminal until ok holds: a terminal offers no event to wait on.
func uiPoll(tm *terminal, what string, ok func() bool) {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), uiDeadline)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-ctx.Done():
			tm.t.Fatalf("terminal %s: %s never happened; it shows:\n%s", tm.name, what,
				tm.screen())
		case <-tick.C:
		}
	}
}

// uiCursor is where the terminal's cursor is, in cells from the top left.
func uiCursor(tm *terminal) (x, y int) {
	tm.t.Helper()
	out := tm.tmux("display-message", "-p", "-t", tm.name, "#{cursor_x} #{cursor_y}")
	if _, err := fmt.Sscan(out, &x, &y); err != nil {
		tm.t.Fatalf("cursor position %q: %v", out, err)
	}
	return x, y
}

// uiWaitCursor waits until the cursor is at x, y.
func uiWaitCursor(tm *terminal, x, y int) {
	tm.t.Helper()
	uiPoll(tm, fmt.Sprintf("cursor at %d,%d", x, y), func() bool {
		cx, cy := uiCursor(tm)
		return cx == x && cy == y
	})
}

// uiLines is the screen as lines, trailing blanks kept so there is one per row.
func uiLines(tm *terminal) []string {
	return strings.Split(strings.TrimSuffix(tm.screen(), "\n"), "\n")
}

// uiWaitLayout waits until the REPL fills a width×height terminal the way it
// should: the header on top, the prompt on the last row with the cursor after it.
func uiWaitLayout(tm *terminal, kernel string, width, height int) []string {
	tm.t.Helper()
	var lines []string
	uiPoll(tm, fmt.Sprintf("the REPL laid out at %dx%d", width, height), func() bool {
		lines = uiLines(tm)
		if len(lines) != height || !strings.HasPrefix(lines[0], " "+kernel+" ") ||
			!strings.HasPrefix(lines[height-1], ">>>") {
			return false
		}
		x, y := uiCursor(tm)
		return x == 4 && y == height-1
	})
	return lines
}

// uiRecord starts a terminal whose command waits for Enter before it runs, records
// every byte the terminal receives from then on, and returns the recording's path.
func (e *env) uiRecord(name string, width, height int, command string) (*terminal, string) {
	e.t.Helper()
	tm := e.term(name, width, height, "sh -c 'read go; exec "+command+"'")
	raw := filepath.Join(e.user, name+".raw")
	tm.tmux("pipe-pane", "-t", tm.name, "-o", "cat > "+raw)
	tm.send("Enter")
	return tm, raw
}

// uiSGR matches the SGR (style) sequences in terminal output.
var uiSGR = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// uiColours returns the SGR sequences in out that set a colour. 39 and 49, back
// to the terminal's own colours, set none.
func uiColours(out string) []string {
	var found []string
	for _, m := range uiSGR.FindAllStringSubmatch(out, -1) {
		for p := range strings.SplitSeq(strings.ReplaceAll(m[1], ":", ";"), ";") {
			n, err := strconv.Atoi(p)
			if err == nil && n != 39 && n != 49 && (n >= 30 && n <= 48 || n >= 90 && n <= 107) {
				found = append(found, m[0])
				break
			}
		}
	}
	return found
}

// uiNameColour is the SGR sequence just before name's first input on the styled
// screen (capture-pane -e).
func uiNameColour(styled, name string) string {
	re := regexp.MustCompile(`((?:\x1b\[[0-9;:]*m)+)` + regexp.QuoteMeta(name) +
		`(?:\x1b\[[0-9;:]*m)* (?:\x1b\[[0-9;:]*m)*>>>`)
	if m := re.FindStringSubmatch(styled); m != nil {
		return m[1]
	}
	return ""
}

func TestUITwoPeopleTypeAtOnce(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("duo", ""), "--kernel-only")
	alice := e.term("alice", 100, 40, e.sshCommand(d.port, e.person("alice", "operator"),
		"-t", "attach", "duo"))
	bob := e.term("bob", 90, 40, e.sshCommand(d.port, e.person("bob", "operator"),
		"-t", "attach", "duo"))
	alice.waitScreen(">>>", "bob attached")
	bob.waitScreen(">>>", "bob attached")

	// Both type without waiting for each other.
	for i := range 4 {
		alice.send(fmt.Sprintf("a%d = %d", i, i), "Enter")
		bob.send(fmt.Sprintf("b%d = %d", i, 10*i), "Enter")
	}
	var want []string
	for i := range 4 {
		want = append(want, fmt.Sprintf("alice >>> a%d = %d", i, i),
			fmt.Sprintf("bob >>> b%d = %d", i, 10*i))
	}
	alice.waitScreen(want...)
	bob.waitScreen(want...)

	// Again at once, each using what the other defined.
	alice.send("print('sum', a3 + b3)", "Enter")
	bob.send("print('日本', b3 - a3)", "Enter")
	want = append(want, "alice >>> print('sum', a3 + b3)", "sum 33",
		"bob >>> print('日本', b3 - a3)", "日本 27")
	aliceScreen := alice.waitScreen(want...)
	bobScreen := bob.waitScreen(want...)

	// Both see the inputs in the one order the kernel ran them.
	inputs := func(screen string) []string {
		var out []string
		for _, l := range strings.Split(screen, "\n") {
			if strings.Contains(l, " >>> ") {
				out = append(out, strings.TrimSpace(l))
			}
		}
		return out
	}
	if a, b := inputs(aliceScreen), inputs(bobScreen); strings.Join(a, "\n") !=
		strings.Join(b, "\n") {
		t.Errorf("the screens disagree on the order of inputs:\nalice:\n%s\nbob:\n%s",
			strings.Join(a, "\n"), strings.Join(b, "\n"))
	}

	// Each name has its own colour, the same on both screens.
	styled := map[string]string{
		"alice": alice.tmux("capture-pane", "-e", "-p", "-t", alice.name),
		"bob":   bob.tmux("capture-pane", "-e", "-p", "-t", bob.name),
	}
	ca, cb := uiNameColour(styled["alice"], "alice"), uiNameColour(styled["alice"], "bob")
	if ca == "" || cb == "" || ca == cb {
		t.Errorf("alice and bob are not told apart by colour: %q %q", ca, cb)
	}
	if got := uiNameColour(styled["bob"], "alice"); got != ca {
		t.Errorf("alice's colour differs between screens: %q and %q", ca, got)
	}

	// Up recalls one's own inputs only.
	bob.send("Up")
	bob.waitScreen(">>> print('日本', b3 - a3)")
	bob.send("Up")
	bob.waitScreen(">>> b3 = 30")
	alice.send("Up")
	alice.waitScreen(">>> print('sum', a3 + b3)")
}

func TestUIResizeMidOutput(t *testing.T) {
	e := newEnv(t)
	star := "def on_bar(ctx, bar):\n    print('bar', bar.symbol, bar.close, 'é日本')\n"
	d := e.start("run", e.config("chatty", star), "--kernel-only")
	tm := e.term("me", 100, 30, e.sshCommand(d.port, "", "-t", "attach", "chatty"))
	tm.waitScreen("bar ETHUSDT")
	uiWaitLayout(tm, "chatty", 100, 30)

	// The strategy keeps printing while the terminal changes size under it.
	for _, size := range [][2]int{{60, 15}, {250, 60}, {80, 24}, {130, 20}} {
		tm.tmux("resize-window", "-t", tm.name, "-x", strconv.Itoa(size[0]),
			"-y", strconv.Itoa(size[1]))
		lines := uiWaitLayout(tm, "chatty", size[0], size[1])
		// Nothing torn: the header and the account line once each, on top, the
		// hint line above the prompt, and only transcript lines between.
		for i, l := range lines {
			left := strings.TrimRight(strings.SplitN(l, "│", 2)[0], " ")
			torn := strings.HasPrefix(l, " chatty ·") != (i == 0) ||
				strings.Contains(l, " equity ") != (i == 1) ||
				strings.Contains(l, "? help") != (i == len(lines)-2) ||
				i > 1 && i < len(lines)-2 && left != "" && !strings.HasPrefix(left, "bar ") &&
					!strings.HasPrefix(left, "· ") && !strings.HasPrefix(left, "[strategy]")
			if torn {
				t.Fatalf("%v: line %d is torn:\n%s", size, i, strings.Join(lines, "\n"))
			}
		}
		panel := strings.Contains(lines[3], "│")
		if panel != (size[0] >= 120) {
			t.Errorf("%v: side panel shown = %v:\n%s", size, panel, strings.Join(lines, "\n"))
		}
	}

	// Typing still lands on the input line, the cursor after the text.
	tm.send("x = 'ü日'")
	tm.waitScreen(">>> x = 'ü日'")
	uiWaitCursor(tm, 13, 19) // ">>> x = 'ü" is 10 cells, 日 2, the quote 1
	tm.send("Enter")
	uiPoll(tm, "the input to run", func() bool {
		lines := uiLines(tm)
		return strings.TrimSpace(lines[len(lines)-1]) == ">>>" &&
			strings.Contains(tm.screen(), ">>> x = 'ü日'")
	})
}

func TestUILocalModeOwnsTheKernel(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("solo", "")
	kernels := filepath.Join(e.home, "kernels")
	connFiles := func() []string {
		files, _ := filepath.Glob(filepath.Join(kernels, "*.json"))
		return files
	}
	// Without a terminal there is no REPL to run: say so rather than hang.
	if _, errs, code := e.stratd("", "run", cfg); code != 2 ||
		!strings.Contains(errs, "needs a terminal") {
		t.Errorf("run without a terminal: code %d, %q", code, errs)
	}

	local := e.term("local", 110, 30, "sh -c '"+stratdBin+" run "+cfg+" --home "+e.home+
		" --listen 127.0.0.1:0; echo exit=$?; exec sleep 60'")
	screen := local.waitScreen("SSH on 127.0.0.1:", "Ctrl+D quit")
	port := regexp.MustCompile(`SSH on 127\.0\.0\.1:(\d+)`).FindStringSubmatch(screen)[1]
	if len(connFiles()) != 1 {
		t.Fatalf("connection files while running: %q", connFiles())
	}

	// Others join over SSH meanwhile and share the kernel.
	bob := e.term("bob", 90, 24, "sh -c '"+e.sshCommand(port, e.person("bob", "operator"),
		"-t", "attach", "solo")+"; exec sleep 60'")
	bob.waitScreen(">>>")
	local.waitScreen("bob attached")
	local.send("x = 7", "Enter")
	bob.waitScreen(">>> x = 7")

	// Quitting asks once while bob is there, then stops the kernel for everyone.
	local.send("C-d")
	local.waitScreen("bob attached: Ctrl+D again stops the kernel for everyone")
	local.send("C-d")
	local.waitScreen("exit=0", "Kernel solo stopped")
	bob.waitScreen("kernel stopped")
	if files := connFiles(); len(files) != 0 {
		t.Errorf("connection files left after quitting: %q", files)
	}
	if logs := local.screen(); !strings.Contains(logs, "sshd: session") {
		t.Errorf("the log lines held back during the REPL were not printed:\n%s", logs)
	}

	// Closing the terminal (SIGHUP) is quitting too.
	closing := e.term("closing", 100, 24, stratdBin+" run "+cfg+" --home "+e.home+
		" --listen 127.0.0.1:0")
	closing.waitScreen("SSH on 127.0.0.1:")
	if len(connFiles()) != 1 {
		t.Fatalf("connection files while running again: %q", connFiles())
	}
	closing.tmux("kill-session", "-t", closing.name)
	uiPoll(local, "the connection file to go after SIGHUP", func() bool {
		return len(connFiles()) == 0
	})

	// Without --listen there is never a connection file.
	plain := e.term("plain", 80, 24, stratdBin+" run "+e.config("plain", "")+" --home "+e.home)
	plain.waitScreen(">>>", "kernel plain started")
	if files := connFiles(); len(files) != 0 {
		t.Errorf("connection file without --listen: %q", files)
	}
	plain.send("C-d")
	plain.waitGone()
}

func TestUINoColour(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("plain", ""), "--kernel-only")
	ssh := e.sshCommand(d.port, "", "-t", "attach", "plain")
	noColor, noColorRaw := e.uiRecord("nocolor", 130, 30,
		"env NO_COLOR=1 "+strings.Replace(ssh, "ssh ", "ssh -o SetEnv=NO_COLOR=1 ", 1))
	dumb, dumbRaw := e.uiRecord("dumb", 130, 30, "env TERM=dumb "+ssh)
	colour, colourRaw := e.uiRecord("colour", 130, 30, ssh)

	// A transcript with everything that is coloured: orders and fills of both
	// sides, an error, PnL, and the side panel with a position.
	for _, code := range []string{`ctx.trade("BTCUSDT", 0.1)`, `ctx.trade("ETHUSDT", -2)`,
		"1/0"} {
		if out, errs, status := e.ssh(d.port, "", "", "exec", "plain", "'"+code+"'"); status > 1 {
			t.Fatalf("exec %s: %s %s", code, out, errs)
		}
	}
	for _, tm := range []*terminal{noColor, dumb, colour} {
		tm.waitScreen("fill", "sell 2 ETHUSDT", "division by zero", "Positions", "short")
		uiWaitCursor(tm, 4, 29)
	}

	raw := func(path string) string {
		b, err := os.ReadFile(path)
		must(t, err)
		return string(b)
	}
	if found := uiColours(raw(colourRaw)); len(found) == 0 {
		t.Fatal("no colour in the coloured terminal: the check below would prove nothing")
	}
	for name, path := range map[string]string{"NO_COLOR": noColorRaw, "TERM=dumb": dumbRaw} {
		out := raw(path)
		// Styled text may reach the terminal a character at a time.
		if len(out) < 1000 || !strings.Contains(ansi.Strip(out), "Positions") {
			t.Fatalf("%s: recorded %d bytes, not the REPL", name, len(out))
		}
		if found := uiColours(out); len(found) > 0 {
			t.Errorf("%s: colour codes reached the terminal: %q", name, found[:min(5,
				len(found))])
		}
	}
	if styled := noColor.tmux("capture-pane", "-e", "-p", "-t", noColor.name); len(
		uiColours(styled)) > 0 {
		t.Errorf("NO_COLOR: the screen has colours:\n%q", styled)
	}
	// Without colour, reverse video still marks the title bar for NO_COLOR.
	if !strings.Contains(raw(noColorRaw), "7m") {
		t.Error("NO_COLOR: the title bar lost its reverse video too")
	}
}

func TestUIKeysOverSSH(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("keys", ""), "--kernel-only")
	key := e.person("alice", "operator")
	attach := e.sshCommand(d.port, key, "-t", "attach", "keys")
	tm := e.term("alice", 100, 30, attach)
	tm.waitScreen(">>>", "alice attached")

	// A bracketed paste of a block is one input, blank line and all.
	block := "def g(x):\n    y = x * 2\n\n    return y + 1\n\nprint('g', g(20))\n"
	must(t, os.WriteFile(filepath.Join(e.user, "block.py"), []byte(block), 0o600))
	tm.tmux("load-buffer", "-b", "block", filepath.Join(e.user, "block.py"))
	tm.tmux("paste-buffer", "-p", "-b", "block", "-t", tm.name)
	tm.waitScreen("alice >>> def g(x):", "alice ...     return y + 1", "alice ... print",
		"g 41")
	if out, _, _ := e.ssh(d.port, "", "", "history", "keys", "--json"); strings.Count(out,
		`"kind":"input"`) != 1 {
		t.Errorf("the paste became several inputs:\n%s", out)
	}

	// A typed block indents itself and runs after a blank line.
	tm.send("for i in range(2):", "Enter", "print('loop', i)", "Enter", "Enter")
	tm.waitScreen("alice ...     print('loop', i)", "loop 1")

	// Tab lists completions; the cursor follows UTF-8 text by cells.
	tm.send("ctx.get_po", "Tab")
	tm.waitScreen("ctx.get_position ", "ctx.get_positions", "Tab / Shift+Tab")
	tm.send("C-u", "s = 'héllo 日本'")
	tm.waitScreen(">>> s = 'héllo 日本'")
	uiWaitCursor(tm, 20, 29) // ">>> s = 'héllo " is 15 cells, 日本 4, the quote 1

	// F1 shows the keys; Ctrl+L clears the view but not the transcript.
	tm.send("C-u", "F1")
	tm.waitScreen("walk your input history", "Ctrl+L")
	tm.send("F1")
	tm.waitScreen("loop 1")
	tm.send("C-l")
	uiPoll(tm, "the view to clear", func() bool {
		return !strings.Contains(tm.screen(), "loop 1")
	})
	tm.send("PgUp")
	tm.waitScreen("loop 1")
	tm.send("PgDn")

	// The wheel scrolls (an SGR mouse report, as a terminal sends it).
	tm.send("for i in range(60): print('row', i)", "Enter")
	tm.waitScreen("row 59")
	tm.tmux("send-keys", "-t", tm.name, "-l", "\x1b[<64;10;10M")
	uiPoll(tm, "the wheel to scroll up", func() bool {
		s := tm.screen()
		return !strings.Contains(s, "row 59") && strings.Contains(s, "scrolled up")
	})
	tm.tmux("send-keys", "-t", tm.name, "-l", "\x1b[<65;10;10M")
	tm.waitScreen("row 59")

	// Up/Down history outlives the session: detach, attach again, press Up.
	tm.send("C-d")
	tm.waitGone()
	again := e.term("again", 100, 30, attach)
	again.waitScreen(">>>", "row 59")
	again.send("Up")
	again.waitScreen(">>> for i in range(60): print('row', i)")
	again.send("Up")
	again.waitScreen(">>> for i in range(2):", "...     print('loop', i)")
}

func TestUIPickerFiltersAndAttaches(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"btc_trend", "eth_mean", "btc_grid"} {
		e.config(name, "")
	}
	d := e.start("serve", "--listen", "127.0.0.1:0", filepath.Join(e.dir, "btc_trend.yml"),
		filepath.Join(e.dir, "eth_mean.yml"), filepath.Join(e.dir, "btc_grid.yml"))
	tm := e.term("picker", 90, 20, e.sshCommand(d.port, "", "-t"))
	tm.waitScreen("pick a kernel (3 running)", "btc_trend", "eth_mean", "10,000.00")
	uiWaitCursor(tm, len(" filter: "), 1)

	tm.send("btc")
	uiPoll(tm, "the list to narrow", func() bool {
		s := tm.screen()
		return !strings.Contains(s, "eth_mean") && strings.Contains(s, "btc_trend")
	})
	tm.send("Down", "Enter")
	tm.waitScreen(" btc_trend ", ">>>")
	uiWaitLayout(tm, "btc_trend", 90, 20)
}
