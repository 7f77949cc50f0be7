package kernel

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ConnFile is a connection file: how to reach one running kernel. It is written when
// the kernel is ready and removed when it stops cleanly, so a file whose daemon died
// is stale; callers check liveness before calling a kernel running.
type ConnFile struct {
	Name     string    `json:"name"`
	Strategy string    `json:"strategy"`
	Addr     string    `json:"addr"`
	HostKey  string    `json:"host_key"` // the daemon's host key, authorized_keys form
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Config   string    `json:"config"` // absolute path
	Version  string    `json:"version"`

	Path string `json:"-"` // where the file was read from
}

// KernelsDir is the folder of connection files under a stratd home.
func KernelsDir(home string) string { return filepath.Join(home, "kernels") }

// StateDir is the folder of a kernel's journal and account snapshot.
func StateDir(home, name string) string { return filepath.Join(home, "state", name) }

// WriteConnFile writes c into home's kernels folder, mode 0600, atomically, and
// returns its path.
func WriteConnFile(home string, c ConnFile) (string, error) {
	dir := KernelsDir(home)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	name := fmt.Sprintf("%s_%s.json", c.Name, c.Started.Local().Format("20060102_150405"))
	path := filepath.Join(dir, name)
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode connection file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".conn-*")
	if err != nil {
		return "", fmt.Errorf("write connection file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write connection file: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write connection file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write connection file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("write connection file: %w", err)
	}
	return path, nil
}

// ReadConnFile reads and checks one connection file.
func ReadConnFile(path string) (*ConnFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("connection file %s does not exist: "+
				"run `stratd kernel list` to see the running kernels", path)
		}
		return nil, fmt.Errorf("read connection file: %w", err)
	}
	var c ConnFile
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("connection file %s is not valid JSON (%v): "+
			"remove it with `stratd kernel prune` or by hand", path, err)
	}
	var missing []string
	for field, v := range map[string]string{"name": c.Name, "addr": c.Addr,
		"host_key": c.HostKey} {
		if v == "" {
			missing = append(missing, field)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("connection file %s lacks %s: remove it with "+
			"`stratd kernel prune` or by hand", path, strings.Join(missing, ", "))
	}
	c.Path = path
	return &c, nil
}

// ListConnFiles reads every connection file under home, newest first. Files that
// cannot be read are returned as errors beside the good ones.
func ListConnFiles(home string) ([]*ConnFile, []error) {
	paths, err := filepath.Glob(filepath.Join(KernelsDir(home), "*.json"))
	if err != nil {
		return nil, []error{err}
	}
	var files []*ConnFile
	var errs []error
	for _, p := range paths {
		c, err := ReadConnFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, c)
	}
	sort.Slice(files, func(i, j int) bool {
		if files[i].Name != files[j].Name {
			return files[i].Name < files[j].Name
		}
		return files[i].Started.After(files[j].Started)
	})
	return files, errs
}

// FindConnFile resolves a kernel reference: the path of a connection file, or a
// kernel name looked up among the files under home (the newest file wins).
func FindConnFile(home, ref string) (*ConnFile, error) {
	if strings.ContainsRune(ref, os.PathSeparator) || strings.HasSuffix(ref, ".json") {
		return ReadConnFile(ref)
	}
	files, _ := ListConnFiles(home)
	var names []string
	for _, c := range files {
		if c.Name == ref {
			return c, nil
		}
		names = append(names, c.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("kernel %q not found: no connection files in %s; start one "+
			"with `stratd run CONFIG --kernel-only`", ref, KernelsDir(home))
	}
	return nil, fmt.Errorf("kernel %q not found; known: %s", ref, strings.Join(dedup(names), ", "))
}

func dedup(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
