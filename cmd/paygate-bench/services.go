package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// What the servers under test talk to, all in the harness or started by it,
// on loopback: the upstream, the identity provider's JWKS, the policy bundle
// server, and a private Redis.

// upstreamBody is the upstream's answer to every request.
var upstreamBody = []byte(`{"ok":true}`)

// upstreamRequests counts the requests the upstream answered: the requests
// a server passed on, which, with one target loaded at a time, are that
// target's (wrk counts only those it saw answered before it stopped).
var upstreamRequests atomic.Int64

// upstream is the application behind the servers: HTTP/1.1, 200 with
// upstreamBody as JSON, whatever the request.
func upstream(w http.ResponseWriter, r *http.Request) {
	upstreamRequests.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header()["Content-Type"] = []string{"application/json"}
	_, _ = w.Write(upstreamBody)
}

// staticFiles serves fixed bodies by path, each with its content type and an
// ETag, as an identity provider serves its JWKS and a bundle server its
// bundle (If-None-Match answered with 304).
type staticFiles map[string]staticFile

type staticFile struct {
	contentType string
	body        []byte
	etag        string
}

func (s staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := s[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("ETag", f.etag)
	w.Header().Set("Cache-Control", "max-age=3600")
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(f.body)
}

// serve serves h over HTTP/1.1 on a free port of 127.0.0.1 until close, and
// returns the address (host:port).
func (b *bench) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.cleanups = append(b.cleanups, func() { _ = srv.Close() })
	return ln.Addr().String(), nil
}

// startRedis starts a private redis-server on a unix socket in dir, keeping
// nothing on disk, and returns a client of it.
func (b *bench) startRedis(ctx context.Context, dir string) (*redis.Client, string, error) {
	socket := filepath.Join(dir, "redis.sock")
	cmd := exec.Command("redis-server", "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
	c, err := b.start("redis-server", filepath.Join(dir, "redis.log"), cmd)
	if err != nil {
		return nil, "", err
	}
	url := "unix://" + socket
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, "", err
	}
	client := redis.NewClient(opts)
	err = poll(ctx, startTimeout, func() (bool, error) {
		if err := c.exited(); err != nil {
			return false, err
		}
		return client.Ping(ctx).Err() == nil, nil
	})
	if err != nil {
		_ = client.Close()
		return nil, "", fmt.Errorf("redis-server did not answer: %w", err)
	}
	return client, url, nil
}

// redisCommands is how many commands Redis has run, the harness's own INFO
// calls aside (see commandCalls); 0 without Redis (no target needs it).
func redisCommands(ctx context.Context, client *redis.Client) (int64, error) {
	if client == nil {
		return 0, nil
	}
	info, err := client.Info(ctx, "commandstats").Result()
	if err == nil {
		var n int64
		if n, err = commandCalls(info); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("redis INFO commandstats: %w", err)
}
