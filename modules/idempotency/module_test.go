package idempotency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/noexec"
	"github.com/paygate/paygate/internal/reqid"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
)

// sealEnv is the environment variable the fixtures' seal key is read from.
const sealEnv = "PAYGATE_TEST_IDEM_SEAL_KEY"

// fixture is a Handler set up without Caddy, on a memory store, with an
// observed logger.
type fixture struct {
	t     testing.TB
	h     *Handler
	store store.Store
	logs  *observer.ObservedLogs
}

// newFixture sets up a Handler sealing with a fresh key from sealEnv, on a
// store of its own; configure may change the handler before set-up.
func newFixture(t testing.TB, configure func(h *Handler)) *fixture {
	t.Helper()
	s := store.NewMemory(time.Now)
	t.Cleanup(func() { _ = s.Close() })
	h := &Handler{SealKeys: freshSealKey(t)}
	if configure != nil {
		configure(h)
	}
	return setUpFixture(t, s, h)
}

// freshSealKey puts a new seal key into sealEnv and returns the SealKeys
// that name it.
func freshSealKey(t testing.TB) []string {
	t.Helper()
	t.Setenv(sealEnv, newSealKey(t))
	return []string{"{env." + sealEnv + "}"}
}

// setUpFixture sets h up on s.
func setUpFixture(t testing.TB, s store.Store, h *Handler) *fixture {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	if err := h.setUp(s, zap.New(core), caddy.NewReplacer()); err != nil {
		t.Fatalf("set-up: %v", err)
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return &fixture{t: t, h: h, store: s, logs: logs}
}

// post is a JSON POST to path with an Idempotency-Key field per key.
func post(path, body string, keys ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://pay.example.com"+path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for _, k := range keys {
		r.Header.Add("Idempotency-Key", k)
	}
	return r
}

// response is what the client got: the stage's answer, or the error it
// returned as paygate_error renders it.
type response struct {
	status int
	header http.Header
	body   []byte
	// err is the API error the stage returned; nil when it answered.
	err *apierror.Error
}

// code is the error code of the response, or "" for an answer.
func (r response) code() string {
	if r.err == nil {
		return ""
	}
	return r.err.Code
}

// serve sends r, as user ("" for none), through the stage to next.
func (f *fixture) serve(r *http.Request, user string, next caddyhttp.Handler) response {
	f.t.Helper()
	w := httptest.NewRecorder()
	repl := caddy.NewReplacer()
	r = caddyhttp.PrepareRequest(r, repl, w, &caddyhttp.Server{})
	if user != "" {
		repl.Set(userPlaceholder, user)
	}
	err := f.h.ServeHTTP(w, r, next)
	if err == nil {
		return response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
	}
	if w.Body.Len() != 0 || w.Code != http.StatusOK {
		f.t.Errorf("the stage wrote a response (%d) and returned an error", w.Code)
	}
	out, e := render(r, err)
	return response{status: out.Code, header: out.Header(), body: out.Body.Bytes(), err: e}
}

// render writes err as paygate_error does in the site's handle_errors
// route, and returns the API error it resolved to.
func render(r *http.Request, err error) (*httptest.ResponseRecorder, *apierror.Error) {
	status := http.StatusInternalServerError
	if he, ok := errors.AsType[caddyhttp.HandlerError](err); ok && he.StatusCode != 0 {
		status = he.StatusCode
	}
	e := apierror.ResolveRequest(r, err, status)
	out := httptest.NewRecorder()
	apierror.Write(out, e, reqid.From(r))
	return out, e
}

// counter is a next handler that counts its runs and answers with fn,
// which gets the run's number (from 1).
type counter struct {
	runs atomic.Int32
	fn   func(run int32, w http.ResponseWriter, r *http.Request) error
}

// ServeHTTP implements caddyhttp.Handler.
func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	return c.fn(c.runs.Add(1), w, r)
}

// count returns a counter answering with fn.
func count(fn func(run int32, w http.ResponseWriter, r *http.Request) error) *counter {
	return &counter{fn: fn}
}

