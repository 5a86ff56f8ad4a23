package scenarios

import (
	"fmt"
	"unicode/utf8"

	"github.com/goccy/go-yaml/token"
)

// This file keeps deeply nested files from the YAML parser, whose work grows with the
// square of the nesting depth: [[[…]]] 30,000 deep took it 4 s and 1.4 GB, 200,000
// deep 12 GB. scanDepth follows the nesting on the raw bytes, before the library sees
// them; tokenDepth follows it again on the lexer's tokens (whose work grows with the
// length of the text only), which are what the parser reads, so that a text the byte
// scan reads otherwise than the lexer does cannot get past.

// tooDeep is the problem of a file whose nesting passes MaxDepth at line and column.
func tooDeep(file string, line, col int) *Error {
	return &Error{File: file, Line: line, Column: col, Message: fmt.Sprintf(
		"lists and mappings nest more than %d deep here; a scenario nests 7 deep at most: write the values out flatter, or check that this is the file you meant",
		MaxDepth)}
}

// nesting follows how deep the lists and mappings of a YAML text are open at a point:
// the flow collections ([ and {) and the block collections, each known by the column
// of its entries.
type nesting struct {
	flow  int
	block []level
}

// level is an open block collection: the column of its entries ("- " or keys) and
// whether it is a list.
type level struct {
	col  int
	list bool
}

// depth is how many collections are open.
func (n *nesting) depth() int { return n.flow + len(n.block) }

// dedent closes the block collections whose entries stand right of col, where a line
// starts.
func (n *nesting) dedent(col int) {
	for len(n.block) > 0 && n.block[len(n.block)-1].col > col {
		n.block = n.block[:len(n.block)-1]
	}
}

// entry records a block entry at col, a list item ("- ") or a mapping key: it closes
// the collections it ends and opens one when it is the first entry of its own.
func (n *nesting) entry(col int, list bool) {
	n.dedent(col)
	if k := len(n.block) - 1; k >= 0 && n.block[k].col == col && n.block[k].list != list {
		if n.block[k].list {
			// A key in the column of a list: the list, written under a key of the
			// same column ("key:\n- a"), has ended.
			n.block = n.block[:k]
		}
		// Else a list in the column of a mapping's keys: the value of the last key.
	}
	if k := len(n.block) - 1; k >= 0 && n.block[k].col == col && n.block[k].list == list {
		return
	}
	n.block = append(n.block, level{col: col, list: list})
}

// scanDepth reads data as YAML closely enough to follow how deeply it nests, without
// parsing it: flow brackets outside quoted text and comments, "- " entries and keys
// by their columns, block scalars (| and >) skipped by their indentation. It returns
// the 1-based line and column where the nesting first passes MaxDepth, or 0, 0.
//
// It reads the structure of the text, not its values: a plain value that runs on
// over lines is read as if each line began a value, which can only count deeper than
// the parser would. Where it might count less (text it takes for quoted that the
// lexer does not), tokenDepth, which reads the lexer's tokens, still holds the line.
func scanDepth(data []byte) (line, col int) {
	var s depthScanner
	for start := 0; start < len(data); {
		end := start
		for end < len(data) && data[end] != '\n' {
			end++
		}
		s.line++
		l := data[start:end]
		if len(l) > 0 && l[len(l)-1] == '\r' {
			l = l[:len(l)-1]
		}
		start = end + 1
		if p := s.scanLine(l); p >= 0 {
			return s.line, utf8.RuneCount(l[:p]) + 1
		}
	}
	return 0, 0
}

// depthScanner is scanDepth's state from one line to the next.
type depthScanner struct {
	line int
	n    nesting
	// quote is the quote character of a quoted value still open at the end of a line,
	// or 0.
	quote byte
	// plain says that a plain value in a flow collection is open at the end of a
	// line: it runs on to the next "," "]" "}" or ": ".
	plain bool
	// literal is set inside a block scalar: its content lines, indented more than
	// parent, are skipped; indent is theirs, -1 until its first non-blank line sets it.
	literal        bool
	parent, indent int
	// flowKey is the column where the outermost flow collection of a block line
	// began, for a collection written as a key ([a, b]: value).
	flowKey int
}

// isMarker reports whether line l starts a document (---) or ends one (...).
func isMarker(l []byte) bool {
	return len(l) >= 3 && (string(l[:3]) == "---" || string(l[:3]) == "...") && isBlank(l, 3)
}

// isBlank reports whether l[p] separates tokens: a space, a tab or the end of the line.
func isBlank(l []byte, p int) bool {
	return p >= len(l) || l[p] == ' ' || l[p] == '\t'
}

