//go:build !unix

package client

import (
	"os"

	"golang.org/x/crypto/ssh"
)

// forwardResizes does nothing where there is no SIGWINCH: the remote
// terminal keeps the size it had when the session started.
func forwardResizes(*ssh.Session, ...*os.File) (stop func()) {
	return func() {}
}