// created answers 201 with a body naming the run and echoing the request
// body, and headers of which only some may be replayed.
func created(run int32, w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Location", fmt.Sprintf("/v1/payment_intents/pi_%d", run))
	h.Set("Set-Cookie", "session=s3cr3t; Secure; HttpOnly")
	h.Set("X-Request-Id", fmt.Sprintf("req_%d", run))
	w.WriteHeader(http.StatusCreated)
	_, err = fmt.Fprintf(w, `{"id":"pi_%d","client_secret":"pi_%d_secret_x","request":%q}`, run, run, body)
	return err
}

// writes answers with status and a small JSON body.
func writes(status int) func(int32, http.ResponseWriter, *http.Request) error {
	return func(run int32, w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, err := fmt.Fprintf(w, `{"run":%d}`, run)
		return err
	}
}

// returns fails with err.
func returns(err error) func(int32, http.ResponseWriter, *http.Request) error {
	return func(int32, http.ResponseWriter, *http.Request) error { return err }
}

const (
	intents     = "/v1/payment_intents"
	setups      = "/v1/setup_intents"
	intentBody  = `{"amount":8900,"currency":"usd"}`
	replayedHdr = "Idempotent-Replayed"
)

// wantAnswer requires an answer (no error) with status.
func wantAnswer(t *testing.T, got response, status int) {
	t.Helper()
	if got.err != nil || got.status != status {
		t.Fatalf("got %d %s (%v), want an answer %d; body %s", got.status, got.code(), got.err, status, got.body)
	}
}

// wantError requires the API error status code.
func wantError(t *testing.T, got response, status int, code string) {
	t.Helper()
	if got.err == nil || got.status != status || got.err.Code != code {
		t.Fatalf("got %d %q (%v), want %d %s; body %s", got.status, got.code(), got.err, status, code, got.body)
	}
}

// wantRuns requires next to have run n times.
func wantRuns(t *testing.T, next *counter, n int32) {
	t.Helper()
	if got := next.runs.Load(); got != n {
		t.Fatalf("next ran %d times, want %d", got, n)
	}
}

// wantSame requires replay to be first again, replayed.
func wantSame(t *testing.T, first, replay response) {
	t.Helper()
	if replay.status != first.status || !bytes.Equal(replay.body, first.body) {
		t.Errorf("replay = %d %s\nwant %d %s", replay.status, replay.body, first.status, first.body)
	}
	if got := replay.header.Get(replayedHdr); got != "true" {
		t.Errorf("replay's %s = %q, want true", replayedHdr, got)
	}
	if got, want := replay.header.Get("Content-Type"), first.header.Get("Content-Type"); got != want {
		t.Errorf("replay's Content-Type = %q, want %q", got, want)
	}
}

func TestRunsOnceAndReplays(t *testing.T) {
	f := newFixture(t, nil)
	next := count(created)

	first := f.serve(post(intents, intentBody, "order-42"), "alice", next)
	wantAnswer(t, first, http.StatusCreated)
	wantRuns(t, next, 1)
	if got := first.header.Get(replayedHdr); got != "" {
		t.Errorf("the first answer has %s: %q", replayedHdr, got)
	}
	if want := fmt.Sprintf("%q", intentBody); !bytes.Contains(first.body, []byte(want)) {
		t.Errorf("next did not read the request body intact: %s", first.body)
	}

	for range 2 {
		replay := f.serve(post(intents, intentBody, "order-42"), "alice", next)
		wantRuns(t, next, 1)
		wantSame(t, first, replay)
		if got := replay.header.Get("Location"); got != "/v1/payment_intents/pi_1" {
			t.Errorf("replay's Location = %q, want the stored one", got)
		}
		for _, k := range []string{"Set-Cookie", "X-Request-Id"} {
			if v, ok := replay.header[k]; ok {
				t.Errorf("replay has %s: %q", k, v)
			}
		}
	}

	// What the store holds is sealed.
	lease, err := f.store.Acquire(t.Context(), recordKey("alice", http.MethodPost, intents, "order-42"), "probe", []byte("x"), time.Second)
	if err != nil || lease.State != store.Completed {
		t.Fatalf("record: %v, %v; want completed", lease.State, err)
	}
	for _, plain := range []string{"client_secret", "s3cr3t", "pi_1", "alice", "order-42"} {
		if bytes.Contains(lease.Value, []byte(plain)) {
			t.Errorf("the stored record holds %q in the clear", plain)
		}
	}
}

