package scenarios

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/token"
)

// LoadOptions changes how a scenario is read.
type LoadOptions struct {
	// Short applies the file's short overlay, which scales the scenario down to a few
	// seconds for tests and CI (the CLI's --short). A file without one is then an error.
	Short bool
}

// Parse decodes and validates the scenario in data; file names it in error messages and
// in Scenario.File. It checks the whole file, the short overlay included whether or not
// opts.Short applies it, and returns every problem at once as an ErrorList. The returned
// Scenario has every default filled in.
//
// The file's shape and types are checked as it is read (schema.go); the load it
// describes is checked by loadgen.Plan.Validate on the plan it makes, and each problem
// found there is reported at the field that gave the value (placePlan).
//
// Reading a file is bounded in time and memory, whatever it holds: a file larger than
// MaxFileSize, nesting deeper than MaxDepth, or whose aliases repeat more than
// MaxExpansion nodes is refused with that one problem, before the work it would take.
// Text from the file shown in a message is cut short and has its control characters
// escaped.
func Parse(file string, data []byte, opts LoadOptions) (*Scenario, error) {
	if len(data) > MaxFileSize {
		return nil, ErrorList{tooLarge(file, int64(len(data)), true)}
	}
	if line, col := scanDepth(data); line > 0 {
		return nil, ErrorList{tooDeep(file, line, col)}
	}
	d := &decoder{file: file, errs: new(ErrorList), expand: new(expansion), at: map[string]*token.Token{}}
	root := d.root(data)
	if d.expand.err != nil {
		return nil, ErrorList{d.expand.err}
	}
	if root == nil {
		return nil, d.errs.sort()
	}
	var stages []*object
	if e := root.fields["stages"]; e != nil {
		stages = d.objects(e, stageKeys)
	}
	over := d.readOverlay(root)
	common := *d.errs

	full := d.with(new(ErrorList))
	sc := full.scenario(root, root.fields, stages)
	full.placePlan(sc, common)
	errs := append(common, *full.errs...)

	var short *Scenario
	if over != nil {
		sd := d.with(new(ErrorList))
		fields, overlaid := sd.apply(over, root, stages)
		short = sd.scenario(root, fields, overlaid)
		sd.placePlan(short, common)
		errs = withOverlay(errs, *sd.errs)
	} else if opts.Short {
		d.with(&errs).errorf(root.pos, "short", "missing; there is no short overlay to apply: add one (see the bundled scenarios) or run without --short")
	}
	if d.expand.err != nil {
		// What the walk found after it stopped following aliases is not worth showing.
		return nil, ErrorList{d.expand.err}
	}
	if len(errs) > 0 {
		return nil, errs.sort()
	}
	if opts.Short {
		sc = short
		sc.Short = true
	}
	sum := sha256.Sum256(data)
	sc.File = file
	sc.Source = slices.Clone(data)
	sc.Hash = hex.EncodeToString(sum[:])
	if sc.Name == "" {
		sc.Name = nameFromFile(file)
	}
	return sc, nil
}

// nameFromFile is a file's base name without its .yaml or .yml extension.
func nameFromFile(file string) string {
	base := filepath.Base(file)
	for _, ext := range []string{".yaml", ".yml"} {
		if strings.HasSuffix(base, ext) {
			return strings.TrimSuffix(base, ext)
		}
	}
	return base
}
