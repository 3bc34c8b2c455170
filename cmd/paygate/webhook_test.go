package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// testSecret is the signing secret the tests sign with.
const testSecret = "whsec_test_0123456789abcdef"

// testEvent is an event as Stripe sends it, laid out as no JSON encoder
// would lay it out again: a signature over re-serialized bytes fails.
const testEvent = `{"id":"evt_1", "object":"event",` + "\n\t" + `"type":"payment_intent.succeeded","created":1700000000,"data":{"object":{"id":"pi_1","object":"payment_intent"}}}`

// headerPattern is Stripe's Stripe-Signature header with one v1 signature.
var headerPattern = regexp.MustCompile(`^t=([0-9]+),v1=[0-9a-f]{64}$`)

// runWebhookCommand runs "paygate webhook" with args and stdin as Caddy's
// command line would (its root command silences usage on errors) and
// returns what it printed.
func runWebhookCommand(stdin io.Reader, args ...string) (string, error) {
	cmd := &cobra.Command{Use: "webhook", SilenceUsage: true}
	setUpWebhook(cmd)
	var out bytes.Buffer
	cmd.SetIn(stdin)
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// writeFile writes content to a new file in t's temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// signHeader runs "paygate webhook sign" with args, expects one header line
// and returns it.
func signHeader(t *testing.T, stdin io.Reader, args ...string) string {
	t.Helper()
	out, err := runWebhookCommand(stdin, append([]string{"sign"}, args...)...)
	if err != nil {
		t.Fatalf("sign %v: %v", args, err)
	}
	header, ok := strings.CutSuffix(out, "\n")
	if !ok || !headerPattern.MatchString(header) {
		t.Fatalf("sign %v printed %q, want one Stripe-Signature header line", args, out)
	}
	return header
}

func TestWebhookRegistered(t *testing.T) {
	registered, ok := caddycmd.Commands()["webhook"]
	if !ok {
		t.Fatal(`"paygate webhook" is not registered`)
	}
	root := &cobra.Command{Use: "paygate"}
	cmd := &cobra.Command{Use: registered.Name, Short: registered.Short, Long: registered.Long}
	registered.CobraFunc(cmd)
	root.AddCommand(cmd)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help", "webhook"}, []string{"paygate webhook sign --payload", "paygate webhook [command]", "\n  sign "}},
		{[]string{"help", "webhook", "sign"}, []string{"paygate webhook sign [--payload", "--secret-file", "--cacert"}},
	} {
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(tc.args)
		if err := root.Execute(); err != nil {
			t.Fatalf("paygate %s: %v", strings.Join(tc.args, " "), err)
		}
		for _, want := range tc.want {
			if !strings.Contains(out.String(), want) {
				t.Errorf("paygate %s does not show %q:\n%s", strings.Join(tc.args, " "), want, out.String())
			}
		}
	}
}

func TestWebhookSignPayload(t *testing.T) {
	t.Setenv(defaultSecretEnv, testSecret)
	file := writeFile(t, "event.json", testEvent)
	before := time.Now().Unix()
	header := signHeader(t, nil, "--payload", file)
	after := time.Now().Unix()

	if err := webhook.ValidatePayloadWithTolerance([]byte(testEvent), header, testSecret, time.Minute); err != nil {
		t.Errorf("header %q does not verify: %v", header, err)
	}
	if err := webhook.ValidatePayloadIgnoringTolerance([]byte(testEvent), header, "whsec_other"); err == nil {
		t.Error("the header verifies with another secret")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(testEvent)); err != nil {
		t.Fatal(err)
	}
	if err := webhook.ValidatePayloadIgnoringTolerance(compact.Bytes(), header, testSecret); err == nil {
		t.Error("the header verifies re-serialized bytes, not the file's")
	}
	if ts, _ := strconv.ParseInt(headerPattern.FindStringSubmatch(header)[1], 10, 64); ts < before || ts > after {
		t.Errorf("t = %d, want now (%d to %d)", ts, before, after)
	}

	// At a fixed time the header is a function of the bytes: the file,
	// "-" and standard input by default sign the same ones.
	at := []string{"--time", "1700000000"}
	fromFile := signHeader(t, nil, append(at, "--payload", file)...)
	if got := signHeader(t, strings.NewReader(testEvent), append(at, "--payload", "-")...); got != fromFile {
		t.Errorf("--payload -: header %q, want %q as for the file", got, fromFile)
	}
	if got := signHeader(t, strings.NewReader(testEvent), at...); got != fromFile {
		t.Errorf("event on standard input: header %q, want %q as for the file", got, fromFile)
	}
}

