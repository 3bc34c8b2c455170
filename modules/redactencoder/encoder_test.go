package redactencoder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const (
	card = "4242424242424242"
	jwt  = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzQyIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	key  = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
)

// secrets must appear in no encoded entry. The CVC 973 is too short to be
// looked for alone (a timestamp may hold it): it is looked for as a value.
var secrets = []string{card, "4242 4242 4242 4242", "5555555555554444", jwt, key, "hunter2", "s3ssion", "whsec_abcDEF123", "=973", `"973"`, ":973"}

// logger returns a logger whose entries e encodes into the returned buffer.
func logger(t *testing.T, e *Encoder) (*zap.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	core := zapcore.NewCore(e, zapcore.AddSync(&buf), zapcore.DebugLevel)
	return zap.New(core), &buf
}

func provisioned(t *testing.T, wrap string) *Encoder {
	t.Helper()
	e := &Encoder{}
	if wrap != "" {
		e.WrappedRaw = json.RawMessage(wrap)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := e.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return e
}

// entry decodes the one JSON line in buf.
func entry(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(buf.String(), s) {
			t.Errorf("secret %q in the encoded entry: %s", s, buf)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("entry is not JSON: %v: %s", err, buf)
	}
	buf.Reset()
	return m
}

// get walks a path of keys into a decoded entry.
func get(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}

func TestMessageAndStrings(t *testing.T) {
	log, buf := logger(t, provisioned(t, ""))
	log.Info("charged card "+card+" with "+key,
		zap.String("uri", "/v1/pay?number="+card+"&cvc=973&limit=10"),
		zap.String("password", "hunter2"),
		zap.String("note", "nothing secret"),
		zap.ByteString("raw", []byte("Bearer "+jwt)),
		zap.Binary("blob", []byte("token="+jwt)),
		zap.Binary("plain_blob", []byte{1, 2, 3}),
		zap.Stringer("stringer", stringer("whsec_abcDEF123")),
	)
	m := entry(t, buf)
	for path, want := range map[string]string{
		"msg":        "charged card [card_ending_4242] with sk_test_[redacted]",
		"uri":        "/v1/pay?number=[redacted]&cvc=[redacted]&limit=10",
		"password":   "[redacted]",
		"note":       "nothing secret",
		"raw":        "Bearer [redacted]",
		"blob":       "token=[redacted]",
		"plain_blob": "AQID",
		"stringer":   "whsec_[redacted]",
	} {
		if got := get(m, path); got != want {
			t.Errorf("%s = %v, want %q", path, got, want)
		}
	}
}

// TestRequestIDKept: the request's ID is logged as it is under its names
// (request_id, Caddy's uuid), even when its digit groups form a card
// number, so that a log line is found by the X-Request-Id a client quotes;
// the same text elsewhere (a header a client sent) is masked.
func TestRequestIDKept(t *testing.T) {
	const id = "53055037-8199-4235-b315-3d940bf60149"
	log, buf := logger(t, provisioned(t, ""))
	log.Info("handled request", zap.String("request_id", id), zap.String("uuid", id),
		zap.Strings("X-Request-Id", []string{id}), zap.String("note", id))
	m := entry(t, buf)
	for path, want := range map[string]any{
		"request_id":   id,
		"uuid":         id,
		"X-Request-Id": []any{"[card_ending_4235]-b315-3d940bf60149"},
		"note":         "[card_ending_4235]-b315-3d940bf60149",
	} {
		if got := get(m, path); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestNestedObjectsAndArrays(t *testing.T) {
	log, buf := logger(t, provisioned(t, ""))
	r := httptest.NewRequest(http.MethodPost, "https://pay.example.com/v1/cards/"+card+"?access_token="+jwt, nil)
	r.Header.Set("Authorization", "Bearer "+jwt)
	r.Header.Set("Cookie", "session=s3ssion")
	r.Header.Set("X-Card", "4242 4242 4242 4242")
	r.Header.Set("X-Card-Cvc", "973")
	r.Header.Set("Accept", "application/json")
	// Caddy masks credential headers itself unless told to log them; ours
	// must not depend on that.
	log.Info("handled request",
		zap.Object("request", caddyhttp.LoggableHTTPRequest{Request: r, ShouldLogCredentials: true}),
		zap.Strings("list", []string{"a", "5555555555554444"}),
		zap.Strings("cookie", []string{"a=1", "b=2"}),
		zap.Array("nested", zapcore.ArrayMarshalerFunc(func(enc zapcore.ArrayEncoder) error {
			return enc.AppendObject(zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
				enc.AddString("secret", "whsec_abcDEF123")
				return enc.AddArray("inner", zapcore.ArrayMarshalerFunc(func(enc zapcore.ArrayEncoder) error {
					enc.AppendString(key)
					enc.AppendInt64(4242424242424242)
					enc.AppendInt64(42)
					return nil
				}))
			}))
		})),
	)
	m := entry(t, buf)
	tests := []struct {
		path []string
		want any
	}{
		{[]string{"request", "uri"}, "https://pay.example.com/v1/cards/[card_ending_4242]?access_token=[redacted]"},
		{[]string{"request", "headers", "Authorization"}, []any{"[redacted]"}},
		{[]string{"request", "headers", "Cookie"}, []any{"[redacted]"}},
		{[]string{"request", "headers", "X-Card"}, []any{"[card_ending_4242]"}},
		{[]string{"request", "headers", "X-Card-Cvc"}, []any{"[redacted]"}},
		{[]string{"request", "headers", "Accept"}, []any{"application/json"}},
		{[]string{"request", "method"}, "POST"},
		{[]string{"list"}, []any{"a", "[card_ending_4444]"}},
		{[]string{"cookie"}, []any{"[redacted]", "[redacted]"}},
	}
	for _, tt := range tests {
		if got := get(m, tt.path...); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s = %v, want %v", strings.Join(tt.path, ">"), got, tt.want)
		}
	}
	nested := fmt.Sprint(m["nested"])
	if want := "[map[inner:[sk_test_[redacted] [card_ending_4242] 42] secret:[redacted]]]"; nested != want {
		t.Errorf("nested = %s, want %s", nested, want)
	}
}

