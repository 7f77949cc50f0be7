//go:build !unix

package kernel

import "os"

// lockState does nothing where flock is not available: two daemons sharing a home
// must not run the same kernel there.
func lockState(dir string) (*os.File, error) { return nil, nil }