// scanLine follows line l and returns the byte offset in it where the nesting passes
// MaxDepth, or -1.
func (s *depthScanner) scanLine(l []byte) int {
	ind := 0
	for ind < len(l) && l[ind] == ' ' {
		ind++
	}
	if s.literal {
		switch {
		case ind == 0 && isMarker(l):
		case ind == len(l):
			return -1 // a blank line belongs to the block scalar
		case s.indent < 0 && ind > s.parent:
			s.indent = ind
			return -1
		case s.indent >= 0 && ind >= s.indent:
			return -1
		}
		s.literal = false
	}
	p, node := 0, s.quote == 0
	if s.quote == 0 && s.n.flow == 0 {
		if ind == len(l) || l[ind] == '#' {
			return -1
		}
		if isMarker(l) {
			s.n.block = s.n.block[:0] // a new document
			p = 3
		} else {
			s.n.dedent(ind)
			p = ind
		}
	}
	keyCol := p // where the current block value began, for a key
	for p < len(l) {
		c := l[p]
		if s.quote != 0 {
			p = s.inQuote(l, p)
			continue
		}
		if c == ' ' || c == '\t' {
			p++
			continue
		}
		if c == '#' && (p == 0 || l[p-1] == ' ' || l[p-1] == '\t') {
			return -1 // a comment
		}
		if s.n.flow > 0 {
			if at := s.inFlow(l, &p); at >= 0 {
				return at
			}
			if s.n.flow == 0 {
				node, keyCol = false, s.flowKey // after a flow collection, perhaps a key
			}
			continue
		}
		if !node {
			// Inside a plain value (or after a quoted one or a flow collection): it
			// runs to the end of the line, unless ": " makes it a key.
			if c == ':' && isBlank(l, p+1) {
				s.n.entry(keyCol, false)
				if s.n.depth() > MaxDepth {
					return keyCol
				}
				node = true
			}
			p++
			continue
		}
		switch {
		case (c == '-' || c == '?') && isBlank(l, p+1):
			s.n.entry(p, c == '-')
			if s.n.depth() > MaxDepth {
				return p
			}
			p++
		case c == ':' && isBlank(l, p+1):
			p++ // the value of a "? " key
		case c == '&' || c == '!':
			for p < len(l) && !isBlank(l, p) {
				p++ // an anchor or a tag: the value follows
			}
		case c == '[' || c == '{':
			s.flowKey = p
			s.n.flow++
			if s.n.depth() > MaxDepth {
				return p
			}
			p++
		case c == '"' || c == '\'':
			s.quote, keyCol, node = c, p, false
			p++
		case c == '|' || c == '>':
			s.literal, s.indent, s.parent = true, -1, -1
			if k := len(s.n.block) - 1; k >= 0 {
				s.parent = s.n.block[k].col
			}
			return -1 // the rest of the line holds indicators and a comment
		default:
			keyCol, node = p, false // a plain value or an alias
			p++
		}
	}
	return -1
}

// inQuote follows a quoted value from l[p] and returns where to go on: after its
// closing quote, or the end of the line when it runs on.
func (s *depthScanner) inQuote(l []byte, p int) int {
	for p < len(l) {
		switch c := l[p]; {
		case s.quote == '"' && c == '\\':
			p += 2
		case c == s.quote && c == '\'' && p+1 < len(l) && l[p+1] == '\'':
			p += 2 // '' is a quote inside '…'
		case c == s.quote:
			s.quote = 0
			return p + 1
		default:
			p++
		}
	}
	return len(l)
}

// inFlow follows one token inside a flow collection from l[*p], and returns the
// offset where the nesting passes MaxDepth, or -1.
func (s *depthScanner) inFlow(l []byte, p *int) int {
	c := l[*p]
	if s.plain {
		switch {
		case c == ',' || c == '[' || c == ']' || c == '{' || c == '}':
			s.plain = false
		case c == ':' && (isBlank(l, *p+1) || isFlowIndicator(l[*p+1])):
			s.plain = false
			*p++
			return -1
		default:
			*p++
			return -1
		}
	}
	switch c {
	case '[', '{':
		s.n.flow++
		if s.n.depth() > MaxDepth {
			return *p
		}
	case ']', '}':
		s.n.flow--
	case ',', ':', '?':
	case '"', '\'':
		s.quote = c
	case '&', '!', '*':
		for *p+1 < len(l) && !isBlank(l, *p+1) && !isFlowIndicator(l[*p+1]) {
			*p++
		}
	default:
		s.plain = true
	}
	*p++
	return -1
}

// isFlowIndicator reports whether c ends a plain value in a flow collection.
func isFlowIndicator(c byte) bool {
	return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'
}

// tokenDepth follows the nesting of the lexer's tokens, which the parser reads, and
// returns the token at which it first passes MaxDepth (a mapping's key, a "-", a "[" or
// "{"), or nil.
func tokenDepth(tokens token.Tokens) *token.Token {
	var n nesting
	var prev *token.Token
	for _, tk := range tokens {
		if tk.Position == nil {
			continue
		}
		at := tk
		switch tk.Type {
		case token.CommentType, token.SpaceType:
			continue
		case token.DocumentHeaderType:
			n = nesting{}
		case token.SequenceStartType, token.MappingStartType:
			n.flow++
		case token.SequenceEndType, token.MappingEndType:
			n.flow = max(n.flow-1, 0)
		case token.SequenceEntryType, token.MappingKeyType:
			if n.flow == 0 {
				n.entry(tk.Position.Column, tk.Type == token.SequenceEntryType)
			}
		case token.MappingValueType:
			if n.flow == 0 && prev != nil {
				at = prev // the key
				n.entry(prev.Position.Column, false)
			}
		}
		if n.depth() > MaxDepth {
			return at
		}
		prev = tk
	}
	return nil
}