func TestScope(t *testing.T) {
	f := newFixture(t, nil)
	next := count(created)

	alice := f.serve(post(intents, intentBody, "k1"), "alice", next)
	wantAnswer(t, alice, http.StatusCreated)
	bob := f.serve(post(intents, intentBody, "k1"), "bob", next)
	wantAnswer(t, bob, http.StatusCreated)
	wantRuns(t, next, 2)
	if bytes.Equal(alice.body, bob.body) {
		t.Fatalf("bob got alice's answer: %s", bob.body)
	}
	wantSame(t, bob, f.serve(post(intents, intentBody, "k1"), "bob", next))
	wantSame(t, alice, f.serve(post(intents, intentBody, "k1"), "alice", next))

	setup := f.serve(post(setups, intentBody, "k1"), "alice", next)
	wantAnswer(t, setup, http.StatusCreated)
	wantRuns(t, next, 3)
	wantSame(t, setup, f.serve(post(setups, intentBody, "k1"), "alice", next))
	wantRuns(t, next, 3)

	// One route template is one scope, whatever the resource ID.
	confirm := count(writes(http.StatusOK))
	wantAnswer(t, f.serve(post(intents+"/pi_A/confirm", `{}`, "k2"), "alice", confirm), http.StatusOK)
	wantError(t, f.serve(post(intents+"/pi_B/confirm", `{}`, "k2"), "alice", confirm), http.StatusUnprocessableEntity, "idempotency_key_reused")
	wantRuns(t, confirm, 1)
}

func TestAnotherRequestUnderTheKey(t *testing.T) {
	f := newFixture(t, nil)
	next := count(created)
	wantAnswer(t, f.serve(post(intents, intentBody, "k"), "alice", next), http.StatusCreated)

	otherType := post(intents, intentBody, "k")
	otherType.Header.Set("Content-Type", "application/json; charset=utf-8")
	for name, r := range map[string]*http.Request{
		"other body": post(intents, `{"amount":8901,"currency":"usd"}`, "k"),
		// By design: the fingerprint is of the exact bytes.
		"reformatted JSON": post(intents, `{"amount": 8900, "currency": "usd"}`, "k"),
		"other query":      post(intents+"?expand=customer", intentBody, "k"),
		"other type":       otherType,
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, f.serve(r, "alice", next), http.StatusUnprocessableEntity, "idempotency_key_reused")
			wantRuns(t, next, 1)
		})
	}
}

// inFlight starts alice's request under key, whose run of next (the first
// one, which answers as created does, as do the later ones) goes on until
// finish is called; finish returns the request's response.
func (f *fixture) inFlight(key string) (next *counter, finish func() response) {
	started, proceed := make(chan struct{}), make(chan struct{})
	next = count(func(run int32, w http.ResponseWriter, r *http.Request) error {
		if run == 1 {
			close(started)
			<-proceed
		}
		return created(run, w, r)
	})
	done := make(chan response, 1)
	go func() { done <- f.serve(post(intents, intentBody, key), "alice", next) }()
	<-started
	return next, func() response {
		close(proceed)
		return <-done
	}
}

func TestKeyInFlight(t *testing.T) {
	f := newFixture(t, nil)
	next, finish := f.inFlight("k")

	inUse := f.serve(post(intents, intentBody, "k"), "alice", next)
	wantError(t, inUse, http.StatusConflict, "idempotency_key_in_use")
	if got := inUse.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	wantError(t, f.serve(post(intents, `{"amount":1}`, "k"), "alice", next), http.StatusUnprocessableEntity, "idempotency_key_reused")
	first := finish()
	wantAnswer(t, first, http.StatusCreated)
	wantSame(t, first, f.serve(post(intents, intentBody, "k"), "alice", next))
	wantRuns(t, next, 1)
}

