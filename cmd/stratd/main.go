// Command stratd keeps trading strategies running in persistent kernels that many
// people attach to at once over SSH. See the README for a tour; `stratd --help` lists
// the commands.
package main

import "os"

func main() {
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
