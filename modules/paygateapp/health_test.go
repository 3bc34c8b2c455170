package paygateapp

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/paygate/paygate/internal/health"
	"github.com/paygate/paygate/internal/testenv"
)

// TestStoreReadiness: the readiness check "store" follows the health watch
// (unready before the first ping and while the last one failed), and a
// reload that keeps the store starts from the last ping's outcome.
func TestStoreReadiness(t *testing.T) {
	rs := testenv.Redis(t)
	app := func() *App {
		return &App{
			StoreConfig:    &StoreConfig{Backend: "redis", Redis: &RedisConfig{URL: rs.URL(), Timeout: caddy.Duration(time.Second)}},
			HealthInterval: caddy.Duration(20 * time.Millisecond),
		}
	}
	check := func() health.Status { return health.Run().Checks["store"] }
	ready := func() bool { return check().OK }
	failing := func() bool { s := check(); return !s.OK && strings.Contains(s.Reason, "the last ping failed: ") }

	old := provision(t, app())
	if s := check(); s.OK || s.Reason != "the store has not been pinged yet" {
		t.Fatalf("before the first ping: %+v, want unready, not pinged yet", s)
	}
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the store check to pass", ready)
	rs.Stop()
	testenv.Eventually(t, "the store check to fail while Redis is down", failing)
	rs.Restart()
	testenv.Eventually(t, "the store check to pass once Redis is back", ready)

	// A reload with the same store: the new config's check answers with
	// the last ping's outcome before its own watch has pinged, and the old
	// config's cleanup leaves it in place.
	next := provision(t, app())
	if !ready() {
		t.Fatalf("the new config's store check: %+v, want the last ping's success", check())
	}
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if !ready() {
		t.Fatalf("after the old config's cleanup: %+v, want the new config's check", check())
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, found := health.Run().Checks["store"]; found {
		t.Fatal("the store check outlived the last config")
	}
}