func TestKeyRequirement(t *testing.T) {
	tests := []struct {
		name   string
		routes []Route
		path   string
		// want is the error code without a key; "" when it passes.
		want string
		// dedup says whether a keyed request is de-duplicated.
		dedup bool
	}{
		{name: "table requires", path: intents, want: "idempotency_key_missing", dedup: true},
		{name: "table makes optional", path: setups, dedup: true},
		{name: "other POST of the table", path: intents + "/pi_1/cancel", dedup: true},
		{name: "route required", routes: []Route{{Method: "POST", Template: setups, Key: KeyRequired}}, path: setups, want: "idempotency_key_missing", dedup: true},
		{name: "route optional", routes: []Route{{Method: "POST", Template: intents, Key: KeyOptional}}, path: intents, dedup: true},
		{name: "route default", routes: []Route{{Method: "POST", Template: intents}}, path: intents, want: "idempotency_key_missing", dedup: true},
		{name: "route not configured", routes: []Route{{Method: "POST", Template: setups, Key: KeyRequired}}, path: intents, dedup: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(h *Handler) { h.Routes = tt.routes })
			next := count(created)
			got := f.serve(post(tt.path, intentBody), "alice", next)
			if tt.want != "" {
				wantError(t, got, http.StatusBadRequest, tt.want)
				wantRuns(t, next, 0)
			} else {
				wantAnswer(t, got, http.StatusCreated)
				wantAnswer(t, f.serve(post(tt.path, intentBody), "alice", next), http.StatusCreated)
				wantRuns(t, next, 2)
			}
			before := next.runs.Load()
			f.serve(post(tt.path, intentBody, "k"), "alice", next)
			again := f.serve(post(tt.path, intentBody, "k"), "alice", next)
			runs := next.runs.Load() - before
			if tt.dedup && (runs != 1 || again.header.Get(replayedHdr) != "true") {
				t.Errorf("with a key: next ran %d times, replayed %q; want once, then a replay", runs, again.header.Get(replayedHdr))
			}
			if !tt.dedup && (runs != 2 || again.header.Get(replayedHdr) != "") {
				t.Errorf("with a key: next ran %d times, replayed %q; want twice, no replay", runs, again.header.Get(replayedHdr))
			}
		})
	}
}

func TestInvalidKeys(t *testing.T) {
	f := newFixture(t, nil)
	next := count(created)
	for name, keys := range map[string][]string{
		"leading space":    {" k"},
		"trailing space":   {"k "},
		"empty":            {""},
		"list":             {"a,b"},
		"two fields":       {"a", "b"},
		"too long":         {strings.Repeat("k", 256)},
		"control":          {"k\x01"},
		"non-ASCII":        {"k\u00e9"},
		"open quote":       {`"k`},
		"quoted then more": {`"k";x=1`},
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{intents, setups} {
				wantError(t, f.serve(post(path, intentBody, keys...), "alice", next), http.StatusBadRequest, "idempotency_key_invalid")
			}
			wantRuns(t, next, 0)
		})
	}
}

func TestNoUserIsAConfigurationError(t *testing.T) {
	f := newFixture(t, nil)
	next := count(created)
	wantError(t, f.serve(post(intents, intentBody, "k"), "", next), http.StatusInternalServerError, "internal_error")
	wantRuns(t, next, 0)
	logged := f.logs.FilterMessageSnippet("configuration error").FilterMessageSnippet("jwt_auth").All()
	if len(logged) != 1 || logged[0].Level != zapcore.ErrorLevel {
		t.Errorf("logged %v, want one error naming the configuration error", f.logs.All())
	}
}

func TestStoreUnavailable(t *testing.T) {
	f := newFixture(t, nil)
	next := count(created)
	_ = f.store.Close()
	got := f.serve(post(intents, intentBody, "k"), "alice", next)
	wantError(t, got, http.StatusServiceUnavailable, "store_unavailable")
	if !errors.Is(got.err, store.ErrUnavailable) {
		t.Errorf("cause %v does not wrap store.ErrUnavailable", got.err.Cause)
	}
	wantRuns(t, next, 0)
}

