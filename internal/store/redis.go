package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix is the prefix of every key when RedisOptions.Prefix is
// empty.
const DefaultRedisPrefix = "paygate:"

// RedisOptions configures a Redis store.
type RedisOptions struct {
	// Prefix goes before every key, so that several applications can share
	// one Redis. Braces in it are escaped, so that the key's own hash tag
	// still decides its slot. Default: "paygate:".
	Prefix string
	// Timeout bounds each call, retries included; 0 leaves the caller's
	// context alone. For it to cut a read or write that hangs, the client
	// must have ContextTimeoutEnabled (else its ReadTimeout and
	// WriteTimeout apply).
	Timeout time.Duration
	// AutoPipeliner, when set, carries Limit and Refund: the calls that
	// concurrent requests make while a batch is out go to Redis together
	// in the next one, one write and one read for all of them, instead of
	// a write and a read each. It must be the deferred face
	// (client.AsyncAutoPipeline()) of the store's own client. Each caller
	// still waits for its own reply, and at most Timeout; but a batch is
	// bounded by the client's ReadTimeout and WriteTimeout, not by its
	// callers' contexts, so a command may be sent after its caller has
	// given up. That is harmless for these two, which only move rate-limit
	// counters (a late charge counts a request that did happen), and why
	// the lease and record calls, whose late run could hold a key or
	// swallow a retry, go on their own. Nil: every call on its own.
	AutoPipeliner *redis.AutoPipeliner
}

// Redis is the Store on Redis (standalone, Sentinel or Cluster). Each call is
// one round trip: multi-step operations are Lua scripts, and the GCRA runs on
// the server's clock so that every replica agrees.
type Redis struct {
	client  redis.UniversalClient
	auto    *redis.AutoPipeliner
	prefix  string
	timeout time.Duration
}

// NewRedis returns a Store on client, which it owns from then on: Close
// closes it.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{client: client, auto: opts.AutoPipeliner, prefix: tagEscaper.Replace(prefix), timeout: opts.Timeout}
}

