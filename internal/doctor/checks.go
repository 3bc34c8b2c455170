package doctor

import (
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/paygate/paygate/internal/payapi"
	"github.com/paygate/paygate/internal/secretref"
)

// checks is the checklist, in the order it is printed.
var checks = []check{
	{"https_only", "HTTPS only: payment and webhook routes refuse plain HTTP", checkHTTPSOnly},
	{"tls_floor", "TLS 1.2 or later, forward-secret AEAD cipher suites only", checkTLSFloor},
	{"hsts", "HSTS on every response of the payment sites", checkHSTS},
	{"csp", "CSP admits Stripe and nothing broader", checkCSP},
	{"jwt", "JWT on payment routes: algorithm allow-list, iss, aud and typ", checkJWT},
	{"webhook_secrets", "Webhook signing secrets from the environment", checkWebhookSecrets},
	{"rate_limits", "Rate limits on payment and webhook routes", checkRateLimits},
	{"idempotency", "Idempotency on payment routes", checkIdempotency},
	{"shared_store", "A shared store when more than one replica runs", checkSharedStore},
	{"stripe_live_keys", "Live Stripe keys only behind TLS", checkLiveKeys},
	{"signed_policies", "Ownership policy from signed bundles", checkPolicies},
	{"admin_api", "Admin API not public", checkAdmin},
	{"inline_secrets", "No secret written inline", checkInlineSecrets},
	{"audit_log", "Audit log routed to a file", checkAuditLog},
	{"log_redaction", "Every log passes through paygate's redaction", checkLogRedaction},
}

// paymentChains are the chains that end in the payment handler.
func (m *model) paymentChains() []chain { return m.chainsEnding(hPayments) }

// perPaymentRoute runs check on every chain that ends in the payment
// handler; without one, there is nothing to check what on, which fails.
func perPaymentRoute(m *model, what string, check func(c chain) []finding) []finding {
	var fs []finding
	for _, c := range m.paymentChains() {
		fs = append(fs, check(c)...)
	}
	if len(m.paymentChains()) == 0 {
		fs = append(fs, failf("no route ends in the payments handler: nothing to check %s on", what))
	}
	return fs
}

func checkHTTPSOnly(m *model, _ Options) []finding {
	var fs []finding
	for _, c := range m.chainsEnding(hPayments, hWebhook, hPaymentEvents) {
		if c.index(hTLSEnforce) < 0 {
			fs = append(fs, failf("%s: %s runs without tls_enforce before it", c.where, c.last().name))
		} else {
			fs = append(fs, passf("%s: tls_enforce before %s", c.where, c.last().name))
		}
	}
	for _, s := range m.servers {
		if !s.payment || !s.tls {
			continue
		}
		if a := s.srv.AutoHTTPS; a == nil || (!a.Disabled && !a.DisableRedirects) {
			fs = append(fs, warnf("server %s: Caddy's automatic HTTP->HTTPS redirects are on; an API call over plain HTTP should be refused, not redirected (auto_https disable_redirects)", s.name))
		}
	}
	if len(fs) == 0 {
		fs = append(fs, failf("no payment or webhook route found"))
	}
	return fs
}

// aeadSuites are the TLS 1.2 suites with forward secrecy and an AEAD, as
// Caddy names them (Go's names, and the IANA names of the ChaCha20 ones).
var aeadSuites = map[string]bool{
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256":       true,
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384":       true,
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256":         true,
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384":         true,
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305":        true,
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305":          true,
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": true,
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256":   true,
	"TLS_AES_128_GCM_SHA256":                        true,
	"TLS_AES_256_GCM_SHA384":                        true,
	"TLS_CHACHA20_POLY1305_SHA256":                  true,
}

func checkTLSFloor(m *model, _ Options) []finding {
	var fs []finding
	for _, s := range m.servers {
		if !s.tls {
			continue
		}
		if len(s.srv.TLSPolicies) == 0 {
			fs = append(fs, passf("server %s: Caddy's defaults (TLS 1.2+, ECDHE AEAD suites)", s.name))
		}
		for i, p := range s.srv.TLSPolicies {
			switch p.ProtocolMin {
			case "", "tls1.2", "tls1.3":
			default:
				fs = append(fs, failf("server %s, TLS policy %d: protocol_min %s is below TLS 1.2", s.name, i, show(p.ProtocolMin)))
			}
			for _, cs := range p.CipherSuites {
				if !aeadSuites[cs] {
					fs = append(fs, failf("server %s, TLS policy %d: cipher suite %s is not a forward-secret AEAD suite", s.name, i, show(cs)))
				}
			}
		}
		fs = append(fs, passf("server %s: TLS floor and suites", s.name))
	}
	if len(fs) == 0 {
		fs = append(fs, warnf("no server terminates TLS here: the floor and suites are the load balancer's, which doctor cannot see"))
	}
	return fs
}

