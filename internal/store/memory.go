package store

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"
)

// janitorInterval is how often Memory drops expired records that no call
// has touched since they expired.
const janitorInterval = time.Minute

var (
	errClosed    = fmt.Errorf("%w: memory store is closed", ErrUnavailable)
	errWrongKind = fmt.Errorf("%w: key holds another kind of record", ErrUnavailable)
)

// Memory is the embedded Store of a single instance: a map guarded by one
// mutex, so that every call is atomic. Values are copied in and out.
type Memory struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]entry
	closed  bool

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// kind tells what a Memory entry holds; like Redis, Memory refuses to treat
// one kind of record as another.
type kind uint8

const (
	kindValue  kind = iota + 1 // Set and PutIfAbsent
	kindTAT                    // a GCRA zone's theoretical arrival time
	kindLease                  // an in-flight lease
	kindDone                   // a completed lease record
	kindRanked                 // SetIfHigher
	kindHeld                   // a GCRA zone's count of held units
)

type entry struct {
	kind    kind
	value   []byte
	owner   string    // kindLease
	tat     int64     // kindTAT, in microseconds since the Unix epoch
	rank    int64     // kindRanked
	held    int64     // kindHeld
	expires time.Time // zero: never
}

func (e entry) expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

// NewMemory returns an empty Memory store reading the time from now
// (time.Now in production). It runs a janitor goroutine until Close.
func NewMemory(now func() time.Time) *Memory {
	m := &Memory{
		now:     now,
		entries: make(map[string]entry),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go m.janitor()
	return m
}

// Limit implements Store.
func (m *Memory) Limit(ctx context.Context, reqs []LimitRequest) ([]LimitResult, error) {
	zones, err := prepareLimit(reqs)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	at, err := m.begin(ctx)
	if err != nil {
		return nil, err
	}
	return m.limit(at, reqs, zones)
}

// limit decides reqs, whose zones prepareLimit made, at the time at, with
// m.mu held. It changes nothing when it fails.
func (m *Memory) limit(at time.Time, reqs []LimitRequest, zones []zone) ([]LimitResult, error) {
	now := at.UnixMicro()
	tats := make([]int64, len(zones))
	helds := make([]entry, len(zones))
	all := true
	for i, z := range zones {
		tats[i] = now
		if e, ok := m.lookup(reqs[i].Key, at); ok {
			if e.kind != kindTAT {
				return nil, errWrongKind
			}
			tats[i] = z.refunded(now, max(e.tat, now))
		}
		var err error
		if helds[i], err = m.held(reqs[i].Key, z, at); err != nil {
			return nil, err
		}
		all = all && z.admits(now, tats[i])
	}
	results := make([]LimitResult, len(zones))
	for i, z := range zones {
		tat := tats[i]
		if all {
			tat += z.increment
		}
		switch {
		case (all || z.refund > 0) && tat > now:
			m.entries[reqs[i].Key] = entry{kind: kindTAT, tat: tat, expires: time.UnixMicro(tat)}
		case all || z.refund > 0:
			delete(m.entries, reqs[i].Key)
		}
		held := z.held(helds[i].held)
		results[i] = z.result(now, tats[i], held, all)
		if all {
			held += z.hold
		}
		m.keepHeld(reqs[i].Key, z, helds[i], held, at)
	}
	return results, nil
}

// held returns the entry of the zone's count of held units as stored, with
// m.mu held: zero for a zone that neither holds nor lets go of units in
// this call (no count is read for it).
func (m *Memory) held(key string, z zone, at time.Time) (entry, error) {
	if !z.readHeld {
		return entry{}, nil
	}
	e, ok := m.lookup(heldKey(key), at)
	switch {
	case !ok:
		return entry{kind: kindHeld}, nil
	case e.kind != kindHeld:
		return entry{}, errWrongKind
	}
	return e, nil
}

// keepHeld stores n, the zone's count of held units after a call, over
// stored, with m.mu held: a count that rose expires HeldTTL from at, one
// that fell keeps its expiry, and an unchanged one is not written.
func (m *Memory) keepHeld(key string, z zone, stored entry, n int64, at time.Time) {
	switch {
	case !z.readHeld:
	case n <= 0:
		delete(m.entries, heldKey(key))
	case n > stored.held:
		stored.held, stored.expires = n, at.Add(HeldTTL)
		m.entries[heldKey(key)] = stored
	case n < stored.held:
		stored.held = n
		m.entries[heldKey(key)] = stored
	}
}

// Refund implements Store.
func (m *Memory) Refund(ctx context.Context, reqs []LimitRequest) error {
	zones, err := prepareLimit(reqs)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	at, err := m.begin(ctx)
	if err != nil {
		return err
	}
	now := at.UnixMicro()
	for i, z := range zones {
		h, err := m.held(reqs[i].Key, z, at)
		if err != nil {
			return err
		}
		m.keepHeld(reqs[i].Key, z, h, z.held(h.held), at)
		e, ok := m.lookup(reqs[i].Key, at)
		switch {
		case !ok:
			continue
		case e.kind != kindTAT:
			return errWrongKind
		}
		if tat := e.tat - z.increment; tat > now {
			m.entries[reqs[i].Key] = entry{kind: kindTAT, tat: tat, expires: time.UnixMicro(tat)}
		} else {
			delete(m.entries, reqs[i].Key)
		}
	}
	return nil
}

// Acquire implements Store.
func (m *Memory) Acquire(ctx context.Context, key, owner string, value []byte, ttl time.Duration) (Lease, error) {
	if err := checkTTL(ttl, true); err != nil {
		return Lease{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now, err := m.begin(ctx)
	if err != nil {
		return Lease{}, err
	}
	return m.acquire(now, key, owner, value, ttl)
}

// acquire is Acquire at now, with m.mu held.
func (m *Memory) acquire(now time.Time, key, owner string, value []byte, ttl time.Duration) (Lease, error) {
	e, ok := m.lookup(key, now)
	if !ok {
		m.entries[key] = entry{kind: kindLease, value: bytes.Clone(value), owner: owner, expires: now.Add(ttl)}
		return Lease{State: Acquired, Value: bytes.Clone(value)}, nil
	}
	switch e.kind {
	case kindLease:
		return Lease{State: Held, Value: bytes.Clone(e.value)}, nil
	case kindDone:
		return Lease{State: Completed, Value: bytes.Clone(e.value)}, nil
	}
	return Lease{}, errWrongKind
}

// AcquireLimit implements Store: both parts under the lock, so that on
// this backend the call is atomic.
func (m *Memory) AcquireLimit(ctx context.Context, key, owner string, value []byte, ttl time.Duration, reqs []LimitRequest) (Lease, []LimitResult, error) {
	if len(reqs) == 0 {
		l, err := m.Acquire(ctx, key, owner, value, ttl)
		return l, nil, err
	}
	if err := checkTTL(ttl, true); err != nil {
		return Lease{}, nil, err
	}
	zones, err := prepareLimit(reqs)
	if err != nil {
		return Lease{}, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now, err := m.begin(ctx)
	if err != nil {
		return Lease{}, nil, err
	}
	lease, err := m.acquire(now, key, owner, value, ttl)
	if err != nil {
		return Lease{}, nil, err
	}
	results, err := m.limit(now, reqs, zones)
	if err != nil {
		if lease.State == Acquired {
			delete(m.entries, key)
		}
		return Lease{}, nil, err
	}
	return lease, results, nil
}

// Complete implements Store.
func (m *Memory) Complete(ctx context.Context, key, owner string, value []byte, retention time.Duration) (bool, error) {
	if err := checkTTL(retention, true); err != nil {
		return false, err
	}
	return m.withLease(ctx, key, owner, func(now time.Time) {
		m.entries[key] = entry{kind: kindDone, value: bytes.Clone(value), expires: now.Add(retention)}
	})
}

// Release implements Store.
func (m *Memory) Release(ctx context.Context, key, owner string) (bool, error) {
	return m.withLease(ctx, key, owner, func(time.Time) { delete(m.entries, key) })
}

// Renew implements Store.
func (m *Memory) Renew(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl, true); err != nil {
		return false, err
	}
	return m.withLease(ctx, key, owner, func(now time.Time) {
		e := m.entries[key]
		e.expires = now.Add(ttl)
		m.entries[key] = e
	})
}

// withLease runs change under the lock when owner holds the live lease on
// key, and reports whether it did.
func (m *Memory) withLease(ctx context.Context, key, owner string, change func(now time.Time)) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now, err := m.begin(ctx)
	if err != nil {
		return false, err
	}
	if held, err := m.holds(key, owner, now); !held || err != nil {
		return false, err
	}
	change(now)
	return true, nil
}

// holds reports whether owner holds the in-flight lease on key.
func (m *Memory) holds(key, owner string, now time.Time) (bool, error) {
	e, ok := m.lookup(key, now)
	switch {
	case !ok || e.kind == kindDone:
		return false, nil
	case e.kind != kindLease:
		return false, errWrongKind
	}
	return e.owner == owner, nil
}

// PutIfAbsent implements Store.
func (m *Memory) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl, false); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now, err := m.begin(ctx)
	if err != nil {
		return false, err
	}
	if _, ok := m.lookup(key, now); ok {
		return false, nil
	}
	m.entries[key] = entry{kind: kindValue, value: bytes.Clone(value), expires: expiry(now, ttl)}
	return true, nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now, err := m.begin(ctx)
	if err != nil {
		return nil, false, err
	}
	e, ok := m.lookup(key, now)
	switch {
	case !ok:
		return nil, false, nil
	case e.kind != kindValue && e.kind != kindRanked:
		return nil, false, errWrongKind
	}
	return bytes.Clone(e.value), true, nil
}

