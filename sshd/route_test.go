package sshd

import "testing"

func TestAttachTarget(t *testing.T) {
	for _, tc := range []struct {
		args []string
		name string
		ok   bool
	}{
		{nil, "", true},
		{[]string{"attach"}, "", true},
		{[]string{"attach", "k"}, "k", true},
		{[]string{"attach", "--help"}, "", false},
		{[]string{"attach", "k", "extra"}, "", false},
		{[]string{"exec", "k", "1"}, "", false},
		{[]string{"kernel", "list"}, "", false},
	} {
		name, ok := attachTarget(tc.args)
		if name != tc.name || ok != tc.ok {
			t.Errorf("attachTarget(%q) = %q, %v; want %q, %v", tc.args, name, ok, tc.name, tc.ok)
		}
	}
}

func TestSSHVersion(t *testing.T) {
	for in, want := range map[string]string{
		"":             "stratd_dev",
		"v0.1.0":       "stratd_v0.1.0",
		"v0.1 (dirty)": "stratd_v0.1-(dirty)",
	} {
		if got := sshVersion(in); got != want {
			t.Errorf("sshVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
