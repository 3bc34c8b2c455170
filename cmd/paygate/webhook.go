package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/paygate/paygate/internal/payapi"
	"github.com/paygate/paygate/internal/redact"
)

// defaultSecretEnv is the environment variable the signing secret is read
// from unless --secret-env or --secret-file says otherwise.
const defaultSecretEnv = "STRIPE_WEBHOOK_SECRET"

// webhookTimeout bounds a --url request, from connecting to reading the
// answer.
const webhookTimeout = 10 * time.Second

// maxWebhookAnswer bounds how much of the answer's body is read and
// printed.
const maxWebhookAnswer = 1 << 20

// objectTypes maps the ID prefixes --object takes to the object types they
// name: those of paygate's payment API, and the Stripe objects its events
// carry that the API does not address by ID.
var objectTypes = func() map[string]string {
	types := map[string]string{"dp_": "dispute", "cus_": "customer"}
	for _, r := range payapi.Default().Routes() {
		if r.IDPrefix != "" {
			types[r.IDPrefix] = r.ResourceType
		}
	}
	return types
}()

// objectPrefixes is the sorted list of objectTypes' prefixes, for help and
// error messages.
func objectPrefixes() string {
	prefixes := make([]string, 0, len(objectTypes))
	for p := range objectTypes {
		prefixes = append(prefixes, p)
	}
	slices.Sort(prefixes)
	return strings.Join(prefixes, ", ")
}

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "webhook",
		Usage: "sign [<flags>]",
		Short: "Signs Stripe webhook events, to try paygate's webhook route by hand",
		Long: `
Signs webhook events the way Stripe does, for sending them to paygate's
webhook route by hand or from scripts, with the signing secret in
$` + defaultSecretEnv + `:

    # print the Stripe-Signature header for an event in a file
    paygate webhook sign --payload ev.json
    # generate an event, write it to ev.json and print its header
    paygate webhook sign --type payment_intent.succeeded --object pi_1 --out ev.json
    # sign an event and POST it
    paygate webhook sign --payload ev.json --url <webhook URL> --cacert <CA PEM>

"paygate help webhook sign" describes every flag.
`,
		CobraFunc: setUpWebhook,
	})
}

// setUpWebhook adds the webhook command's subcommand, sign, with its flags.
func setUpWebhook(cmd *cobra.Command) {
	sign := &cobra.Command{
		Use:   "sign [--payload <file>|- | --type <event type> --object <id> [--field <name>=<value>]... [--out <file>]] [--secret-env <name> | --secret-file <file>] [--time <unix seconds>] [--url <url> [--cacert <pem>]]",
		Short: "Signs a Stripe event and prints its Stripe-Signature header or posts it",
		Long: `
Signs a webhook event with an endpoint's signing secret the way Stripe does
and prints the value of the Stripe-Signature header (t=<unix time>,v1=<hex
HMAC-SHA256>), or posts the event with it:

    curl -H "Stripe-Signature: $(paygate webhook sign --payload ev.json)" \
        -H "Content-Type: application/json" --data-binary @ev.json <url>

--payload <file>
    The event to sign. Its bytes are signed as they are, never
    re-serialized. "-" reads it from standard input, which is also the
    default when neither --payload nor --type is given and standard input
    is not a terminal.

--type <event type> --object <id>
    Generates a minimal event instead: a new evt_ ID, API version
    ` + stripe.APIVersion + `, created now, not live mode, and a data.object
    with the ID and the object type its prefix names
    (` + objectPrefixes() + `). --field <name>=<value> (repeatable) adds
    a string field to data.object, e.g. --field payment_method=pm_1. The
    event is written to --out <file>, which is required without --url:
    send that file with the header printed.

--secret-env <name>, --secret-file <file>
    Where the signing secret (whsec_...) is: an environment variable
    (default ` + defaultSecretEnv + `) or a file, whose trailing newline
    is dropped. No flag takes the secret itself: it would show in ps and
    in the shell's history.

--time <unix seconds>
    The time to sign at. Default: now. A time long past makes a signature
    that the webhook route must refuse as too old.

--url <url>
    POSTs the event there with Content-Type: application/json and the
    Stripe-Signature header, prints the answer's status line and body, and
    fails if the status is not 2xx. Redirects are not followed; the request
    times out after ` + webhookTimeout.String() + `.

--cacert <pem>
    Trusts the CA certificates in this PEM file besides the system's, e.g.
    the local CA of make run: .run/data/caddy/pki/authorities/local/root.crt.
`,
		Args: cobra.NoArgs,
		RunE: runWebhookSign,
	}
	f := sign.Flags()
	f.String("payload", "", `File holding the event to sign ("-": standard input)`)
	f.String("type", "", "Event type of a generated event")
	f.String("object", "", "ID of a generated event's data.object")
	f.StringArray("field", nil, "String field of a generated event's data.object, as name=value (repeatable)")
	f.String("out", "", "File to write a generated event to")
	f.String("secret-env", defaultSecretEnv, "Environment variable holding the signing secret")
	f.String("secret-file", "", "File holding the signing secret")
	f.Int64("time", 0, "Time to sign at, in Unix seconds (default: now)")
	f.String("url", "", "URL to POST the signed event to")
	f.String("cacert", "", "PEM file of CA certificates to trust for --url")
	cmd.AddCommand(sign)
}

