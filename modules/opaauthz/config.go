package opaauthz

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/paygate/paygate/internal/keyalg"
	"github.com/paygate/paygate/internal/opabundle"
	"github.com/paygate/paygate/internal/urlpolicy"
)

// TrustedKey is a public key bundles may be signed with.
type TrustedKey struct {
	// KeyID is the key's ID in bundle signatures; unique, and not
	// "paygate", which is PublicKey's. Required.
	KeyID string `json:"key_id"`
	// File is a PEM file with the public key; placeholders are resolved.
	// Required.
	File string `json:"file"`
	// Algorithm is the signature algorithm. Default: from the key, as for
	// KeyAlgorithm.
	Algorithm string `json:"algorithm,omitempty"`
}

// BundleConfig says where the policy bundle comes from and how it is
// checked.
type BundleConfig struct {
	// URL is the bundle's address, e.g.
	// https://bundles.example.com/paygate.tar.gz: its scheme and host are the
	// OPA service, its path the bundle resource. Requests carry
	// If-None-Match with the active bundle's ETag. Placeholders such as
	// {env.PAYGATE_POLICY_BUNDLE_URL} are resolved. Required.
	URL string `json:"url"`

	// PollingMin and PollingMax bound the random delay between two
	// downloads, in whole seconds (at least 1s). Default: 60s and 120s,
	// OPA's defaults; with only PollingMin set, PollingMax is twice it.
	PollingMin caddy.Duration `json:"polling_min,omitempty"`
	PollingMax caddy.Duration `json:"polling_max,omitempty"`

	// PublicKey is a PEM file with the public key bundles must be signed
	// with (OPA's .signatures.json). A bundle that is unsigned, signed with
	// another key or whose files do not match their signature is refused and
	// the active one stays; persisted bundles are verified again when they
	// are loaded. Required unless AllowUnsigned is set. Placeholders are
	// resolved.
	PublicKey string `json:"public_key,omitempty"`

	// TrustedKeys are further public keys bundles may be signed with, each
	// under the key ID a bundle's signature names ("paygate bundle
	// --key-id"), so that a signing key can be rotated without a gap: trust
	// the new key, sign with it, then retire the old one. With them, a
	// bundle's signature must name its key ID (PublicKey's is "paygate").
	TrustedKeys []TrustedKey `json:"trusted_keys,omitempty"`

	// AllowUnsigned accepts bundles without verifying any signature, when no
	// PublicKey is set: whoever can serve or alter the bundle then decides
	// every authorisation. For development only. Default: false, and a
	// bundle without PublicKey is a configuration error.
	AllowUnsigned bool `json:"allow_unsigned,omitempty"`

	// AllowHTTP accepts an http:// URL to a host other than loopback, whose
	// bundles anyone on the path can read and, unsigned, replace. Default:
	// false: https, or http only to a loopback address.
	AllowHTTP bool `json:"allow_http,omitempty"`

	// KeyAlgorithm is the signature algorithm, e.g. RS256 or ES256.
	// Default: RS256 for an RSA key, ES256, ES384 or ES512 for a P-256,
	// P-384 or P-521 key.
	KeyAlgorithm string `json:"key_algorithm,omitempty"`

	// Persist keeps the last activated bundle on disk and activates it at
	// start-up, before (and whether or not) the service answers. Default:
	// false.
	Persist bool `json:"persist,omitempty"`

	// PersistDir is where persisted bundles are kept, one subdirectory per
	// bundle URL; placeholders are resolved. Default: the paygate/opa_authz
	// directory in Caddy's data directory.
	PersistDir string `json:"persist_dir,omitempty"`

	// BearerToken is sent to the bundle service as "Authorization: Bearer";
	// placeholders such as {env.BUNDLE_TOKEN} are resolved. Default: none.
	BearerToken string `json:"bearer_token,omitempty"`
}

