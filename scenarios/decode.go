package scenarios

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/dmbench/dmbench/protocol"
)

// The fields each mapping of a scenario file may have, in the order the error messages
// list them.
var (
	topKeys   = []string{"name", "description", "seed", "warmup", "target", "timeout", "stages", "short"}
	shortKeys = []string{"seed", "warmup", "target", "timeout", "stages"}
	stageKeys = []string{"name", "duration", "requests", "clients", "connect_rate",
		"rate", "rate_per_client", "ramp_to", "arrival", "in_flight", "think", "mix"}
	requestKeys = []string{"command", "weight", "group", "channel", "name_length", "name_type", "ttl", "ack", "timeout"}
	nameGenKeys = []string{"fixed", "sequential", "uniform", "zipf", "s", "prefix", "per_client"}
)

// Key families that a short overlay's stage replaces as a whole: setting any key of a
// family in the overlay drops the scenario's keys of the families listed with it, so an
// overlay can turn a count-bounded stage into a timed one, or a closed loop into an
// open one.
var overlayReplaces = []struct{ set, drop []string }{
	{[]string{"duration", "requests"}, []string{"duration", "requests"}},
	{[]string{"rate", "rate_per_client"}, []string{"rate", "rate_per_client", "ramp_to", "in_flight", "think"}},
	{[]string{"in_flight"}, []string{"rate", "rate_per_client", "ramp_to", "arrival", "in_flight"}},
}

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
func Parse(file string, data []byte, opts LoadOptions) (*Scenario, error) {
	d := &decoder{file: file, errs: new(ErrorList)}
	root := d.root(data)
	if root == nil {
		return nil, d.errs.sort()
	}
	var baseStages, overStages []*object
	stagesOK := false
	if e := root.fields["stages"]; e != nil {
		baseStages, stagesOK = d.objects(e, stageKeys)
	}
	var over *object
	if e := root.fields["short"]; e != nil {
		over = d.object(e.value, e.path, shortKeys)
		if over != nil {
			if e := over.fields["stages"]; e != nil {
				overStages, _ = d.objects(e, stageKeys)
			}
		}
	}
	common := *d.errs

	full := &decoder{file: file, errs: new(ErrorList), anchors: d.anchors}
	sc := full.scenario(root, root.fields, baseStages, stagesOK)
	errs := append(common, *full.errs...)

	var short *Scenario
	if over != nil {
		sd := &decoder{file: file, errs: new(ErrorList), anchors: d.anchors}
		top := maps.Clone(over.fields)
		delete(top, "stages") // merged stage by stage below
		fields := mergeFields(root.fields, top, nil)
		if len(overStages) > len(baseStages) && len(baseStages) > 0 {
			e := over.fields["stages"]
			pos, path := e.key, e.path
			if o := overStages[len(baseStages)]; o != nil {
				pos, path = o.pos, o.path
			}
			sd.errorf(pos, path, "the short overlay has %d stages but the scenario has %d; overlay stages are merged with the scenario's by position",
				len(overStages), len(baseStages))
			overStages = overStages[:len(baseStages)]
		}
		stages := make([]*object, len(baseStages))
		for i, b := range baseStages {
			stages[i] = b
			if i < len(overStages) && b != nil && overStages[i] != nil {
				stages[i] = &object{pos: b.pos, path: b.path, fields: mergeFields(b.fields, overStages[i].fields, overlayReplaces)}
			}
		}
		short = sd.scenario(root, fields, stages, stagesOK)
		seen := make(map[Error]bool, len(errs))
		for _, e := range errs {
			seen[*e] = true
		}
		for _, e := range *sd.errs {
			if seen[*e] {
				continue
			}
			if !strings.HasPrefix(e.Path, "short") {
				e.Message += " (with the short overlay)"
			}
			errs = append(errs, e)
		}
	} else if opts.Short {
		nd := &decoder{file: file, errs: &errs}
		nd.errorf(root.pos, "short", "missing; there is no short overlay to apply: add one (see the bundled scenarios) or run without --short")
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

// entry is one field of a mapping: where its key is, its value (anchors, aliases and
// tags resolved) and its path.
type entry struct {
	key   *token.Token
	value ast.Node
	path  string
}

// object is a decoded mapping: its position, path and known fields by name.
type object struct {
	pos    *token.Token
	path   string
	fields map[string]*entry
}

// mergeFields returns base with over's fields laid over it. families, when given, say
// which base fields an over field removes with it (see overlayReplaces).
func mergeFields(base, over map[string]*entry, families []struct{ set, drop []string }) map[string]*entry {
	m := make(map[string]*entry, len(base)+len(over))
	for k, v := range base {
		m[k] = v
	}
	for _, f := range families {
		for _, k := range f.set {
			if over[k] != nil {
				for _, drop := range f.drop {
					delete(m, drop)
				}
				break
			}
		}
	}
	for k, v := range over {
		m[k] = v
	}
	return m
}

type anchor struct {
	name   string
	offset int
	value  ast.Node
}

// decoder walks a parsed file and collects every problem it finds.
type decoder struct {
	file    string
	errs    *ErrorList
	anchors []anchor
}

// errorf records a problem at tk (which may be nil).
func (d *decoder) errorf(tk *token.Token, path, format string, args ...any) {
	e := &Error{File: d.file, Path: path, Message: fmt.Sprintf(format, args...)}
	if tk != nil && tk.Position != nil {
		e.Line, e.Column = tk.Position.Line, tk.Position.Column
	}
	*d.errs = append(*d.errs, e)
}

// root parses data and returns its top-level mapping, or nil after recording why there
// is none.
func (d *decoder) root(data []byte) *object {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var se *yaml.SyntaxError
		if errors.As(err, &se) {
			d.errorf(se.Token, "", "not valid YAML: %s", se.Message)
		} else {
			d.errorf(nil, "", "not valid YAML: %v", err)
		}
		return nil
	}
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		d.errorf(nil, "", "the file is empty; a scenario needs at least stages (see the bundled scenarios)")
		return nil
	}
	if len(docs) > 1 {
		d.errorf(posOf(docs[1].Body), "", "the file holds %d YAML documents; put one scenario in each file", len(docs))
		return nil
	}
	d.collectAnchors(docs[0].Body)
	return d.object(docs[0].Body, "", topKeys)
}

