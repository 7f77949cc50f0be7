package sshd

import (
	"net"
	"testing"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// TestTerminalWriterFindsTheChannel checks that a terminal session's screen
// writes to the SSH channel, not through the session's copying Write, and that
// what it writes arrives.
func TestTerminalWriterFindsTheChannel(t *testing.T) {
	found := make(chan bool, 1)
	srv := &ssh.Server{Handler: func(sess ssh.Session) {
		w := terminalWriter(sess)
		_, isSession := w.(ssh.Session)
		found <- !isSession
		_, _ = w.Write([]byte("drawn\r\n"))
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	conn, err := gossh.Dial("tcp", ln.Addr().String(), &gossh.ClientConfig{
		User: "t", HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	out, _ := sess.Output("")
	if !<-found {
		t.Error("terminalWriter fell back to the session: the channel was not found")
	}
	if string(out) != "drawn\r\n" {
		t.Errorf("the client read %q", out)
	}
}
