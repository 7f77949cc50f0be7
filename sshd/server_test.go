package sshd_test

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/sshd"
)

// standIn is a terminal UI for tests: it shows which kernel it is attached to (or
// which it could pick) and quits on "q".
type standIn struct{ text string }

func standInUI(u *sshd.UISession) tea.Model {
	if u.Client == nil {
		names := make([]string, len(u.Kernels))
		for i, k := range u.Kernels {
			names[i] = k.Name()
		}
		return standIn{"pick:" + strings.Join(names, ",")}
	}
	return standIn{"attached:" + u.Client.Status().Name + ":" + u.Person.Name}
}

func (m standIn) Init() tea.Cmd { return nil }

func (m standIn) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if key, ok := msg.(tea.KeyPressMsg); ok && key.String() == "q" {
		return m, tea.Quit
	}
	return m, nil
}

func (m standIn) View() tea.View { return tea.NewView(m.text) }

func TestUnknownKeyIsRefusedAndLogged(t *testing.T) {
	e := newEnv(t)
	stranger := newSigner(t)

	if c, err := e.dialWith("alice", stranger); err == nil {
		c.Close()
		t.Fatal("a key that is not authorized got in")
	}
	e.logs.waitFor(t, "auth refused")
	e.logs.waitFor(t, "SHA256:")
	e.logs.waitFor(t, "127.0.0.1")
}

func TestUserNameIsNotIdentity(t *testing.T) {
	e := newEnv(t)
	k := e.startKernel("k")

	c, err := e.dialWith("ada", e.keys["vera"]) // vera's key, claiming to be ada
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	runOn(t, c, "kernel stop k", "").expect(t, 1, "", "you are viewer (vera)")
	if _, err := e.reg.Get(k.Name()); err != nil {
		t.Fatalf("kernel gone after a refused stop: %v", err)
	}
}

func TestExecSharesStateBetweenPeople(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")

	e.run("alice", "exec k 'x = 40'", "").expect(t, 0, "", "")
	r := e.run("bob", "exec k 'x + 2'", "")
	r.expect(t, 0, "42", "")
	if r.stdout != "42\n" {
		t.Fatalf("stdout %q, want just the result", r.stdout)
	}

	e.run("bob", "exec k", "print('from stdin')\nx * 2\n").
		expect(t, 0, "from stdin\n80\n", "")
	e.run("alice", "exec k 20 + 22", "").expect(t, 0, "42", "")
	e.run("alice", `exec k 'fail("boom")'`, "").expect(t, 1, "", "boom")
	e.run("alice", "exec k undefined_name", "").expect(t, 1, "", "undefined_name")
}

func TestExecUsageErrors(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")
	e.startKernel("m")

	e.run("alice", "exec nope 1", "").
		expect(t, 2, "", `kernel "nope" not found; running: k, m`)
	e.run("alice", "exec", "").expect(t, 2, "", "exec needs NAME")
	e.run("alice", "exec k", "  \n").expect(t, 2, "", "nothing to run")
}

func TestViewerCannotExec(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")

	e.run("vera", "exec k 1", "").expect(t, 1, "",
		"permission denied: `exec` needs the operator role; you are viewer (vera)")
	e.run("alice", "kernel stop k", "").expect(t, 1, "",
		"permission denied: `kernel stop` needs the admin role; you are operator (alice)")
	e.run("vera", "history k", "").expect(t, 0, "", "")
}

