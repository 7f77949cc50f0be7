//go:build unix

package client

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// forwardResizes passes this terminal's size on to sess whenever the window
// changes (SIGWINCH). The returned function stops it and waits until it has.
func forwardResizes(sess *ssh.Session, files ...*os.File) (stop func()) {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	finished := make(chan struct{})

	go func() {
		defer close(finished)
		for {
			select {
			case <-winch:
				width, height := terminalSize(files...)
				// A failed request only means the session is ending.
				sess.WindowChange(height, width)
			case <-done:
				return
			}
		}
	}()

	return func() {
		signal.Stop(winch)
		close(done)
		<-finished
	}
}
