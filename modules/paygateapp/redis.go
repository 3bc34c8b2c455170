package paygateapp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/store"
)

// RedisConfig connects to Redis in one of three topologies: a URL
// (standalone), Sentinel (master name and sentinel addresses) or Cluster
// (node addresses). Exactly one of URL, SentinelMaster and ClusterAddrs is
// set. String fields accept {env.*} and {file.*} placeholders, which is how
// passwords must be given.
type RedisConfig struct {
	// URL of a standalone server: redis://, rediss:// (TLS) or unix://,
	// as go-redis's ParseURL reads it (user, password and db included).
	URL string `json:"url,omitempty"`

	// SentinelMaster is the name of the master that Sentinel monitors.
	SentinelMaster string `json:"sentinel_master,omitempty"`
	// SentinelAddrs are the Sentinels' host:port addresses.
	SentinelAddrs []string `json:"sentinel_addrs,omitempty"`
	// SentinelUsername authenticates to the Sentinels (ACL user).
	SentinelUsername string `json:"sentinel_username,omitempty"`
	// SentinelPassword authenticates to the Sentinels.
	SentinelPassword string `json:"sentinel_password,omitempty"`

	// ClusterAddrs are seed node host:port addresses of a Redis Cluster.
	ClusterAddrs []string `json:"cluster_addrs,omitempty"`

	// Username is the ACL user (overrides the URL's).
	Username string `json:"username,omitempty"`
	// Password authenticates the connection (overrides the URL's).
	Password string `json:"password,omitempty"`
	// DB selects the database (standalone and Sentinel only).
	DB int `json:"db,omitempty"`

	// TLS, when set, connects over TLS (rediss:// URLs imply it).
	TLS *RedisTLS `json:"tls,omitempty"`

	// PoolSize is the number of connections per node. Default: go-redis's
	// (10 per CPU).
	PoolSize int `json:"pool_size,omitempty"`
	// Timeout is the budget of one store call, retries included; a call
	// that exceeds it fails as store_unavailable. Default: 250ms.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// DialTimeout bounds establishing a connection. Default: 1s.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
	// KeyPrefix is put in front of every key, so that several deployments
	// can share one Redis. Default: "paygate:".
	KeyPrefix string `json:"key_prefix,omitempty"`
	// NoAutoPipeline sends each rate-limit call on its own. By default the
	// rate-limit calls (Limit and Refund) that concurrent requests make
	// while a batch is out share the next batch's write and read
	// (go-redis's automatic pipeliner, an experimental API of go-redis);
	// each request still waits for its own reply, at most Timeout.
	// Default: false.
	NoAutoPipeline bool `json:"no_auto_pipeline,omitempty"`
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	// CAFile is a PEM bundle of CAs to trust instead of the system's.
	CAFile string `json:"ca_file,omitempty"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `json:"server_name,omitempty"`
}

// resolve returns a copy with placeholders ({env.*}, {file.*}) replaced and defaults filled in,
// after checking that exactly one topology is chosen.
func (c RedisConfig) resolve(repl *caddy.Replacer) (RedisConfig, error) {
	r := c
	var err error
	for _, f := range []*string{&r.URL, &r.SentinelMaster, &r.SentinelUsername, &r.SentinelPassword, &r.Username, &r.Password, &r.KeyPrefix} {
		if *f, err = repl.ReplaceOrErr(*f, true, true); err != nil {
			return r, err
		}
	}
	r.SentinelAddrs = append([]string(nil), c.SentinelAddrs...)
	r.ClusterAddrs = append([]string(nil), c.ClusterAddrs...)
	for _, addrs := range [][]string{r.SentinelAddrs, r.ClusterAddrs} {
		for i := range addrs {
			if addrs[i], err = repl.ReplaceOrErr(addrs[i], true, true); err != nil {
				return r, err
			}
		}
	}
	modes := 0
	for _, set := range []bool{r.URL != "", r.SentinelMaster != "", len(r.ClusterAddrs) > 0} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		return r, errors.New("set exactly one of url, sentinel or cluster")
	}
	if r.SentinelMaster != "" && len(r.SentinelAddrs) == 0 {
		return r, errors.New("sentinel needs at least one sentinel address")
	}
	if len(r.ClusterAddrs) > 0 && r.DB != 0 {
		return r, errors.New("redis cluster has only database 0")
	}
	if r.Timeout == 0 {
		r.Timeout = caddy.Duration(250 * time.Millisecond)
	}
	if r.DialTimeout == 0 {
		r.DialTimeout = caddy.Duration(time.Second)
	}
	if r.KeyPrefix == "" {
		r.KeyPrefix = "paygate:"
	}
	return r, nil
}

// client opens the go-redis client for the chosen topology.
func (c RedisConfig) client() (redis.UniversalClient, error) {
	tlsConfig, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	// The store's per-call budget bounds every call through its context;
	// as the connections' read and write timeouts, it bounds what no
	// caller's context does: the automatic pipeliner's batches.
	io := time.Duration(c.Timeout)
	switch {
	case c.URL != "":
		opts, err := redis.ParseURL(c.URL)
		if err != nil {
			// ParseURL's errors may quote the URL, password included.
			return nil, errors.New("invalid redis url")
		}
		if c.Username != "" {
			opts.Username = c.Username
		}
		if c.Password != "" {
			opts.Password = c.Password
		}
		if c.DB != 0 {
			opts.DB = c.DB
		}
		if tlsConfig != nil {
			opts.TLSConfig = tlsConfig
		}
		opts.PoolSize = c.PoolSize
		opts.DialTimeout = time.Duration(c.DialTimeout)
		opts.ReadTimeout, opts.WriteTimeout = io, io
		opts.ContextTimeoutEnabled = true
		return redis.NewClient(opts), nil
	case c.SentinelMaster != "":
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:       c.SentinelMaster,
			SentinelAddrs:    c.SentinelAddrs,
			SentinelUsername: c.SentinelUsername,
			SentinelPassword: c.SentinelPassword,
			Username:         c.Username,
			Password:         c.Password,
			DB:               c.DB,
			TLSConfig:        tlsConfig,
			PoolSize:         c.PoolSize,
			DialTimeout:      time.Duration(c.DialTimeout),
			ReadTimeout:      io,
			WriteTimeout:     io,
			// The store's per-call budget (Timeout) must cut hung reads too.
			ContextTimeoutEnabled: true,
		}), nil
	default:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 c.ClusterAddrs,
			Username:              c.Username,
			Password:              c.Password,
			TLSConfig:             tlsConfig,
			PoolSize:              c.PoolSize,
			DialTimeout:           time.Duration(c.DialTimeout),
			ReadTimeout:           io,
			WriteTimeout:          io,
			ContextTimeoutEnabled: true,
		}), nil
	}
}

// storeOptions are the Redis store's options over client.
func (c RedisConfig) storeOptions(client redis.UniversalClient) (store.RedisOptions, error) {
	opts := store.RedisOptions{Prefix: c.KeyPrefix, Timeout: time.Duration(c.Timeout)}
	if !c.NoAutoPipeline {
		ap, err := client.AsyncAutoPipeline()
		if err != nil {
			return opts, fmt.Errorf("redis automatic pipeliner: %w", err)
		}
		opts.AutoPipeliner = ap
	}
	return opts, nil
}

func (c RedisConfig) tlsConfig() (*tls.Config, error) {
	if c.TLS == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName}
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("redis tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redis tls ca_file %s: no PEM certificates", c.TLS.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// redisLog sends go-redis's own messages (a lost connection, a failed
// reconnect), which it would print as plain text on stderr, to the app's
// Caddy logger: the configured logs, their format and the redaction apply.
type redisLog struct{ logger *zap.Logger }

// Printf logs one go-redis message at WARN; its messages are all about
// trouble.
func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	if c := l.logger.Check(zapcore.WarnLevel, "redis client"); c != nil {
		c.Write(zap.String("detail", fmt.Sprintf(format, v...)))
	}
}
