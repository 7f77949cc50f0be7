package client

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/muesli/cancelreader"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// ErrNotTerminal is returned by Attach when its input is not a terminal.
var ErrNotTerminal = errors.New("connect needs a terminal; use `stratd exec` for scripts")

// defaultTerm is the terminal type sent when $TERM is not set.
const defaultTerm = "xterm-256color"

// Attach joins this terminal to cmd on the daemon (its default session when
// cmd is empty), the way `ssh -t` does: it asks for a terminal of $TERM's
// type and the size of out, puts in into raw mode (always restored before
// Attach returns, even on a panic), passes window resizes on, and copies
// input and output until the remote session ends. A non-zero remote exit
// status is an error wrapping the *ssh.ExitError. in must be a terminal.
func Attach(c *ssh.Client, cmd string, in *os.File, out *os.File) error {
	inFd := int(in.Fd())
	if !term.IsTerminal(inFd) {
		return ErrNotTerminal
	}

	sess, err := c.NewSession()
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	defer sess.Close()

	if err := requestPty(sess, out, in); err != nil {
		return err
	}

	remoteIn, err := sess.StdinPipe()
	if err != nil {
		return fmt.Errorf("open session input: %w", err)
	}
	sess.Stdout, sess.Stderr = out, out

	// A cancellable reader lets the copy from in stop when the session ends,
	// so no goroutine is left behind swallowing the user's next keystroke.
	input, err := cancelreader.NewReader(in)
	if err != nil {
		return fmt.Errorf("read terminal: %w", err)
	}
	defer input.Close()

	state, err := term.MakeRaw(inFd)
	if err != nil {
		return fmt.Errorf("put terminal into raw mode: %w", err)
	}
	defer term.Restore(inFd, state)

	stopResize := forwardResizes(sess, out, in)
	defer stopResize()

	if cmd == "" {
		err = sess.Shell()
	} else {
		err = sess.Start(cmd)
	}
	if err != nil {
		return fmt.Errorf("start remote session: %w", err)
	}

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(remoteIn, input)
		remoteIn.Close()
	}()

	err = sess.Wait()
	if input.Cancel() {
		<-copied // the reader is idle before input.Close runs
	}
	return attachResult(err)
}

// colorEnv are the variables that say which colours a terminal shows, besides
// $TERM: the daemon draws for the terminal it is told of, as it does for
// `ssh -o SetEnv=NO_COLOR=1`.
var colorEnv = []string{"NO_COLOR", "COLORTERM", "CLICOLOR", "CLICOLOR_FORCE"}

// requestPty asks for a remote terminal of $TERM's type (xterm-256color when
// unset) and the size of the first of files that is a terminal, and passes on
// the colour variables that are set.
func requestPty(sess *ssh.Session, files ...*os.File) error {
	for _, name := range colorEnv {
		if v, ok := os.LookupEnv(name); ok {
			// A server that takes no variables draws in colour; nothing worse.
			_ = sess.Setenv(name, v)
		}
	}
	termType := os.Getenv("TERM")
	if termType == "" {
		termType = defaultTerm
	}
	modes := ssh.TerminalModes{
		ssh.ECHO:          1,
		ssh.TTY_OP_ISPEED: 38400,
		ssh.TTY_OP_OSPEED: 38400,
	}
	width, height := terminalSize(files...)
	if err := sess.RequestPty(termType, height, width, modes); err != nil {
		return fmt.Errorf("request a terminal: %w", err)
	}
	return nil
}

// attachResult turns Session.Wait's result into Attach's.
func attachResult(err error) error {
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit):
		return fmt.Errorf("remote session ended with exit status %d: %w",
			exit.ExitStatus(), err)
	case errors.As(err, &missing), errors.Is(err, io.EOF):
		return errors.New("the daemon closed the session without an exit status " +
			"(did it stop?)")
	}
	return fmt.Errorf("remote session: %w", err)
}

// terminalSize returns the size of the first of files that is a terminal,
// or 80×24.
func terminalSize(files ...*os.File) (width, height int) {
	for _, f := range files {
		if w, h, err := term.GetSize(int(f.Fd())); err == nil && w > 0 && h > 0 {
			return w, h
		}
	}
	return 80, 24
}