// Limit implements Store.
func (r *Redis) Limit(ctx context.Context, reqs []LimitRequest) ([]LimitResult, error) {
	call, err := r.limitCall(reqs)
	if err != nil {
		return nil, err
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	return limitResults(r.counter(ctx, call), len(reqs))
}

// scriptCall is one run of a script: what Limit, Refund, Acquire and
// AcquireLimit send.
type scriptCall struct {
	script *redis.Script
	keys   []string
	args   []any
}

// run runs the call on its own: EVALSHA, and EVAL when the server's script
// cache lacks the script.
func (c scriptCall) run(ctx context.Context, s redis.Scripter) *redis.Cmd {
	return c.script.Run(ctx, s, c.keys, c.args...)
}

// counter runs a call that only moves rate-limit counters: through the
// automatic pipeliner when there is one (see RedisOptions.AutoPipeliner),
// else on its own.
func (r *Redis) counter(ctx context.Context, c scriptCall) *redis.Cmd {
	if r.auto == nil {
		return c.run(ctx, r.client)
	}
	cmd := c.evalSha(ctx)
	err := r.auto.Submit(ctx, cmd).WaitContext(ctx)
	switch {
	case redis.HasErrorPrefix(err, "NOSCRIPT"):
		// After a restart, a failover or SCRIPT FLUSH: rare enough to go
		// on its own.
		return c.script.Eval(ctx, r.client, c.keys, c.args...)
	case err != nil && err == ctx.Err():
		// The wait ended before the batch did, which may still write
		// cmd: the caller gets a command of its own.
		failed := redis.NewCmd(ctx)
		failed.SetErr(err)
		return failed
	}
	return cmd
}

// evalSha is the EVALSHA command of the call, as go-redis's EvalSha builds
// it.
func (c scriptCall) evalSha(ctx context.Context) *redis.Cmd {
	args := make([]any, 0, 3+len(c.keys)+len(c.args))
	args = append(args, "evalsha", c.script.Hash(), len(c.keys))
	for _, k := range c.keys {
		args = append(args, k)
	}
	cmd := redis.NewCmd(ctx, append(args, c.args...)...)
	if len(c.keys) > 0 {
		cmd.SetFirstKeyPos(3)
	}
	return cmd
}

// limitCall checks reqs and returns the script call that decides them.
func (r *Redis) limitCall(reqs []LimitRequest) (scriptCall, error) {
	zones, err := prepareLimit(reqs)
	if err != nil {
		return scriptCall{}, err
	}
	keys := make([]string, 0, len(reqs))
	args := make([]any, 0, 1+7*len(zones))
	args = append(args, heldTTLMillis)
	for i, z := range zones {
		keys = append(keys, r.prefix+reqs[i].Key)
		read := 0
		if z.readHeld {
			keys = append(keys, r.prefix+heldKey(reqs[i].Key))
			read = 1
		}
		args = append(args, z.interval, z.capacity, z.increment, z.refund, z.hold, z.release, read)
	}
	return scriptCall{script: limitScript, keys: keys, args: args}, nil
}

// heldTTLMillis is HeldTTL as the limit script takes it, boxed once.
var heldTTLMillis any = millis(HeldTTL)

// limitResults reads the limit script's reply for n zones.
func limitResults(cmd *redis.Cmd, n int) ([]LimitResult, error) {
	reply, err := cmd.Int64Slice()
	if err != nil {
		return nil, fail("limit", err)
	}
	if len(reply) != 5*n {
		return nil, fail("limit", fmt.Errorf("script returned %d integers for %d zones", len(reply), n))
	}
	results := make([]LimitResult, n)
	for i := range results {
		v := reply[5*i : 5*i+5]
		results[i] = LimitResult{
			Allowed:    v[0] == 1,
			Remaining:  v[1],
			RetryAfter: micros(v[2]),
			ResetAfter: micros(v[3]),
			Held:       v[4],
		}
	}
	return results, nil
}

// Refund implements Store.
func (r *Redis) Refund(ctx context.Context, reqs []LimitRequest) error {
	zones, err := prepareLimit(reqs)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(reqs))
	args := make([]any, 0, 2*len(zones))
	for i, z := range zones {
		keys = append(keys, r.prefix+reqs[i].Key)
		if z.release > 0 {
			keys = append(keys, r.prefix+heldKey(reqs[i].Key))
		}
		args = append(args, z.increment, z.release)
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := r.counter(ctx, scriptCall{script: refundScript, keys: keys, args: args}).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fail("refund", err)
	}
	return nil
}

