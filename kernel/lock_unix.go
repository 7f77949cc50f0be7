//go:build unix

package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockName is the lock file inside a kernel's state folder.
const lockName = "lock"

// lockState takes the lock of a state folder, so two daemons sharing a home cannot
// run the same kernel and interleave its journal and account. The lock is the
// kernel's for as long as the returned file is open; the system drops it when the
// process dies, however it dies.
func lockState(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open state lock: %w", err)
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		b, _ := os.ReadFile(path)
		f.Close()
		holder := "another stratd process"
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			holder = fmt.Sprintf("stratd process %d", pid)
		}
		return nil, fmt.Errorf("state folder %s is in use by %s, which runs this kernel "+
			"already: use that one, or stop it first", dir, holder)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state folder %s: %w", dir, err)
	}
	// The pid is only there to name the holder in the error above.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