// headerChains are the chains whose responses must carry paygate's
// security headers: the payment API, the webhook route and the pages
// beside them.
func (m *model) headerChains() []chain {
	return append(m.chainsEnding(hPayments, hWebhook), m.pageChains()...)
}

// required decodes into v the last handler named name before c's handler,
// or records that c's handler runs without one (why says what that
// means) and returns false.
func required(fs *[]finding, c chain, name, why string, v any) bool {
	hs := c.before(name)
	if len(hs) == 0 {
		*fs = append(*fs, failf("%s: %s runs without %s before it%s", c.where, c.last().name, name, why))
		return false
	}
	return decoded(fs, c, hs[len(hs)-1], v)
}

// lastHeaders returns the config of the last security_headers before c's
// handler, or false when there is none (a finding says so).
func lastHeaders(fs *[]finding, c chain) (securityHeaders, bool) {
	var sh securityHeaders
	if !required(fs, c, hHeaders, "", &sh) {
		return sh, false
	}
	if !vettedPreset(sh.Preset) {
		*fs = append(*fs, failf("%s: unknown security_headers preset %s", c.where, show(sh.Preset)))
		return sh, false
	}
	return sh, true
}

// Presets are the security_headers presets whose CSP and HSTS are trusted
// without being read here (they live in the module): cmd/paygate's tests
// hold each, through the module itself, to CheckCSP and CheckHSTS.
var Presets = []string{"stripe", "api"}

// vettedPreset reports whether p is one of Presets, or the default one.
func vettedPreset(p string) bool { return p == "" || slices.Contains(Presets, p) }