func TestErrors(t *testing.T) {
	log, buf := logger(t, provisioned(t, ""))
	err := fmt.Errorf("charging %s: %w", card, errors.New("stripe: invalid key "+key))
	log.Error("payment failed", zap.Error(err), zap.NamedError("multi", errGroup{errors.New("password=hunter2"), errors.New("ok")}))
	m := entry(t, buf)
	if got, want := m["error"], "charging [card_ending_4242]: stripe: invalid key sk_test_[redacted]"; got != want {
		t.Errorf("error = %v, want %q", got, want)
	}
	// zap lists the causes of a multi-error one by one, under "<key>Causes".
	if got := fmt.Sprint(m["multiCauses"]); !strings.Contains(got, "password=[redacted]") {
		t.Errorf("multiCauses = %v, want the causes redacted", got)
	}
}

// errGroup is a multi-error the way zap recognizes one (go.uber.org/multierr's).
type errGroup []error

func (g errGroup) Error() string   { return errors.Join(g...).Error() }
func (g errGroup) Errors() []error { return g }

func TestNumbers(t *testing.T) {
	log, buf := logger(t, provisioned(t, ""))
	log.Info("numbers",
		zap.Int64("pan", 4242424242424242),
		zap.Int("n", 5555555555554444),
		zap.Uint64("u", 4242424242424242),
		zap.Float64("f", 4242424242424242),
		zap.Float64("duration", 1.2345678901234567),
		zap.Int("cvc", 973),
		zap.Int32("pin", 1234),
		zap.Int("status", 200),
		zap.Int64("size", 1700000000000),
		zap.Duration("took", time.Second),
		zap.Bool("password", true),
	)
	m := entry(t, buf)
	for k, want := range map[string]any{
		"pan": "[redacted]", "n": "[card_ending_4444]", "u": "[card_ending_4242]", "f": "[card_ending_4242]",
		"duration": 1.2345678901234567, "cvc": "[redacted]", "pin": "[redacted]", "status": 200.0, "size": 1.7e12,
		"took": 1.0, "password": true,
	} {
		if got := m[k]; got != want {
			t.Errorf("%s = %v (%T), want %v", k, got, got, want)
		}
	}
}