func TestWebhookSignTime(t *testing.T) {
	t.Setenv(defaultSecretEnv, testSecret)
	file := writeFile(t, "event.json", testEvent)
	for _, ts := range []int64{1700000000, time.Now().Add(time.Hour).Unix()} {
		header := signHeader(t, nil, "--payload", file, "--time", strconv.FormatInt(ts, 10))
		if got := headerPattern.FindStringSubmatch(header)[1]; got != strconv.FormatInt(ts, 10) {
			t.Errorf("--time %d: t = %s", ts, got)
		}
		if err := webhook.ValidatePayloadIgnoringTolerance([]byte(testEvent), header, testSecret); err != nil {
			t.Errorf("--time %d: header %q does not verify: %v", ts, header, err)
		}
	}
	old := signHeader(t, nil, "--payload", file, "--time", "1700000000")
	if err := webhook.ValidatePayloadWithTolerance([]byte(testEvent), old, testSecret, webhook.DefaultTolerance); err == nil {
		t.Error("a signature from 2023 is within the default tolerance")
	}
	for _, bad := range []string{"0", "-5", "soon"} {
		if _, err := runWebhookCommand(nil, "sign", "--payload", file, "--time", bad); err == nil {
			t.Errorf("--time %s: got no error", bad)
		}
	}
}

