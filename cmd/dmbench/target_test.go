package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunRefusesTargetPorts checks that run refuses a --target or --signalling whose port
// no server listens on (0, or out of range) as bad usage, before anything is started or
// written.
func TestRunRefusesTargetPorts(t *testing.T) {
	t.Setenv("CI", "true")
	tests := []struct {
		flag, addr string
		wantErr    []string
	}{
		{"--target", "tcp://127.0.0.1:0", []string{`target: base address "tcp://127.0.0.1:0": port 0 is not a server's port: give the port the broker listens on (DMB's default base is 5556)`}},
		{"--target", "tcp://[::1]:0", []string{"port 0 is not a server's port"}},
		{"--target", "tcp://127.0.0.1:65535", []string{"has no signalling port"}},
		{"--target", "tcp://127.0.0.1:70000", []string{"port 70000 is out of range"}},
		{"--signalling", "tcp://127.0.0.1:0", []string{"--signalling", `signalling address "tcp://127.0.0.1:0": port 0 is not a server's port: give the port the broker's signalling socket listens on`}},
		{"--signalling", "tcp://127.0.0.1:70000", []string{"--signalling", "port 70000 is out of range"}},
		{"--signalling", "127.0.0.1:5557", []string{"--signalling", `want "tcp://host:port"`}},
	}
	for _, tt := range tests {
		t.Run(tt.flag+" "+tt.addr, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "results")
			code, _, errOut := capture(t, "run", "pipeline", "--short", tt.flag, tt.addr, "-o", out)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d (bad usage)\nstderr:\n%s", code, exitUsage, errOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a refused target wrote %s", out)
			}
		})
	}
}
