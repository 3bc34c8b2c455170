//go:build !linux

package testenv

import "syscall"

// sysProcAttr returns nil: outside Linux there is no parent-death signal, and
// children are stopped only by t.Cleanup.
func sysProcAttr() *syscall.SysProcAttr {
	return nil
}
