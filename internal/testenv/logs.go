package testenv

import (
	"bytes"
	"sync"
)

// logBuffer keeps every line a process writes to stdout and stderr, in
// order, and lets waiters know when a line arrives.
type logBuffer struct {
	mu      sync.Mutex
	lines   [][]byte
	partial []byte
	// changed is closed, and replaced, whenever lines grows.
	changed chan struct{}
}

func newLogBuffer() *logBuffer {
	return &logBuffer{changed: make(chan struct{})}
}

// Write splits p into lines; a line without its newline waits for the next
// Write or for flush.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	n := len(b.lines)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		b.lines = append(b.lines, bytes.Clone(b.partial[:i]))
		b.partial = b.partial[i+1:]
	}
	b.partial = bytes.Clone(b.partial)
	if len(b.lines) > n {
		b.notify()
	}
	return len(p), nil
}

// flush keeps a last line that ended without a newline; it is called once
// the process has exited.
func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.partial) > 0 {
		b.lines = append(b.lines, b.partial)
		b.partial = nil
		b.notify()
	}
}

// notify wakes every waiter; b.mu must be held.
func (b *logBuffer) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// since returns the lines from index i on, and a channel that is closed when
// more arrive.
func (b *logBuffer) since(i int) ([][]byte, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lines[i:len(b.lines):len(b.lines)], b.changed
}

// tail returns the last n lines, each ending in a newline.
func (b *logBuffer) tail(n int) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return joinLines(b.lines[max(0, len(b.lines)-n):])
}

// all returns every line, each ending in a newline.
func (b *logBuffer) all() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return joinLines(b.lines)
}

func joinLines(lines [][]byte) []byte {
	var buf bytes.Buffer
	for _, l := range lines {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}