func TestWebhookSignGenerated(t *testing.T) {
	t.Setenv(defaultSecretEnv, testSecret)
	for _, tc := range []struct {
		eventType, objectID, objectType string
		fields                          []string
		wantFields                      map[string]string
	}{
		{"payment_intent.succeeded", "pi_3Mtw", "payment_intent", []string{"payment_method=pm_1", "status=succeeded"},
			map[string]string{"payment_method": "pm_1", "status": "succeeded"}},
		{"setup_intent.succeeded", "seti_1", "setup_intent", []string{"customer=cus_1"}, map[string]string{"customer": "cus_1"}},
		{"payment_method.detached", "pm_1", "payment_method", nil, nil},
		{"charge.dispute.created", "dp_1", "dispute", []string{"payment_intent=pi_1", "note=a=b", "empty="},
			map[string]string{"payment_intent": "pi_1", "note": "a=b", "empty": ""}},
		{"customer.deleted", "cus_1", "customer", nil, nil},
	} {
		t.Run(tc.eventType, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "event.json")
			args := []string{"--type", tc.eventType, "--object", tc.objectID, "--out", out}
			for _, f := range tc.fields {
				args = append(args, "--field", f)
			}
			before := time.Now().Unix()
			header := signHeader(t, nil, args...)
			after := time.Now().Unix()
			payload, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := webhook.ValidatePayloadWithTolerance(payload, header, testSecret, time.Minute); err != nil {
				t.Errorf("header %q does not verify the event written: %v", header, err)
			}

			var ev stripe.Event
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Fatalf("the event does not parse as a stripe.Event: %v\n%s", err, payload)
			}
			if !regexp.MustCompile(`^evt_[0-9a-f]{24}$`).MatchString(ev.ID) || ev.Object != "event" || ev.APIVersion != stripe.APIVersion ||
				ev.Livemode || string(ev.Type) != tc.eventType || ev.Created < before || ev.Created > after {
				t.Errorf("event = %s", payload)
			}
			want := map[string]string{"id": tc.objectID, "object": tc.objectType}
			for k, v := range tc.wantFields {
				want[k] = v
			}
			if len(ev.Data.Object) != len(want) {
				t.Errorf("data.object = %v, want %v", ev.Data.Object, want)
			}
			for k, v := range want {
				if got, ok := ev.Data.Object[k].(string); !ok || got != v {
					t.Errorf("data.object.%s = %#v, want %q", k, ev.Data.Object[k], v)
				}
			}
		})
	}

	dir := t.TempDir()
	first, second := filepath.Join(dir, "1.json"), filepath.Join(dir, "2.json")
	var ids []string
	for _, out := range []string{first, second} {
		signHeader(t, nil, "--type", "payment_intent.succeeded", "--object", "pi_1", "--out", out)
		var ev stripe.Event
		b, err := os.ReadFile(out)
		if err == nil {
			err = json.Unmarshal(b, &ev)
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	if ids[0] == ids[1] {
		t.Errorf("two generated events have the same ID %s", ids[0])
	}
}

func TestWebhookSignBadFlags(t *testing.T) {
	t.Setenv(defaultSecretEnv, testSecret)
	file := writeFile(t, "event.json", testEvent)
	out := filepath.Join(t.TempDir(), "event.json")
	gen := []string{"--type", "payment_intent.succeeded", "--object", "pi_1"}
	for name, args := range map[string][]string{
		"payload and type":       append([]string{"--payload", file, "--out", out}, gen...),
		"payload and field":      {"--payload", file, "--field", "a=b"},
		"payload and out":        {"--payload", file, "--out", out},
		"type without object":    {"--type", "payment_intent.succeeded", "--out", out},
		"object without type":    {"--object", "pi_1", "--out", out},
		"generated without out":  gen,
		"unknown prefix":         {"--type", "charge.succeeded", "--object", "ch_1", "--out", out},
		"bare prefix":            {"--type", "payment_intent.succeeded", "--object", "pi_", "--out", out},
		"field without value":    append([]string{"--out", out, "--field", "status"}, gen...),
		"field without name":     append([]string{"--out", out, "--field", "=x"}, gen...),
		"field overriding id":    append([]string{"--out", out, "--field", "id=pi_2"}, gen...),
		"field overriding type":  append([]string{"--out", out, "--field", "object=charge"}, gen...),
		"repeated field":         append([]string{"--out", out, "--field", "a=1", "--field", "a=2"}, gen...),
		"missing payload file":   {"--payload", filepath.Join(t.TempDir(), "none.json")},
		"empty payload":          {"--payload", writeFile(t, "empty.json", "")},
		"argument":               {"--payload", file, "extra"},
		"cacert without url":     {"--payload", file, "--cacert", file},
		"relative url":           {"--payload", file, "--url", "/webhooks/stripe"},
		"url of another scheme":  {"--payload", file, "--url", "ftp://127.0.0.1/"},
		"secret env and file":    {"--payload", file, "--secret-env", "X", "--secret-file", file},
		"secret env of no name":  {"--payload", file, "--secret-env", ""},
		"empty standard input":   {},
		"explicit empty --type":  {"--type", "", "--object", "pi_1", "--out", out},
		"secret file, directory": {"--payload", file, "--secret-file", t.TempDir()},
	} {
		got, err := runWebhookCommand(strings.NewReader(""), append([]string{"sign"}, args...)...)
		if err == nil {
			t.Errorf("%s: got no error", name)
		}
		if got != "" {
			t.Errorf("%s: printed %q", name, got)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused command wrote %s (%v)", out, err)
	}
}

func TestWebhookSignSecret(t *testing.T) {
	file := writeFile(t, "event.json", testEvent)
	t.Setenv(defaultSecretEnv, testSecret)
	t.Setenv("PAYGATE_TEST_WHSEC", "whsec_from_other_env")

	for name, tc := range map[string]struct {
		args   []string
		secret string
	}{
		"default env":            {nil, testSecret},
		"--secret-env":           {[]string{"--secret-env", "PAYGATE_TEST_WHSEC"}, "whsec_from_other_env"},
		"--secret-file, newline": {[]string{"--secret-file", writeFile(t, "secret", "whsec_from_file\n")}, "whsec_from_file"},
		"--secret-file, CRLF":    {[]string{"--secret-file", writeFile(t, "secret", "whsec_from_file\r\n")}, "whsec_from_file"},
		"--secret-file, none":    {[]string{"--secret-file", writeFile(t, "secret", "whsec_from_file")}, "whsec_from_file"},
	} {
		header := signHeader(t, nil, append([]string{"--payload", file}, tc.args...)...)
		if err := webhook.ValidatePayloadWithTolerance([]byte(testEvent), header, tc.secret, time.Minute); err != nil {
			t.Errorf("%s: the header does not verify with %s: %v", name, tc.secret, err)
		}
		if tc.secret != testSecret {
			if err := webhook.ValidatePayloadWithTolerance([]byte(testEvent), header, testSecret, time.Minute); err == nil {
				t.Errorf("%s: the header verifies with the default variable's secret", name)
			}
		}
	}
}

func TestWebhookSignMissingSecret(t *testing.T) {
	file := writeFile(t, "event.json", testEvent)
	// Secrets around, or passed where a name belongs, must not show in the
	// errors.
	const misplaced = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	t.Setenv(defaultSecretEnv, testSecret)
	t.Setenv("PAYGATE_TEST_EMPTY", "")
	for name, args := range map[string][]string{
		"empty env":           {"--secret-env", "PAYGATE_TEST_EMPTY"},
		"unset env":           {"--secret-env", "PAYGATE_TEST_UNSET_" + strconv.FormatInt(time.Now().UnixNano(), 10)},
		"empty file":          {"--secret-file", writeFile(t, "secret", "")},
		"file of a newline":   {"--secret-file", writeFile(t, "secret", "\n")},
		"missing file":        {"--secret-file", filepath.Join(t.TempDir(), "none")},
		"secret as env name":  {"--secret-env", misplaced},
		"secret as file path": {"--secret-file", misplaced},
	} {
		out, err := runWebhookCommand(nil, append([]string{"sign", "--payload", file}, args...)...)
		if err == nil {
			t.Errorf("%s: got no error", name)
			continue
		}
		if out != "" {
			t.Errorf("%s: printed %q", name, out)
		}
		if msg := err.Error(); strings.Contains(msg, testSecret) || strings.Contains(msg, misplaced[len("whsec_"):]) {
			t.Errorf("%s: the error shows a secret: %s", name, msg)
		}
	}

	t.Setenv(defaultSecretEnv, "")
	if _, err := runWebhookCommand(nil, "sign", "--payload", file); err == nil || !strings.Contains(err.Error(), defaultSecretEnv) {
		t.Errorf("no secret in %s: err = %v, want one naming it", defaultSecretEnv, err)
	}
}

// received is one request the test server got.
type received struct {
	path, contentType, signature string
	body                         []byte
}

func TestWebhookSignPost(t *testing.T) {
	t.Setenv(defaultSecretEnv, testSecret)
	got := make(chan received, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		got <- received{r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Stripe-Signature"), body}
		switch r.URL.Path {
		case "/webhook":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"received":true}`)
		case "/redirect":
			http.Redirect(w, r, "/webhook", http.StatusTemporaryRedirect)
		default:
			http.Error(w, "signature refused", http.StatusBadRequest)
		}
	}))
	// The handshake the test fails on purpose is not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cacert := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	file := writeFile(t, "event.json", testEvent)
	at := []string{"--time", strconv.FormatInt(time.Now().Unix(), 10)}
	wantHeader := signHeader(t, nil, append(at, "--payload", file)...)

	post := func(path string, args ...string) (string, error) {
		t.Helper()
		return runWebhookCommand(nil, append([]string{"sign", "--url", srv.URL + path, "--cacert", cacert}, args...)...)
	}
	next := func() received {
		t.Helper()
		select {
		case r := <-got:
			return r
		default:
			t.Fatal("the server got no request")
			return received{}
		}
	}

	out, err := post("/webhook", append(at, "--payload", file)...)
	if err != nil {
		t.Fatalf("--url: %v", err)
	}
	if want := "HTTP/1.1 200 OK\n{\"received\":true}\n"; out != want {
		t.Errorf("--url printed %q, want %q", out, want)
	}
	r := next()
	if !bytes.Equal(r.body, []byte(testEvent)) || r.signature != wantHeader || r.contentType != "application/json" {
		t.Errorf("the server got %+v, want the file's bytes, header %q and Content-Type application/json", r, wantHeader)
	}

	// A generated event is posted as signed, and written to --out if given.
	outFile := filepath.Join(t.TempDir(), "event.json")
	if _, err := post("/webhook", "--type", "payment_intent.succeeded", "--object", "pi_1", "--out", outFile); err != nil {
		t.Fatalf("--url with --type: %v", err)
	}
	r = next()
	written, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.body, written) {
		t.Errorf("posted %s, wrote %s", r.body, written)
	}
	if err := webhook.ValidatePayloadWithTolerance(r.body, r.signature, testSecret, time.Minute); err != nil {
		t.Errorf("the generated event's header does not verify: %v", err)
	}
	if _, err := post("/webhook", "--type", "payment_intent.succeeded", "--object", "pi_1"); err != nil {
		t.Errorf("--url with --type and no --out: %v", err)
	}
	next()

	out, err = post("/refuse", "--payload", file)
	if err == nil {
		t.Error("a 400 answer: got no error")
	}
	if !strings.HasPrefix(out, "HTTP/1.1 400 Bad Request\n") || !strings.Contains(out, "signature refused") {
		t.Errorf("a 400 answer: printed %q", out)
	}
	next()

	if _, err := post("/redirect", "--payload", file); err == nil {
		t.Error("a redirect: got no error")
	}
	if r := next(); r.path != "/redirect" {
		t.Errorf("first request to %s", r.path)
	}
	select {
	case r := <-got:
		t.Errorf("the redirect was followed to %s", r.path)
	default:
	}

	if _, err := runWebhookCommand(nil, "sign", "--url", srv.URL+"/webhook", "--payload", file); err == nil {
		t.Error("without --cacert: the test server's certificate was trusted")
	}
	for name, ca := range map[string]string{
		"not PEM": writeFile(t, "bad.pem", "not a certificate"),
		"missing": filepath.Join(t.TempDir(), "none.pem"),
	} {
		if _, err := post("/webhook", "--payload", file, "--cacert", ca); err == nil {
			t.Errorf("--cacert %s: got no error", name)
		}
	}
	select {
	case r := <-got:
		t.Errorf("the server got a request to %s it should not have", r.path)
	default:
	}
}