// Acquire implements Store.
func (r *Redis) Acquire(ctx context.Context, key, owner string, value []byte, ttl time.Duration) (Lease, error) {
	if err := checkTTL(ttl, true); err != nil {
		return Lease{}, err
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	return leaseOf(r.acquireCall(key, owner, value, ttl).run(ctx, r.client), value)
}

// acquireCall is the script call that takes key's lease.
func (r *Redis) acquireCall(key, owner string, value []byte, ttl time.Duration) scriptCall {
	return scriptCall{script: acquireScript, keys: []string{r.prefix + key}, args: []any{owner, value, millis(ttl)}}
}

// leaseOf reads the acquire script's reply; value is the caller's.
func leaseOf(cmd *redis.Cmd, value []byte) (Lease, error) {
	reply, err := cmd.Slice()
	if err != nil {
		return Lease{}, fail("acquire", err)
	}
	var state int64
	if len(reply) > 0 {
		state, _ = reply[0].(int64)
	}
	switch {
	case state == int64(Acquired):
		return Lease{State: Acquired, Value: bytes.Clone(value)}, nil
	case (state == int64(Held) || state == int64(Completed)) && len(reply) == 2:
		held, _ := reply[1].(string)
		return Lease{State: LeaseState(state), Value: []byte(held)}, nil
	}
	return Lease{}, fail("acquire", fmt.Errorf("unexpected script reply %v", reply))
}

// AcquireLimit implements Store with one pipeline of the acquire and limit
// scripts: one round trip on a single server (Sentinel's master
// included); on a Cluster, whose nodes hold the key and the zones apart,
// go-redis sends each node its part at the same time. When one part fails
// the other is undone, as far as the server lets it (see undo).
func (r *Redis) AcquireLimit(ctx context.Context, key, owner string, value []byte, ttl time.Duration, reqs []LimitRequest) (Lease, []LimitResult, error) {
	if len(reqs) == 0 {
		l, err := r.Acquire(ctx, key, owner, value, ttl)
		return l, nil, err
	}
	if err := checkTTL(ttl, true); err != nil {
		return Lease{}, nil, err
	}
	limit, err := r.limitCall(reqs)
	if err != nil {
		return Lease{}, nil, err
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	cmds := r.runPipelined(ctx, r.acquireCall(key, owner, value, ttl), limit)
	lease, lerr := leaseOf(cmds[0], value)
	results, rerr := limitResults(cmds[1], len(reqs))
	if err := errors.Join(lerr, rerr); err != nil {
		r.undo(ctx, key, owner, lease, reqs, results)
		return Lease{}, nil, fmt.Errorf("acquire limit: %w", err)
	}
	return lease, results, nil
}

// runPipelined runs calls in one pipeline of EVALSHAs. Script.Run cannot
// fall back to EVAL inside a pipeline (the reply comes after it returns),
// so the calls whose script the server's cache lacks (NOSCRIPT: after a
// restart, a failover, SCRIPT FLUSH, or on a Cluster node that never ran
// it) run again, with EVAL, in a second pipeline. A call that failed with
// NOSCRIPT did not run, so each call runs once.
func (r *Redis) runPipelined(ctx context.Context, calls ...scriptCall) []*redis.Cmd {
	cmds := make([]*redis.Cmd, len(calls))
	// Each command keeps its own reply or error, read by the caller.
	_, _ = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range calls {
			cmds[i] = c.script.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	var missing []int
	for i, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		_, _ = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range missing {
				cmds[i] = calls[i].script.Eval(ctx, p, calls[i].keys, calls[i].args...)
			}
			return nil
		})
	}
	return cmds
}

// undo gives back what the part of an AcquireLimit that succeeded changed
// when the other failed: the lease it took, the units it charged. It is
// one more round trip, on a failure only; when it fails too (the server is
// down), the lease expires with its TTL and the units return with time.
func (r *Redis) undo(ctx context.Context, key, owner string, lease Lease, reqs []LimitRequest, results []LimitResult) {
	ctx = context.WithoutCancel(ctx)
	if lease.State == Acquired {
		_, _ = r.Release(ctx, key, owner)
	}
	if charged := Charged(reqs); results != nil && Admitted(results) && len(charged) > 0 {
		_ = r.Refund(ctx, charged)
	}
}

// Complete implements Store.
func (r *Redis) Complete(ctx context.Context, key, owner string, value []byte, retention time.Duration) (bool, error) {
	if err := checkTTL(retention, true); err != nil {
		return false, err
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	ok, err := completeScript.Run(ctx, r.client, []string{r.prefix + key}, owner, value, millis(retention)).Bool()
	if err != nil {
		return false, fail("complete", err)
	}
	return ok, nil
}

// Release implements Store.
func (r *Redis) Release(ctx context.Context, key, owner string) (bool, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	ok, err := releaseScript.Run(ctx, r.client, []string{r.prefix + key}, owner).Bool()
	if err != nil {
		return false, fail("release", err)
	}
	return ok, nil
}

// Renew implements Store.
func (r *Redis) Renew(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl, true); err != nil {
		return false, err
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	ok, err := renewScript.Run(ctx, r.client, []string{r.prefix + key}, owner, millis(ttl)).Bool()
	if err != nil {
		return false, fail("renew", err)
	}
	return ok, nil
}

// PutIfAbsent implements Store with SET NX PX.
func (r *Redis) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl, false); err != nil {
		return false, err
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	ok, err := r.client.SetNX(ctx, r.prefix+key, value, roundUpMillis(ttl)).Result()
	if err != nil {
		return false, fail("put if absent", err)
	}
	return ok, nil
}

