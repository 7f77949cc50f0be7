package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// The files of a stratd home the tool reads, as DESIGN.md fixes them. The tool
// talks to stratd only as an outside client does (files and SSH), so it does not
// import the stratd packages.
const (
	clientKeyFile = "client_ed25519_key"
	kernelName    = "bench"
)

// startTimeout bounds how long a daemon may take to print its connection file.
const startTimeout = 60 * time.Second

// benchConfig is the kernel the daemon runs: a strategy with no hooks on a feed
// whose first bar is an hour away, so nothing but the tool's own input moves.
const benchConfig = `name: ` + kernelName + `
description: stratd-bench load target, quiet (no bars during a run)
strategy: bench.star
instruments: [BTCUSDT]
feed: {kind: synthetic, timeframe: 1m, interval: 1h, seed: 1}
account: {capital: 10000}
kernel: {history: 1000}
`

// benchStrategy defines nothing: the REPL is the only thing that runs code.
const benchStrategy = "# stratd-bench: no hooks, the load comes over SSH\n"

// connFile is the part of a connection file the tool needs.
type connFile struct {
	Name    string    `json:"name"`
	Addr    string    `json:"addr"`
	HostKey string    `json:"host_key"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// daemon is a `stratd run --kernel-only` process under test.
type daemon struct {
	home     string
	cmd      *exec.Cmd
	logPath  string
	connPath string
	conn     connFile
	signer   ssh.Signer // the home's client key: admin on this daemon

	exited chan struct{} // closed once the process has been reaped
	err    error         // the process's exit error, once exited is closed

	// spawnToConn is the wall time from spawning the process to reading the
	// "Connection file:" line on its stdout.
	spawnToConn time.Duration
	// connSeen is when the connection file was first seen in the kernels
	// folder (polled every connPoll), or zero.
	connSeen time.Time
}

// connPoll is how often the kernels folder is listed while a daemon starts.
const connPoll = 200 * time.Microsecond

// workspace is a temp folder holding the bench config and the homes of the
// daemons the tool starts.
type workspace struct {
	dir    string
	bin    string // the stratd binary
	config string // path of the bench config
	homes  int

	// limitFlags turn off the daemon's per-source and per-key limits, which a
	// load tool opening hundreds of sessions with one key would hit; empty when
	// the binary predates them.
	limitFlags []string
}

func newWorkspace(bin string) (*workspace, error) {
	dir, err := os.MkdirTemp("", "stratd-bench-")
	if err != nil {
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	w := &workspace{dir: dir, bin: bin, config: filepath.Join(dir, "bench.yml")}
	if err := os.WriteFile(w.config, []byte(benchConfig), 0o600); err != nil {
		return nil, fmt.Errorf("write bench config: %w", err)
	}
	star := filepath.Join(dir, "bench.star")
	if err := os.WriteFile(star, []byte(benchStrategy), 0o600); err != nil {
		return nil, fmt.Errorf("write bench strategy: %w", err)
	}
	help, _ := exec.Command(bin, "run", "--help").CombinedOutput()
	for _, flag := range []string{"--max-sessions-per-key", "--max-connections-per-minute"} {
		if bytes.Contains(help, []byte(flag)) {
			w.limitFlags = append(w.limitFlags, flag, "0")
		}
	}
	return w, nil
}

// writeConfig writes another config for the bench kernel, keeping history
// entries in memory, and returns its path.
func (w *workspace) writeConfig(history int) (string, error) {
	path := filepath.Join(w.dir, fmt.Sprintf("bench-history-%d.yml", history))
	cfg := strings.Replace(benchConfig, "history: 1000", "history: "+strconv.Itoa(history), 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return "", fmt.Errorf("write bench config: %w", err)
	}
	return path, nil
}

// newHome returns a fresh, empty home folder inside the workspace.
func (w *workspace) newHome() (string, error) {
	w.homes++
	home := filepath.Join(w.dir, "home"+strconv.Itoa(w.homes))
	if err := os.Mkdir(home, 0o700); err != nil {
		return "", fmt.Errorf("create home: %w", err)
	}
	return home, nil
}

func (w *workspace) remove() { os.RemoveAll(w.dir) }

// start runs the daemon on a loopback port with the given home, waits for its
// connection file and loads the home's client key.
func (w *workspace) start(home string) (*daemon, error) {
	return w.startConfig(home, w.config)
}

// startConfig is start with another config.
func (w *workspace) startConfig(home, config string) (*daemon, error) {
	d := &daemon{home: home, logPath: home + ".log", exited: make(chan struct{})}
	logFile, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open daemon log: %w", err)
	}
	defer logFile.Close()

	args := append([]string{"run", config, "--kernel-only", "--listen", "127.0.0.1:0",
		"--home", home}, w.limitFlags...)
	d.cmd = exec.Command(w.bin, args...)
	d.cmd.Stderr = logFile
	d.cmd.Env = append(os.Environ(), "STRATD_HOME="+home)
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}

	seen := make(chan time.Time, 1)
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	t0 := time.Now()
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", w.bin, err)
	}
	go watchConnFile(filepath.Join(home, "kernels"), seen, stopWatch)
	go func() {
		d.err = d.cmd.Wait()
		close(d.exited)
	}()

	path, err := d.waitConnLine(stdout)
	if err != nil {
		d.kill()
		return nil, err
	}
	d.spawnToConn = time.Since(t0)
	d.connPath = path
	select {
	case d.connSeen = <-seen:
	case <-time.After(time.Second):
	}
	if err := d.load(); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// watchConnFile lists dir every connPoll until a connection file appears in it,
// and sends the time it was first seen.
func watchConnFile(dir string, seen chan<- time.Time, stop <-chan struct{}) {
	tick := time.NewTicker(connPoll)
	defer tick.Stop()
	for {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if filepath.Ext(e.Name()) == ".json" && !strings.HasPrefix(e.Name(), ".") {
				seen <- time.Now()
				return
			}
		}
		select {
		case <-tick.C:
		case <-stop:
			return
		}
	}
}

// waitConnLine reads the daemon's stdout until the "Connection file:" line and
// keeps draining it afterwards, so the daemon never blocks on a full pipe.
func (d *daemon) waitConnLine(stdout io.Reader) (string, error) {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "Connection file: "); ok {
				select {
				case found <- strings.TrimSpace(p):
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()

	select {
	case p := <-found:
		return p, nil
	case <-d.exited:
		return "", fmt.Errorf("stratd exited before writing its connection file (%v)%s",
			d.err, d.logTail())
	case <-time.After(startTimeout):
		return "", fmt.Errorf("stratd printed no connection file within %s%s",
			startTimeout, d.logTail())
	}
}

// load reads the connection file and the client key.
func (d *daemon) load() error {
	b, err := os.ReadFile(d.connPath)
	if err != nil {
		return fmt.Errorf("read connection file: %w", err)
	}
	if err := json.Unmarshal(b, &d.conn); err != nil {
		return fmt.Errorf("parse connection file %s: %w", d.connPath, err)
	}
	key, err := os.ReadFile(filepath.Join(d.home, clientKeyFile))
	if err != nil {
		return fmt.Errorf("read client key: %w", err)
	}
	d.signer, err = ssh.ParsePrivateKey(key)
	if err != nil {
		return fmt.Errorf("parse client key: %w", err)
	}
	return nil
}

// logTail returns the end of the daemon's log, for error messages.
func (d *daemon) logTail() string {
	b, err := os.ReadFile(d.logPath)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "; daemon log ends:\n" + string(b)
}

// pid is the daemon's process id.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// stop asks the daemon to stop (SIGTERM) and waits for it, killing it after 10s.
func (d *daemon) stop() error {
	select {
	case <-d.exited:
		return nil
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return nil
	case <-time.After(10 * time.Second):
		d.kill()
		return errors.New("stratd did not stop within 10s of SIGTERM; killed")
	}
}

func (d *daemon) kill() {
	_ = d.cmd.Process.Kill()
	<-d.exited
}

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// Linux).
const clockTick = 10 * time.Millisecond

// cpuTime returns the user plus system CPU time a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it are plain.
	_, rest, ok := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// selfCPU returns the CPU time this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss returns the resident set size of a process, from /proc/PID/status.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest)) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb << 10, err
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