// collectAnchors records every anchor in n, for aliases to find.
func (d *decoder) collectAnchors(n ast.Node) {
	switch v := n.(type) {
	case *ast.AnchorNode:
		if v.Name != nil && v.GetToken() != nil {
			d.anchors = append(d.anchors, anchor{name: v.Name.GetToken().Value, offset: v.GetToken().Position.Offset, value: v.Value})
		}
		d.collectAnchors(v.Value)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			d.collectAnchors(mv.Key)
			d.collectAnchors(mv.Value)
		}
	case *ast.MappingValueNode:
		d.collectAnchors(v.Key)
		d.collectAnchors(v.Value)
	case *ast.MappingKeyNode:
		d.collectAnchors(v.Value)
	case *ast.SequenceNode:
		for _, x := range v.Values {
			d.collectAnchors(x)
		}
	case *ast.TagNode:
		d.collectAnchors(v.Value)
	}
}

// resolve strips anchors and tags from n and follows aliases to the node they name. It
// returns nil, after recording why, for an alias without an anchor or a chain of
// aliases too deep to follow.
func (d *decoder) resolve(n ast.Node, path string) ast.Node {
	for range 32 {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			if v.Value == nil || v.Value.GetToken() == nil || v.GetToken() == nil {
				d.errorf(posOf(v), path, "an alias without a name; write *name for an anchor &name")
				return nil
			}
			name, offset := v.Value.GetToken().Value, v.GetToken().Position.Offset
			var found ast.Node
			for _, a := range d.anchors {
				if a.name == name && a.offset < offset {
					found = a.value
				}
			}
			if found == nil {
				d.errorf(v.GetToken(), path, "alias *%s has no anchor &%s before it; define the anchor first", name, name)
				return nil
			}
			n = found
		default:
			return n
		}
	}
	d.errorf(n.GetToken(), path, "aliases nest too deep to follow; write the value out")
	return nil
}

// posOf is the token to report a problem with n at: the first key of a block mapping, or
// n's own token.
func posOf(n ast.Node) *token.Token {
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 && m.Values[0].Key != nil {
		return m.Values[0].Key.GetToken()
	}
	if n == nil {
		return nil
	}
	return n.GetToken()
}

// describe names the kind of node n is, for messages.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.NullNode, nil:
		return "nothing"
	case *ast.StringNode:
		return strconv.Quote(v.Value)
	case *ast.LiteralNode:
		return "a text block"
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return n.Type().String()
}

