package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"charm.land/log/v2"
	"golang.org/x/crypto/ssh"
)

// errExists says a file that was to be created appeared in the meantime,
// most likely made by another stratd process starting at the same moment.
var errExists = errors.New("file exists")

// ensurePrivateKey reads the OpenSSH private key at path, or makes a new
// ed25519 key there (mode 0600) when the file does not exist. what names the
// key in logs and errors; hint tells what removing a bad file leads to.
func ensurePrivateKey(path, what, comment, hint string, lg *log.Logger) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = createPrivateKey(path, comment)
		if err != nil {
			return nil, fmt.Errorf("create %s %s: %w", what, path, err)
		}
		lg.Info("created "+what, "path", path)
	} else if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	} else if err := checkSecretMode(path); err != nil {
		return nil, err
	}

	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s %s is not a usable unencrypted OpenSSH private key "+
			"(%v); remove it to have a new one made%s", what, path, err, hint)
	}
	return signer, nil
}

// createPrivateKey makes a new ed25519 key and stores it at path without ever
// replacing an existing file. When another process made the file first, that
// file's contents are returned instead, so all processes use the same key.
func createPrivateKey(path, comment string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	data := pem.EncodeToMemory(block)

	err = writeNew(path, data, 0o600)
	if errors.Is(err, errExists) {
		return os.ReadFile(path)
	}
	return data, err
}

// ensurePublicKeyFile makes sure path holds signer's public key. The file is
// derived from the private key, so a missing or different one is (re)written.
func ensurePublicKeyFile(path string, signer ssh.Signer, comment string, lg *log.Logger) error {
	line := authorizedKeyText(signer.PublicKey())
	data, err := os.ReadFile(path)
	if err == nil {
		pub, _, _, _, perr := ssh.ParseAuthorizedKey(data)
		if perr == nil && bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
			return nil
		}
		lg.Warn("public key file does not match its private key; rewriting it",
			"path", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read public key %s: %w", path, err)
	}

	if comment != "" {
		line += " " + comment
	}
	if err := writeAtomic(path, []byte(line+"\n"), 0o644); err != nil {
		return fmt.Errorf("write public key %s: %w", path, err)
	}
	return nil
}

// checkSecretMode refuses a secret file (a private key, authorized_keys) that
// group or others may access, and says how to fix it. stratd does not narrow
// the mode itself: a key others could read may already be copied, and the
// person should know that rather than have it hidden by a silent chmod.
func checkSecretMode(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("keys: check permissions of %s: %w", path, err)
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("keys: %s has mode %04o, so others may read or change it; "+
			"fix it with `chmod 600 %s` (and replace the key if others may have "+
			"copied it)", path, mode, shellQuote(path))
	}
	return nil
}

// writeNew creates path holding data with the given mode, atomically and only
// if path does not exist yet; errExists when it does. The data is written to
// a temporary file first and hard-linked into place, so no reader ever sees a
// half-written file.
func writeNew(path string, data []byte, mode os.FileMode) error {
	tmp, err := writeTemp(path, data, mode)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)

	err = os.Link(tmp, path)
	switch {
	case err == nil:
		syncDir(filepath.Dir(path))
		return nil
	case errors.Is(err, fs.ErrExist):
		return errExists
	}

	// Some file systems have no hard links: create exclusively instead.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return errExists
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeAtomic replaces path with data (mode perm) through a temporary file in
// the same folder and a rename, so readers see the old or the new contents,
// never a mix.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := writeTemp(path, data, mode)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// writeTemp writes data to a new temporary file next to path and returns
// its name. The file is synced and has the given mode.
func writeTemp(path string, data []byte, mode os.FileMode) (string, error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()

	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// syncDir flushes a folder's entries so a new or renamed file survives a
// crash. It is best effort: not every system can sync a folder.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
