package doctor

import (
	"fmt"
	"strconv"
	"strings"
)

// minHSTS is the least HSTS max-age accepted: one year, what browsers'
// preload lists ask for.
const minHSTS = 365 * 24 * 60 * 60

// CheckHSTS returns why a Strict-Transport-Security value is too weak, or
// nil.
func CheckHSTS(v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("Strict-Transport-Security is removed")
	}
	for _, d := range strings.Split(v, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "max-age") {
			continue
		}
		age, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
		if err != nil {
			return fmt.Errorf("Strict-Transport-Security max-age %q is not a number", val)
		}
		if age < minHSTS {
			return fmt.Errorf("Strict-Transport-Security max-age %d is under a year (%d)", age, minHSTS)
		}
		return nil
	}
	return fmt.Errorf("Strict-Transport-Security has no max-age")
}

// cspKeywords are the quoted source expressions that widen nothing.
var cspKeywords = map[string]bool{"'self'": true, "'none'": true, "'strict-dynamic'": true, "'report-sample'": true}

// cspNoSources are directives whose values are not source lists.
var cspNoSources = map[string]bool{"report-uri": true, "report-to": true, "sandbox": true,
	"upgrade-insecure-requests": true, "block-all-mixed-content": true,
	"require-trusted-types-for": true, "trusted-types": true}

// dataDirectives may admit data: URIs (images and fonts, never scripts,
// frames or connections).
var dataDirectives = map[string]bool{"img-src": true, "font-src": true, "media-src": true}

// CheckCSP returns what a Content-Security-Policy admits beyond what
// DESIGN.md allows: the site itself and Stripe (https://*.stripe.com), no
// 'unsafe-*' expressions, no wildcard or scheme-only sources, data: only
// for images and fonts; and what it lacks: default-src and
// frame-ancestors. Empty when the policy is fine.
func CheckCSP(v string) []string {
	if strings.TrimSpace(v) == "" {
		return []string{"Content-Security-Policy is removed"}
	}
	var problems []string
	seen := map[string]bool{}
	for _, d := range strings.Split(v, ";") {
		fields := strings.Fields(d)
		if len(fields) == 0 {
			continue
		}
		name := strings.ToLower(fields[0])
		seen[name] = true
		if cspNoSources[name] {
			continue
		}
		for _, src := range fields[1:] {
			if p := cspSource(name, src); p != "" {
				problems = append(problems, "CSP "+name+" "+p)
			}
		}
	}
	for _, need := range []string{"default-src", "frame-ancestors"} {
		if !seen[need] {
			problems = append(problems, "CSP has no "+need)
		}
	}
	return problems
}

// cspSource returns what is wrong with one source expression of a
// directive, or "".
func cspSource(directive, src string) string {
	lower := strings.ToLower(src)
	switch {
	case cspKeywords[lower], strings.HasPrefix(lower, "'nonce-"), strings.HasPrefix(lower, "'sha256-"),
		strings.HasPrefix(lower, "'sha384-"), strings.HasPrefix(lower, "'sha512-"):
		return ""
	case strings.HasPrefix(lower, "'unsafe-") || strings.HasPrefix(lower, "'wasm-unsafe-"):
		return "allows " + src
	case lower == "*":
		return "admits every source (*)"
	case lower == "data:":
		if dataDirectives[directive] {
			return ""
		}
		return "admits data: URIs"
	case strings.HasSuffix(lower, ":") && !strings.Contains(lower, "/"):
		return "admits every " + src + " source"
	}
	scheme, rest, found := strings.Cut(lower, "://")
	if !found {
		rest, scheme = lower, ""
	}
	host := rest
	if i := strings.IndexAny(host, "/:"); i >= 0 {
		host = host[:i]
	}
	if scheme != "" && scheme != "https" && scheme != "wss" {
		return "admits " + src + " over " + scheme
	}
	// A host without a scheme takes the page's, https.
	if host == "stripe.com" || strings.HasSuffix(host, ".stripe.com") {
		return ""
	}
	return "admits " + src + ", which is not Stripe"
}

// AdmitsStripeJS reports whether a CSP lets a page load Stripe.js from
// https://js.stripe.com (script-src, or default-src without it).
func AdmitsStripeJS(v string) bool {
	sources := map[string][]string{}
	for _, d := range strings.Split(v, ";") {
		if f := strings.Fields(d); len(f) > 0 {
			sources[strings.ToLower(f[0])] = f[1:]
		}
	}
	list, ok := sources["script-src"]
	if !ok {
		list = sources["default-src"]
	}
	for _, s := range list {
		switch strings.ToLower(s) {
		case "https://js.stripe.com", "https://js.stripe.com/", "https://*.stripe.com":
			return true
		}
	}
	return false
}
