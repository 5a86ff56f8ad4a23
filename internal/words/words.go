// Package words puts counts and lists into English for dmbench's messages and summaries.
package words

import (
	"fmt"
	"slices"
	"strings"
)

// Plural says n of something: "1 error", "3 errors".
func Plural[N ~int | ~int64 | ~uint64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ListSome joins the first n names with commas and says how many more there are.
func ListSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}

// Notes joins the notes that are not empty with "; ".
func Notes(notes ...string) string {
	return strings.Join(slices.DeleteFunc(notes, func(s string) bool { return s == "" }), "; ")
}
