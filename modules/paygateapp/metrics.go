package paygateapp

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	pgmetrics "github.com/paygate/paygate/internal/metrics"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/store"
)

type metrics struct {
	up       *prometheus.GaugeVec
	duration *prometheus.HistogramVec
	failures *prometheus.CounterVec
}

// storeMetrics are created once per process; see package internal/metrics.
var storeMetrics = &metrics{
	up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "paygate_store_up",
		Help: "Whether the last health check of the store succeeded (1) or not (0).",
	}, []string{"backend"}),
	duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "paygate_store_call_duration_seconds",
		Help:    "Duration of store calls by operation.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
	}, []string{"op"}),
	failures: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_store_failures_total",
		Help: "Store calls that failed because the store was unavailable, by operation.",
	}, []string{"op"}),
}

func registerMetrics(reg prometheus.Registerer) (*metrics, error) {
	if err := pgmetrics.Register(reg, storeMetrics.up, storeMetrics.duration, storeMetrics.failures, ownership.HealTotal); err != nil {
		return nil, err
	}
	return storeMetrics, nil
}

// instrumented records the duration and availability failures of every call
// of the store it wraps. Labels are operation names only, never keys.
type instrumented struct {
	next   store.Store
	m      *metrics
	owners *ownership.Cache
	healer *ownership.Healer
}

func instrument(s store.Store, m *metrics, owners *ownership.Cache, healer *ownership.Healer) store.Store {
	return instrumented{next: s, m: m, owners: owners, healer: healer}
}

// OwnerHealer is the backend's healer (ownership.Healing).
func (s instrumented) OwnerHealer() *ownership.Healer { return s.healer }

// OwnerCache is the replica's memory of the ownership index
// (ownership.Cached), or nil for the memory store, which needs none.
func (s instrumented) OwnerCache() *ownership.Cache { return s.owners }

func (s instrumented) observe(op string, start time.Time, err error) {
	s.m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if errors.Is(err, store.ErrUnavailable) {
		s.m.failures.WithLabelValues(op).Inc()
	}
}

func (s instrumented) Limit(ctx context.Context, reqs []store.LimitRequest) ([]store.LimitResult, error) {
	start := time.Now()
	res, err := s.next.Limit(ctx, reqs)
	s.observe("limit", start, err)
	return res, err
}

func (s instrumented) Refund(ctx context.Context, reqs []store.LimitRequest) error {
	start := time.Now()
	err := s.next.Refund(ctx, reqs)
	s.observe("refund", start, err)
	return err
}

func (s instrumented) Acquire(ctx context.Context, key, owner string, value []byte, ttl time.Duration) (store.Lease, error) {
	start := time.Now()
	l, err := s.next.Acquire(ctx, key, owner, value, ttl)
	s.observe("acquire", start, err)
	return l, err
}

// AcquireLimit is one call, one round trip on a single Redis: one sample,
// under its own operation name.
func (s instrumented) AcquireLimit(ctx context.Context, key, owner string, value []byte, ttl time.Duration, reqs []store.LimitRequest) (store.Lease, []store.LimitResult, error) {
	start := time.Now()
	l, res, err := s.next.AcquireLimit(ctx, key, owner, value, ttl, reqs)
	s.observe("acquire_limit", start, err)
	return l, res, err
}

func (s instrumented) Complete(ctx context.Context, key, owner string, value []byte, retention time.Duration) (bool, error) {
	start := time.Now()
	ok, err := s.next.Complete(ctx, key, owner, value, retention)
	s.observe("complete", start, err)
	return ok, err
}

func (s instrumented) Release(ctx context.Context, key, owner string) (bool, error) {
	start := time.Now()
	ok, err := s.next.Release(ctx, key, owner)
	s.observe("release", start, err)
	return ok, err
}

func (s instrumented) Renew(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	start := time.Now()
	ok, err := s.next.Renew(ctx, key, owner, ttl)
	s.observe("renew", start, err)
	return ok, err
}

func (s instrumented) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	start := time.Now()
	ok, err := s.next.PutIfAbsent(ctx, key, value, ttl)
	s.observe("put_if_absent", start, err)
	return ok, err
}

func (s instrumented) Get(ctx context.Context, key string) ([]byte, bool, error) {
	start := time.Now()
	v, ok, err := s.next.Get(ctx, key)
	s.observe("get", start, err)
	return v, ok, err
}

func (s instrumented) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	start := time.Now()
	err := s.next.Set(ctx, key, value, ttl)
	s.observe("set", start, err)
	return err
}

func (s instrumented) Delete(ctx context.Context, keys ...string) error {
	start := time.Now()
	err := s.next.Delete(ctx, keys...)
	s.observe("delete", start, err)
	return err
}

func (s instrumented) SetIfHigher(ctx context.Context, key string, rank int64, value []byte, ttl time.Duration) (bool, error) {
	start := time.Now()
	ok, err := s.next.SetIfHigher(ctx, key, rank, value, ttl)
	s.observe("set_if_higher", start, err)
	return ok, err
}

func (s instrumented) Ping(ctx context.Context) error {
	start := time.Now()
	err := s.next.Ping(ctx)
	s.observe("ping", start, err)
	return err
}

// Close is not the config's to call: the pool closes the backend.
func (s instrumented) Close() error { return nil }
