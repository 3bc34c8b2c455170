package doctor

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/paygate/paygate/internal/redact"
	"github.com/paygate/paygate/internal/secretref"
)

// secretFields are the JSON members of paygate's modules that hold a
// secret: each value must be one {env.NAME} or {file.PATH} placeholder.
// (stripe_key: payments; secrets: stripe_webhook; seal_keys: idempotency;
// secret: jwt; bearer_token: opa_authz; password, sentinel_password: the
// paygate app's Redis.)
var secretFields = map[string]bool{"stripe_key": true, "secrets": true, "seal_keys": true, "secret": true,
	"bearer_token": true, "password": true, "sentinel_password": true}

// secretDirectives are the Caddyfile (sub)directives whose arguments are
// secrets: every argument (0), or only the one at that place
// (sentinel_auth <username> <password>).
var secretDirectives = map[string]int{"stripe_key": 0, "secret": 0, "seal_key": 0,
	"bearer_token": 0, "password": 0, "sentinel_auth": 2}

func checkInlineSecrets(m *model, opts Options) []finding {
	var fs []finding
	var doc any
	if err := json.Unmarshal(m.raw, &doc); err != nil {
		return []finding{failf("reading the JSON config: %v", err)}
	}
	scanJSON(&fs, doc, "", "")
	if opts.Caddyfile != nil {
		fs = append(fs, scanCaddyfile(opts.Caddyfile, opts.Filename)...)
	}
	if len(fs) == 0 {
		fs = append(fs, passf("every secret is an {env.*} or {file.*} placeholder, and no value looks like a key, token or password"))
	}
	return fs
}

// scanJSON walks v (at path, a member named name) for secrets written
// inline. The messages name the place, never the value.
func scanJSON(fs *[]finding, v any, path, name string) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			scanJSON(fs, v[k], join(path, k), k)
		}
	case []any:
		for i, e := range v {
			scanJSON(fs, e, fmt.Sprintf("%s[%d]", path, i), name)
		}
	case string:
		switch {
		case secretFields[name]:
			if v != "" && !secretref.Valid(v) {
				*fs = append(*fs, failf("%s is written inline, not as one {env.NAME} or {file.PATH} placeholder", path))
			}
		case looksSecret(v):
			*fs = append(*fs, failf("%s holds what looks like a key, token or password", path))
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// looksSecret reports whether paygate's redaction would mask part of s as
// a secret (a Stripe key, a webhook secret, a JWT, a URL's password...).
func looksSecret(s string) bool {
	return strings.Count(redact.String(s), redact.Mask) > strings.Count(s, redact.Mask)
}

// scanCaddyfile finds secrets in a Caddyfile's own text: values that look
// like secrets, and secret arguments given as {$NAME}, which the adapter
// replaces by the value, so that the secret ends up in the JSON config
// and in the admin API's view of it.
func scanCaddyfile(text []byte, filename string) []finding {
	if filename == "" {
		filename = "Caddyfile"
	}
	tokens, err := caddyfile.Tokenize(text, filename)
	if err != nil {
		return []finding{failf("%s: %v", filename, err)}
	}
	var fs []finding
	for i, t := range tokens {
		if looksSecret(t.Text) {
			fs = append(fs, failf("%s:%d: a value that looks like a key, token or password is written inline", filename, t.Line))
			continue
		}
		if i == 0 || !strings.Contains(t.Text, "{$") {
			continue
		}
		// The directive this argument belongs to: the first token of its line.
		j := i - 1
		for j > 0 && tokens[j-1].Line == t.Line && tokens[j-1].File == t.File {
			j--
		}
		place, ok := secretDirectives[tokens[j].Text]
		if ok && j < i && (place == 0 || place == i-j) {
			fs = append(fs, failf("%s:%d: %s %s is replaced by the secret itself when the Caddyfile is adapted; use {env.%s}",
				filename, t.Line, tokens[j].Text, t.Text, envName(t.Text)))
		}
	}
	return fs
}

// envName is NAME of a {$NAME} or {$NAME:default} token, or NAME.
func envName(tok string) string {
	_, after, _ := strings.Cut(tok, "{$")
	name, _, _ := strings.Cut(after, "}")
	name, _, _ = strings.Cut(name, ":")
	if name == "" {
		return "NAME"
	}
	return name
}
