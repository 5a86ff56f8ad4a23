package scenarios

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// This file walks a parsed YAML file: mappings with known fields, lists, anchors,
// aliases and merge keys, each problem recorded with its line, column and path. It
// knows nothing of scenarios beyond the field names it is given.

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

// anchor is a named node, for the aliases after it.
type anchor struct {
	name   string
	offset int
	line   int
	value  ast.Node
	// size is how many nodes value stands for, every alias in it followed (see
	// measure), at most endless; unmeasured while value is being measured. It is
	// endless when value holds an alias of its own anchor (loops is then set), or of
	// an anchor whose value does.
	size  int
	loops bool
}

// Sizes of an anchor's value that are not counts of nodes.
const (
	unmeasured = -1
	endless    = math.MaxInt
)

// expansion is what following aliases has cost the walk of one file, in nodes, and
// the problem recorded when the cost passed MaxExpansion.
type expansion struct {
	nodes int
	err   *Error
}

// decoder walks a parsed file and collects every problem it finds.
type decoder struct {
	file string
	errs *ErrorList
	// anchors holds every anchor of the file by name, in the order of the text.
	anchors map[string][]*anchor
	// expand is shared by the decoders of one file.
	expand *expansion
	// at is where each node read without a problem of its shape stands, by path: a
	// scalar's value, a list's first item, a mapping's first key. It is shared by the
	// decoders of one file.
	at map[string]*token.Token
	// fields is the entry that gave each field of the plan, by its path in the plan
	// (see note and placePlan).
	fields map[string]*entry
}

// with returns a decoder of the same file that records problems in errs and shares
// d's anchors, expansion and positions.
func (d *decoder) with(errs *ErrorList) *decoder {
	return &decoder{file: d.file, errs: errs, anchors: d.anchors, expand: d.expand, at: d.at, fields: map[string]*entry{}}
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
// is none. The lexer's tokens are checked for nesting deeper than MaxDepth before the
// parser, whose work grows with the square of the depth, reads them.
func (d *decoder) root(data []byte) *object {
	tokens := lexer.Tokenize(string(data))
	if tk := tokenDepth(tokens); tk != nil {
		*d.errs = append(*d.errs, tooDeep(d.file, tk.Position.Line, tk.Position.Column))
		return nil
	}
	f, err := parser.Parse(tokens, 0)
	if err != nil {
		var se *yaml.SyntaxError
		if errors.As(err, &se) {
			d.errorf(se.Token, "", "not valid YAML: %s", sanitize(se.Message, 4*shownRunes))
		} else {
			d.errorf(nil, "", "not valid YAML: %s", sanitize(err.Error(), 4*shownRunes))
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
	d.anchors = map[string][]*anchor{}
	d.measure(docs[0].Body)
	return d.object(docs[0].Body, "", topKeys)
}

// measure records every anchor in n with the size of its value, and returns the size
// of n: how many nodes it stands for with every alias in it followed, an alias
// standing for the nodes of the value it names (at most endless). The anchors are
// recorded in the order of the text, so that the last one of a name recorded when an
// alias is measured is the one it names.
func (d *decoder) measure(n ast.Node) int {
	switch v := n.(type) {
	case nil:
		return 0
	case *ast.AnchorNode:
		if v.Name == nil || v.Name.GetToken() == nil || v.GetToken() == nil {
			return d.measure(v.Value)
		}
		tk := v.GetToken()
		a := &anchor{name: v.Name.GetToken().Value, offset: tk.Position.Offset, line: tk.Position.Line, value: v.Value, size: unmeasured}
		d.anchors[a.name] = append(d.anchors[a.name], a)
		a.size = d.measure(v.Value)
		return a.size
	case *ast.AliasNode:
		a := d.anchorOf(v)
		switch {
		case a == nil:
			return 1
		case a.size == unmeasured:
			a.loops = true // the alias is inside the value it names
			return endless
		}
		return grow(1, a.size)
	case *ast.MappingNode:
		size := 1
		for _, mv := range v.Values {
			size = grow(size, d.measure(mv))
		}
		return size
	case *ast.MappingValueNode:
		return grow(d.measure(v.Key), d.measure(v.Value))
	case *ast.MappingKeyNode:
		return grow(1, d.measure(v.Value))
	case *ast.SequenceNode:
		size := 1
		for _, x := range v.Values {
			size = grow(size, d.measure(x))
		}
		return size
	case *ast.TagNode:
		return grow(1, d.measure(v.Value))
	}
	return 1
}

// grow adds two sizes, holding at endless.
func grow(a, b int) int {
	if a > endless-b {
		return endless
	}
	return a + b
}

// anchorOf returns the anchor alias v names: the last anchor of its name before it,
// or nil.
func (d *decoder) anchorOf(v *ast.AliasNode) *anchor {
	if v.Value == nil || v.Value.GetToken() == nil || v.GetToken() == nil {
		return nil
	}
	list := d.anchors[v.Value.GetToken().Value]
	offset := v.GetToken().Position.Offset
	i, _ := slices.BinarySearchFunc(list, offset, func(a *anchor, offset int) int { return cmp.Compare(a.offset, offset) })
	if i == 0 {
		return nil
	}
	return list[i-1]
}

// resolve strips anchors and tags from n and follows aliases to the node they name. It
// returns nil, after recording why, for an alias without an anchor, a chain of
// aliases too deep to follow, or an alias that would take the walk beyond
// MaxExpansion (see spend).
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
			a := d.anchorOf(v)
			if a == nil {
				name := bare(v.Value.GetToken().Value)
				d.errorf(v.GetToken(), path, "alias *%s has no anchor &%s before it; define the anchor first", name, name)
				return nil
			}
			if !d.spend(v, a, path) {
				return nil
			}
			n = a.value
		default:
			return n
		}
	}
	d.errorf(n.GetToken(), path, "aliases nest too deep to follow; write the value out")
	return nil
}

