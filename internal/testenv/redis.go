package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a private redis-server that listens only on a unix socket
// and keeps nothing on disk.
type RedisServer struct {
	// Socket is the path of the server's unix socket.
	Socket string

	proc *process
	// start starts the server on Socket.
	start func() *process
}

// Redis starts a RedisServer for t and stops it, removing its files, when t
// ends. Without redis-server on PATH it ends t through Require (a skip, or a
// failure in CI).
func Redis(t testing.TB) *RedisServer {
	t.Helper()
	bin := redisBinary(t)
	dir := tempDir(t)
	// A unix socket path must stay short (about 100 bytes), hence tempDir.
	socket := filepath.Join(dir, "redis.sock")
	start := func() *process {
		return startRedis(t, bin, dir, "redis-server", "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700")
	}
	return &RedisServer{Socket: socket, proc: start(), start: start}
}

// URL returns the server's address in the form redis.ParseURL accepts.
func (s *RedisServer) URL() string {
	return "unix://" + s.Socket
}

// Client returns a new client of the server, closed when t ends unless its
// user closed it first.
func (s *RedisServer) Client(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", s.URL(), err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop shuts the server down and waits for it to exit, so that a test can
// see how its users cope with an outage. It may be called more than once.
func (s *RedisServer) Stop() {
	s.proc.stop()
}

// Restart starts the server again, empty, on the same socket after Stop, so
// that a test can see its users recover from an outage. It must be called
// from the test's goroutine, like Redis.
func (s *RedisServer) Restart() {
	s.proc = s.start()
}

// Cluster is a private Redis Cluster of three masters (no replicas) on
// 127.0.0.1 that keeps nothing on disk.
type Cluster struct {
	// Addrs are the masters' addresses, "127.0.0.1:port".
	Addrs []string
}

// RedisCluster starts a Cluster for t, waits until it serves every slot and
// stops it, removing its files, when t ends. Without redis-server it ends t
// like Redis.
func RedisCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := redisBinary(t)
	dir := tempDir(t)
	const masters = len(slotRanges)
	var ports []int
	c := &Cluster{}
	onFreePorts(t, 2*masters, func(p []int) error {
		ports, c.Addrs = p, nil
		for i := range masters {
			port, bus := ports[2*i], ports[2*i+1]
			if _, err := tryStartRedis(t, bin, dir, "redis-server :"+strconv.Itoa(port),
				"--bind", "127.0.0.1",
				"--port", strconv.Itoa(port),
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d-%d.conf", port, i)),
				"--cluster-port", strconv.Itoa(bus)); err != nil {
				return err
			}
			c.Addrs = append(c.Addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := formCluster(ctx, c.Addrs, ports); err != nil {
		t.Fatalf("testenv: form redis cluster: %v", err)
	}
	return c
}

// Client returns a new cluster client, closed when t ends unless its user
// closed it first.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// slotRanges are the masters' slots, split as redis-cli splits them.
var slotRanges = [...][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}

// formCluster gives each node an equal share of the slots, introduces the
// nodes to the first one and waits until every node sees a healthy cluster
// of all of them. ports holds each node's client and bus port in turn.
func formCluster(ctx context.Context, addrs []string, ports []int) error {
	nodes := make([]*redis.Client, len(addrs))
	for i, addr := range addrs {
		nodes[i] = redis.NewClient(&redis.Options{Addr: addr})
		defer nodes[i].Close()
	}
	for i, n := range nodes {
		r := slotRanges[i]
		if err := n.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", r[0], r[1]).Err(); err != nil {
			return fmt.Errorf("%s: add slots %d-%d: %w", addrs[i], r[0], r[1], err)
		}
	}
	for i := 1; i < len(nodes); i++ {
		if err := nodes[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", ports[2*i], ports[2*i+1]).Err(); err != nil {
			return fmt.Errorf("%s: meet %s: %w", addrs[0], addrs[i], err)
		}
	}
	want := []string{"cluster_state:ok", "cluster_known_nodes:" + strconv.Itoa(len(nodes))}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(nodes); {
		info, err := nodes[i].ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("%s: cluster info: %w", addrs[i], err)
		}
		if hasLines(info, want) {
			i++
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not see a healthy cluster: %w; last CLUSTER INFO:\n%s", addrs[i], ctx.Err(), info)
		case <-tick.C:
		}
	}
	return nil
}

// hasLines reports whether every line of want is a line of text.
func hasLines(text string, want []string) bool {
	lines := strings.Split(strings.ReplaceAll(text, "\r", ""), "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			return false
		}
	}
	return true
}

// startRedis runs redis-server with args on top of the settings every
// private server shares, and returns once the server accepts connections.
// The server is stopped when t ends, and its log shown if t failed.
func startRedis(t testing.TB, bin, dir, name string, args ...string) *process {
	t.Helper()
	p, err := tryStartRedis(t, bin, dir, name, args...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return p
}

// tryStartRedis is startRedis returning its error.
func tryStartRedis(t testing.TB, bin, dir, name string, args ...string) (*process, error) {
	args = append([]string{"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"}, args...)
	p, err := startProcess(name, exec.Command(bin, args...))
	if err != nil {
		return nil, err
	}
	p.stopAtCleanup(t)
	if _, err := p.waitReady(isRedisReady); err != nil {
		return nil, err
	}
	return p, nil
}

// onFreePorts calls start with n ports that were free a moment ago, and
// again with new ones while it fails because another process took one of
// them in between (tests in other packages run at the same time); any other
// failure, or the last attempt's, ends t.
func onFreePorts(t testing.TB, n int, start func(ports []int) error) {
	t.Helper()
	var err error
	for range portAttempts {
		if err = start(freePorts(t, n)); err == nil || !portTaken(err) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// portTaken reports whether err says a server could not listen because its
// port was in use (Go's and Redis's wording).
func portTaken(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "address already in use")
}

// isRedisReady matches the line Redis 7 logs once it accepts connections:
// "Ready to accept connections [tcp]" on TCP, and "The server is now ready to
// accept connections at <socket>" (7.0) or "Ready to accept connections
// unix" (7.2) on a unix socket.
func isRedisReady(line []byte) bool {
	return bytes.Contains(bytes.ToLower(line), []byte("ready to accept connections"))
}

// redisBinary finds redis-server; see Require for what happens without it.
func redisBinary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	Require(t, "redis-server (the Debian package redis-server)", err)
	return bin
}

// tempDir makes a directory removed when t ends. Unlike t.TempDir, its path
// is short enough for a unix socket inside it.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pg")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// Sentinel is a private Redis master watched by one Sentinel, both on
// 127.0.0.1, for testing clients that find the master through Sentinel.
type Sentinel struct {
	// MasterName is the name the Sentinel monitors the master under.
	MasterName string
	// Addrs are the Sentinels' addresses ("127.0.0.1:port").
	Addrs []string
}

// RedisSentinel starts a master and a Sentinel monitoring it, and returns
// once the Sentinel knows the master; both stop when t ends. Without
// redis-server it ends t like Redis.
func RedisSentinel(t testing.TB) *Sentinel {
	t.Helper()
	bin := redisBinary(t)
	dir := tempDir(t)
	const name = "paygate-test"
	var sentinel int
	onFreePorts(t, 2, func(ports []int) error {
		var master int
		master, sentinel = ports[0], ports[1]
		if _, err := tryStartRedis(t, bin, dir, "redis-server :"+strconv.Itoa(master),
			"--bind", "127.0.0.1", "--port", strconv.Itoa(master)); err != nil {
			return err
		}
		// Sentinel rewrites its configuration file, so it must be a file
		// of its own.
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", sentinel))
		text := fmt.Sprintf("bind 127.0.0.1\nport %d\ndir %s\nsentinel monitor %s 127.0.0.1 %d 1\n", sentinel, dir, name, master)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return err
		}
		p, err := startProcess("redis-sentinel :"+strconv.Itoa(sentinel), exec.Command(bin, conf, "--sentinel"))
		if err != nil {
			return err
		}
		p.stopAtCleanup(t)
		_, err = p.waitReady(func(line []byte) bool { return bytes.Contains(line, []byte("+monitor master "+name)) })
		return err
	})
	return &Sentinel{MasterName: name, Addrs: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(sentinel))}}
}
