// Package kernel runs strategies in persistent kernels. A kernel is one goroutine (the
// kernel loop) that owns a strategy runtime and its Starlark interpreter; inputs from
// people, market bars and control requests reach it over channels and are handled one
// at a time. Everything observable becomes an Entry in the kernel's transcript, which
// any number of subscribers read without ever slowing the loop.
//
// A kernel with a state folder ($STRATD_HOME/state/NAME) survives its daemon. Every
// entry is appended to journal.jsonl there before any subscriber can read it, and the
// paper account is written to account.json (atomically, at most every saveEvery and
// at stop) on a goroutine of its own. On start the kernel replays the journal, so seq
// numbers go on, and restores the account, so ctx.is_restart() is True; a snapshot it
// cannot read or restore stops the start with an error that says how to move it
// aside. A lock file keeps a second daemon on the same home off a running kernel.
//
// A Registry holds the kernels of one daemon and writes their connection files.
package kernel

import (
	"fmt"
	"time"
)

// Kind says what an entry records.
type Kind string

// The kinds of transcript entries.
const (
	KindInput  Kind = "input"  // code someone ran
	KindResult Kind = "result" // the value of an input
	KindStdout Kind = "stdout" // print()
	KindError  Kind = "error"  // a failed input or hook
	KindLog    Kind = "log"    // ctx.log()
	KindOrder  Kind = "order"  // an order placed
	KindFill   Kind = "fill"   // an order filled
	KindSystem Kind = "system" // started, attached, detached, interrupted, stopped...
)

// OriginSystem is the origin of entries the kernel itself writes.
const OriginSystem = "stratd"

// Entry is one line of a kernel's transcript. Seq is dense and increasing from 1.
type Entry struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Kind   Kind      `json:"kind"`
	Origin string    `json:"origin"`
	Text   string    `json:"text"`
}

// String renders the entry as one transcript line for plain-text output.
func (e Entry) String() string {
	ts := e.Time.Local().Format("15:04:05")
	switch e.Kind {
	case KindInput:
		return fmt.Sprintf("%s [%s] >>> %s", ts, e.Origin, e.Text)
	case KindResult, KindStdout:
		return fmt.Sprintf("%s %s", ts, e.Text)
	default:
		return fmt.Sprintf("%s %s %s: %s", ts, e.Kind, e.Origin, e.Text)
	}
}