// Get implements Store. A plain value takes one GET; a ranked record (a
// list, see SetIfHigher) is read with a second command once GET has found
// the key to hold a list.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	value, err := r.client.Get(ctx, r.prefix+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case isWrongType(err):
		return r.getRanked(ctx, key)
	case err != nil:
		return nil, false, fail("get", err)
	}
	return value, true, nil
}

// getRanked reads the value of the ranked record under key. Another kind of
// record fails with the server's WRONGTYPE error, as GET would.
func (r *Redis) getRanked(ctx context.Context, key string) ([]byte, bool, error) {
	rec, err := r.client.LRange(ctx, r.prefix+key, 0, 1).Result()
	switch {
	case err != nil:
		return nil, false, fail("get", err)
	case len(rec) == 0:
		// It expired or was deleted since GET saw it.
		return nil, false, nil
	case len(rec) != 2:
		return nil, false, fail("get", fmt.Errorf("ranked record of %d elements", len(rec)))
	}
	return []byte(rec[1]), true, nil
}

// isWrongType reports whether err is Redis's reply to a command on a key
// holding another type of value.
func isWrongType(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE")
}

// SetIfHigher implements Store with one script; see
// scripts/set_if_higher.lua for the record's layout.
func (r *Redis) SetIfHigher(ctx context.Context, key string, rank int64, value []byte, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl, false); err != nil {
		return false, err
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	ok, err := setIfHigherScript.Run(ctx, r.client, []string{r.prefix + key}, strconv.FormatInt(rank, 10), value, millis(ttl)).Bool()
	if err != nil {
		return false, fail("set if higher", err)
	}
	return ok, nil
}

// Set implements Store.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ttl, false); err != nil {
		return err
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := r.client.Set(ctx, r.prefix+key, value, roundUpMillis(ttl)).Err(); err != nil {
		return fail("set", err)
	}
	return nil
}

// Delete implements Store. Several keys go in one pipeline of single-key
// DELs, which a Cluster client splits by node.
func (r *Redis) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	var err error
	if len(keys) == 1 {
		err = r.client.Del(ctx, r.prefix+keys[0]).Err()
	} else {
		_, err = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Del(ctx, r.prefix+k)
			}
			return nil
		})
	}
	if err != nil {
		return fail("delete", err)
	}
	return nil
}

// Ping implements Store.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fail("ping", err)
	}
	return nil
}

// MaxmemoryPolicy returns Redis's maxmemory-policy (one node's, on a
// Cluster): what Redis does with keys when it runs out of memory. Only
// "noeviction" keeps every key paygate writes until its TTL.
func (r *Redis) MaxmemoryPolicy(ctx context.Context) (string, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	m, err := r.client.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return "", fail("config get", err)
	}
	return m["maxmemory-policy"], nil
}

// Close closes the client.
func (r *Redis) Close() error {
	if err := r.client.Close(); err != nil {
		return fail("close", err)
	}
	return nil
}

// bound applies the per-call budget to ctx.
func (r *Redis) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.timeout)
}

// fail wraps err so that it matches both ErrUnavailable and err.
func fail(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}

// roundUpMillis rounds ttl up to Redis's resolution, a millisecond, so that
// a short ttl never becomes "no expiry" or an error.
func roundUpMillis(ttl time.Duration) time.Duration {
	return time.Duration(millis(ttl)) * time.Millisecond
}

func millis(ttl time.Duration) int64 {
	return ceilDiv(int64(ttl), int64(time.Millisecond))
}

// Interface guards
var _ Store = (*Redis)(nil)
