package testenv

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// stripeMockListening prefixes the line stripe-mock prints once its HTTP
// listener is open, followed by the address.
const stripeMockListening = "Listening for HTTP at address: "

// StripeCall is one request that reached stripe-mock through the recording
// proxy.
type StripeCall struct {
	Method string
	Path   string
	Query  url.Values
	// Body is the raw request body.
	Body []byte
	// Form is the request body, form-decoded as far as it decodes (Stripe's
	// API takes application/x-www-form-urlencoded bodies).
	Form           url.Values
	IdempotencyKey string
	StripeVersion  string
	Header         http.Header
	Time           time.Time
}

// StripeMock is a running stripe-mock behind a recording proxy. stripe-mock
// is stateless: it answers from fixtures, validates parameters against
// Stripe's OpenAPI spec, and never answers 404 for an unknown ID.
// RememberObjects makes the proxy remember what was created through it.
type StripeMock struct {
	// URL is the recording proxy's base URL, http://127.0.0.1:<port>; use it
	// as the Stripe backend URL.
	URL string

	mu    sync.Mutex
	calls []StripeCall
	// state, when set (RememberObjects), makes the proxy stateful for
	// owners: stripestate.go.
	state *stripeState
}

// formKey is the request context key of a call's decoded form, for the
// proxy's response patching.
type formKey struct{}

// StartStripeMock starts stripe-mock ($PAYGATE_STRIPE_MOCK, or built once per
// test process from the tools module) on 127.0.0.1 and a recording proxy in
// front of it; both are stopped when the test ends.
func StartStripeMock(t testing.TB) *StripeMock {
	t.Helper()
	bin := executable(t, "PAYGATE_STRIPE_MOCK", "stripe-mock", buildStripeMock)
	// Port 0 for both listeners: without -https-addr stripe-mock also opens
	// :12112 on every interface. The chosen HTTP address is read from its
	// output, so no port can be taken in between.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	cmd.Env = []string{"HOME=" + t.TempDir()}
	proc, err := startProcess("stripe-mock", cmd)
	if err != nil {
		t.Fatal(err)
	}
	line, err := proc.waitReady(func(line []byte) bool {
		return bytes.HasPrefix(line, []byte(stripeMockListening))
	})
	if err != nil {
		proc.stop()
		t.Fatal(err)
	}
	proc.stopAtCleanup(t)
	target := &url.URL{Scheme: "http", Host: strings.TrimPrefix(string(line), stripeMockListening)}

	sm := &StripeMock{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// Answers are patched as plain JSON.
			r.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: func(res *http.Response) error {
			st := sm.stateOrNil()
			if st == nil {
				return nil
			}
			form, _ := res.Request.Context().Value(formKey{}).(url.Values)
			return st.patchResponse(res, form)
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, err := sm.record(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if st := sm.stateOrNil(); st != nil && st.answer(w, r) {
			return
		}
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), formKey{}, form)))
	}))
	t.Cleanup(srv.Close)
	sm.URL = srv.URL
	return sm
}

// record appends r to the calls, restores its body for the proxy and
// returns its decoded form.
func (sm *StripeMock) record(r *http.Request) (url.Values, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	call := StripeCall{
		Method:         r.Method,
		Path:           r.URL.Path,
		Query:          r.URL.Query(),
		Body:           body,
		Form:           form,
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		StripeVersion:  r.Header.Get("Stripe-Version"),
		Header:         r.Header.Clone(),
		Time:           time.Now(),
	}
	sm.mu.Lock()
	sm.calls = append(sm.calls, call)
	sm.mu.Unlock()
	return form, nil
}

// Calls returns a copy of the calls recorded so far, oldest first.
func (sm *StripeMock) Calls() []StripeCall {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	out := make([]StripeCall, len(sm.calls))
	for i, c := range sm.calls {
		c.Query = cloneValues(c.Query)
		c.Body = bytes.Clone(c.Body)
		c.Form = cloneValues(c.Form)
		c.Header = c.Header.Clone()
		out[i] = c
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
