package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

const (
	// stopTimeout bounds a graceful shutdown before the group is killed.
	stopTimeout = 10 * time.Second
	// tailLines is how many lines of a log an error shows.
	tailLines = 40
)

// groupAttr puts a child in a process group of its own, so that stopping it
// stops whatever it started and a Ctrl-C at the terminal (sent to the
// harness's group) reaches the harness alone, which then stops every child;
// and has the kernel kill the child should the harness die without doing so.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// command is exec.CommandContext for a child that runs to completion:
// cancelling ctx kills its whole process group.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = groupAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// output runs cmd and returns its stdout; a failure holds its stderr.
func output(cmd *exec.Cmd) ([]byte, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		return out, nil
	}
	err = fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	if text := strings.TrimSpace(string(out) + stderr.String()); text != "" {
		err = fmt.Errorf("%w; output:\n%s", err, text)
	}
	return out, err
}

// child is a long-running process (a server, Redis) whose stdout and stderr
// go to a log file.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	// done is closed once the process has exited.
	done chan struct{}
	// err is cmd.Wait's result; read it only after done is closed.
	err error
}

// startChild starts cmd, in a process group of its own, with its output in
// the file logPath.
func startChild(name, logPath string, cmd *exec.Cmd) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// The child writes straight to the file: no copying in the harness.
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = groupAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// pid is the child's process ID (which is also its process group's).
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited returns an error, with the log's tail, once the child has exited;
// nil while it runs.
func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", c.name, c.err, c.log, c.tail())
	default:
		return nil
	}
}

// stop sends SIGTERM to the child's group, SIGKILL after stopTimeout, and
// waits for the child to exit.
func (c *child) stop() {
	if syscall.Kill(-c.pid(), syscall.SIGTERM) == nil {
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-c.done:
			return
		case <-timer.C:
			_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
		}
	}
	<-c.done
}

// tail returns the last tailLines lines of the child's log.
func (c *child) tail() string {
	text, err := tailFile(c.log, tailLines)
	if err != nil {
		return err.Error()
	}
	return text
}

// tailFile returns the last n lines of the file at path, read from its last
// 64 KiB (a log can be large).
func tailFile(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	const window = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		if _, err := f.Seek(-window, io.SeekEnd); err != nil {
			return "", err
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n"), nil
}

// poll calls cond every 50ms until it returns true or an error, ctx ends or
// timeout passes.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("not within %v", timeout)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}
