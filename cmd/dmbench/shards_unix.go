//go:build unix

package main

import "syscall"

// childProcAttr puts a shard's process in a process group of its own, so that a
// terminal's Ctrl-C reaches only this process, which passes it on (forwardSignals).
func childProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
