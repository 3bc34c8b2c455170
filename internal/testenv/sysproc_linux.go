package testenv

import "syscall"

// sysProcAttr makes the kernel kill a child process when the test process
// dies (a panic or a -timeout), so no paygate or stripe-mock outlives its test
// and holds on to its ports.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