// join makes the path of a field of the mapping at path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object decodes the mapping n at path, whose fields may be those in allowed, and
// records every unknown field. It returns nil, after recording why, when n is not a
// mapping.
func (d *decoder) object(n ast.Node, path string, allowed []string) *object {
	n = d.resolve(n, path)
	if n == nil {
		return nil
	}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.errorf(posOf(n), path, "found %s where a mapping of fields (key: value) belongs", describe(n))
		return nil
	}
	o := &object{pos: posOf(m), path: path, fields: map[string]*entry{}}
	d.fill(o, m, allowed, 0)
	return o
}

// fill adds the fields of m to o; fields merged in with "<<" do not replace fields o
// already has.
func (d *decoder) fill(o *object, m *ast.MappingNode, allowed []string, depth int) {
	var merges []*ast.MappingValueNode
	for _, mv := range m.Values {
		if mv == nil || mv.Key == nil || mv.Key.GetToken() == nil {
			continue
		}
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			merges = append(merges, mv)
			continue
		}
		key := mv.Key.GetToken().Value
		if k, ok := mv.Key.(*ast.MappingKeyNode); ok && k.Value != nil {
			key = k.Value.GetToken().Value
		}
		p := join(o.path, key)
		if !slices.Contains(allowed, key) {
			msg := fmt.Sprintf("unknown field %q; allowed: %s", key, strings.Join(allowed, ", "))
			if s := suggest(key, allowed); s != "" {
				msg = fmt.Sprintf("unknown field %q (did you mean %s?); allowed: %s", key, s, strings.Join(allowed, ", "))
			}
			d.errorf(mv.Key.GetToken(), p, "%s", msg)
			continue
		}
		if depth > 0 && o.fields[key] != nil {
			continue
		}
		o.fields[key] = &entry{key: mv.Key.GetToken(), value: mv.Value, path: p}
	}
	for _, mv := range merges {
		if depth >= 8 {
			d.errorf(mv.Key.GetToken(), o.path, "merge keys (<<) nest too deep; write the fields out")
			return
		}
		src := d.resolve(mv.Value, o.path)
		var maps []ast.Node
		if s, ok := src.(*ast.SequenceNode); ok {
			maps = s.Values
		} else if src != nil {
			maps = []ast.Node{src}
		}
		for _, x := range maps {
			x = d.resolve(x, o.path)
			if x == nil {
				continue
			}
			sub, ok := x.(*ast.MappingNode)
			if !ok {
				d.errorf(posOf(x), o.path, "<< merges mappings, found %s; write << *anchor with an anchored mapping", describe(x))
				continue
			}
			d.fill(o, sub, allowed, depth+1)
		}
	}
}

// objects decodes the list e of mappings; the result has a nil for each entry that is
// not a mapping.
func (d *decoder) objects(e *entry, allowed []string) ([]*object, bool) {
	items, ok := d.list(e)
	out := make([]*object, len(items))
	for i, it := range items {
		out[i] = d.object(it.value, it.path, allowed)
	}
	return out, ok
}

// list returns the items of the list e, each with its path, and true; or nil and false
// after recording why e is not a list.
func (d *decoder) list(e *entry) ([]*entry, bool) {
	n := d.resolve(e.value, e.path)
	if n == nil {
		return nil, false
	}
	s, ok := n.(*ast.SequenceNode)
	if !ok {
		d.errorf(posOf(n), e.path, "found %s where a list (lines starting with \"- \") belongs", describe(n))
		return nil, false
	}
	out := make([]*entry, len(s.Values))
	for i, v := range s.Values {
		out[i] = &entry{key: e.key, value: v, path: fmt.Sprintf("%s[%d]", e.path, i)}
	}
	return out, true
}

// scalar returns e's resolved value when it is a scalar, or nil after recording what
// was expected instead (want, e.g. "a duration such as 30s").
func (d *decoder) scalar(e *entry, want string) ast.Node {
	n := d.resolve(e.value, e.path)
	if n == nil {
		return nil
	}
	switch n.(type) {
	case *ast.MappingNode, *ast.SequenceNode, *ast.NullNode:
		d.errorf(posOf(n), e.path, "found %s where %s belongs", describe(n), want)
		return nil
	}
	return n
}