func TestReflected(t *testing.T) {
	log, buf := logger(t, provisioned(t, ""))
	type cardData struct {
		Number string `json:"number"`
		Last4  string `json:"last4"`
		Note   string `json:"note"`
	}
	log.Info("reflected",
		zap.Any("card", cardData{Number: card, Last4: "4242", Note: "paid with " + card}),
		zap.Any("clean", map[string]int{"a": 1}),
		zap.Any("list", []any{key, 4242424242424242}),
		zap.Reflect("secret_key", "anything"),
	)
	m := entry(t, buf)
	if got := fmt.Sprint(m["card"]); got != "map[last4:4242 note:paid with [card_ending_4242] number:[redacted]]" {
		t.Errorf("card = %s", got)
	}
	if got := fmt.Sprint(m["clean"]); got != "map[a:1]" {
		t.Errorf("clean = %s", got)
	}
	if got := fmt.Sprint(m["list"]); got != "[sk_test_[redacted] [card_ending_4242]]" {
		t.Errorf("list = %s", got)
	}
	if got := m["secret_key"]; got != "[redacted]" {
		t.Errorf("secret_key = %v", got)
	}
}

func TestContextFieldsAndNamespaces(t *testing.T) {
	log, buf := logger(t, provisioned(t, ""))
	child := log.With(zap.String("authorization", "Basic dXNlcjpodW50ZXIy"), zap.String("uri", "/x?cvc=973"))
	child.Info("one", zap.Namespace("ns"), zap.String("token", jwt), zap.String("ok", "fine"))
	m := entry(t, buf)
	if m["authorization"] != "[redacted]" || m["uri"] != "/x?cvc=[redacted]" {
		t.Errorf("context fields not redacted: %v", m)
	}
	if got := fmt.Sprint(m["ns"]); got != "map[ok:fine token:[redacted]]" {
		t.Errorf("ns = %s", got)
	}
	// A later entry does not carry the fields of the one before.
	child.Info("two")
	if m := entry(t, buf); m["ns"] != nil || m["token"] != nil {
		t.Errorf("second entry carries the first one's fields: %v", m)
	}
}

func TestWrapsAnotherEncoder(t *testing.T) {
	log, buf := logger(t, provisioned(t, `{"format":"console","level_format":"upper"}`))
	log.Warn("card "+card, zap.String("uri", "/x?password=hunter2"))
	out := buf.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("secret %q in %q", s, out)
		}
	}
	if !strings.Contains(out, "WARN") || !strings.Contains(out, "card [card_ending_4242]") || !strings.Contains(out, `"uri": "/x?password=[redacted]"`) {
		t.Errorf("console output = %q", out)
	}
}

func TestProvisionFailsForUnknownEncoder(t *testing.T) {
	e := &Encoder{WrappedRaw: json.RawMessage(`{"format":"nosuch"}`)}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := e.Provision(ctx); err == nil {
		t.Fatal("got no error")
	}
}

// TestNamesAreRedacted: a card number or a token used as a name (a header
// name, a field key, a map key, a namespace) is masked like a value.
func TestNamesAreRedacted(t *testing.T) {
	log, buf := logger(t, provisioned(t, ""))
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/x", nil)
	r.Header[card] = []string{"1"}
	log.Info("names",
		zap.Object("request", caddyhttp.LoggableHTTPRequest{Request: r}),
		zap.String("k."+jwt, "v"),
		zap.Int32("n/"+card, 1),
		zap.Any("map", map[string]string{"4242 4242 4242 4242": "x", "plain": "y"}),
		zap.Namespace(key),
		zap.String("inner", "z"),
	)
	m := entry(t, buf)
	if got := fmt.Sprint(get(m, "request", "headers")); got != "map[[card_ending_4242]:[1]]" {
		t.Errorf("headers = %s", got)
	}
	if got := fmt.Sprint(m["map"]); got != "map[[card_ending_4242]:x plain:y]" {
		t.Errorf("map = %s", got)
	}
	for _, k := range []string{"k.[redacted]", "n/[card_ending_4242]", "sk_test_[redacted]"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no field %q in %v", k, m)
		}
	}
}

// marshalCount counts how often it is encoded; it fails when err is set.
type marshalCount struct {
	n   *int
	err error
}

func (m marshalCount) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	*m.n++
	enc.AddString("uri", "/x?cvc=973")
	return m.err
}

