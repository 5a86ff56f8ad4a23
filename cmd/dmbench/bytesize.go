package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag value of bytes, written as a whole number with an optional binary
// unit: 65536, 512KiB, 1MiB, 2GiB.
type byteSize int64

var byteUnits = []struct {
	suffix string
	n      int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// Set parses s.
func (b *byteSize) Set(s string) error {
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = rest, u.n
			break
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || v <= 0 || v > (1<<62)/mult {
		return fmt.Errorf("%q is not a size: use a whole number of bytes, KiB, MiB or GiB (e.g. 1MiB)", s)
	}
	*b = byteSize(v * mult)
	return nil
}

// String formats the size in the largest unit that divides it.
func (b *byteSize) String() string {
	for _, u := range byteUnits {
		if int64(*b) >= u.n && int64(*b)%u.n == 0 {
			return strconv.FormatInt(int64(*b)/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(*b), 10)
}

// Type names the flag's kind in --help.
func (*byteSize) Type() string { return "size" }
