package testenv

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds how long a process may take to become ready.
	startTimeout = 60 * time.Second
	// stopTimeout bounds a graceful shutdown before the process is killed.
	stopTimeout = 10 * time.Second
	// tailLines is how many lines of a process's output a failed test logs.
	tailLines = 100
)

// process is a running child process whose output is kept in memory.
type process struct {
	name string
	cmd  *exec.Cmd
	logs *logBuffer
	// done is closed once the process has exited and its output is complete.
	done chan struct{}
	// err is the result of cmd.Wait; read it only after done is closed.
	err error
}

// startProcess starts cmd with its stdout and stderr kept in one logBuffer.
func startProcess(name string, cmd *exec.Cmd) (*process, error) {
	p := &process{name: name, cmd: cmd, logs: newLogBuffer(), done: make(chan struct{})}
	// One writer for both streams: exec then calls Write from one goroutine
	// at a time, so lines of the two streams do not mix.
	cmd.Stdout = p.logs
	cmd.Stderr = p.logs
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		p.logs.flush()
		close(p.done)
	}()
	return p, nil
}

// errNoLine is what waitForLine returns when the process exited without
// writing the line it waited for.
var errNoLine = errors.New("the process exited without writing it")

// waitForLine returns the first output line, from the very first on, for
// which match is true. It returns errNoLine when the process has exited
// without writing one, and an error when timeout passes first.
func (p *process) waitForLine(timeout time.Duration, match func(line []byte) bool) ([]byte, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	seen := 0
	for {
		lines, changed := p.logs.since(seen)
		for _, line := range lines {
			if match(line) {
				return line, nil
			}
		}
		seen += len(lines)
		select {
		case <-changed:
		case <-p.done:
			// The output is complete once done is closed: what is left
			// to look at is all there will be.
			if lines, _ := p.logs.since(seen); len(lines) == 0 {
				return nil, errNoLine
			}
		case <-timer.C:
			return nil, fmt.Errorf("not written within %v", timeout)
		}
	}
}

// waitReady is waitForLine for a line that shows the process is ready: its
// errors hold the output so far.
func (p *process) waitReady(match func(line []byte) bool) ([]byte, error) {
	line, err := p.waitForLine(startTimeout, match)
	switch {
	case errors.Is(err, errNoLine):
		return nil, p.exitedError()
	case err != nil:
		return nil, fmt.Errorf("%s not ready after %v; output:\n%s", p.name, startTimeout, p.logs.all())
	}
	return line, nil
}

// exitedError describes a process that exited when it should be running.
func (p *process) exitedError() error {
	return fmt.Errorf("%s exited (%v); output:\n%s", p.name, p.err, p.logs.all())
}

// stop sends SIGTERM, kills the process if it has not exited after
// stopTimeout, and waits for it. It may be called more than once.
func (p *process) stop() {
	if p.cmd.Process.Signal(syscall.SIGTERM) == nil {
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-p.done:
		case <-timer.C:
			_ = p.cmd.Process.Kill()
		}
	}
	<-p.done
}

// kill sends SIGKILL and waits for the process to exit.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stopAtCleanup stops the process when the test ends and, if the test
// failed, logs the last lines of its output.
func (p *process) stopAtCleanup(t testing.TB) {
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("last %d lines of %s:\n%s", tailLines, p.name, p.logs.tail(tailLines))
		}
	})
}