// TestClientGoneIsNoStoreFailure: a lease that cannot be taken because the
// client hung up is no store outage: 499, not 503 store_unavailable.
func TestClientGoneIsNoStoreFailure(t *testing.T) {
	f := newFixture(t, nil)
	next := count(created)
	_ = f.store.Close()
	r := post(intents, intentBody, "k")
	ctx, cancel := context.WithCancel(r.Context())
	cancel()
	got := f.serve(r.WithContext(ctx), "alice", next)
	if got.status != apierror.StatusClientClosedRequest {
		t.Errorf("status %d, want 499", got.status)
	}
	wantRuns(t, next, 0)
}

func TestWhatIsKept(t *testing.T) {
	declined := apierror.New(http.StatusPaymentRequired, apierror.TypeCard, "card_declined", "Your card was declined.")
	declined.DeclineCode = "insufficient_funds"
	tests := []struct {
		name string
		fn   func(int32, http.ResponseWriter, *http.Request) error
		kept bool
	}{
		{"declined", returns(caddyhttp.Error(http.StatusPaymentRequired, declined)), true},
		{"internal error", returns(errors.New("boom")), true},
		{"validation error", returns(caddyhttp.Error(http.StatusBadRequest, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "parameter_invalid", "Bad amount."))), true},
		{"written 400", writes(http.StatusBadRequest), true},
		{"written 500", writes(http.StatusInternalServerError), true},
		{"nothing written", func(int32, http.ResponseWriter, *http.Request) error { return nil }, true},
		{"store unavailable", returns(caddyhttp.Error(http.StatusServiceUnavailable, apierror.StoreUnavailable)), false},
		{"error 502", returns(caddyhttp.Error(http.StatusBadGateway, errors.New("upstream"))), false},
		{"error 409", returns(caddyhttp.Error(http.StatusConflict, apierror.New(http.StatusConflict, apierror.TypeInvalidRequest, "lock_timeout", "Busy."))), false},
		{"written 409", writes(http.StatusConflict), false},
		{"written 429", writes(http.StatusTooManyRequests), false},
		{"written 502", writes(http.StatusBadGateway), false},
		{"written 503", writes(http.StatusServiceUnavailable), false},
		{"written 504", writes(http.StatusGatewayTimeout), false},
		{"marked, then error 400", func(_ int32, _ http.ResponseWriter, r *http.Request) error {
			noexec.Mark(r)
			return caddyhttp.Error(http.StatusBadRequest, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "parameter_invalid", "Bad amount."))
		}, false},
		{"marked, then written 400", func(run int32, w http.ResponseWriter, r *http.Request) error {
			noexec.Mark(r)
			return writes(http.StatusBadRequest)(run, w, r)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			next := count(tt.fn)
			first := f.serve(post(intents, intentBody, "k"), "alice", next)
			second := f.serve(post(intents, intentBody, "k"), "alice", next)
			if !tt.kept {
				wantRuns(t, next, 2)
				if got := second.header.Get(replayedHdr); got != "" {
					t.Errorf("the retry was replayed (%s: %s)", replayedHdr, got)
				}
				return
			}
			wantRuns(t, next, 1)
			wantSame(t, first, second)
			if first.err != nil && second.err != nil {
				t.Errorf("the replay is an error (%v), not the stored answer", second.err)
			}
		})
	}
}

func TestAbortedRequestsRelease(t *testing.T) {
	t.Run("panic", func(t *testing.T) {
		f := newFixture(t, nil)
		next := count(func(run int32, w http.ResponseWriter, r *http.Request) error {
			if run == 1 {
				panic("handler bug")
			}
			return created(run, w, r)
		})
		func() {
			defer func() {
				if recover() == nil {
					t.Error("the stage swallowed next's panic")
				}
			}()
			f.serve(post(intents, intentBody, "k"), "alice", next)
		}()
		wantAnswer(t, f.serve(post(intents, intentBody, "k"), "alice", next), http.StatusCreated)
		wantRuns(t, next, 2)
	})
	for name, after := range map[string]func(int32, http.ResponseWriter, *http.Request) error{
		"client gone, error":  func(_ int32, _ http.ResponseWriter, r *http.Request) error { return r.Context().Err() },
		"client gone, answer": created,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nil)
			ctx, cancel := context.WithCancel(t.Context())
			next := count(func(run int32, w http.ResponseWriter, r *http.Request) error {
				if run == 1 {
					cancel()
					return after(run, w, r)
				}
				return created(run, w, r)
			})
			f.serve(post(intents, intentBody, "k").WithContext(ctx), "alice", next)
			wantAnswer(t, f.serve(post(intents, intentBody, "k"), "alice", next), http.StatusCreated)
			wantRuns(t, next, 2)
		})
	}
}