// DecisionLogConfig configures OPA's decision-log plug-in, which records
// every decision (its ID, input, result and the active bundle revision)
// after applying the policy's mask rule.
type DecisionLogConfig struct {
	// Disabled turns decision logging off. Default: false.
	Disabled bool `json:"disabled,omitempty"`

	// Console writes each decision to the Caddy log, logger
	// http.handlers.opa_authz.decision_log, at INFO. Default: true when no
	// Service is set, false otherwise.
	Console *bool `json:"console,omitempty"`

	// Service is the URL of an OPA decision-log service, e.g.
	// https://logs.example.com/logs, to which decisions are uploaded in
	// gzip-compressed batches; placeholders are resolved. Default: none.
	Service string `json:"service,omitempty"`

	// BearerToken is sent to the decision-log service as "Authorization:
	// Bearer"; placeholders are resolved. Default: none.
	BearerToken string `json:"bearer_token,omitempty"`

	// UploadMin and UploadMax bound the random delay between two uploads to
	// the service, in whole seconds. Default: 300s and 600s, OPA's defaults;
	// with only UploadMin set, UploadMax is twice it.
	UploadMin caddy.Duration `json:"upload_min,omitempty"`
	UploadMax caddy.Duration `json:"upload_max,omitempty"`

	// Headers lists request headers recorded in each decision's request
	// context. The value of a sensitive header (one whose name contains
	// auth, cookie, token, secret, key, signature, session, password, csrf
	// or xsrf) is replaced by "[masked]" before it reaches OPA. Default:
	// none.
	Headers []string `json:"headers,omitempty"`

	// MaskDecision is the rule that masks logged events (OPA's
	// decision_logs.mask_decision), as a path into data. Default:
	// /paygate/log/mask, which the shipped policy defines.
	MaskDecision string `json:"mask_decision,omitempty"`
}

// bundleName names the policy inside OPA: the bundle's key in decision logs
// and the directory of a persisted bundle.
const bundleName = "paygate"

// defaultMaskDecision is the default of DecisionLogConfig.MaskDecision.
const defaultMaskDecision = "/paygate/log/mask"

func (b *BundleConfig) validate() error {
	if b.URL == "" {
		return errors.New("url is required")
	}
	if !hasPlaceholder(b.URL) {
		if _, err := b.checkURL(b.URL); err != nil {
			return err
		}
	}
	signed := b.PublicKey != "" || len(b.TrustedKeys) > 0
	if !signed && !b.AllowUnsigned {
		return errors.New("public_key is required: bundles must be signed (set allow_unsigned to accept unsigned bundles, for development only)")
	}
	if signed && b.AllowUnsigned {
		return errors.New("allow_unsigned contradicts public_key")
	}
	ids := map[string]bool{opabundle.KeyID: true}
	for _, k := range b.TrustedKeys {
		switch {
		case k.KeyID == "" || k.File == "":
			return errors.New("trusted_key: a key ID and a file are required")
		case ids[k.KeyID]:
			return fmt.Errorf("trusted_key %s: the key ID is taken (%s is public_key's)", k.KeyID, opabundle.KeyID)
		}
		ids[k.KeyID] = true
	}
	if err := validateInterval(b.PollingMin, b.PollingMax); err != nil {
		return fmt.Errorf("polling: %w", err)
	}
	if b.KeyAlgorithm != "" && b.PublicKey == "" {
		return errors.New("key_algorithm without public_key")
	}
	if b.PersistDir != "" && !b.Persist {
		return errors.New("persist_dir without persist")
	}
	return nil
}

func (c *DecisionLogConfig) validate() error {
	if c.Disabled && (c.Console != nil || c.Service != "" || len(c.Headers) > 0 || c.MaskDecision != "" || c.BearerToken != "") {
		return errors.New("a disabled decision log takes no other settings")
	}
	if c.Console != nil && !*c.Console && c.Service == "" && !c.Disabled {
		return errors.New("console off without a service logs nothing: use disabled")
	}
	if c.Service != "" {
		if !hasPlaceholder(c.Service) {
			if _, err := checkServiceURL(c.Service); err != nil {
				return err
			}
		}
	} else if c.BearerToken != "" || c.UploadMin != 0 || c.UploadMax != 0 {
		return errors.New("bearer_token and upload_interval need a service")
	}
	if err := validateInterval(c.UploadMin, c.UploadMax); err != nil {
		return fmt.Errorf("upload_interval: %w", err)
	}
	for _, h := range c.Headers {
		if h == "" || strings.ContainsAny(h, " \t\r\n:") {
			return fmt.Errorf("headers: invalid header name %q", h)
		}
	}
	if c.MaskDecision != "" && !strings.HasPrefix(c.MaskDecision, "/") {
		return fmt.Errorf("mask_decision %q: want a path into data such as %s", c.MaskDecision, defaultMaskDecision)
	}
	return nil
}