// text decodes e as text.
func (d *decoder) text(e *entry) (string, bool) {
	n := d.scalar(e, "text")
	switch v := n.(type) {
	case nil:
		return "", false
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
		return "", true
	}
	d.errorf(posOf(n), e.path, "%s is not text; quote it (\"%s\")", n.GetToken().Value, n.GetToken().Value)
	return "", false
}

// integer decodes e as a whole number in [lo, hi]: a YAML integer, or text such as
// "1M", "20k" or "1_000_000".
func (d *decoder) integer(e *entry, lo, hi int64, example string) (int64, bool) {
	n := d.scalar(e, "a whole number (e.g. "+example+")")
	if n == nil {
		return 0, false
	}
	var v int64
	switch x := n.(type) {
	case *ast.IntegerNode:
		switch i := x.Value.(type) {
		case int64:
			v = i
		case uint64:
			if i > math.MaxInt64 {
				d.errorf(posOf(n), e.path, "%s is out of range; allowed %d to %d", x.GetToken().Value, lo, hi)
				return 0, false
			}
			v = int64(i)
		}
	default:
		s := n.GetToken().Value
		f, err := parseNumber(s)
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
			d.errorf(posOf(n), e.path, "%s is not a whole number (write e.g. %s)", describe(n), example)
			return 0, false
		}
		v = int64(f)
	}
	if v < lo || v > hi {
		d.errorf(posOf(n), e.path, "%d is out of range; allowed %d to %d", v, lo, hi)
		return 0, false
	}
	return v, true
}

// number decodes e as a decimal number.
func (d *decoder) number(e *entry, example string) (float64, bool) {
	n := d.scalar(e, "a number (e.g. "+example+")")
	switch x := n.(type) {
	case nil:
		return 0, false
	case *ast.IntegerNode:
		f, err := strconv.ParseFloat(strings.ReplaceAll(x.GetToken().Value, "_", ""), 64)
		if err == nil {
			return f, true
		}
		switch i := x.Value.(type) {
		case int64:
			return float64(i), true
		case uint64:
			return float64(i), true
		}
	case *ast.FloatNode:
		if !math.IsInf(x.Value, 0) && !math.IsNaN(x.Value) {
			return x.Value, true
		}
	}
	d.errorf(posOf(n), e.path, "%s is not a number (write e.g. %s)", describe(n), example)
	return 0, false
}

// boolean decodes e as true or false.
func (d *decoder) boolean(e *entry) (bool, bool) {
	n := d.scalar(e, "true or false")
	switch x := n.(type) {
	case nil:
		return false, false
	case *ast.BoolNode:
		return x.Value, true
	}
	d.errorf(posOf(n), e.path, "%s is not true or false", describe(n))
	return false, false
}

// duration decodes e as a Go duration ("30s", "1m30s", "250ms") in [lo, hi]; a bare 0
// is 0.
func (d *decoder) duration(e *entry, lo, hi time.Duration) (time.Duration, bool) {
	n := d.scalar(e, "a duration (e.g. 30s)")
	if n == nil {
		return 0, false
	}
	var v time.Duration
	switch x := n.(type) {
	case *ast.StringNode:
		var err error
		v, err = time.ParseDuration(strings.TrimSpace(x.Value))
		if err != nil {
			d.errorf(posOf(n), e.path, "%s is not a duration (write e.g. 30s, 250ms or 1m30s)", describe(n))
			return 0, false
		}
	case *ast.IntegerNode:
		if i, ok := x.Value.(int64); !ok || i != 0 {
			d.errorf(posOf(n), e.path, "%s is not a duration; give its unit (write e.g. %ss)", x.GetToken().Value, x.GetToken().Value)
			return 0, false
		}
	default:
		d.errorf(posOf(n), e.path, "%s is not a duration (write e.g. 30s, 250ms or 1m30s)", describe(n))
		return 0, false
	}
	if v < lo || v > hi {
		if lo == 0 {
			d.errorf(posOf(n), e.path, "%s is out of range; allowed 0 to %s", v, hi)
		} else {
			d.errorf(posOf(n), e.path, "%s is out of range; allowed %s to %s", v, lo, hi)
		}
		return 0, false
	}
	return v, true
}

