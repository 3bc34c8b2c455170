package paygateapp

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
)

// TestWarnEviction reads a private Redis's maxmemory-policy: the default
// noeviction is quiet, an evicting policy is a warning naming it, and a
// store that cannot tell (Redis down, or CONFIG refused) says so at INFO.
func TestWarnEviction(t *testing.T) {
	ctx := context.Background()
	rs := testenv.Redis(t)
	s := store.NewRedis(rs.Client(t), store.RedisOptions{})
	check := func() *observer.ObservedLogs {
		core, logs := observer.New(zapcore.DebugLevel)
		warnEviction(ctx, s, zap.New(core))
		return logs
	}
	if logs := check(); logs.Len() != 0 {
		t.Errorf("noeviction logged %v", logs.All())
	}
	if err := rs.Client(t).ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	logs := check().FilterLevelExact(zapcore.WarnLevel).FilterField(zap.String("maxmemory_policy", "allkeys-lru")).All()
	if len(logs) != 1 {
		t.Errorf("allkeys-lru: %d warnings naming it, want 1", len(logs))
	}
	rs.Stop()
	if logs := check().FilterLevelExact(zapcore.InfoLevel).FilterMessageSnippet("could not read").All(); len(logs) != 1 {
		t.Errorf("Redis down: %d notes that the policy is unknown, want 1", len(logs))
	}
}