// validateInterval checks a min/max delay pair; zero means the default.
func validateInterval(lo, hi caddy.Duration) error {
	switch {
	case lo == 0 && hi != 0:
		return errors.New("a maximum without a minimum")
	case lo != 0 && lo < caddy.Duration(time.Second):
		return errors.New("the minimum must be at least 1s")
	case hi != 0 && hi < lo:
		return errors.New("the maximum must not be below the minimum")
	}
	return nil
}

// hasPlaceholder reports whether s holds a Caddy placeholder, resolved
// when the handler is provisioned (and checked then).
func hasPlaceholder(s string) bool {
	return strings.Contains(s, "{")
}

// checkURL parses and checks a bundle URL: https, or http to loopback or
// with AllowHTTP.
func (b *BundleConfig) checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("url %q: want http(s)://host/path", raw)
	}
	if u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("url %q: credentials and fragments are not allowed (use bearer_token)", raw)
	}
	if u.Scheme == "http" && !b.AllowHTTP && !urlpolicy.Secure(u) {
		return nil, fmt.Errorf("url %q: http is allowed only to loopback (set allow_http to accept it elsewhere)", raw)
	}
	return u, nil
}

// checkServiceURL parses and checks a decision-log service URL.
func checkServiceURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("service %q: want http(s)://host[/path]", raw)
	}
	return u, nil
}

// seconds rounds d up to whole seconds, as OPA's configuration counts them.
func seconds(d caddy.Duration) int64 {
	return int64(math.Ceil(time.Duration(d).Seconds()))
}

// interval returns OPA's {min_delay_seconds, max_delay_seconds} for a
// configured pair, or nil for OPA's defaults.
func interval(lo, hi caddy.Duration) map[string]any {
	if lo == 0 {
		return nil
	}
	if hi == 0 {
		hi = 2 * lo
	}
	return map[string]any{"min_delay_seconds": seconds(lo), "max_delay_seconds": seconds(hi)}
}

// service returns an OPA service definition for a URL and the resource
// path on it.
func service(u *url.URL, token string) (map[string]any, string) {
	svc := map[string]any{"url": u.Scheme + "://" + u.Host}
	if token != "" {
		svc["credentials"] = map[string]any{"bearer": map[string]any{"token": token}}
	}
	resource := u.EscapedPath()
	if u.RawQuery != "" {
		resource += "?" + u.RawQuery
	}
	return svc, resource
}

