package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// get fetches target with c and returns the response and its body.
func get(t *testing.T, c *http.Client, target string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", target, err)
	}
	return resp, string(body)
}

// respondSite is a site answering every request with the text in
// {{.Data.body}} and the replica's index.
const respondSite = `https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	respond "{{.Data.body}} from {{.Replica}}"
}`

func TestHarnessReverseProxy(t *testing.T) {
	t.Parallel()
	up := StartUpstream(t, nil)
	pg := StartPaygate(t, PaygateOptions{
		Upstream: up,
		Site: `https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	reverse_proxy {{.Upstream}}
}`,
	})

	resp, body := get(t, pg.Client(), pg.HTTPSURL+"/hello?x=1")
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("status %d, TLS %v; want 200 over TLS", resp.StatusCode, resp.TLS != nil)
	}
	if want := `{"method":"GET","ok":true,"path":"/hello"}`; strings.TrimSpace(body) != want {
		t.Errorf("body = %s, want %s", body, want)
	}
	reqs := up.Requests()
	if len(reqs) != 1 || up.Count() != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(reqs))
	}
	if got := reqs[0].URL.String(); got != "/hello?x=1" {
		t.Errorf("upstream URL = %s, want /hello?x=1", got)
	}

	// Plain HTTP is redirected, and the client shows the redirect.
	resp, _ = get(t, pg.Client(), pg.HTTPURL+"/hello")
	if resp.StatusCode != http.StatusPermanentRedirect {
		t.Errorf("plain HTTP status = %d, want %d", resp.StatusCode, http.StatusPermanentRedirect)
	}
	if up.Count() != 1 {
		t.Errorf("upstream saw %d requests after the redirect, want 1", up.Count())
	}

	// The access log of the request above may still be on its way.
	if e := pg.WaitForLog(t, "the ready message", LogFields(map[string]string{"msg": readyMessage})); !strings.Contains(e.Line, readyMessage) {
		t.Errorf("WaitForLog returned %q", e.Line)
	}
	if failure := fatalOf(func(tb testing.TB) { pg.Logs(tb) }); failure == "" {
		t.Error("Logs of a running process did not fail")
	}
	pg.Stop()
	if _, err := pg.Client().Get(pg.HTTPSURL); err == nil {
		t.Error("request after Stop succeeded")
	}
	if !bytes.Contains(pg.Logs(t), []byte("shutdown complete")) {
		t.Errorf("logs after Stop lack the shutdown:\n%s", pg.Logs(t))
	}
	if entries := pg.LogEntries(t); len(entries) == 0 || entries[0].Str("msg") == "" {
		t.Errorf("log entries %v, want Caddy's JSON entries", entries)
	}
	// Once the process has exited, a wait for a line it never wrote ends
	// at once.
	if failure := fatalOf(func(tb testing.TB) {
		pg.WaitForLog(tb, "a message never logged", LogFields(map[string]string{"msg": "never logged"}))
	}); !strings.Contains(failure, "exited without writing") {
		t.Errorf("WaitForLog after the exit: failure %q", failure)
	}
}

// fatalTB is a testing.TB whose Fatal and Fatalf record the message and end
// the goroutine, as testing's do.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalOf runs fn with a fatalTB in a goroutine of its own and returns the
// message fn failed with, or "".
func fatalOf(fn func(testing.TB)) string {
	tb := &fatalTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	return tb.msg
}

func TestHarnessCluster(t *testing.T) {
	t.Parallel()
	replicas := StartCluster(t, PaygateOptions{
		Global: "grace_period {{.Data.grace}}",
		Site:   respondSite,
		Data:   map[string]any{"body": "hi", "grace": "2s"},
	}, 2)
	for i, pg := range replicas {
		if _, body := get(t, pg.Client(), pg.HTTPSURL); body != fmt.Sprintf("hi from %d", i) {
			t.Errorf("replica %d answered %q", i, body)
		}
	}
	if replicas[0].HTTPSURL == replicas[1].HTTPSURL {
		t.Errorf("replicas share %s", replicas[0].HTTPSURL)
	}
	// Each replica has its own local CA, which only its own client trusts.
	if _, err := replicas[0].Client().Get(replicas[1].HTTPSURL); err == nil {
		t.Error("replica 0's client trusted replica 1's certificate")
	}
}