// spend charges the walk for following alias v to anchor a: the nodes of a's value,
// which is at most what the walk can visit through it. It reports false, after
// recording why once for the file, when the file's aliases have then cost more than
// MaxExpansion nodes, or a's value holds an alias of itself and would never end.
func (d *decoder) spend(v *ast.AliasNode, a *anchor, path string) bool {
	x := d.expand
	if x.err != nil {
		return false
	}
	x.nodes = grow(x.nodes, a.size)
	if x.nodes <= MaxExpansion {
		return true
	}
	name := bare(a.name)
	msg := fmt.Sprintf("following this alias, the file's aliases and merge keys (<<) stand for more than %d nodes; a scenario needs a few hundred: write the values out, or use fewer aliases", MaxExpansion)
	if a.loops {
		msg = fmt.Sprintf("alias *%s is inside the value of its anchor &%s (line %d), so it never ends; write the value out", name, name, a.line)
	}
	tk := v.GetToken()
	x.err = &Error{File: d.file, Line: tk.Position.Line, Column: tk.Position.Column, Path: path, Message: msg}
	return false
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
		return quote(v.Value)
	case *ast.LiteralNode:
		return "a text block"
	}
	if tk := n.GetToken(); tk != nil {
		return bare(tk.Value)
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
	d.at[path] = o.pos
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
			p = join(o.path, bare(key))
			msg := fmt.Sprintf("unknown field %s; allowed: %s", quote(key), strings.Join(allowed, ", "))
			if s := suggest(key, allowed); s != "" {
				msg = fmt.Sprintf("unknown field %s (did you mean %s?); allowed: %s", quote(key), s, strings.Join(allowed, ", "))
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
func (d *decoder) objects(e *entry, allowed []string) []*object {
	items := d.list(e)
	out := make([]*object, len(items))
	for i, it := range items {
		out[i] = d.object(it.value, it.path, allowed)
	}
	return out
}

// list returns the items of the list e, each with its path, or nil after recording why
// e is not a list.
func (d *decoder) list(e *entry) []*entry {
	n := d.resolve(e.value, e.path)
	if n == nil {
		return nil
	}
	s, ok := n.(*ast.SequenceNode)
	if !ok {
		d.errorf(posOf(n), e.path, "found %s where a list (lines starting with \"- \") belongs", describe(n))
		return nil
	}
	d.at[e.path] = posOf(n)
	out := make([]*entry, len(s.Values))
	for i, v := range s.Values {
		out[i] = &entry{key: e.key, value: v, path: fmt.Sprintf("%s[%d]", e.path, i)}
	}
	return out
}

// later is whichever of a and b comes later in the file, to report a conflict at the
// second of two fields.
func later(a, b *entry) *entry {
	if a.key != nil && b.key != nil && a.key.Position.Offset > b.key.Position.Offset {
		return a
	}
	return b
}