func TestResponseOverMaxResponse(t *testing.T) {
	f := newFixture(t, func(h *Handler) { h.MaxResponse = 100 })
	big := strings.Repeat("x", 101)
	next := count(func(_ int32, w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "text/plain")
		_, err := io.WriteString(w, big)
		return err
	})
	first := f.serve(post(intents, intentBody, "k"), "alice", next)
	wantAnswer(t, first, http.StatusOK)
	if string(first.body) != big {
		t.Errorf("the first answer was not passed through: %d bytes", len(first.body))
	}
	for range 2 {
		wantError(t, f.serve(post(intents, intentBody, "k"), "alice", next), http.StatusConflict, "idempotency_response_unavailable")
	}
	wantRuns(t, next, 1)
	wantError(t, f.serve(post(intents, `{"other":1}`, "k"), "alice", next), http.StatusUnprocessableEntity, "idempotency_key_reused")

	// At the bound, the answer is kept.
	exact := count(func(_ int32, w http.ResponseWriter, _ *http.Request) error {
		_, err := io.WriteString(w, big[:100])
		return err
	})
	first = f.serve(post(intents, intentBody, "k2"), "alice", exact)
	wantSame(t, first, f.serve(post(intents, intentBody, "k2"), "alice", exact))
	wantRuns(t, exact, 1)
}

func TestSealKeyRemoved(t *testing.T) {
	s := store.NewMemory(time.Now)
	t.Cleanup(func() { _ = s.Close() })
	t.Setenv("PAYGATE_TEST_IDEM_OLD", newSealKey(t))
	t.Setenv("PAYGATE_TEST_IDEM_NEW", newSealKey(t))
	old := setUpFixture(t, s, &Handler{SealKeys: []string{"{env.PAYGATE_TEST_IDEM_OLD}"}})
	next := count(created)
	first := old.serve(post(intents, intentBody, "k"), "alice", next)
	wantAnswer(t, first, http.StatusCreated)

	rolling := setUpFixture(t, s, &Handler{SealKeys: []string{"{env.PAYGATE_TEST_IDEM_NEW}", "{env.PAYGATE_TEST_IDEM_OLD}"}})
	wantSame(t, first, rolling.serve(post(intents, intentBody, "k"), "alice", next))

	rolled := setUpFixture(t, s, &Handler{SealKeys: []string{"{env.PAYGATE_TEST_IDEM_NEW}"}})
	wantError(t, rolled.serve(post(intents, intentBody, "k"), "alice", next), http.StatusConflict, "idempotency_response_unavailable")
	wantRuns(t, next, 1)
	if n := rolled.logs.FilterMessageSnippet("cannot be opened").Len(); n != 1 {
		t.Errorf("logged %d errors about the unopenable record, want 1", n)
	}
}

func TestLeaseIsRenewed(t *testing.T) {
	f := newFixture(t, func(h *Handler) { h.Lease = caddy.Duration(time.Second) })
	storeKey := recordKey("alice", http.MethodPost, intents, "k")
	start := time.Now()
	started, proceed := make(chan struct{}), make(chan struct{})
	next := count(func(run int32, w http.ResponseWriter, r *http.Request) error {
		close(started)
		<-proceed
		return created(run, w, r)
	})
	done := make(chan response, 1)
	go func() { done <- f.serve(post(intents, intentBody, "k"), "alice", next) }()
	<-started

	testenv.Eventually(t, "1.5s of a 1s lease held by a running request", func() bool {
		lease, err := f.store.Acquire(t.Context(), storeKey, "probe", []byte("probe"), time.Second)
		if err != nil || lease.State != store.Held {
			t.Errorf("%v after the request started: lease %v, %v; want held", time.Since(start), lease.State, err)
			return true
		}
		return time.Since(start) > 1500*time.Millisecond
	})
	close(proceed)
	first := <-done
	wantAnswer(t, first, http.StatusCreated)
	wantSame(t, first, f.serve(post(intents, intentBody, "k"), "alice", next))
	wantRuns(t, next, 1)
}