// rate decodes e as a positive rate of at most MaxRate.
func (d *decoder) rate(e *entry) (Rate, bool) {
	n := d.scalar(e, "a rate (e.g. 5000/s)")
	if n == nil {
		return 0, false
	}
	s, ok := n.(*ast.StringNode)
	if !ok {
		v := n.GetToken().Value
		d.errorf(posOf(n), e.path, "%s is not a rate; say per what (write e.g. %s/s)", v, v)
		return 0, false
	}
	r, err := ParseRate(s.Value)
	if err != nil {
		d.errorf(posOf(n), e.path, "%s", err)
		return 0, false
	}
	if r <= 0 || r > MaxRate {
		d.errorf(posOf(n), e.path, "%s is out of range; allowed above 0/s up to %s", r, MaxRate)
		return 0, false
	}
	return r, true
}

// choice decodes e as one of the words in allowed.
func (d *decoder) choice(e *entry, allowed ...string) (string, bool) {
	n := d.scalar(e, "one of "+strings.Join(allowed, ", "))
	if n == nil {
		return "", false
	}
	v := n.GetToken().Value
	if s, ok := n.(*ast.StringNode); ok {
		v = s.Value
	}
	if !slices.Contains(allowed, v) {
		d.errorf(posOf(n), e.path, "%q is not allowed; write one of %s", v, strings.Join(allowed, ", "))
		return "", false
	}
	return v, true
}

// scenario builds a Scenario from the top-level fields and stage mappings (each may be
// nil where decoding already failed); stagesOK says the stages field was a list.
func (d *decoder) scenario(root *object, f map[string]*entry, stages []*object, stagesOK bool) *Scenario {
	sc := &Scenario{Seed: DefaultSeed, Timeout: DefaultTimeout}
	if e := f["name"]; e != nil {
		if s, ok := d.text(e); ok {
			if !validName(s) {
				d.errorf(posOf(d.resolve(e.value, e.path)), e.path, "%q is not a scenario name; use 1 to 64 letters, digits, '-', '_' or '.'", s)
			}
			sc.Name = s
		}
	}
	if e := f["description"]; e != nil {
		s, _ := d.text(e)
		sc.Description = strings.TrimSpace(s)
	}
	if e := f["seed"]; e != nil {
		sc.Seed, _ = d.integer(e, math.MinInt64, math.MaxInt64, "1")
	}
	if e := f["warmup"]; e != nil {
		sc.Warmup, _ = d.duration(e, 0, MaxWarmup)
	}
	if e := f["target"]; e != nil {
		if s, ok := d.text(e); ok {
			if msg := checkTarget(s); msg != "" {
				d.errorf(posOf(d.resolve(e.value, e.path)), e.path, "%s", msg)
			}
			sc.Target = s
		}
	}
	if e := f["timeout"]; e != nil {
		sc.Timeout, _ = d.duration(e, time.Millisecond, MaxTimeout)
	}
	if f["stages"] == nil {
		d.errorf(root.pos, "stages", "missing; a scenario needs a list of stages (see the bundled scenarios)")
		return sc
	}
	switch {
	case stagesOK && len(stages) == 0:
		d.errorf(f["stages"].key, "stages", "the list is empty; give at least one stage")
	case len(stages) > MaxStages:
		d.errorf(f["stages"].key, "stages", "%d stages is too many; allowed at most %d", len(stages), MaxStages)
	}
	names := map[string]string{}
	prev := 0
	for i, o := range stages {
		if o == nil {
			continue
		}
		st := d.stage(o, i, prev, sc.Timeout)
		if st.Clients > 0 {
			prev = st.Clients
		}
		if p, dup := names[st.Name]; dup {
			pos := o.pos
			if e := o.fields["name"]; e != nil {
				pos = posOf(d.resolve(e.value, e.path))
			}
			d.errorf(pos, o.path+".name", "%q is already the name of %s; give each stage its own name", st.Name, p)
		} else {
			names[st.Name] = o.path
		}
		sc.Stages = append(sc.Stages, st)
	}
	if e := f["warmup"]; e != nil && sc.Warmup > 0 && len(sc.Stages) > 0 && len(stages) > 0 && stages[0] != nil {
		if first := sc.Stages[0]; first.Duration > 0 && sc.Warmup >= first.Duration {
			d.errorf(posOf(d.resolve(e.value, e.path)), e.path, "%s is not shorter than the first stage's duration %s, so nothing of it would be measured; shorten the warm-up",
				sc.Warmup, first.Duration)
		}
	}
	return sc
}