// signOptions are the sign command's flags, checked.
type signOptions struct {
	// payloadFile is the --payload file, "-" for standard input, or "" for
	// a generated event.
	payloadFile string
	eventType   string
	objectID    string
	fields      []string
	out         string
	secretEnv   string
	secretFile  string
	// now is when the command started: a generated event's creation time.
	now time.Time
	// at is the time to sign at: now unless --time says otherwise.
	at     time.Time
	url    *url.URL
	cacert string
}

// readSignOptions reads and checks the sign command's flags; stdinIsTerminal
// decides whether a missing --payload means standard input.
func readSignOptions(f *pflag.FlagSet, stdinIsTerminal bool) (signOptions, error) {
	var o signOptions
	var rawURL string
	var err error
	for name, dst := range map[string]*string{
		"payload": &o.payloadFile, "type": &o.eventType, "object": &o.objectID, "out": &o.out,
		"secret-env": &o.secretEnv, "secret-file": &o.secretFile, "url": &rawURL, "cacert": &o.cacert,
	} {
		if *dst, err = f.GetString(name); err != nil {
			return o, err
		}
	}
	if o.fields, err = f.GetStringArray("field"); err != nil {
		return o, err
	}

	if o.payloadFile != "" && o.eventType != "" {
		return o, errors.New("--payload and --type exclude each other")
	}
	generated := f.Changed("type") || f.Changed("object") || f.Changed("field") || f.Changed("out")
	switch {
	case o.payloadFile != "" && generated:
		return o, errors.New("--object, --field and --out are for a generated event (--type), not --payload")
	case generated && (o.eventType == "" || o.objectID == ""):
		return o, errors.New("a generated event needs both --type and --object")
	case !generated && o.payloadFile == "":
		if stdinIsTerminal {
			return o, errors.New("no event: give --payload <file> (- for standard input) or --type and --object")
		}
		o.payloadFile = "-"
	}

	if f.Changed("secret-env") && o.secretFile != "" {
		return o, errors.New("--secret-env and --secret-file exclude each other")
	}
	if o.secretFile == "" && o.secretEnv == "" {
		return o, errors.New("--secret-env: want an environment variable's name")
	}

	o.now = time.Now()
	o.at = o.now
	if f.Changed("time") {
		unix, err := f.GetInt64("time")
		if err != nil {
			return o, err
		}
		if unix <= 0 {
			return o, fmt.Errorf("--time %d: want a positive Unix time", unix)
		}
		o.at = time.Unix(unix, 0)
	}

	if rawURL == "" {
		if o.eventType != "" && o.out == "" {
			return o, errors.New("--out <file> is required for a generated event without --url: it is what the printed header signs")
		}
		if o.cacert != "" {
			return o, errors.New("--cacert is for --url")
		}
		return o, nil
	}
	if o.url, err = url.Parse(rawURL); err != nil {
		// The error quotes the URL, which may hold a password.
		return o, fmt.Errorf("--url: %s", redact.String(err.Error()))
	}
	if (o.url.Scheme != "https" && o.url.Scheme != "http") || o.url.Host == "" {
		return o, fmt.Errorf("--url %s: want an absolute http or https URL", o.url.Redacted())
	}
	return o, nil
}

