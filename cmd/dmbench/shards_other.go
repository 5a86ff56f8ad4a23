//go:build !unix

package main

import "syscall"

// childProcAttr returns nil: a shard's process shares this one's console, and gets its
// Ctrl-C from it as well as through forwardSignals.
func childProcAttr() *syscall.SysProcAttr { return nil }
