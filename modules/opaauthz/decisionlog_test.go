package opaauthz

import (
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestConsoleDecisionLog checks the decision log written to the Caddy log:
// one entry per decision with its ID, masked by the policy's mask rule
// (identity claims) and by the handler (sensitive header values).
func TestConsoleDecisionLog(t *testing.T) {
	env := mustProvision(t, &Handler{
		PolicyDir:   repoPolicies,
		Claims:      []string{"role", "email"},
		DecisionLog: &DecisionLogConfig{Headers: []string{"Authorization", "Cookie", "X-Api-Key", "User-Agent"}},
	})
	env.own(t, "pi_bob", "bob")
	r, w := newRequest("GET", "/v1/payment_intents/pi_bob", caller{user: "alice", claims: map[string]string{"role": "customer", "email": "alice@example.com"}})
	r.Header.Set("Authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.secret-token")
	r.Header.Set("Cookie", "__Host-session=abc123")
	r.Header.Set("X-Api-Key", "sk_test_123")
	r.Header.Set("User-Agent", "paygate-test")
	out := serve(t, env.h, r, w)
	if out.passed {
		t.Fatal("alice read bob's intent")
	}

	entries := env.decisionLogs(t, 1)
	e := entries[0]
	if e.LoggerName != "decision_log" {
		t.Errorf("logger %q, want decision_log under the handler's logger", e.LoggerName)
	}
	b, err := json.Marshal(e.ContextMap())
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, secret := range []string{"secret-token", "abc123", "sk_test_123", "alice@example.com"} {
		if strings.Contains(text, secret) {
			t.Errorf("the decision log holds %q: %s", secret, text)
		}
	}
	var event struct {
		DecisionID string `json:"decision_id"`
		Path       string `json:"path"`
		Input      struct {
			User struct {
				Claims map[string]string `json:"claims"`
			} `json:"user"`
		} `json:"input"`
		Result         map[string]any `json:"result"`
		Erased         []string       `json:"erased"`
		RequestContext struct {
			HTTP struct {
				Headers map[string][]string `json:"headers"`
			} `json:"http"`
		} `json:"request_context"`
	}
	if err := json.Unmarshal(b, &event); err != nil {
		t.Fatal(err)
	}
	if event.DecisionID == "" || !strings.Contains(out.err.Cause.Error(), event.DecisionID) {
		t.Errorf("decision_id %q is not the refused request's decision (%v)", event.DecisionID, out.err.Cause)
	}
	if event.Path != "paygate/authz/decision" {
		t.Errorf("path = %q", event.Path)
	}
	if event.Result["allow"] != false || event.Result["reason"] != "not_owner" {
		t.Errorf("result = %v", event.Result)
	}
	if event.Input.User.Claims["role"] != "customer" {
		t.Errorf("claims = %v, want role kept", event.Input.User.Claims)
	}
	if len(event.Erased) != 1 || event.Erased[0] != "/input/user/claims/email" {
		t.Errorf("erased = %v, want the email claim", event.Erased)
	}
	h := event.RequestContext.HTTP.Headers
	for _, k := range []string{"Authorization", "Cookie", "X-Api-Key"} {
		if got := h[k]; len(got) != 1 || got[0] != masked {
			t.Errorf("%s = %v, want masked", k, got)
		}
	}
	if got := h["User-Agent"]; len(got) != 1 || got[0] != "paygate-test" {
		t.Errorf("User-Agent = %v", got)
	}
}

func TestDecisionLogOff(t *testing.T) {
	env := mustProvision(t, &Handler{PolicyDir: repoPolicies, DecisionLog: &DecisionLogConfig{Disabled: true}})
	r, w := newRequest("GET", "/v1/payment_methods", caller{user: "alice"})
	serve(t, env.h, r, w)
	if n := len(env.logs.FilterMessage("Decision Log").All()); n != 0 {
		t.Errorf("%d decision log entries with decision_log off", n)
	}
	if env.h.engine.decisionLog != nil {
		t.Error("the decision-log plug-in runs with decision_log off")
	}
}

// logService is an OPA decision-log service: it collects uploaded events.
type logService struct {
	mu     sync.Mutex
	events []map[string]any
	auth   string
	path   string
}

func (s *logService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var events []map[string]any
	if err := json.NewDecoder(zr).Decode(&events); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, events...)
	s.auth, s.path = r.Header.Get("Authorization"), r.URL.Path
}

// TestDecisionLogService uploads decisions to a service; the engine's stop
// flushes the buffer.
func TestDecisionLogService(t *testing.T) {
	t.Setenv("OPA_AUTHZ_TEST_LOG_TOKEN", "log-token")
	svc := new(logService)
	srv := httptest.NewServer(svc)
	defer srv.Close()
	env := mustProvision(t, &Handler{
		PolicyDir:   repoPolicies,
		Claims:      []string{"email"},
		DecisionLog: &DecisionLogConfig{Service: srv.URL + "/v1/decisions", BearerToken: "{env.OPA_AUTHZ_TEST_LOG_TOKEN}"},
	})
	r, w := newRequest("GET", "/v1/payment_methods", caller{user: "alice", claims: map[string]string{"email": "alice@example.com"}})
	if out := serve(t, env.h, r, w); !out.passed {
		t.Fatalf("refused: %v", out.err)
	}
	if n := len(env.logs.FilterMessage("Decision Log").All()); n != 0 {
		t.Errorf("%d console entries, want none with a service and no console", n)
	}
	if err := env.h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if len(svc.events) != 1 {
		t.Fatalf("%d events uploaded, want 1", len(svc.events))
	}
	if svc.auth != "Bearer log-token" || svc.path != "/v1/decisions" {
		t.Errorf("upload to %s with %q", svc.path, svc.auth)
	}
	b, _ := json.Marshal(svc.events[0])
	if strings.Contains(string(b), "alice@example.com") {
		t.Errorf("the uploaded decision holds the email: %s", b)
	}
	if svc.events[0]["decision_id"] == "" {
		t.Error("no decision_id")
	}
}
