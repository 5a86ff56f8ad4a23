package scenarios

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
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
	value  ast.Node
}

// decoder walks a parsed file and collects every problem it finds.
type decoder struct {
	file    string
	errs    *ErrorList
	anchors []anchor
	// at is where each node read without a problem of its shape stands, by path: a
	// scalar's value, a list's first item, a mapping's first key. It is shared by the
	// decoders of one file.
	at map[string]*token.Token
	// fields is the entry that gave each field of the plan, by its path in the plan
	// (see note and placePlan).
	fields map[string]*entry
}

// with returns a decoder of the same file that records problems in errs and shares
// d's anchors and positions.
func (d *decoder) with(errs *ErrorList) *decoder {
	return &decoder{file: d.file, errs: errs, anchors: d.anchors, at: d.at, fields: map[string]*entry{}}
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