// envNamePattern is what an environment variable's name must look like to
// be named in an error: a secret given to --secret-env by mistake (mixed
// case, like whsec_...) must not be printed.
var envNamePattern = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,63}$`)

// secret reads the signing secret. Its errors never hold the secret, nor
// one passed by mistake as the variable's name or the file's path.
func (o *signOptions) secret() (string, error) {
	if o.secretFile != "" {
		b, err := os.ReadFile(o.secretFile)
		if err != nil {
			return "", fmt.Errorf("no signing secret (%s)", redact.String(err.Error()))
		}
		secret := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if secret == "" {
			return "", fmt.Errorf("no signing secret: %s is empty", redact.String(o.secretFile))
		}
		return secret, nil
	}
	secret := os.Getenv(o.secretEnv)
	if secret == "" {
		if !envNamePattern.MatchString(o.secretEnv) {
			return "", errors.New("no signing secret: the environment variable --secret-env names is unset or empty (--secret-env takes a variable's name, not the secret)")
		}
		return "", fmt.Errorf("no signing secret: the environment variable %s is unset or empty (or use --secret-file)", o.secretEnv)
	}
	return secret, nil
}

// payload returns the bytes to sign: the --payload file's or stdin's, or a
// generated event.
func (o *signOptions) payload(stdin io.Reader) ([]byte, error) {
	var payload []byte
	var err error
	switch o.payloadFile {
	case "":
		return newEvent(o.eventType, o.objectID, o.fields, o.now)
	case "-":
		payload, err = io.ReadAll(stdin)
	default:
		payload, err = os.ReadFile(o.payloadFile)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the event: %w", err)
	}
	if len(payload) == 0 {
		return nil, errors.New("the event is empty")
	}
	return payload, nil
}

// newEvent returns a minimal Stripe event of type eventType, created at
// created, whose data.object is objectID with the object type its prefix
// names and the string fields given as name=value.
func newEvent(eventType, objectID string, fields []string, created time.Time) ([]byte, error) {
	var objectType string
	for prefix, t := range objectTypes {
		if body, ok := strings.CutPrefix(objectID, prefix); ok && body != "" {
			objectType = t
		}
	}
	if objectType == "" {
		return nil, fmt.Errorf("--object %q: want an ID starting with one of %s", objectID, objectPrefixes())
	}
	object := map[string]string{"id": objectID, "object": objectType}
	for _, field := range fields {
		name, value, ok := strings.Cut(field, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--field %q: want name=value", field)
		}
		if _, dup := object[name]; dup {
			return nil, fmt.Errorf("--field %q: data.object has %s already", field, name)
		}
		object[name] = value
	}
	id := make([]byte, 12)
	rand.Read(id) // It never fails: crypto/rand crashes instead.

	type eventData struct {
		Object map[string]string `json:"object"`
	}
	b, err := json.MarshalIndent(struct {
		ID         string    `json:"id"`
		Object     string    `json:"object"`
		APIVersion string    `json:"api_version"`
		Created    int64     `json:"created"`
		Livemode   bool      `json:"livemode"`
		Type       string    `json:"type"`
		Data       eventData `json:"data"`
	}{"evt_" + hex.EncodeToString(id), "event", stripe.APIVersion, created.Unix(), false, eventType, eventData{object}}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// signatureHeader is the Stripe-Signature header value of payload signed
// with secret at t.
func signatureHeader(t time.Time, payload []byte, secret string) string {
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(webhook.ComputeSignature(t, payload, secret)))
}

func runWebhookSign(cmd *cobra.Command, _ []string) error {
	o, err := readSignOptions(cmd.Flags(), isTerminal(cmd.InOrStdin()))
	if err != nil {
		return err
	}
	secret, err := o.secret()
	if err != nil {
		return err
	}
	payload, err := o.payload(cmd.InOrStdin())
	if err != nil {
		return err
	}
	header := signatureHeader(o.at, payload, secret)
	if o.out != "" {
		if err := os.WriteFile(o.out, payload, 0o644); err != nil {
			return err
		}
	}
	if o.url == nil {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), header)
		return err
	}
	return postEvent(cmd.Context(), cmd.OutOrStdout(), o.url, o.cacert, payload, header)
}

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// postEvent POSTs payload to u with the Stripe-Signature header, prints the
// answer's status line and body to w, and fails if the status is not 2xx.
// cacert, if not "", is a PEM file of CA certificates to trust besides the
// system's.
func postEvent(ctx context.Context, w io.Writer, u *url.URL, cacert string, payload []byte, header string) error {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil {
			return fmt.Errorf("--cacert: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--cacert %s: no PEM certificate in it", cacert)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   webhookTimeout,
		// The signed event goes where it was sent and nowhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", header)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookAnswer))
	if err != nil {
		return fmt.Errorf("reading the answer from %s: %w", u.Redacted(), err)
	}
	if len(body) > 0 && body[len(body)-1] != '\n' {
		body = append(body, '\n')
	}
	if _, err := fmt.Fprintf(w, "%s %s\n%s", resp.Proto, resp.Status, body); err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", u.Redacted(), resp.Status)
	}
	return nil
}
