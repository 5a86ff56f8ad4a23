// Package version says which dmbench binary is running: its version and git revision,
// from the Go build information or set at link time. It is the one source of the version
// for --version, result.json and the reference broker's reports.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version and Commit, when set, override the tool version and git revision that Read
// takes from the binary's build information. Set them at link time:
//
//	go build -ldflags "-X github.com/dmbench/dmbench/version.Version=v0.3.0 \
//	    -X github.com/dmbench/dmbench/version.Commit=$(git rev-parse HEAD)" ./cmd/dmbench
var (
	Version string
	Commit  string
)

// Build identifies the binary that ran.
type Build struct {
	Version   string // module version, "devel" when unknown
	Commit    string // git revision, "" when unknown
	Modified  bool   // the working tree had uncommitted changes when built
	GoVersion string
}

// Read returns the running binary's identity from runtime/debug.ReadBuildInfo
// (main module version, vcs.revision, vcs.modified), overridden by Version and Commit when
// they are set. Builds with -buildvcs=false, and tests, carry no git revision.
func Read() Build {
	b := Build{Version: "devel", GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if Version != "" {
		b.Version = Version
	}
	if Commit != "" {
		b.Commit = Commit
		b.Modified = false
	}
	return b
}

// String is the build as --version and the broker's reports show it: the version, the
// first 12 digits of the git revision and "(modified)" for a dirty tree, e.g.
// "devel 0123456789ab (modified)".
func (b Build) String() string {
	s := b.Version
	if b.Commit != "" {
		s += " " + b.Commit[:min(12, len(b.Commit))]
		if b.Modified {
			s += " (modified)"
		}
	}
	return s
}