// override returns the value security_headers sets for name instead of the
// preset's, and whether it sets one ("" removes the header).
func (sh securityHeaders) override(name string) (string, bool) {
	for k, v := range sh.Set {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func checkHSTS(m *model, _ Options) []finding {
	var fs []finding
	for _, c := range m.headerChains() {
		sh, ok := lastHeaders(&fs, c)
		if !ok {
			continue
		}
		v, set := sh.override("Strict-Transport-Security")
		if !set {
			fs = append(fs, passf("%s: HSTS of preset %s", c.where, presetName(sh.Preset)))
			continue
		}
		if err := CheckHSTS(v); err != nil {
			fs = append(fs, failf("%s: %v", c.where, err))
		}
	}
	if len(fs) == 0 {
		fs = append(fs, failf("no payment route found"))
	}
	return fs
}

func presetName(p string) string {
	if p == "" {
		return "stripe"
	}
	return p
}

func checkCSP(m *model, _ Options) []finding {
	var fs []finding
	for _, c := range m.chainsEnding(hPayments, hWebhook) {
		cspOf(&fs, c, false)
	}
	for _, c := range m.pageChains() {
		cspOf(&fs, c, true)
	}
	if len(fs) == 0 {
		fs = append(fs, failf("no payment route found"))
	}
	return fs
}

// cspOf checks the CSP of c's responses; a page must also let Stripe.js
// load.
func cspOf(fs *[]finding, c chain, page bool) {
	sh, ok := lastHeaders(fs, c)
	if !ok {
		return
	}
	v, set := sh.override("Content-Security-Policy")
	if !set {
		if page && presetName(sh.Preset) != "stripe" {
			*fs = append(*fs, warnf("%s: preset %s on a page: Stripe.js and Elements cannot load there", c.where, sh.Preset))
		} else {
			*fs = append(*fs, passf("%s: CSP of preset %s", c.where, presetName(sh.Preset)))
		}
		return
	}
	problems := CheckCSP(v)
	for _, p := range problems {
		*fs = append(*fs, failf("%s: %s", c.where, p))
	}
	if len(problems) == 0 && page && !AdmitsStripeJS(v) {
		*fs = append(*fs, warnf("%s: the CSP does not admit https://js.stripe.com scripts: Stripe.js and Elements cannot load", c.where))
	}
}

// userKeyed and ipKeyed tell a zone's subject from its key template.
func userKeyed(z zone) bool { return strings.Contains(z.Key, "user") }
func ipKeyed(z zone) bool {
	return strings.Contains(z.Key, "client_ip") || strings.Contains(z.Key, "remote")
}

// creates reports whether a zone counts payment creations.
func creates(z zone) bool {
	return slices.Contains(z.Match, endpoint{Method: "POST", Template: "/v1/payment_intents"})
}

func checkJWT(m *model, _ Options) []finding {
	return perPaymentRoute(m, "JWT", func(c chain) (fs []finding) {
		auths := c.before(hAuth)
		var p *jwtProvider
		for _, h := range auths {
			var a authentication
			if decoded(&fs, c, h, &a) && a.Providers.JWT != nil {
				p = a.Providers.JWT
			}
		}
		if p == nil {
			fs = append(fs, failf("%s: payments runs without jwt_auth before it", c.where))
			return fs
		}
		bad := len(fs)
		if p.Issuer == "" {
			fs = append(fs, failf("%s: jwt_auth has no issuer", c.where))
		}
		if len(p.Audiences) == 0 {
			fs = append(fs, failf("%s: jwt_auth has no audience", c.where))
		}
		hmac, asym := false, false
		for _, a := range p.Algorithms {
			switch {
			case strings.EqualFold(a, "none"):
				fs = append(fs, failf("%s: jwt_auth allows the algorithm none", c.where))
			case strings.HasPrefix(strings.ToUpper(a), "HS"):
				hmac = true
			default:
				asym = true
			}
		}
		if hmac && asym {
			fs = append(fs, failf("%s: jwt_auth allows HMAC and asymmetric algorithms together", c.where))
		}
		if len(p.JWKSURLs) == 0 && len(p.KeyFiles) == 0 && p.Secret == "" {
			fs = append(fs, failf("%s: jwt_auth has no key (jwks, key_file or secret)", c.where))
		}
		for _, u := range p.JWKSURLs {
			if cleartext(u) {
				fs = append(fs, failf("%s: JWKS URL %s is not https", c.where, show(u)))
			}
		}
		if p.Cookie != "" && !strings.HasPrefix(p.Cookie, "__Host-") {
			fs = append(fs, failf("%s: jwt_auth cookie %s is not a __Host- cookie", c.where, show(p.Cookie)))
		}
		for _, k := range p.KeyFiles {
			if devKey(k.Path) {
				fs = append(fs, warnf("%s: jwt_auth trusts %s, the development key, whose private half is in paygate's repository: anyone can mint tokens for it", c.where, show(k.Path)))
			}
		}
		if p.Type == "" {
			fs = append(fs, warnf("%s: jwt_auth sets no typ: an ID token of the same issuer and audience is accepted as an access token (typ at+jwt, where the IdP types its tokens)", c.where))
		}
		if len(fs) == bad {
			algs := "the default allow-list (RS256, PS256, ES256, EdDSA)"
			if len(p.Algorithms) > 0 {
				algs = strings.Join(p.Algorithms, ", ")
			}
			fs = append(fs, passf("%s: jwt_auth with issuer, audience, typ %s and %s", c.where, show(p.Type), algs))
		}
		return fs
	})
}

// devKeys are the file names of the development keys in testdata/, whose
// private halves anyone can read.
var devKeys = []string{"dev-jwks.json", "dev-public.pem", "dev-private.pem", "bundle-signing.pub", "bundle-signing.key"}

// devKey reports whether path names one of the development keys.
func devKey(path string) bool {
	return slices.Contains(devKeys, filepath.Base(filepath.ToSlash(path)))
}

// cleartext reports whether u is a literal http:// URL to another host:
// anyone on the path reads and changes what it carries. A placeholder is
// not decidable here.
func cleartext(u string) bool {
	p, err := url.Parse(u)
	return err == nil && strings.EqualFold(p.Scheme, "http") && !loopback(p.Host)
}

func checkWebhookSecrets(m *model, _ Options) []finding {
	var fs []finding
	hooks := m.chainsEnding(hWebhook)
	for _, c := range hooks {
		var w stripeWebhook
		if !decoded(&fs, c, c.last(), &w) {
			continue
		}
		if len(w.Secrets) == 0 {
			fs = append(fs, failf("%s: stripe_webhook has no secret", c.where))
		}
		for i, s := range w.Secrets {
			if secretref.Valid(s) {
				fs = append(fs, passf("%s: secret %d is %s", c.where, i+1, s))
			} else {
				fs = append(fs, failf("%s: secret %d of stripe_webhook is written inline, not as one {env.NAME} or {file.PATH} placeholder (a Caddyfile's {$NAME} is replaced by the value when adapted)", c.where, i+1))
			}
		}
	}
	for _, c := range m.chainsEnding(hPaymentEvents) {
		if c.index(hWebhook) < 0 {
			fs = append(fs, failf("%s: payment_events runs without stripe_webhook before it", c.where))
		}
	}
	if len(hooks) == 0 {
		fs = append(fs, warnf("no stripe_webhook route: Stripe's events are not received here"))
	}
	return fs
}

func checkRateLimits(m *model, _ Options) []finding {
	fs := perPaymentRoute(m, "rate limits", func(c chain) (fs []finding) {
		auth := c.index(hAuth)
		var ip, user, velocity, declines bool
		for i, h := range c.handlers {
			if h.name != hRateLimit {
				continue
			}
			var rl rateLimit
			if !decoded(&fs, c, h, &rl) {
				continue
			}
			for _, z := range rl.Zones {
				if z.Shadow {
					continue
				}
				switch {
				case ipKeyed(z) && (auth < 0 || i < auth):
					ip = true
				case userKeyed(z) && auth >= 0 && i > auth:
					user = true
				}
				if creates(z) && z.OnStoreFailure == "allow" {
					fs = append(fs, warnf("%s: zone %s admits payment creations while the store is down (on_store_failure allow)", c.where, show(z.Name)))
				}
				if creates(z) && len(z.Statuses) == 0 && z.Distinct == "" {
					velocity = true
				}
				if slices.Contains(z.Statuses, 402) {
					declines = true
				}
			}
		}
		if !ip {
			fs = append(fs, failf("%s: no rate limit by client IP before authentication", c.where))
		}
		if !user {
			fs = append(fs, failf("%s: no rate limit by user after authentication", c.where))
		}
		if !velocity {
			fs = append(fs, warnf("%s: no payment-creation velocity zone (POST /v1/payment_intents)", c.where))
		}
		if !declines {
			fs = append(fs, warnf("%s: no zone counting declines (status 402): card testing is not slowed", c.where))
		}
		if ip && user {
			fs = append(fs, passf("%s: limits by client IP and by user", c.where))
		}
		return fs
	})
	for _, c := range m.chainsEnding(hWebhook) {
		if c.index(hRateLimit) < 0 {
			fs = append(fs, failf("%s: stripe_webhook runs without a rate limit before it", c.where))
		} else {
			fs = append(fs, passf("%s: rate limit before stripe_webhook", c.where))
		}
	}
	return fs
}

func checkIdempotency(m *model, _ Options) []finding {
	return perPaymentRoute(m, "idempotency", func(c chain) (fs []finding) {
		var id idempotency
		if !required(&fs, c, hIdempotency, "", &id) {
			return fs
		}
		if auth := c.index(hAuth); auth < 0 || c.index(hIdempotency) < auth {
			fs = append(fs, failf("%s: idempotency runs before authentication: its keys are scoped by user", c.where))
		}
		if len(id.SealKeys) == 0 {
			fs = append(fs, failf("%s: idempotency has no seal_key", c.where))
		}
		if len(id.Routes) > 0 {
			for _, rt := range payapi.Default().Routes() {
				for _, ep := range rt.Endpoints {
					if !ep.KeyRequired {
						return fs
					}
					i := slices.IndexFunc(id.Routes, func(r idemRoute) bool {
						return r.Method == ep.Method && r.Template == rt.Template
					})
					if i < 0 || id.Routes[i].Key == "optional" {
						fs = append(fs, failf("%s: idempotency does not require a key on %s %s", c.where, ep.Method, rt.Template))
					}
				}
			}
		}
		fs = append(fs, passf("%s: idempotency after authentication, before payments", c.where))
		return fs
	})
}

func checkSharedStore(m *model, _ Options) []finding {
	backend := "memory"
	if p := m.cfg.Apps.Paygate; p != nil && p.Store != nil && p.Store.Backend != "" {
		backend = p.Store.Backend
	}
	switch {
	case backend == "redis":
		return []finding{passf("the paygate app's store is Redis, shared by every replica")}
	case m.replicas > 1:
		return []finding{failf("%d replicas, but the paygate app's store is %s: each replica would keep its own rate limits, idempotency records and webhook de-duplication (store redis)", m.replicas, show(backend))}
	}
	return []finding{passf("one replica with the %s store (run doctor with --replicas N for more)", show(backend))}
}

func checkLiveKeys(m *model, _ Options) []finding {
	return perPaymentRoute(m, "Stripe keys", func(c chain) (fs []finding) {
		var p payments
		if !decoded(&fs, c, c.last(), &p) {
			return fs
		}
		bad := len(fs)
		if strings.HasPrefix(p.StripeKey, "sk_live_") || strings.HasPrefix(p.StripeKey, "rk_live_") {
			fs = append(fs, failf("%s: a live Stripe key is written inline (give it as {env.STRIPE_SECRET_KEY})", c.where))
		}
		if cleartext(p.APIBase) {
			fs = append(fs, failf("%s: api_base %s is not https: the key would cross the network in clear", c.where, show(p.APIBase)))
		}
		s := m.server(c.server)
		switch {
		case s.tls:
			fs = append(fs, passf("%s: payments on a TLS server", c.where))
		case !p.BehindTLSProxy:
			fs = append(fs, passf("%s: payments on a plain-HTTP server without behind_tls_proxy: a live key is refused there at start-up", c.where))
		case len(s.srv.TrustedProxies) == 0:
			fs = append(fs, failf("%s: behind_tls_proxy on server %s, which trusts no proxy: no request can prove it came over TLS", c.where, s.name))
		case c.index(hTLSEnforce) < 0:
			fs = append(fs, failf("%s: behind_tls_proxy without tls_enforce before payments: plain-HTTP requests reach a live key", c.where))
		default:
			if len(fs) == bad {
				fs = append(fs, passf("%s: behind trusted TLS proxies, tls_enforce before payments", c.where))
			}
		}
		return fs
	})
}

func checkPolicies(m *model, _ Options) []finding {
	return perPaymentRoute(m, "policies", func(c chain) (fs []finding) {
		var o opaAuthz
		if !required(&fs, c, hOPA, ": nothing decides who owns what", &o) {
			return fs
		}
		switch b := o.Bundle; {
		case b == nil:
			fs = append(fs, warnf("%s: opa_authz reads policies from a directory (%s), not from signed bundles: fine for development", c.where, show(o.PolicyDir)))
		case b.AllowUnsigned:
			fs = append(fs, failf("%s: opa_authz accepts unsigned bundles (allow_unsigned)", c.where))
		case b.PublicKey == "" && len(b.TrustedKeys) == 0:
			fs = append(fs, failf("%s: opa_authz bundle has no public_key to verify signatures with", c.where))
		case devKey(b.PublicKey):
			fs = append(fs, warnf("%s: bundles are verified with %s, the development key, whose private half is in paygate's repository: anyone can sign bundles for it", c.where, show(b.PublicKey)))
		case b.AllowHTTP && cleartext(b.URL):
			fs = append(fs, warnf("%s: bundles are fetched over plain HTTP (allow_http): signed, but anyone on the path reads them", c.where))
		default:
			fs = append(fs, passf("%s: signed bundles from %s", c.where, show(b.URL)))
		}
		return fs
	})
}

func checkAdmin(m *model, _ Options) []finding {
	a := m.cfg.Admin
	switch {
	case a == nil || a.Listen == "":
		if a != nil && a.Disabled {
			return []finding{passf("the admin API is disabled")}
		}
		return []finding{passf("the admin API listens on Caddy's default, localhost:2019")}
	case a.Disabled:
		return []finding{passf("the admin API is disabled")}
	}
	var fs []finding
	if len(a.Remote) > 0 && string(a.Remote) != "null" {
		fs = append(fs, warnf("the remote admin API is on (admin.remote): check its access control by hand"))
	}
	l := a.Listen
	switch {
	case strings.HasPrefix(l, "unix/"):
		fs = append(fs, passf("the admin API listens on the unix socket %s", show(strings.TrimPrefix(l, "unix/"))))
	case strings.Contains(l, "{"):
		fs = append(fs, warnf("the admin API listens on %s, a placeholder doctor cannot resolve", show(l)))
	case loopback(strings.TrimPrefix(strings.TrimPrefix(l, "tcp/"), "tcp4/")) || strings.HasPrefix(l, "tcp6/") && loopback(strings.TrimPrefix(l, "tcp6/")):
		fs = append(fs, passf("the admin API listens on loopback, %s", show(l)))
	default:
		fs = append(fs, failf("the admin API listens on %s, not on loopback or a unix socket: whoever reaches it can replace the config", show(l)))
	}
	return fs
}