func TestCompleteAfterTakeover(t *testing.T) {
	f := newFixture(t, nil)
	storeKey := recordKey("alice", http.MethodPost, intents, "k")
	next := count(func(run int32, w http.ResponseWriter, r *http.Request) error {
		// The lease is lost (the store lost it) and another instance
		// takes the key while this request runs.
		if err := f.store.Delete(r.Context(), storeKey); err != nil {
			return err
		}
		if lease, err := f.store.Acquire(r.Context(), storeKey, "other", []byte("theirs"), time.Minute); err != nil || lease.State != store.Acquired {
			t.Errorf("takeover: %v, %v", lease.State, err)
		}
		return created(run, w, r)
	})
	wantAnswer(t, f.serve(post(intents, intentBody, "k"), "alice", next), http.StatusCreated)

	lease, err := f.store.Acquire(t.Context(), storeKey, "probe", []byte("probe"), time.Second)
	if err != nil || lease.State != store.Held || string(lease.Value) != "theirs" {
		t.Errorf("after the request: %v %q, %v; want the other holder's lease", lease.State, lease.Value, err)
	}
	if n := f.logs.FilterMessageSnippet("taken over").FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
		t.Errorf("logged %d warnings of the takeover, want 1", n)
	}
}

func TestPassesThroughOtherRequests(t *testing.T) {
	f := newFixture(t, nil)
	for name, r := range map[string]func() *http.Request{
		"not in the table": func() *http.Request { return post("/v1/refunds", intentBody, "k") },
		"not the API":      func() *http.Request { return post("/healthz", intentBody, "k") },
		"GET route": func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "https://pay.example.com"+intents+"/pi_123", nil)
		},
		"DELETE route": func() *http.Request {
			return httptest.NewRequest(http.MethodDelete, "https://pay.example.com/v1/payment_methods/pm_123", nil)
		},
		"method the route does not take": func() *http.Request {
			return httptest.NewRequest(http.MethodPut, "https://pay.example.com"+intents, strings.NewReader(intentBody))
		},
	} {
		t.Run(name, func(t *testing.T) {
			next := count(created)
			for range 2 {
				req := r()
				req.Header.Set("Idempotency-Key", " not even valid")
				// Without a user: the stage asks for none where it does
				// not apply.
				got := f.serve(req, "", next)
				wantAnswer(t, got, http.StatusCreated)
				if got.header.Get(replayedHdr) != "" || got.header.Get("Set-Cookie") == "" {
					t.Errorf("the answer was altered: %v", got.header)
				}
			}
			wantRuns(t, next, 2)
		})
	}
}

func TestRecordKey(t *testing.T) {
	type scope struct{ user, method, template, key string }
	scopes := []scope{
		{"alice", "POST", intents, "k"},
		{"bob", "POST", intents, "k"},
		{"alice", "POST", setups, "k"},
		{"alice", "DELETE", intents, "k"},
		{"alice", "POST", intents, "k2"},
		// Parts that would run together if they were only concatenated.
		{"lice", "POST", intents, "ka"},
		// A user ID may hold anything, a NUL included (keys never do).
		{"alice\x00POST", "POST", intents, "k"},
		{"\x00alice", "POST", intents, "k"},
		{"alice\x00", "POST", intents, "k"},
	}
	seen := map[string]scope{}
	for _, s := range scopes {
		got := recordKey(s.user, s.method, s.template, s.key)
		if prev, dup := seen[got]; dup {
			t.Errorf("%q and %q share the record %s", prev, s, got)
		}
		seen[got] = s
		if store.HashTag(got) == got || !strings.HasSuffix(got, "}:idem") {
			t.Errorf("record key %q is not {hash}:idem", got)
		}
		if strings.Contains(got, s.user) || strings.Contains(got, s.key) {
			t.Errorf("record key %q holds the user or the client's key", got)
		}
	}
	if a, b := recordKey("alice", "POST", intents, "k"), recordKey("alice", "POST", intents, "k"); a != b {
		t.Errorf("one scope, two record keys: %s, %s", a, b)
	}
}