// A logger's context fields are encoded when it first writes an entry,
// once, and never for a logger that writes none (Caddy's reverse_proxy
// makes one on every request for a DEBUG message); they stay redacted,
// reach the loggers made from it, and one that fails to encode gets the
// "<key>Error" field zap gives it.
func TestContextFieldsEncodedWhenWritten(t *testing.T) {
	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(provisioned(t, ""), zapcore.AddSync(&buf), zapcore.InfoLevel))
	var n int
	child := log.With(zap.Object("request", marshalCount{n: &n}))
	child.Debug("not written")
	if n != 0 || buf.Len() != 0 {
		t.Fatalf("a logger that wrote nothing encoded its context %d times: %q", n, buf.String())
	}
	for range 2 {
		child.Info("written")
		if m := entry(t, &buf); get(m, "request", "uri") != "/x?cvc=[redacted]" {
			t.Errorf("context field = %v, want it redacted", m["request"])
		}
	}
	grandchild := child.With(zap.String("upstream", "10.0.0.1:8080"))
	grandchild.Info("written")
	if m := entry(t, &buf); get(m, "request", "uri") != "/x?cvc=[redacted]" || m["upstream"] != "10.0.0.1:8080" {
		t.Errorf("grandchild's entry = %v, want both loggers' context", m)
	}
	if n != 1 {
		t.Errorf("context encoded %d times for three entries, want once", n)
	}

	var m int
	log.With(zap.Object("bad", marshalCount{n: &m, err: errors.New("boom")})).Info("written")
	if e := entry(t, &buf); e["badError"] != "boom" {
		t.Errorf("entry = %v, want badError: boom", e)
	}
}

// Entries written at once by many goroutines through a logger that has not
// written yet encode its context fields once, all of them carrying them.
func TestContextFieldsConcurrentFirstWrites(t *testing.T) {
	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(provisioned(t, ""), zapcore.Lock(zapcore.AddSync(&buf)), zapcore.InfoLevel))
	var n int
	child := log.With(zap.Object("request", marshalCount{n: &n}))
	const writers = 8
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() { child.Info("written") })
	}
	wg.Wait()
	if got := strings.Count(buf.String(), `"uri":"/x?cvc=[redacted]"`); n != 1 || got != writers {
		t.Errorf("context encoded %d times, in %d of %d entries; want once, in all", n, got, writers)
	}
}

// cloneCounter is a wrapped encoder that counts the clones made of it and
// of its clones.
type cloneCounter struct {
	zapcore.Encoder
	n *atomic.Int32
}

func (c cloneCounter) Clone() zapcore.Encoder {
	c.n.Add(1)
	return cloneCounter{Encoder: c.Encoder.Clone(), n: c.n}
}

// A logger made with more context clones the wrapped encoder only when it,
// or a logger made from it, first writes an entry: never for a logger that
// writes none (Caddy's access logger makes one for every log on each
// request, also for a log whose filters refuse the entry). Loggers made
// from one that has not written yet still carry its context, also when
// their first entries are written at once (run with -race).
func TestCloneWhenWritten(t *testing.T) {
	var buf bytes.Buffer
	var n atomic.Int32
	wrapped := provisioned(t, "").encoder()
	e := Encoder{lazyContext: &lazyContext{enc: cloneCounter{Encoder: wrapped, n: &n}}}
	log := zap.New(zapcore.NewCore(e, zapcore.Lock(zapcore.AddSync(&buf)), zapcore.InfoLevel))

	child := log.With(zap.String("host", "pay.example.com"))
	child.Debug("not written")
	grandchild := child.With(zap.String("upstream", "10.0.0.1:8080"))
	if got := n.Load(); got != 0 {
		t.Fatalf("loggers that wrote nothing cloned the wrapped encoder %d times, want 0", got)
	}

	const writers = 8
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if i%2 == 0 {
				grandchild.Info("written")
			} else {
				child.Info("written")
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != writers {
		t.Fatalf("%d entries, want %d: %s", len(lines), writers, buf.String())
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("entry is not JSON: %v: %s", err, line)
		}
		if m["host"] != "pay.example.com" {
			t.Errorf("entry %s lacks the child's context", line)
		}
		if u, ok := m["upstream"]; ok && u != "10.0.0.1:8080" {
			t.Errorf("entry %s: upstream = %v, want the grandchild's context", line, u)
		}
	}
	if got, want := strings.Count(buf.String(), `"upstream":"10.0.0.1:8080"`), writers/2; got != want {
		t.Errorf("%d entries with the grandchild's context, want %d", got, want)
	}
	// One clone for the child, one for the grandchild, made once each.
	if got := n.Load(); got != 2 {
		t.Errorf("the wrapped encoder was cloned %d times, want 2", got)
	}
}
