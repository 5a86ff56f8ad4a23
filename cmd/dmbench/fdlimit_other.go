//go:build !unix

package main

// fdLimit returns false: the limit is not known here.
func fdLimit() (uint64, bool) { return 0, false }
