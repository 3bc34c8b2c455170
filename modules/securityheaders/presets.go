package securityheaders

import "strings"

// stripeCSP admits exactly what Stripe.js and Elements need (scripts and
// frames from js.stripe.com, 3-D Secure frames from hooks.stripe.com, API
// calls to api.stripe.com, Stripe's images) and nothing else third-party. No
// 'unsafe-inline' or 'unsafe-eval' anywhere.
var stripeCSP = strings.Join([]string{
	"default-src 'self'",
	"script-src 'self' https://js.stripe.com https://*.js.stripe.com",
	"frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com",
	"connect-src 'self' https://api.stripe.com",
	"img-src 'self' data: https://*.stripe.com",
	"style-src 'self'",
	"font-src 'self'",
	"object-src 'none'",
	"base-uri 'none'",
	"form-action 'self'",
	"frame-ancestors 'none'",
	"upgrade-insecure-requests",
}, "; ")

// apiCSP is for routes that only ever answer with JSON: nothing may load.
var apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// common are the headers both presets send.
var common = map[string]string{
	"Strict-Transport-Security":    "max-age=63072000; includeSubDomains",
	"X-Content-Type-Options":       "nosniff",
	"X-Frame-Options":              "DENY",
	"Referrer-Policy":              "strict-origin-when-cross-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Cache-Control":                "no-store",
}

// presets maps a preset name to its headers.
var presets = map[string]map[string]string{
	"stripe": with(common, map[string]string{
		"Content-Security-Policy": stripeCSP,
		// The Payment Request API (Apple Pay, Google Pay) runs inside Stripe's frame.
		"Permissions-Policy": `payment=(self "https://js.stripe.com"), camera=(), microphone=(), geolocation=(), usb=()`,
		// 3-D Secure and wallet flows may open pop-ups that must keep their opener.
		"Cross-Origin-Opener-Policy": "same-origin-allow-popups",
	}),
	"api": with(common, map[string]string{
		"Content-Security-Policy":    apiCSP,
		"Permissions-Policy":         "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
		"Cross-Origin-Opener-Policy": "same-origin",
	}),
}

// defaultRemovals fingerprint the stack behind paygate.
var defaultRemovals = []string{"X-Powered-By", "Server", "Via", "X-AspNet-Version", "X-AspNetMvc-Version"}

func with(base, extra map[string]string) map[string]string {
	m := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}
