package version

import (
	"runtime"
	"testing"
)

func TestReadBuild(t *testing.T) {
	tests := []struct {
		name            string
		version, commit string
		wantVersion     string
		wantCommit      string
	}{
		{"from build info", "", "", "devel", ""}, // test binaries carry neither
		{"overridden", "v1.2.3", "abc123", "v1.2.3", "abc123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Version, Commit = tt.version, tt.commit
			defer func() { Version, Commit = "", "" }()
			b := Read()
			if b.Version != tt.wantVersion || b.Commit != tt.wantCommit || b.GoVersion != runtime.Version() {
				t.Errorf("Read() = %+v, want version %q, commit %q, %s", b, tt.wantVersion, tt.wantCommit, runtime.Version())
			}
		})
	}
}

func TestBuildString(t *testing.T) {
	tests := []struct {
		b    Build
		want string
	}{
		{Build{Version: "devel"}, "devel"},
		{Build{Version: "v1.2.3", Commit: "0123456789abcdef"}, "v1.2.3 0123456789ab"},
		{Build{Version: "devel", Commit: "abc", Modified: true}, "devel abc (modified)"},
	}
	for _, tt := range tests {
		if got := tt.b.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.b, got, tt.want)
		}
	}
}
