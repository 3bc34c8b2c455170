package payments

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// defaultAPIBase is Stripe's API.
const defaultAPIBase = "https://api.stripe.com"

// keyPattern is a Stripe secret (sk_) or restricted (rk_) key; a publishable
// key (pk_) or anything else cannot call the API and is refused at start-up.
var keyPattern = regexp.MustCompile(`^(sk|rk)_(test|live)_[A-Za-z0-9_]+$`)

// isLiveKey reports whether key moves real money.
func isLiveKey(key string) bool {
	return strings.HasPrefix(key, "sk_live_") || strings.HasPrefix(key, "rk_live_")
}

// checkKey validates a resolved key. Its value never appears in the error.
func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("stripe_key is empty after replacement (is the environment variable or file set?)")
	case !keyPattern.MatchString(key):
		return errors.New("stripe_key is not a Stripe secret or restricted key (sk_test_, sk_live_, rk_test_ or rk_live_)")
	}
	return nil
}

// parseAPIBase checks api_base: an http or https origin with nothing after
// the host (stripe-go appends /v1/...).
func parseAPIBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("api_base: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("api_base %q: must be an http(s) origin such as %s", raw, defaultAPIBase)
	}
	return u, nil
}

// stripeAPI is the part of stripe-go's client.API the handler uses, built on
// a backend of its own (never stripe-go's package-level one).
type stripeAPI struct {
	*client.API
	transport *http.Transport
}

// newStripeAPI returns a client for key on base. Network retries (stripe-go's
// own) resend the same request, so they carry the same Idempotency-Key.
// stripe-go's logger is off: its error lines hold Stripe's raw error
// bodies, which may embed a payment intent with its client secret; the
// handler logs request IDs and codes itself.
func newStripeAPI(key, base string, retries int64) *stripeAPI {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(base),
		HTTPClient:        &http.Client{Transport: transport},
		MaxNetworkRetries: stripe.Int64(retries),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		EnableTelemetry:   stripe.Bool(false),
	})
	api := new(client.API)
	api.Init(key, &stripe.Backends{API: backend, Connect: backend, Uploads: backend})
	return &stripeAPI{API: api, transport: transport}
}
