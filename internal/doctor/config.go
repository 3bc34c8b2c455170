package doctor

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The parts of a Caddy JSON config that the checks read. Field names are
// those of Caddy's and paygate's JSON config (the modules' own structs,
// which this package may not import: cmd/paygate's tests hold these
// types to the modules' JSON tags). Nothing is provisioned: a config is
// only decoded, so doctor runs offline.

// config is the top of a Caddy config.
type config struct {
	Admin   *adminConfig   `json:"admin,omitempty"`
	Logging *loggingConfig `json:"logging,omitempty"`
	Apps    struct {
		HTTP    *httpApp    `json:"http,omitempty"`
		Paygate *paygateApp `json:"paygate,omitempty"`
	} `json:"apps"`
}

type adminConfig struct {
	Disabled bool            `json:"disabled,omitempty"`
	Listen   string          `json:"listen,omitempty"`
	Remote   json.RawMessage `json:"remote,omitempty"`
}

type loggingConfig struct {
	Logs map[string]*logConfig `json:"logs,omitempty"`
}

type logConfig struct {
	Writer  *writerConfig  `json:"writer,omitempty"`
	Encoder *encoderConfig `json:"encoder,omitempty"`
	Level   string         `json:"level,omitempty"`
	Include []string       `json:"include,omitempty"`
	Exclude []string       `json:"exclude,omitempty"`
}

type writerConfig struct {
	// Output is Caddy's writer module name: stderr, stdout, discard, file,
	// net.
	Output   string `json:"output,omitempty"`
	Filename string `json:"filename,omitempty"`
	Address  string `json:"address,omitempty"`
}

type encoderConfig struct {
	Format string `json:"format,omitempty"`
}

type httpApp struct {
	HTTPPort  int                `json:"http_port,omitempty"`
	HTTPSPort int                `json:"https_port,omitempty"`
	Servers   map[string]*server `json:"servers,omitempty"`
}

type server struct {
	Listen         []string        `json:"listen,omitempty"`
	Routes         []route         `json:"routes,omitempty"`
	TLSPolicies    []tlsPolicy     `json:"tls_connection_policies,omitempty"`
	AutoHTTPS      *autoHTTPS      `json:"automatic_https,omitempty"`
	TrustedProxies json.RawMessage `json:"trusted_proxies,omitempty"`
}

type autoHTTPS struct {
	Disabled         bool     `json:"disable,omitempty"`
	DisableRedirects bool     `json:"disable_redirects,omitempty"`
	Skip             []string `json:"skip,omitempty"`
}

type tlsPolicy struct {
	ProtocolMin  string   `json:"protocol_min,omitempty"`
	CipherSuites []string `json:"cipher_suites,omitempty"`
}

type route struct {
	Match  []map[string]json.RawMessage `json:"match,omitempty"`
	Handle []json.RawMessage            `json:"handle,omitempty"`
}

type paygateApp struct {
	Store *struct {
		Backend string `json:"backend,omitempty"`
	} `json:"store,omitempty"`
}

// Schemas pairs the config types decoded here with the Caddy module (by
// ID) whose JSON each reads, and "caddy.Config" with the top of the
// config, so that a test that links the modules (this package may not
// import them) can hold every field name here to theirs.
func Schemas() map[string]any {
	return map[string]any{
		"caddy.Config":                      config{},
		"http":                              httpApp{},
		"paygate":                           paygateApp{},
		"http.handlers.subroute":            subroute{},
		"http.handlers.security_headers":    securityHeaders{},
		"http.authentication.providers.jwt": jwtProvider{},
		"http.handlers.stripe_webhook":      stripeWebhook{},
		"http.handlers.redis_rate_limit":    rateLimit{},
		"http.handlers.idempotency":         idempotency{},
		"http.handlers.opa_authz":           opaAuthz{},
		"http.handlers.payments":            payments{},
	}
}

// The handlers whose configuration a check reads.

type subroute struct {
	Routes []route `json:"routes,omitempty"`
}

type securityHeaders struct {
	Preset string            `json:"preset,omitempty"`
	Set    map[string]string `json:"set,omitempty"`
}

type authentication struct {
	Providers struct {
		JWT *jwtProvider `json:"jwt,omitempty"`
	} `json:"providers"`
}

type jwtProvider struct {
	Issuer     string    `json:"issuer,omitempty"`
	Audiences  []string  `json:"audiences,omitempty"`
	JWKSURLs   []string  `json:"jwks_urls,omitempty"`
	KeyFiles   []keyFile `json:"key_files,omitempty"`
	Secret     string    `json:"secret,omitempty"`
	Algorithms []string  `json:"algorithms,omitempty"`
	Type       string    `json:"typ,omitempty"`
	Cookie     string    `json:"cookie,omitempty"`
}

type keyFile struct {
	Path string `json:"path"`
}