// Set implements Store.
func (m *Memory) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ttl, false); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now, err := m.begin(ctx)
	if err != nil {
		return err
	}
	m.entries[key] = entry{kind: kindValue, value: bytes.Clone(value), expires: expiry(now, ttl)}
	return nil
}

// SetIfHigher implements Store.
func (m *Memory) SetIfHigher(ctx context.Context, key string, rank int64, value []byte, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl, false); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now, err := m.begin(ctx)
	if err != nil {
		return false, err
	}
	if e, ok := m.lookup(key, now); ok {
		if e.kind != kindRanked {
			return false, errWrongKind
		}
		if e.rank >= rank {
			return false, nil
		}
	}
	m.entries[key] = entry{kind: kindRanked, value: bytes.Clone(value), rank: rank, expires: expiry(now, ttl)}
	return true, nil
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.begin(ctx); err != nil {
		return err
	}
	for _, k := range keys {
		delete(m.entries, k)
	}
	return nil
}

// Ping implements Store: it fails once the store is closed.
func (m *Memory) Ping(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.begin(ctx)
	return err
}

// Close stops the janitor and drops every record; later calls fail with
// ErrUnavailable. It is safe to call more than once.
func (m *Memory) Close() error {
	m.closeOnce.Do(func() {
		close(m.stop)
		<-m.done
		m.mu.Lock()
		m.closed = true
		m.entries = nil
		m.mu.Unlock()
	})
	return nil
}

// begin starts a call, with m.mu held, by checking that the store and ctx
// are still usable, and returns the time the call happens at.
func (m *Memory) begin(ctx context.Context) (time.Time, error) {
	if m.closed {
		return time.Time{}, errClosed
	}
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return m.now(), nil
}

// lookup returns the unexpired entry under key, removing an expired one.
func (m *Memory) lookup(key string, now time.Time) (entry, bool) {
	e, ok := m.entries[key]
	if ok && e.expired(now) {
		delete(m.entries, key)
		return entry{}, false
	}
	return e, ok
}

func expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl == 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

func (m *Memory) janitor() {
	defer close(m.done)
	tick := time.NewTicker(janitorInterval)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.sweep()
		}
	}
}

// sweep drops every expired entry.
func (m *Memory) sweep() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, e := range m.entries {
		if e.expired(now) {
			delete(m.entries, k)
		}
	}
}

// Interface guards
var _ Store = (*Memory)(nil)