func TestKernelListJSON(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")
	e.startKernel("m")

	r := e.run("vera", "kernel list --json", "")
	r.expect(t, 0, "", "")
	var list []struct {
		Name     string       `json:"name"`
		State    kernel.State `json:"state"`
		Attached int          `json:"attached"`
		Addr     string       `json:"addr"`
		Config   string       `json:"config"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("kernel list --json: %v\n%s", err, r.stdout)
	}
	if len(list) != 2 || list[0].Name != "k" || list[1].Name != "m" {
		t.Fatalf("kernel list --json gave %+v, want k and m", list)
	}
	if list[0].State == "" || list[0].Addr != e.srv.Addr().String() ||
		!strings.HasSuffix(list[0].Config, "k.yml") {
		t.Fatalf("kernel list --json gave %+v", list[0])
	}

	text := e.run("vera", "kernel list", "")
	text.expect(t, 0, "NAME", "")
	text.expect(t, 0, "\nm ", "")
}

func TestKernelListEmpty(t *testing.T) {
	e := newEnv(t)
	e.run("vera", "kernel list --json", "").expect(t, 0, "[]", "")
	e.run("vera", "kernel list", "").expect(t, 0, "no kernels running", "")
}

func TestHistory(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")
	for _, code := range []string{"a = 1", "b = 2", "a + b"} {
		e.run("alice", "exec k '"+code+"'", "").expect(t, 0, "", "")
	}

	r := e.run("vera", "history k -n 2", "")
	r.expect(t, 0, "[alice] >>> a + b", "")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 {
		t.Fatalf("history -n 2 gave %d lines:\n%s", len(lines), r.stdout)
	}

	r = e.run("vera", "history k --json", "")
	r.expect(t, 0, "", "")
	entries := decodeEntries(t, r.stdout)
	var inputs []string
	for i, en := range entries {
		if i > 0 && en.Seq != entries[i-1].Seq+1 {
			t.Fatalf("history --json: seq %d follows %d", en.Seq, entries[i-1].Seq)
		}
		if en.Kind == kernel.KindInput {
			inputs = append(inputs, en.Origin+":"+en.Text)
		}
	}
	if got := strings.Join(inputs, "|"); got != "alice:a = 1|alice:b = 2|alice:a + b" {
		t.Fatalf("history --json inputs: %s", got)
	}

	e.run("vera", "history k -n x", "").expect(t, 2, "", "history")
	e.run("vera", "history nope", "").expect(t, 2, "", `kernel "nope" not found`)
}

func decodeEntries(t *testing.T, text string) []kernel.Entry {
	t.Helper()
	var entries []kernel.Entry
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var en kernel.Entry
		if err := json.Unmarshal(sc.Bytes(), &en); err != nil {
			t.Fatalf("not an entry: %q: %v", sc.Text(), err)
		}
		entries = append(entries, en)
	}
	return entries
}

func TestHistoryFollow(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")
	e.run("alice", "exec k 'before = 1'", "").expect(t, 0, "", "")

	c := e.dial("vera")
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out := newSyncBuffer()
	sess.Stdout = out
	if err := sess.Start("history k --follow --json -n 1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()

	e.run("bob", `exec k 'print("after")'`, "").expect(t, 0, "after", "")
	out.waitFor(t, `"text":"after"`)

	// Leaving ends the stream: the server notices the connection go.
	c.Close()
	<-done

	entries := decodeEntries(t, out.String())
	for i := 1; i < len(entries); i++ {
		if entries[i].Seq != entries[i-1].Seq+1 {
			t.Fatalf("follow gave seq %d after %d: a gap or a duplicate",
				entries[i].Seq, entries[i-1].Seq)
		}
	}
}

func TestWho(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")

	e.run("vera", "who k", "").expect(t, 0, "(nobody)", "")
	term := e.openTerminal("alice", "")
	term.out.waitFor(t, "attached:k:alice")

	e.run("vera", "who", "").expect(t, 0, "alice", "")
	e.run("vera", "who k", "").expect(t, 0, "operator", "")
	e.run("vera", "who nope", "").expect(t, 2, "", `kernel "nope" not found`)

	term.in.Write([]byte("q"))
	if code := term.wait(t); code != 0 {
		t.Fatalf("UI session ended with %d", code)
	}
}

func TestAdminKernelCommands(t *testing.T) {
	e := newEnv(t)
	k := e.startKernel("k")
	path := k.Config().Path

	e.run("alice", "kernel interrupt k", "").expect(t, 0, "nothing was running in k", "")
	e.run("alice", "kernel pause k", "").expect(t, 0, "paused k", "")
	e.run("alice", "kernel resume k", "").expect(t, 0, "resumed k", "")
	e.run("ada", "kernel restart k", "").expect(t, 0, "restarted k", "")
	e.run("ada", "kernel stop k", "").expect(t, 0, "stopped k", "")
	if len(e.reg.List()) != 0 {
		t.Fatal("kernel still listed after kernel stop")
	}
	e.run("ada", "kernel stop k", "").
		expect(t, 2, "", `kernel "k" not found; no kernels running`)
	e.run("ada", "kernel start "+path, "").expect(t, 0, "started k", "")
	e.run("ada", "kernel start /nonexistent/x.yml", "").expect(t, 1, "", "x.yml")
}

func TestUsageErrors(t *testing.T) {
	e := newEnv(t)

	e.run("vera", "frobnicate", "").
		expect(t, 2, "", `unknown command "frobnicate"; commands: attach, exec,`)
	e.run("vera", "kernel frob", "").expect(t, 2, "", `unknown command "kernel frob"`)
	e.run("vera", "kernel", "").expect(t, 2, "", "kernel needs a subcommand")
	e.run("vera", "kernel list --bogus", "").expect(t, 2, "", "unknown flag: --bogus")
	e.run("vera", "", "").expect(t, 2, "", "no command given")
	e.run("vera", "help", "").expect(t, 0, "history", "")
	e.run("vera", "exec --help", "").expect(t, 0, "stdin", "")
}

func TestAttachNeedsTerminal(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")

	e.run("alice", "attach k", "").expect(t, 2, "", "attach needs a terminal: use ssh -t")
	e.run("alice", "attach", "").expect(t, 2, "", "attach needs a terminal")
}

func TestTerminalReachesUI(t *testing.T) {
	e := newEnv(t)
	k := e.startKernel("k")

	term := e.openTerminal("alice", "")
	term.out.waitFor(t, "attached:k:alice")
	if who := k.Who(); len(who) != 1 || who[0].Name != "alice" || who[0].Via != "ssh" {
		t.Fatalf("attached while the UI runs: %+v", who)
	}

	term.in.Write([]byte("q"))
	if code := term.wait(t); code != 0 {
		t.Fatalf("UI session ended with %d", code)
	}
	if who := k.Who(); len(who) != 0 {
		t.Fatalf("still attached after the UI quit: %+v", who)
	}
}

func TestTerminalDetachesWhenConnectionDrops(t *testing.T) {
	e := newEnv(t)
	k := e.startKernel("k")

	c := e.dial("bob")
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	out := newSyncBuffer()
	sess.Stdout = out
	if err := sess.Start("attach k"); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "attached:k:bob")
	c.Close()

	sub := k.Subscribe(0)
	defer sub.Close()
	waitForEntry(t, sub, "bob detached")
}

// waitForEntry reads the transcript until an entry contains text.
func waitForEntry(t *testing.T, sub kernel.Subscriber, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		u, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for an entry with %q: %v", text, err)
		}
		for _, en := range u.Entries {
			if strings.Contains(en.Text, text) {
				return
			}
		}
	}
}

func TestTerminalAttachByName(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")
	e.startKernel("m")

	term := e.openTerminal("vera", "attach m")
	term.out.waitFor(t, "attached:m:vera")
	term.in.Write([]byte("q"))
	term.wait(t)

	term = e.openTerminal("vera", "attach nope")
	if code := term.wait(t); code != 2 {
		t.Fatalf("attach to an unknown kernel ended with %d, want 2", code)
	}
	term.out.waitFor(t, `kernel "nope" not found; running: k, m`)
}

func TestTerminalPicksAmongKernels(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")
	e.startKernel("m")

	term := e.openTerminal("alice", "")
	term.out.waitFor(t, "pick:k,m")
	term.in.Write([]byte("q"))
	term.wait(t)
}

func TestTerminalWithoutPicker(t *testing.T) {
	e := newEnv(t, func(c *sshd.Config) { c.Picker = nil })
	e.startKernel("k")
	e.startKernel("m")

	term := e.openTerminal("alice", "")
	if code := term.wait(t); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	term.out.waitFor(t, "2 kernels running (k, m)")
}

func TestTerminalWithoutKernels(t *testing.T) {
	e := newEnv(t)

	term := e.openTerminal("alice", "")
	if code := term.wait(t); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	term.out.waitFor(t, "no kernels running; start one with `ssh -p ")
	term.out.waitFor(t, "kernel start CONFIG`")
}

func TestCommandWithTerminal(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")

	term := e.openTerminal("alice", "exec k '6 * 7'")
	if code := term.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	term.out.waitFor(t, "42")

	term = e.openTerminal("alice", "exec k")
	if code := term.wait(t); code != 2 {
		t.Fatalf("exec without code on a terminal: exit %d, want 2", code)
	}
	term.out.waitFor(t, "give CODE")
}

func TestPanicInSessionIsContained(t *testing.T) {
	e := newEnv(t, func(c *sshd.Config) {
		c.UI = func(*sshd.UISession) tea.Model { panic("ui exploded") }
	})
	e.startKernel("k")

	term := e.openTerminal("alice", "")
	if code := term.wait(t); code != 1 {
		t.Fatalf("exit %d after a panic, want 1", code)
	}
	term.out.waitFor(t, "internal error")
	e.logs.waitFor(t, "ui exploded")

	e.run("alice", "exec k '1 + 1'", "").expect(t, 0, "2", "")
}

func TestCloseEndsSessions(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")
	e.run("alice", "exec k 'y = 1'", "").expect(t, 0, "", "")

	c := e.dial("vera")
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out := newSyncBuffer()
	sess.Stdout = out
	if err := sess.Start("history k --follow"); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "y = 1")
	term := e.openTerminal("alice", "attach k")
	term.out.waitFor(t, "attached:k:alice")

	// Close returns only once every session has ended.
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	term.ended(t)
	if _, err := e.dialWith("vera", e.keys["vera"]); err == nil {
		t.Fatal("dial succeeded after Close")
	}
}