type stripeWebhook struct {
	Secrets []string `json:"secrets,omitempty"`
}

type rateLimit struct {
	Zones []zone `json:"zones,omitempty"`
}

type zone struct {
	Name           string     `json:"name"`
	Key            string     `json:"key"`
	Match          []endpoint `json:"match,omitempty"`
	Statuses       []int      `json:"statuses,omitempty"`
	Distinct       string     `json:"distinct,omitempty"`
	OnStoreFailure string     `json:"on_store_failure,omitempty"`
	Shadow         bool       `json:"shadow,omitempty"`
}

type endpoint struct {
	Method   string `json:"method"`
	Template string `json:"template"`
}

type idempotency struct {
	Routes   []idemRoute `json:"routes,omitempty"`
	SealKeys []string    `json:"seal_keys,omitempty"`
	// Limits is the redis_rate_limit stage the idempotency stage holds
	// (its handler config), which runs as if it followed it.
	Limits json.RawMessage `json:"limits,omitempty"`
}

type idemRoute struct {
	Method   string `json:"method"`
	Template string `json:"template"`
	Key      string `json:"key,omitempty"`
}

type opaAuthz struct {
	PolicyDir string `json:"policy_dir,omitempty"`
	Bundle    *struct {
		URL           string            `json:"url"`
		PublicKey     string            `json:"public_key,omitempty"`
		TrustedKeys   []json.RawMessage `json:"trusted_keys,omitempty"`
		AllowUnsigned bool              `json:"allow_unsigned,omitempty"`
		AllowHTTP     bool              `json:"allow_http,omitempty"`
	} `json:"bundle,omitempty"`
}

type payments struct {
	StripeKey      string `json:"stripe_key,omitempty"`
	APIBase        string `json:"api_base,omitempty"`
	BehindTLSProxy bool   `json:"behind_tls_proxy,omitempty"`
}

// handler is one handler of a chain: its name and its raw config.
type handler struct {
	name string
	raw  json.RawMessage
}

// decode reads h's config into v.
func (h handler) decode(v any) error {
	if err := json.Unmarshal(h.raw, v); err != nil {
		return fmt.Errorf("handler %s: %w", h.name, err)
	}
	return nil
}

// chain is what runs up to one handler: the handlers certain to run before
// it, then the handler itself (the last).
type chain struct {
	server string
	tls    bool
	// where names the server, hosts and paths the handler serves.
	where    string
	handlers []handler
}

func (c chain) last() handler { return c.handlers[len(c.handlers)-1] }

// before returns the handlers named name that run before the last one.
func (c chain) before(name string) []handler {
	var hs []handler
	for _, h := range c.handlers[:len(c.handlers)-1] {
		if h.name == name {
			hs = append(hs, h)
		}
	}
	return hs
}

// index returns the position of the first handler named name, or -1.
func (c chain) index(name string) int {
	for i, h := range c.handlers {
		if h.name == name {
			return i
		}
	}
	return -1
}

// serverInfo is what the checks need of a server besides its chains.
type serverInfo struct {
	name    string
	tls     bool
	srv     *server
	payment bool // it serves the payment API or Stripe's webhooks
}

// model is a decoded config with its handler chains.
type model struct {
	raw      []byte
	cfg      config
	replicas int
	servers  []*serverInfo
	chains   []chain
}

// Handler names.
const (
	hPayments      = "payments"
	hPaymentEvents = "payment_events"
	hWebhook       = "stripe_webhook"
	hTLSEnforce    = "tls_enforce"
	hHeaders       = "security_headers"
	hAuth          = "authentication"
	hRateLimit     = "redis_rate_limit"
	hIdempotency   = "idempotency"
	hOPA           = "opa_authz"
	hSubroute      = "subroute"
)

// responders answer a request themselves: a page served next to the payment
// API ends in one of them.
var responders = map[string]bool{"reverse_proxy": true, "static_response": true, "file_server": true, "error": true}

func newModel(raw []byte, replicas int) (*model, error) {
	m := &model{raw: raw, replicas: replicas}
	if err := json.Unmarshal(raw, &m.cfg); err != nil {
		return nil, fmt.Errorf("reading the JSON config: %w", err)
	}
	h := m.cfg.Apps.HTTP
	if h == nil {
		return m, nil
	}
	names := make([]string, 0, len(h.Servers))
	for n := range h.Servers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		srv := h.Servers[n]
		if srv == nil {
			continue
		}
		info := &serverInfo{name: n, srv: srv, tls: servesTLS(srv, h.HTTPPort, h.HTTPSPort)}
		chains, err := walk(srv.Routes, chain{server: n, tls: info.tls, where: n}, nil)
		if err != nil {
			return nil, fmt.Errorf("server %s: %w", n, err)
		}
		for _, c := range chains {
			switch c.last().name {
			case hPayments, hPaymentEvents, hWebhook:
				info.payment = true
			}
		}
		m.servers = append(m.servers, info)
		m.chains = append(m.chains, chains...)
	}
	return m, nil
}

