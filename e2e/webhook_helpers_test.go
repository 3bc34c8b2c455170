package e2e

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/paygate/paygate/internal/testenv"
)

// The webhook endpoint's signing secrets in the end-to-end tests: the
// current one and the one being rolled out of use.
const (
	webhookSecret    = "whsec_e2eCurrentSecret0123456789abcdef"
	webhookSecretOld = "whsec_e2eOldSecret0123456789abcdef0000"
)

// webhookSite is the webhook route as the shipped configs have it (TLS,
// headers, stripe_webhook, a downstream), with {{.Data.webhook}} inside
// stripe_webhook's block, {{.Data.downstream}} after it, and
// {{.Data.extra}} (more routes) after the route.
const webhookSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route /webhooks/stripe {
		security_headers api
		tls_enforce
		stripe_webhook {
			{{.Data.webhook}}
		}
		{{.Data.downstream}}
	}
	{{.Data.extra}}
	handle_errors {
		paygate_error
	}
}
`

// webhookConfig varies webhookSite.
type webhookConfig struct {
	// upstream is the recording downstream; downstream defaults to
	// reverse_proxy to it.
	upstream   *testenv.Upstream
	downstream string
	// webhook is stripe_webhook's block; default: the current secret from
	// the environment (STRIPE_WEBHOOK_SECRET).
	webhook string
	// global is the global options' extra text (a paygate store block).
	global string
	// env is added to the processes' environment.
	env map[string]string
	// extra is more of the site (other routes).
	extra string
}

// webhookOptions are the paygate options of cfg.
func webhookOptions(cfg webhookConfig) testenv.PaygateOptions {
	if cfg.downstream == "" {
		cfg.downstream = "reverse_proxy " + cfg.upstream.URL
	}
	if cfg.webhook == "" {
		cfg.webhook = "secret {env.STRIPE_WEBHOOK_SECRET}"
	}
	env := map[string]string{"STRIPE_WEBHOOK_SECRET": webhookSecret, "STRIPE_WEBHOOK_SECRET_OLD": webhookSecretOld}
	for k, v := range cfg.env {
		env[k] = v
	}
	return testenv.PaygateOptions{
		Upstream: cfg.upstream,
		Global:   cfg.global,
		Site:     webhookSite,
		Data:     map[string]any{"webhook": cfg.webhook, "downstream": cfg.downstream, "extra": cfg.extra},
		Env:      env,
	}
}

// startWebhook starts one paygate with the webhook route of cfg.
func startWebhook(t *testing.T, cfg webhookConfig) *testenv.Paygate {
	t.Helper()
	return testenv.StartPaygate(t, webhookOptions(cfg))
}

// redisStoreGlobal is the global option block of a store on s.
func redisStoreGlobal(s *testenv.RedisServer) string {
	return fmt.Sprintf("paygate {\n\t\tstore redis %s\n\t}", s.URL())
}

// stripeSignature is a Stripe-Signature header value for body signed at ts
// with each secret in turn (one v1 each, as Stripe sends while a secret is
// rolled), made with stripe-go's own signing function.
func stripeSignature(body []byte, ts time.Time, secrets ...string) string {
	parts := []string{fmt.Sprintf("t=%d", ts.Unix())}
	for _, s := range secrets {
		parts = append(parts, "v1="+hex.EncodeToString(webhook.ComputeSignature(ts, body, s)))
	}
	return strings.Join(parts, ",")
}

// stripeEventBody is a Stripe event of type typ about object (which must
// have an "id"), created now, in test mode, of stripe-go's API version;
// edit may change the event's fields before it is serialized.
func stripeEventBody(t *testing.T, id, typ string, object map[string]any, edit func(ev map[string]any)) []byte {
	t.Helper()
	ev := map[string]any{
		"id": id, "object": "event", "api_version": stripe.APIVersion, "created": time.Now().Unix(),
		"livemode": false, "pending_webhooks": 1, "type": typ, "data": map[string]any{"object": object},
	}
	if edit != nil {
		edit(ev)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// postEvent delivers body to pg's webhook route with the given
// Stripe-Signature ("" for none) and Content-Type application/json, plus
// header.
func postEvent(t *testing.T, pg *testenv.Paygate, body []byte, signature string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	if signature != "" {
		h.Set("Stripe-Signature", signature)
	}
	for k, v := range header {
		h[k] = v
	}
	return send(t, pg.Client(), http.MethodPost, pg.HTTPSURL+"/webhooks/stripe", string(body), h)
}

// wantReceived requires the acknowledgement of a delivery: 200
// {"received":true}.
func wantReceived(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"received":true}` {
		t.Fatalf("status %d, body %s; want 200 {\"received\":true}", resp.StatusCode, body)
	}
}
