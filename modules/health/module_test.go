package health

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	pghealth "github.com/paygate/paygate/internal/health"
)

// probe runs h on a GET and returns the status, the headers and the
// decoded body.
func probe(t *testing.T, h *Handler) (int, http.Header, map[string]any) {
	t.Helper()
	w := httptest.NewRecorder()
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		t.Error("the probe went on to the next handler")
		return nil
	})
	if err := h.ServeHTTP(w, httptest.NewRequest("GET", "http://127.0.0.1:9180/readyz", nil), next); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not JSON: %v: %q", err, w.Body)
	}
	return w.Code, w.Header(), body
}

func TestLive(t *testing.T) {
	owner := new(int)
	pghealth.Register(owner, "store", "", func() pghealth.Status { return pghealth.Status{Reason: "down"} })
	t.Cleanup(func() { pghealth.Unregister(owner) })

	// Liveness ignores readiness: a replica whose store is down is alive.
	code, header, body := probe(t, &Handler{Check: "live"})
	if code != http.StatusOK || len(body) != 1 || body["status"] != "ok" {
		t.Errorf("live: %d %v, want 200 {\"status\":\"ok\"}", code, body)
	}
	if header.Get("Content-Type") != "application/json" || header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", header)
	}
}

func TestReady(t *testing.T) {
	owner := new(int)
	t.Cleanup(func() { pghealth.Unregister(owner) })
	storeUp := true
	pghealth.Register(owner, "store", "", func() pghealth.Status {
		if storeUp {
			return pghealth.Status{OK: true}
		}
		return pghealth.Status{Reason: "the last ping failed"}
	})
	pghealth.Register(owner, "policy", "", func() pghealth.Status {
		return pghealth.Status{OK: true, Details: map[string]any{"revision": "r7", "age_seconds": 12}}
	})
	h := &Handler{Check: "ready"}

	code, header, body := probe(t, h)
	if code != http.StatusOK || body["status"] != "ready" {
		t.Fatalf("all checks pass: %d %v, want 200 ready", code, body)
	}
	if header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", header.Get("Cache-Control"))
	}
	checks := body["checks"].(map[string]any)
	if policy := checks["policy"].(map[string]any); policy["ok"] != true || policy["revision"] != "r7" || policy["age_seconds"] != float64(12) {
		t.Errorf("policy check: %v, want ok with revision r7 and age_seconds 12", policy)
	}

	storeUp = false
	code, _, body = probe(t, h)
	if code != http.StatusServiceUnavailable || body["status"] != "unready" {
		t.Fatalf("store failing: %d %v, want 503 unready", code, body)
	}
	checks = body["checks"].(map[string]any)
	if store := checks["store"].(map[string]any); store["ok"] != false || store["reason"] != "the last ping failed" {
		t.Errorf("store check: %v, want not ok with the reason", store)
	}
	if policy := checks["policy"].(map[string]any); policy["ok"] != true || policy["revision"] != "r7" {
		t.Errorf("policy check while the store fails: %v, want still reported", policy)
	}
}

func TestValidate(t *testing.T) {
	for check, valid := range map[string]bool{"live": true, "ready": true, "": false, "Ready": false, "startup": false} {
		if err := (&Handler{Check: check}).Validate(); (err == nil) != valid {
			t.Errorf("Validate(%q) = %v, want valid %v", check, err, valid)
		}
	}
}
