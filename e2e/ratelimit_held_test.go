package e2e

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testenv"
)

// TestRateLimitHeldUnitsRetryAfter: an outcome zone holds a unit for each
// request in flight (so that concurrent requests never exceed its budget),
// and a request refused only because of them is told to retry in a second,
// not after the zone's refill time, which the requests in flight have not
// spent: a client that obeys Retry-After must not be shut out for hours
// (an hour per unit here; 2.4 hours per unit in the shipped ip_cards zone)
// by requests that end a moment later without counting. Once they have
// ended the zone admits again; when its budget is spent, Retry-After is
// the GCRA's again. On the memory store and on Redis (its own script).
func TestRateLimitHeldUnitsRetryAfter(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testHeldUnitsRetryAfter(t, "") })
	t.Run("redis", func(t *testing.T) {
		testHeldUnitsRetryAfter(t, "paygate {\n\t\tstore redis "+testenv.Redis(t).URL()+"\n\t}")
	})
}

// testHeldUnitsRetryAfter is TestRateLimitHeldUnitsRetryAfter with global
// options global (the store).
func testHeldUnitsRetryAfter(t *testing.T, global string) {
	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	up := testenv.StartUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/slow":
			arrived <- struct{}{}
			<-release
		case "/v1/missing":
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	pg := rlipStart(t, up, rlipConfig{global: global, stage: `redis_rate_limit {
			zone failures {
				key {paygate.client_ip}
				statuses 404
				rate 1 1h
				burst 2
			}
		}`})

	// The slow requests end however the test does (a failed assertion
	// must not leave them, and the upstream's Close, waiting).
	var once sync.Once
	end := func() { once.Do(func() { close(release) }) }
	t.Cleanup(end)

	// Two slow requests hold the zone's two units.
	done := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := pg.Client().Get(pg.HTTPSURL + "/v1/slow")
			if err != nil {
				t.Errorf("slow request: %v", err)
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	deadline := time.After(30 * time.Second)
	for range 2 {
		select {
		case <-arrived:
		case <-deadline:
			end()
			t.Fatal("the slow requests did not reach the upstream")
		}
	}
	resp, body := rlipGet(t, pg, "/v1/fast", nil)
	rlipWantRefused(t, resp, body, "failures", 2, 7200)
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("refused while two requests are in flight: Retry-After = %q, want 1 (nothing is spent yet)", got)
	}
	end()
	for range 2 {
		if status := <-done; status != http.StatusOK {
			t.Fatalf("slow request: status %d, want 200", status)
		}
	}

	// They did not count: both units are back for two failures, which
	// spend them.
	for range 2 {
		if resp, body := rlipGet(t, pg, "/v1/missing", nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("a failure after the slow requests ended: status %d, want 404 (body %s)", resp.StatusCode, body)
		}
	}
	resp, body = rlipGet(t, pg, "/v1/fast", nil)
	rlipWantRefused(t, resp, body, "failures", 2, 7200)
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 3500 || ra > 3600 {
		t.Errorf("refused with the budget spent: Retry-After = %q, want about 3600", resp.Header.Get("Retry-After"))
	}
}
