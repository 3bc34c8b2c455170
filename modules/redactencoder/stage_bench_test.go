package redactencoder

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/jsonlog"
)

// BenchmarkEncodeEntry is the cost of logging one entry through the redact
// encoder wrapping Caddy's json encoder, and through that json encoder
// alone, to nowhere: Caddy's access-log entry for an API POST (the request
// added to the logger, as Caddy does per request, then the entry), a
// decision-log entry as opa_authz's console decision log writes it, and a
// logger made with the request that writes nothing (its message is below
// the log's level), as Caddy's reverse_proxy makes on every request and
// Caddy's access logger makes for every log, also one whose filters refuse
// the entry.
func BenchmarkEncodeEntry(b *testing.B) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	b.Cleanup(cancel)
	encoders := []struct {
		name string
		new  func(b *testing.B) zapcore.Encoder
	}{
		{"encoder=json", func(b *testing.B) zapcore.Encoder {
			e := &logging.JSONEncoder{}
			if err := e.Provision(ctx); err != nil {
				b.Fatal(err)
			}
			return e
		}},
		{"encoder=redact", func(b *testing.B) zapcore.Encoder {
			e := &Encoder{}
			if err := e.Provision(ctx); err != nil {
				b.Fatal(err)
			}
			return e
		}},
	}
	entries := []struct {
		name string
		log  func(*zap.Logger)
	}{
		{"entry=access_log", accessLogEntry()},
		{"entry=decision_log", decisionLogEntry(b)},
		{"entry=none", unwrittenLogger()},
	}
	for _, en := range entries {
		for _, enc := range encoders {
			b.Run(en.name+"/"+enc.name, func(b *testing.B) {
				log := zap.New(zapcore.NewCore(enc.new(b), zapcore.AddSync(io.Discard), zap.InfoLevel))
				b.ReportAllocs()
				for b.Loop() {
					en.log(log)
				}
			})
		}
	}
}

// accessLogEntry logs what Caddy's access log does for one request: the
// request (with its TLS state and a dozen headers, credentials among them)
// added to the logger, then "handled request" with the response's fields
// and headers (paygate's security headers) and the request ID.
func accessLogEntry() func(*zap.Logger) {
	resp := http.Header{}
	for k, v := range map[string]string{
		"Content-Type":              "application/json",
		"Content-Security-Policy":   "default-src 'self'; script-src 'self' https://js.stripe.com; frame-src https://js.stripe.com https://hooks.stripe.com; connect-src 'self' https://api.stripe.com; img-src 'self' data: https://*.stripe.com; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
		"X-Content-Type-Options":    "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin", "Cache-Control": "no-store",
		"Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(self \"https://js.stripe.com\")",
		"X-Request-Id":       "5b0c8c4e-7a0f-4d8e-9a57-3f1f2b8e6c11", "Content-Length": "312",
	} {
		resp.Set(k, v)
	}
	request := caddyhttp.LoggableHTTPRequest{Request: accessLogRequest()}
	return func(log *zap.Logger) {
		log.With(zap.Object("request", request)).Info("handled request",
			zap.Int("bytes_read", 86),
			zap.String("user_id", "user_42"),
			zap.Duration("duration", 412*time.Microsecond),
			zap.Int("size", 312),
			zap.Int("status", 201),
			zap.Object("resp_headers", caddyhttp.LoggableHTTPHeader{Header: resp}),
			zap.String("uuid", "5b0c8c4e-7a0f-4d8e-9a57-3f1f2b8e6c11"),
			zap.String("request_id", "5b0c8c4e-7a0f-4d8e-9a57-3f1f2b8e6c11"),
		)
	}
}

// accessLogRequest is an API POST with its TLS state and a dozen headers,
// credentials among them, prepared as Caddy prepares a request.
func accessLogRequest() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://pay.example.com/v1/payment_intents?expand[]=customer", nil)
	r.RemoteAddr = "203.0.113.7:52814"
	r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256, NegotiatedProtocol: "h2", ServerName: "pay.example.com", HandshakeComplete: true}
	for k, v := range map[string]string{
		"Authorization": "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ1c2VyXzQyIn0.c2lnbmF0dXJl",
		"Cookie":        "theme=dark; __Host-session=s3ssion", "Content-Type": "application/json",
		"Idempotency-Key": "0f8fad5b-d9cb-469f-a165-70867728950e", "Accept": "application/json", "Accept-Language": "en-GB,en;q=0.9",
		"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"Origin":     "https://app.example.com", "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors", "Content-Length": "86",
	} {
		r.Header.Set(k, v)
	}
	return caddyhttp.PrepareRequest(r, caddy.NewReplacer(), httptest.NewRecorder(), &caddyhttp.Server{})
}

// unwrittenLogger adds the request of accessLogEntry to the logger and
// logs a message at DEBUG, which the benchmark's log (INFO) does not write.
func unwrittenLogger() func(*zap.Logger) {
	request := caddyhttp.LoggableHTTPRequest{Request: accessLogRequest()}
	return func(log *zap.Logger) {
		log.With(zap.Object("request", request)).Debug("upstream roundtrip")
	}
}

// decisionEvent is a decision of the shipped policy as opa_authz's console
// decision log writes it: its input and result as Go values decoded from
// JSON, its custom request_id at the top level (paygate records no
// evaluation metrics).
const decisionEvent = `{
	"bundles": {"paygate": {"revision": ""}},
	"decision_id": "3f1e8a0c-2b7d-4c51-9e3a-6d2f0b4c8a17",
	"input": {
		"client_ip": "203.0.113.7",
		"method": "POST",
		"path": "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm",
		"resource": {"exists": true, "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "owner": "user_42", "type": "payment_intent"},
		"route": {"resource_id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "resource_type": "payment_intent", "template": "/v1/payment_intents/{id}/confirm"},
		"segments": ["v1", "payment_intents", "pi_3MtwBwLkdIwHu7ix28a3tqPa", "confirm"],
		"time": "2026-05-01T12:00:00.123456789Z",
		"user": {"claims": {"role": "customer"}, "sub": "user_42"}
	},
	"labels": {"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "version": "1.22.4"},
	"path": "paygate/authz/decision",
	"request_id": "5b0c8c4e-7a0f-4d8e-9a57-3f1f2b8e6c11",
	"result": {"allow": true, "reason": "owner"},
	"timestamp": "2026-05-01T12:00:00.123501234Z",
	"type": "openpolicyagent.org/decision_logs"
}`

// decisionLogEntry logs decisionEvent as opa_authz's console decision log
// does: one field per member, in key order, each a JSON document field
// (jsonlog), with the message "Decision Log".
func decisionLogEntry(b *testing.B) func(*zap.Logger) {
	d := json.NewDecoder(strings.NewReader(decisionEvent))
	d.UseNumber()
	var event map[string]any
	if err := d.Decode(&event); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 0, len(event))
	for k := range event {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fields := make([]zap.Field, 0, len(keys))
	for _, k := range keys {
		fields = append(fields, jsonlog.Field(k, event[k]))
	}
	return func(log *zap.Logger) {
		log.Info("Decision Log", fields...)
	}
}