// servesTLS reports whether Caddy serves srv over TLS: it has connection
// policies, or listens on the HTTPS port, or automatic HTTPS gives it
// certificates, for the hosts its routes match (those of an http:// site
// are skipped), on any port but the HTTP one.
func servesTLS(srv *server, httpPort, httpsPort int) bool {
	if httpsPort == 0 {
		httpsPort = 443
	}
	if len(srv.TLSPolicies) > 0 || listensOn(srv.Listen, httpsPort) {
		return true
	}
	if httpPort == 0 {
		httpPort = 80
	}
	if a := srv.AutoHTTPS; (a != nil && a.Disabled) || listensOn(srv.Listen, httpPort) {
		return false
	}
	for _, r := range srv.Routes {
		for _, set := range r.Match {
			var hosts []string
			if raw, ok := set["host"]; ok && json.Unmarshal(raw, &hosts) == nil {
				for _, h := range hosts {
					if srv.AutoHTTPS == nil || !slices.Contains(srv.AutoHTTPS.Skip, h) {
						return true
					}
				}
			}
		}
	}
	return false
}

// listensOn reports whether one of the listen addresses has port.
func listensOn(listen []string, port int) bool {
	for _, l := range listen {
		if i := strings.LastIndex(l, ":"); i >= 0 && l[i+1:] == strconv.Itoa(port) {
			return true
		}
	}
	return false
}

// walk returns a chain for every handler in routes. base holds what runs
// before routes; the handlers of an earlier route without matchers run
// before every later one, those of a route with matchers may not.
func walk(routes []route, base chain, out []chain) ([]chain, error) {
	pre := base.handlers
	for _, r := range routes {
		where := base.where + describe(r.Match)
		own := append([]handler(nil), pre...)
		for _, raw := range r.Handle {
			var head struct {
				Handler string `json:"handler"`
			}
			if err := json.Unmarshal(raw, &head); err != nil {
				return nil, fmt.Errorf("a handler: %w", err)
			}
			h := handler{name: head.Handler, raw: raw}
			if h.name == hSubroute {
				var sr subroute
				if err := h.decode(&sr); err != nil {
					return nil, err
				}
				var err error
				out, err = walk(sr.Routes, chain{server: base.server, tls: base.tls, where: where, handlers: own}, out)
				if err != nil {
					return nil, err
				}
				continue
			}
			for _, h := range expand(h) {
				own = append(own, h)
				out = append(out, chain{server: base.server, tls: base.tls, where: where, handlers: append([]handler(nil), own...)})
			}
		}
		if len(r.Match) == 0 {
			pre = own
		}
	}
	return out, nil
}

// expand returns h and the handlers it holds, in the order they run: an
// idempotency stage's limits (a redis_rate_limit stage) run right after it,
// so that the checks see the per-user zones where they act. A config that
// cannot be read is left to the check that decodes h.
func expand(h handler) []handler {
	if h.name != hIdempotency {
		return []handler{h}
	}
	var id idempotency
	if json.Unmarshal(h.raw, &id) != nil || len(id.Limits) == 0 {
		return []handler{h}
	}
	var head struct {
		Handler string `json:"handler"`
	}
	if json.Unmarshal(id.Limits, &head) != nil {
		return []handler{h}
	}
	return []handler{h, {name: head.Handler, raw: id.Limits}}
}

// describe names the hosts and paths of a route's matchers.
func describe(sets []map[string]json.RawMessage) string {
	var parts []string
	for _, set := range sets {
		for _, key := range []string{"host", "path"} {
			var vals []string
			if raw, ok := set[key]; ok && json.Unmarshal(raw, &vals) == nil && len(vals) > 0 {
				parts = append(parts, strings.Join(vals, ","))
			}
		}
		if _, ok := set["expression"]; ok {
			parts = append(parts, "(expression)")
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " ")
}

// chainsEnding returns the chains whose last handler has one of names.
func (m *model) chainsEnding(names ...string) []chain {
	var cs []chain
	for _, c := range m.chains {
		for _, n := range names {
			if c.last().name == n {
				cs = append(cs, c)
			}
		}
	}
	return cs
}

// server returns the server named n.
func (m *model) server(n string) *serverInfo {
	for _, s := range m.servers {
		if s.name == n {
			return s
		}
	}
	return nil
}

// pageChains are the chains that answer on a server that also serves the
// payment API: the application's pages and the site's error answers.
func (m *model) pageChains() []chain {
	var cs []chain
	for _, c := range m.chains {
		if s := m.server(c.server); s != nil && s.payment && responders[c.last().name] {
			cs = append(cs, c)
		}
	}
	return cs
}

// loopback reports whether host (a name or an IP, maybe with a port) is
// this machine only.
func loopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
