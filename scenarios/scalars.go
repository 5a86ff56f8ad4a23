package scenarios

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// This file reads typed values (text, whole numbers, numbers, booleans, durations,
// rates, words from a list) from scalars, and says what was expected where a value is
// not of its type. Ranges of the plan's values are loadgen's to check (Plan.Validate).

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
	d.at[e.path] = posOf(n)
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
	d.errorf(posOf(n), e.path, "%s is not text; quote it (%s)", bare(n.GetToken().Value), quote(n.GetToken().Value))
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
				d.errorf(posOf(n), e.path, "%s is out of range; allowed %d to %d", bare(x.GetToken().Value), lo, hi)
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

// duration decodes e as a Go duration ("30s", "1m30s", "250ms"); a bare 0 is 0.
func (d *decoder) duration(e *entry) (time.Duration, bool) {
	n := d.scalar(e, "a duration (e.g. 30s)")
	switch x := n.(type) {
	case nil:
		return 0, false
	case *ast.StringNode:
		v, err := time.ParseDuration(strings.TrimSpace(x.Value))
		if err == nil {
			return v, true
		}
	case *ast.IntegerNode:
		if i, ok := x.Value.(int64); !ok || i != 0 {
			d.errorf(posOf(n), e.path, "%s is not a duration; give its unit (write e.g. %ss)", bare(x.GetToken().Value), bare(x.GetToken().Value))
			return 0, false
		}
		return 0, true
	}
	d.errorf(posOf(n), e.path, "%s is not a duration (write e.g. 30s, 250ms or 1m30s)", describe(n))
	return 0, false
}

// rate decodes e as a rate (see ParseRate).
func (d *decoder) rate(e *entry) (Rate, bool) {
	n := d.scalar(e, "a rate (e.g. 5000/s)")
	if n == nil {
		return 0, false
	}
	s, ok := n.(*ast.StringNode)
	if !ok {
		v := bare(n.GetToken().Value)
		d.errorf(posOf(n), e.path, "%s is not a rate; say per what (write e.g. %s/s)", v, v)
		return 0, false
	}
	r, err := ParseRate(s.Value)
	if err != nil {
		d.errorf(posOf(n), e.path, "%s", err)
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
		d.errorf(posOf(n), e.path, "%s is not allowed; write one of %s", quote(v), strings.Join(allowed, ", "))
		return "", false
	}
	return v, true
}

// scenario builds a Scenario from the top-level fields and stage mappings (each may be