// validName reports whether s is a usable scenario name.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// checkTarget returns what is wrong with the target address s, or "".
func checkTarget(s string) string {
	hostport, ok := strings.CutPrefix(s, "tcp://")
	if !ok {
		return fmt.Sprintf("%q is not a DMB address; write tcp://host:port with the base (data) port, e.g. tcp://127.0.0.1:5556", s)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		return fmt.Sprintf("%q is not a DMB address; write tcp://host:port with the base (data) port, e.g. tcp://127.0.0.1:5556", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65534 {
		return fmt.Sprintf("port %q is out of range; allowed 1 to 65534 (the signalling port, one above, must exist too)", port)
	}
	return ""
}

// stage builds stage number i (from 0) from o; prevClients is the previous stage's
// client count (0 for the first stage) and timeout the scenario's request timeout.
func (d *decoder) stage(o *object, i, prevClients int, timeout time.Duration) Stage {
	f := o.fields
	st := Stage{Name: fmt.Sprintf("stage-%d", i+1), Clients: prevClients}
	if e := f["name"]; e != nil {
		if s, ok := d.text(e); ok {
			if s == "" || len(s) > 64 || strings.ContainsAny(s, "\n\r\t") {
				d.errorf(posOf(d.resolve(e.value, e.path)), e.path, "%q is not a stage name; use 1 to 64 characters on one line", s)
			}
			st.Name = s
		}
	}

	dur, req := f["duration"], f["requests"]
	switch {
	case dur != nil && req != nil:
		d.errorf(later(dur, req).key, later(dur, req).path, "give either duration or requests, not both: a stage ends after a time or after a count")
	case dur == nil && req == nil:
		d.errorf(o.pos, o.path, "missing duration or requests; say when the stage ends (e.g. duration: 60s, or requests: 1M)")
	case dur != nil:
		st.Duration, _ = d.duration(dur, time.Millisecond, MaxStageLength)
	default:
		st.Requests, _ = d.integer(req, 1, MaxRequests, "1M")
	}

	if e := f["clients"]; e != nil {
		n, _ := d.integer(e, 1, MaxClients, "64")
		st.Clients = int(n)
	} else if i == 0 {
		d.errorf(o.pos, o.path, "missing clients; say how many connections the first stage opens (e.g. clients: 64); later stages keep it unless they change it")
	}
	if e := f["connect_rate"]; e != nil {
		st.ConnectRate, _ = d.rate(e)
	}

	rate, per, inflight := f["rate"], f["rate_per_client"], f["in_flight"]
	if rate != nil && per != nil {
		d.errorf(later(rate, per).key, later(rate, per).path, "give either rate (in total) or rate_per_client, not both")
	}
	open := rate != nil || per != nil
	switch {
	case open && inflight != nil:
		d.errorf(inflight.key, inflight.path, "give either an open loop (rate or rate_per_client) or a closed loop (in_flight), not both")
	case open:
		st.Open = &OpenLoop{Arrival: Constant}
		if rate != nil {
			st.Open.Rate, _ = d.rate(rate)
		} else {
			st.Open.Rate, _ = d.rate(per)
			st.Open.PerClient = true
		}
	case inflight != nil:
		n, _ := d.integer(inflight, 1, MaxInFlight, "8")
		st.Closed = &ClosedLoop{InFlight: int(n)}
	default:
		d.errorf(o.pos, o.path, "missing rate, rate_per_client or in_flight; give an open loop (e.g. rate: 5000/s) or a closed loop (e.g. in_flight: 8)")
	}
	for _, k := range []string{"ramp_to", "arrival"} {
		e := f[k]
		if e == nil {
			continue
		}
		if st.Open == nil {
			if !(open && inflight != nil) {
				d.errorf(e.key, e.path, "%s applies to an open loop only; give rate or rate_per_client, or remove it", k)
			}
			continue
		}
		if k == "arrival" {
			if a, ok := d.choice(e, string(Constant), string(Poisson)); ok {
				st.Open.Arrival = Arrival(a)
			}
			continue
		}
		st.Open.RampTo, _ = d.rate(e)
		if dur == nil {
			d.errorf(e.key, e.path, "a ramp runs across the stage's duration, and this stage ends after a count; give duration instead of requests, or remove ramp_to")
		}
	}
	if e := f["think"]; e != nil {
		if st.Closed == nil {
			if !(open && inflight != nil) {
				d.errorf(e.key, e.path, "think applies to a closed loop only; give in_flight, or remove it")
			}
		} else {
			st.Closed.Think, _ = d.duration(e, 0, MaxThink)
		}
	}
	if st.Open != nil && st.Open.PerClient && st.Clients > 0 {
		for _, r := range []Rate{st.Open.Rate, st.Open.RampTo} {
			if total := r * Rate(st.Clients); total > MaxRate {
				d.errorf(per.key, per.path, "%s per client × %d clients is %s in total, above the limit of %s; lower the rate or the clients",
					r, st.Clients, total, MaxRate)
				break
			}
		}
	}

	if e := f["mix"]; e != nil {
		items, ok := d.list(e)
		if ok && len(items) == 0 {
			d.errorf(e.key, e.path, "the mix is empty; give at least one request (e.g. - command: HARTBEAT)")
		}
		if len(items) > MaxMix {
			d.errorf(e.key, e.path, "%d mix entries is too many; allowed at most %d", len(items), MaxMix)
			items = items[:MaxMix]
		}
		for j, it := range items {
			ro := d.object(it.value, it.path, requestKeys)
			if ro == nil {
				continue
			}
			st.Mix = append(st.Mix, d.request(ro, i, j, timeout))
		}
	} else {
		d.errorf(o.pos, o.path, "missing mix; give the requests to send (e.g. mix: [{command: HARTBEAT}])")
	}
	return st
}

// later is whichever of a and b comes later in the file, to report a conflict at the
// second of two fields.
func later(a, b *entry) *entry {
	if a.key != nil && b.key != nil && a.key.Position.Offset > b.key.Position.Offset {
		return a
	}
	return b
}

// request builds mix entry j of stage i from o.
func (d *decoder) request(o *object, i, j int, timeout time.Duration) Request {
	f := o.fields
	r := Request{Weight: DefaultWeight, Ack: true, Timeout: timeout, NameType: NameStr}
	named := false
	if e := f["command"]; e != nil {
		if s, ok := d.text(e); ok {
			c := protocol.Command(s)
			if !slices.Contains(protocol.RequestCommands, c) {
				allowed := make([]string, len(protocol.RequestCommands))
				for k, rc := range protocol.RequestCommands {
					allowed[k] = string(rc)
				}
				hint := ""
				if s := suggest(s, allowed); s != "" {
					hint = " (did you mean " + s + "?)"
				}
				d.errorf(posOf(d.resolve(e.value, e.path)), e.path, "%q is not a request command%s; allowed: %s", s, hint, strings.Join(allowed, ", "))
			} else {
				r.Command = c
				named = c == protocol.GroupAdd || c == protocol.GroupDiscard
			}
		}
	} else {
		d.errorf(o.pos, o.path, "missing command; say what to send (e.g. command: GROUPADD)")
	}
	if e := f["weight"]; e != nil {
		w, _ := d.integer(e, 1, MaxWeight, "1")
		r.Weight = int(w)
	}
	length := 0
	if e := f["name_length"]; e != nil {
		n, _ := d.integer(e, 0, MaxNameLength, "24")
		length = int(n)
	}
	if e := f["name_type"]; e != nil {
		if s, ok := d.choice(e, string(NameStr), string(NameBytes)); ok {
			r.NameType = NameType(s)
		}
	}
	canonical := fmt.Sprintf("stages[%d].mix[%d]", i, j)
	for _, k := range []string{"group", "channel"} {
		e := f[k]
		switch {
		case e == nil && named:
			d.errorf(o.pos, o.path, "missing %s; %s needs one (e.g. %s: {uniform: 1000})", k, r.Command, k)
		case e != nil && !named && r.Command != "":
			d.errorf(e.key, e.path, "%s sends no %s; remove it", r.Command, k)
		case e != nil && named:
			prefix := DefaultGroup
			if k == "channel" {
				prefix = DefaultChannel
			}
			g := d.nameGen(e, prefix)
			g.Length = length
			g.Stream = streamOf(canonical + "." + k)
			if k == "group" {
				r.Group = g
			} else {
				r.Channel = g
			}
		}
	}
	if !named && r.Command != "" {
		for _, k := range []string{"name_length", "name_type"} {
			if e := f[k]; e != nil {
				d.errorf(e.key, e.path, "%s sends no names; remove it", r.Command)
			}
		}
	}
	if e := f["ttl"]; e != nil {
		if r.Command != "" && r.Command != protocol.GroupAdd {
			d.errorf(e.key, e.path, "ttl is sent with GROUPADD only; remove it")
		} else if v, ok := d.duration(e, time.Second, MaxTTL); ok {
			if v%time.Second != 0 {
				d.errorf(posOf(d.resolve(e.value, e.path)), e.path, "%s is not a whole number of seconds, and ttl is sent in seconds; write e.g. 60s", v)
			}
			r.TTL = v
		}
	}
	if e := f["ack"]; e != nil {
		r.Ack, _ = d.boolean(e)
	}
	if e := f["timeout"]; e != nil {
		r.Timeout, _ = d.duration(e, time.Millisecond, MaxTimeout)
	}
	return r
}

// nameGen decodes a group or channel generator: text for a fixed name, or a mapping
// with one of fixed, sequential, uniform or zipf.
func (d *decoder) nameGen(e *entry, prefix string) NameGen {
	g := NameGen{Prefix: prefix, S: DefaultZipfS}
	n := d.resolve(e.value, e.path)
	if n == nil {
		return g
	}
	if s, ok := n.(*ast.StringNode); ok {
		g.Kind, g.Value, g.Prefix, g.S = Fixed, s.Value, "", 0
		if s.Value == "" {
			d.errorf(posOf(n), e.path, "the name is empty; write a name, or a generator such as {uniform: 1000}")
		}
		return g
	}
	if _, ok := n.(*ast.MappingNode); !ok {
		d.errorf(posOf(n), e.path, "found %s where a name (text) or a generator ({fixed: NAME}, {sequential: N}, {uniform: N} or {zipf: N, s: 1.1}) belongs", describe(n))
		return g
	}
	o := d.object(n, e.path, nameGenKeys)
	if o == nil {
		return g
	}
	var kinds []*entry
	for _, k := range []string{"fixed", "sequential", "uniform", "zipf"} {
		if o.fields[k] != nil {
			kinds = append(kinds, o.fields[k])
		}
	}
	switch len(kinds) {
	case 0:
		d.errorf(o.pos, o.path, "missing the kind of names; give one of fixed: NAME, sequential: N, uniform: N or zipf: N")
		return g
	case 1:
	default:
		d.errorf(later(kinds[0], kinds[1]).key, later(kinds[0], kinds[1]).path, "give one of fixed, sequential, uniform or zipf, not several")
		return g
	}
	k := kinds[0]
	switch {
	case o.fields["fixed"] != nil:
		g.Kind, g.Prefix = Fixed, ""
		g.Value, _ = d.text(k)
		if p := o.fields["prefix"]; p != nil {
			d.errorf(p.key, p.path, "a fixed name takes no prefix; write the whole name in fixed")
		}
	default:
		switch {
		case o.fields["sequential"] != nil:
			g.Kind = Sequential
		case o.fields["uniform"] != nil:
			g.Kind = Uniform
		default:
			g.Kind = Zipf
		}
		n, _ := d.integer(k, 1, MaxNames, "1000")
		g.N = uint64(n)
		if p := o.fields["prefix"]; p != nil {
			if s, ok := d.text(p); ok {
				if len(s) > MaxNameLength {
					d.errorf(p.key, p.path, "the prefix is %d bytes; allowed at most %d", len(s), MaxNameLength)
				}
				g.Prefix = s
			}
		}
	}
	if s := o.fields["s"]; s != nil {
		if g.Kind != Zipf {
			d.errorf(s.key, s.path, "s is the exponent of zipf; remove it, or use zipf: N")
		} else if v, ok := d.number(s, "1.1"); ok {
			if v <= 1 || v > 100 {
				d.errorf(posOf(d.resolve(s.value, s.path)), s.path, "%g is out of range; the zipf exponent must be above 1 (e.g. 1.1) and at most 100", v)
			}
			g.S = v
		}
	}
	if p := o.fields["per_client"]; p != nil {
		g.PerClient, _ = d.boolean(p)
	}
	if g.Kind != Zipf {
		g.S = 0
	}
	return g
}

// suggest returns the word of allowed closest to s, when it is close enough to be what
// was meant, or "".
func suggest(s string, allowed []string) string {
	best, bestDist := "", 3
	for _, a := range allowed {
		if strings.EqualFold(a, s) {
			return a
		}
		if dist := editDistance(strings.ToLower(s), strings.ToLower(a)); dist < bestDist {
			best, bestDist = a, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