func TestHarnessReload(t *testing.T) {
	t.Parallel()
	pg := StartPaygate(t, PaygateOptions{Site: respondSite, Data: map[string]any{"body": "before"}})
	if _, body := get(t, pg.Client(), pg.HTTPSURL); body != "before from 0" {
		t.Fatalf("body = %q, want %q", body, "before from 0")
	}

	pg.Reload(t, strings.Replace(respondSite, "{{.Data.body}}", "after", 1))
	if _, body := get(t, pg.Client(), pg.HTTPSURL); body != "after from 0" {
		t.Errorf("after Reload, body = %q, want %q", body, "after from 0")
	}

	err := pg.TryReload(`https://localhost:{{.HTTPSPort}} {
	no_such_directive
}`)
	if err == nil || !strings.Contains(err.Error(), "no_such_directive") {
		t.Errorf("TryReload of a bad config: err = %v, want one naming no_such_directive", err)
	}
	if _, body := get(t, pg.Client(), pg.HTTPSURL); body != "after from 0" {
		t.Errorf("after a rejected reload, body = %q, want %q", body, "after from 0")
	}
}

func TestHarnessStartFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		site string
		want string
	}{
		{"unknown directive", "https://localhost:{{.HTTPSPort}} {\n\tno_such_directive\n}", "no_such_directive"},
		{"missing template key", respondSite, `map has no entry for key "body"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := startCluster(t, Binary(t), PaygateOptions{Site: tt.site}, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
}

func TestHarnessStripeMock(t *testing.T) {
	t.Parallel()
	sm := StartStripeMock(t)
	form := url.Values{"email": {"a@example.com"}}
	req, err := http.NewRequest(http.MethodPost, sm.URL+"/v1/customers", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk_test_123")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Idempotency-Key", "key-1")
	req.Header.Set("Stripe-Version", "2023-10-16")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"object":"customer"`) {
		t.Fatalf("status %d, body %s; want 200 with a customer", resp.StatusCode, body)
	}

	calls := sm.Calls()
	if len(calls) != 1 {
		t.Fatalf("recorded %d calls, want 1", len(calls))
	}
	c := calls[0]
	if c.Method != http.MethodPost || c.Path != "/v1/customers" || c.Form.Get("email") != "a@example.com" ||
		c.IdempotencyKey != "key-1" || c.StripeVersion != "2023-10-16" {
		t.Errorf("recorded %+v", c)
	}
}

func TestHarnessUpstreamHandler(t *testing.T) {
	t.Parallel()
	up := StartUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusTeapot)
		w.Write(body)
	}))
	resp, err := http.Post(up.URL+"/echo", "text/plain", strings.NewReader("ping"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || string(body) != "ping" {
		t.Errorf("got %d %q, want 418 %q", resp.StatusCode, body, "ping")
	}
	reqs := up.Requests()
	if len(reqs) != 1 || reqs[0].Method != http.MethodPost || string(reqs[0].Body) != "ping" {
		t.Errorf("recorded %+v", reqs)
	}
}

// fakeTB records how Require ends a test instead of ending it.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }

func TestHarnessRequire(t *testing.T) {
	missing := errors.New("not installed")
	tests := []struct {
		ci          string
		err         error
		skip, fatal bool
	}{
		{ci: "true", err: missing, fatal: true},
		{ci: "", err: missing, skip: true},
		{ci: "false", err: missing, skip: true},
		{ci: "true", err: nil},
		{ci: "", err: nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("CI=%q,err=%v", tt.ci, tt.err), func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			f := &fakeTB{TB: t}
			Require(f, "a thing", tt.err)
			if f.skipped != tt.skip || f.failed != tt.fatal {
				t.Errorf("skipped %v, failed %v; want %v, %v", f.skipped, f.failed, tt.skip, tt.fatal)
			}
		})
	}
}

func TestHarnessFreePort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t))))
	if err != nil {
		t.Fatalf("listening on the free port: %v", err)
	}
	ln.Close()
}

// TestHarnessPortTaken: a server whose port another process took between
// the choice and the bind is started again on new ports; any other
// failure ends the test at once.
func TestHarnessPortTaken(t *testing.T) {
	t.Parallel()
	taken := errors.New("redis-server :1 exited; output: Could not create server TCP listening socket 127.0.0.1:1: bind: Address already in use")
	var tried [][]int
	onFreePorts(t, 2, func(ports []int) error {
		tried = append(tried, ports)
		if len(tried) == 1 {
			return taken
		}
		return nil
	})
	if len(tried) != 2 || slices.Equal(tried[0], tried[1]) {
		t.Errorf("started on %v, want a second attempt on other ports", tried)
	}

	calls := 0
	failure := fatalOf(func(tb testing.TB) {
		onFreePorts(tb, 1, func([]int) error { calls++; return errors.New("no such file") })
	})
	if calls != 1 || !strings.Contains(failure, "no such file") {
		t.Errorf("another failure: %d attempts, failure %q; want one attempt and the failure", calls, failure)
	}
	calls = 0
	failure = fatalOf(func(tb testing.TB) {
		onFreePorts(tb, 1, func([]int) error { calls++; return taken })
	})
	if calls != portAttempts || !strings.Contains(failure, "already in use") {
		t.Errorf("ports always taken: %d attempts, failure %q; want %d and the failure", calls, failure, portAttempts)
	}
}
