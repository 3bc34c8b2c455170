// Package paygateapp provides the paygate Caddy app (module ID "paygate",
// global option "paygate"), which owns the store every other paygate module
// shares: rate-limit counters, idempotency records, webhook de-duplication,
// the ownership index and the customer mapping.
//
// Other modules reach the store with store.FromContext, which loads this app
// (with its defaults when the config has no paygate block) and asserts it to
// store.Provider; no module imports this package.
package paygateapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/health"
	"github.com/paygate/paygate/internal/offline"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/store"
)

func init() {
	caddy.RegisterModule(App{})
}

// App owns the shared store and watches its health.
type App struct {
	// Store selects and configures the backend. Without it, the embedded
	// in-memory store is used: fine for one instance, wrong for replicas,
	// which must share Redis to agree on limits and idempotency.
	StoreConfig *StoreConfig `json:"store,omitempty"`

	// HealthInterval is how often the store is pinged to update the
	// paygate_store_up metric and the readiness check "store", and to log
	// changes of health. Default: 5s.
	HealthInterval caddy.Duration `json:"health_interval,omitempty"`

	store   store.Store
	health  *storeHealth
	backend string
	poolKey string
	logger  *zap.Logger
	metrics *metrics
	stop    context.CancelFunc
	done    chan struct{}
}

// StoreConfig chooses the backend.
type StoreConfig struct {
	// Backend is "memory" (the default) or "redis".
	Backend string `json:"backend,omitempty"`
	// Redis configures the redis backend.
	Redis *RedisConfig `json:"redis,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "paygate",
		New: func() caddy.Module { return new(App) },
	}
}

// backends holds the stores across config reloads: a reload with the same
// store configuration keeps the same connections (and, for the memory store,
// the same data); a changed one closes the old backend once the old config
// is cleaned up.
var backends = caddy.NewUsagePool()

// pooledStore is a backend with the outcome of its last ping, its healer
// (which the payment handler gives a resolver, so that owners the store
// lost are found on Stripe) and, for a shared one, this replica's memory
// of its ownership index. The memory store heals too: after a restart of
// `make run`, the intents made before it are found again.
type pooledStore struct {
	store.Store
	health *storeHealth
	owners *ownership.Cache
	healer *ownership.Healer
}

func (p pooledStore) Destruct() error { return p.Close() }

// Provision opens (or reuses) the configured backend.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	open, err := a.opener()
	if err != nil {
		return err
	}

	val, _, err := backends.LoadOrNew(a.poolKey, open)
	if err != nil {
		return fmt.Errorf("paygate: opening %s store: %w", a.backend, err)
	}
	m, err := registerMetrics(ctx.GetMetricsRegistry())
	if err != nil {
		return err
	}
	a.metrics = m
	p := val.(pooledStore)
	a.store = instrument(p.Store, m, p.owners, p.healer)
	a.health = p.health
	health.Register(a, "store", "", a.health.status)
	return nil
}

// opener fills in the defaults and returns the function that opens the
// configured backend; it sets a.poolKey to the key it is pooled under.
func (a *App) opener() (func() (caddy.Destructor, error), error) {
	if a.StoreConfig == nil {
		a.StoreConfig = new(StoreConfig)
	}
	if a.StoreConfig.Backend == "" {
		a.StoreConfig.Backend = "memory"
	}
	if a.HealthInterval == 0 {
		a.HealthInterval = caddy.Duration(5 * time.Second)
	}
	a.backend = a.StoreConfig.Backend
	switch a.backend {
	case "memory":
		a.poolKey = "memory"
		return func() (caddy.Destructor, error) {
			return pooledStore{Store: store.NewMemory(time.Now), health: new(storeHealth),
				healer: ownership.NewHealer(time.Now, a.logger.Named("ownership"))}, nil
		}, nil
	case "redis":
		// go-redis has one process-wide logger: the newest configuration's.
		redis.SetLogger(redisLog{a.logger.Named("redis")})
		if a.StoreConfig.Redis == nil {
			return nil, errors.New("paygate: store redis: missing redis configuration")
		}
		cfg, err := a.StoreConfig.Redis.resolve(caddy.NewReplacer())
		if err != nil {
			return nil, fmt.Errorf("paygate: store redis: %w", err)
		}
		key, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("paygate: store redis: %w", err)
		}
		a.poolKey = "redis:" + string(key)
		return func() (caddy.Destructor, error) {
			client, err := cfg.client()
			if err != nil {
				return nil, err
			}
			opts, err := cfg.storeOptions(client)
			if err != nil {
				_ = client.Close()
				return nil, err
			}
			rs := store.NewRedis(client, opts)
			// Once per backend, not per reload; beside the start. The client
			// itself connects only when used, never in a validation.
			if !offline.Skip(a.logger, "the check of Redis's eviction policy") {
				go warnEviction(context.Background(), rs, a.logger)
			}
			return pooledStore{Store: rs, health: new(storeHealth), owners: ownership.NewCache(time.Now),
				healer: ownership.NewHealer(time.Now, a.logger.Named("ownership"))}, nil
		}, nil
	}
	return nil, fmt.Errorf("paygate: unknown store backend %q (want memory or redis)", a.backend)
}

// Store returns the shared store (store.Provider).
func (a *App) Store() store.Store { return a.store }

// Start begins watching the store's health. A store that is down at start
// does not stop paygate: each stage then applies its configured failure
// mode, and the health check reports when the store comes back.
func (a *App) Start() error {
	// Validation never starts apps; offline validation's skipped steps
	// must never be what a running server was provisioned with.
	if offline.Enabled() {
		return errors.New("paygate: a configuration provisioned for offline validation cannot run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	a.done = make(chan struct{})
	go a.watchHealth(ctx)
	return nil
}

// Stop ends the health watch.
func (a *App) Stop() error {
	if a.stop != nil {
		a.stop()
		<-a.done
	}
	return nil
}

// Cleanup releases this config's hold on the backend; the last config to
// let go of it closes its connections.
func (a *App) Cleanup() error {
	health.Unregister(a)
	if a.poolKey == "" {
		return nil
	}
	_, err := backends.Delete(a.poolKey)
	return err
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
	_ store.Provider     = (*App)(nil)
)
