package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// bundled holds the scenarios that ship with dmbench, so `dmbench run keepalive-storm`
// works from any directory.
//
//go:embed bundled/*.yaml
var bundled embed.FS

// Info describes a bundled scenario in one line, for `dmbench scenarios`.
type Info struct {
	Name        string // what Load takes, e.g. "group-churn"
	Description string // the scenario's description, its first line only
}

// Bundled lists the bundled scenarios sorted by name.
func Bundled() []Info {
	entries, err := fs.ReadDir(bundled, "bundled")
	if err != nil {
		panic("scenarios: the embedded bundled directory is missing: " + err.Error())
	}
	var out []Info
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok {
			continue
		}
		sc, err := loadBundled(name, LoadOptions{})
		desc := ""
		if err == nil {
			desc, _, _ = strings.Cut(sc.Description, "\n")
		} else {
			desc = "(invalid: " + err.Error() + ")"
		}
		out = append(out, Info{Name: name, Description: desc})
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// BundledSource returns the text of the bundled scenario name, for `dmbench scenarios
// --show` or for copying as a starting point.
func BundledSource(name string) ([]byte, error) {
	data, err := bundled.ReadFile(path.Join("bundled", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("no bundled scenario named %s; bundled: %s", quote(name), bundledNames())
	}
	return data, nil
}

// bundledNames lists the bundled scenario names, comma separated.
func bundledNames() string {
	var names []string
	for _, i := range Bundled() {
		names = append(names, i.Name)
	}
	return strings.Join(names, ", ")
}

// isBundledName reports whether s names a bundled scenario rather than a file: it has
// no path separator and no extension.
func isBundledName(s string) bool {
	return s != "" && !strings.ContainsAny(s, `/\`) && path.Ext(s) == ""
}

func loadBundled(name string, opts LoadOptions) (*Scenario, error) {
	data, err := BundledSource(name)
	if err != nil {
		return nil, err
	}
	return Parse(name+".yaml", data, opts)
}

// Load reads a scenario: a bundled one by name ("group-churn"), or a file by path
// ("my.yaml", "./x/churn.yml"). A word without a path separator or extension is a
// bundled name. A file's problems come back as an ErrorList, a file larger than
// MaxFileSize among them (Load reads no more of it than that); a file that cannot be
// read or a name that is not bundled gives a plain error saying so.
func Load(nameOrPath string, opts LoadOptions) (*Scenario, error) {
	if isBundledName(nameOrPath) {
		return loadBundled(nameOrPath, opts)
	}
	data, err := readFile(nameOrPath)
	if err != nil {
		return nil, err
	}
	return Parse(nameOrPath, data, opts)
}

// Validate checks each scenario, named by path or bundled name, in full and with its
// short overlay, and returns every problem in all of them as one ErrorList (nil when all
// are valid). It starts nothing: this is `dmbench validate FILE...`.
func Validate(paths ...string) error {
	var all ErrorList
	for _, p := range paths {
		_, err := Load(p, LoadOptions{})
		if err == nil {
			continue
		}
		var list ErrorList
		if errors.As(err, &list) {
			all = append(all, list...)
			continue
		}
		all = append(all, &Error{Message: err.Error()}) // the message names the file
	}
	if len(all) == 0 {
		return nil
	}
	return all
}