// opaConfig builds OPA's configuration (the JSON of an OPA config file) for
// h. Placeholders in tokens are resolved with repl.
func (h *Handler) opaConfig(repl *caddy.Replacer) ([]byte, error) {
	cfg := map[string]any{}
	services := map[string]any{}

	if b := h.Bundle; b != nil {
		bundleURL := repl.ReplaceKnown(b.URL, "")
		u, err := b.checkURL(bundleURL)
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		svc, resource := service(u, repl.ReplaceKnown(b.BearerToken, ""))
		services["bundle"] = svc
		source := map[string]any{"service": "bundle", "resource": resource}
		if p := interval(b.PollingMin, b.PollingMax); p != nil {
			source["polling"] = p
		}
		keys := map[string]any{}
		if b.PublicKey != "" {
			key, err := publicKeyConfig(repl.ReplaceKnown(b.PublicKey, ""), b.KeyAlgorithm)
			if err != nil {
				return nil, fmt.Errorf("bundle: public_key: %w", err)
			}
			keys[opabundle.KeyID] = key
		}
		for _, k := range b.TrustedKeys {
			key, err := publicKeyConfig(repl.ReplaceKnown(k.File, ""), k.Algorithm)
			if err != nil {
				return nil, fmt.Errorf("bundle: trusted_key %s: %w", k.KeyID, err)
			}
			keys[k.KeyID] = key
		}
		if len(keys) > 0 {
			cfg["keys"] = keys
			// One key verifies every bundle, whatever its signature
			// names (as "paygate bundle" signs, or another tool); with
			// several, OPA takes the key the signature names.
			if len(b.TrustedKeys) == 0 {
				source["signing"] = map[string]any{"keyid": opabundle.KeyID}
			} else {
				source["signing"] = map[string]any{}
			}
		}
		if b.Persist {
			dir := repl.ReplaceKnown(b.PersistDir, "")
			if dir == "" {
				dir = filepath.Join(caddy.AppDataDir(), "paygate", "opa_authz")
			}
			sum := sha256.Sum256([]byte(bundleURL))
			cfg["persistence_directory"] = filepath.Join(dir, hex.EncodeToString(sum[:8]))
			source["persist"] = true
		}
		cfg["bundles"] = map[string]any{bundleName: source}
	}

	dl := h.DecisionLog
	if dl == nil {
		dl = new(DecisionLogConfig)
	}
	if !dl.Disabled {
		logs := map[string]any{"console": false}
		if dl.Console == nil && dl.Service == "" || dl.Console != nil && *dl.Console {
			logs["plugin"] = consolePlugin
			cfg["plugins"] = map[string]any{consolePlugin: map[string]any{}}
		}
		mask := dl.MaskDecision
		if mask == "" {
			mask = defaultMaskDecision
		}
		logs["mask_decision"] = mask
		if dl.Service != "" {
			u, err := checkServiceURL(repl.ReplaceKnown(dl.Service, ""))
			if err != nil {
				return nil, fmt.Errorf("decision_log: %w", err)
			}
			svc, resource := service(u, repl.ReplaceKnown(dl.BearerToken, ""))
			services["decision_log"] = svc
			logs["service"] = "decision_log"
			if strings.Trim(resource, "/") != "" {
				logs["resource"] = resource
			}
			if p := interval(dl.UploadMin, dl.UploadMax); p != nil {
				logs["reporting"] = p
			}
		}
		if len(dl.Headers) > 0 {
			logs["request_context"] = map[string]any{"http": map[string]any{"headers": []string(newHeaderSelection(dl.Headers))}}
		}
		cfg["decision_logs"] = logs
	}
	if len(services) > 0 {
		cfg["services"] = services
	}
	return json.Marshal(cfg)
}

// publicKeyConfig reads a PEM public key file into OPA's key configuration,
// choosing the algorithm from the key when alg is empty.
func publicKeyConfig(file, alg string) (map[string]any, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if alg == "" {
		if alg, err = keyalg.Default(key); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return map[string]any{"key": string(pem.EncodeToMemory(block)), "algorithm": alg}, nil
}

// parsedQuery is the configured query, parsed once.
type parsedQuery struct {
	body ast.Body
	// path is the decision's path ("paygate/authz/decision") when the query
	// is a plain reference into data, as decision logs name it; "" for any
	// other query, which decision logs then record as the query.
	path string
	text string
}

// parseQuery parses a query that must be a single expression.
func parseQuery(q string) (*parsedQuery, error) {
	body, err := ast.ParseBodyWithOpts(q, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, err
	}
	if len(body) != 1 {
		return nil, fmt.Errorf("%q has %d expressions, want one whose value is the decision", q, len(body))
	}
	pq := &parsedQuery{body: body, text: q}
	if t, ok := body[0].Terms.(*ast.Term); ok {
		if ref, ok := t.Value.(ast.Ref); ok && ref.HasPrefix(ast.DefaultRootRef) && ref.IsGround() && len(ref) > 1 {
			parts := make([]string, 0, len(ref)-1)
			for _, p := range ref[1:] {
				s, ok := p.Value.(ast.String)
				if !ok {
					return pq, nil
				}
				parts = append(parts, string(s))
			}
			pq.path = strings.Join(parts, "/")
		}
	}
	return pq, nil
}
