package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/testenv"
)

// End-to-end tests of the redis_rate_limit stage keyed by the client IP
// ({paygate.client_ip}), through the binary: the 429 and its headers, whose
// address is the client's (a peer's spoofed headers and a trusted proxy's
// junk never make a fresh bucket), IPv6 prefixes, path spellings, a
// forged-token flood, shadow zones, store outages and reloads.

// rlipBareSite is a /v1 route cut down to what a test looks at: the "api"
// security headers, a header naming the configuration's generation (so
// that a reload is seen to take effect), the stage (the second argument)
// and the upstream, with paygate's error renderer. The first argument is
// the generation.
const rlipBareSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route /v1/* {
		security_headers api
		header X-Rlip-Generation %d
		%s
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// rlipConfig is one paygate process of these tests.
type rlipConfig struct {
	// api puts the stage into the shipped pipeline (hardeningSite, where
	// the shipped Caddyfiles put the per-IP stage), else into rlipBareSite.
	api bool
	// trusted gives the server deploy/Caddyfile's trusted-proxy settings:
	// the test client (127.0.0.1) is then the load balancer.
	trusted bool
	stage   string
	// global is more global options (a paygate block); data, more
	// template data.
	global string
	data   map[string]any
}

// rlipStart starts paygate with cfg in front of up.
func rlipStart(t *testing.T, up *testenv.Upstream, cfg rlipConfig) *testenv.Paygate {
	t.Helper()
	site := fmt.Sprintf(rlipBareSite, 1, cfg.stage)
	data := map[string]any{}
	if cfg.api {
		site = hardeningSite
		data = map[string]any{"auth": opaAuth(t), "policies": opaPolicies(t), "catchall": shippedCatchAll(t),
			"early": cfg.stage, "extra": "", "terminal": "reverse_proxy " + up.URL}
	}
	for k, v := range cfg.data {
		data[k] = v
	}
	global := cfg.global
	if cfg.trusted {
		global += "\n\t" + rlipTrustedProxies(t)
	}
	return testenv.StartPaygate(t, testenv.PaygateOptions{Upstream: up, Site: site, Global: global, Data: data})
}

// rlipTrustedProxies is a servers block with deploy/Caddyfile's
// trusted_proxies, client_ip_headers and trusted_proxies_strict lines as
// written there (without PAYGATE_TRUSTED_PROXIES: 127.0.0.1/32).
func rlipTrustedProxies(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, directive := range []string{"trusted_proxies ", "client_ip_headers ", "trusted_proxies_strict"} {
		found := ""
		for line := range strings.Lines(string(b)) {
			if s := strings.TrimSpace(line); strings.HasPrefix(s, directive) {
				found = s
				break
			}
		}
		if found == "" {
			t.Fatalf("deploy/Caddyfile has no %q line", strings.TrimSpace(directive))
		}
		lines = append(lines, found)
	}
	return "servers {\n\t\t" + strings.Join(lines, "\n\t\t") + "\n\t}"
}

// rlipGet sends GET path with header; xff, when given, are the values of
// X-Forwarded-For (one header field each), as a load balancer sends them.
func rlipGet(t *testing.T, pg *testenv.Paygate, path string, header http.Header, xff ...string) (*http.Response, []byte) {
	t.Helper()
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if len(xff) > 0 {
		h["X-Forwarded-For"] = xff
	}
	return send(t, pg.Client(), "GET", pg.HTTPSURL+path, "", h)
}

// rlipBearer is the Authorization header of a valid development token of
// alice, a customer.
func rlipBearer(t *testing.T) http.Header {
	t.Helper()
	return http.Header{"Authorization": {"Bearer " + hardeningToken(t, false)}}
}

// rlipFields parses the RateLimit or RateLimit-Policy field of resp (name)
// into each zone's parameters; a member that is not a quoted zone name
// with key=value parameters fails the test.
func rlipFields(t *testing.T, resp *http.Response, name string) map[string]map[string]string {
	t.Helper()
	fields := map[string]map[string]string{}
	// Each stage adds its own field line; together they are one list.
	value := strings.Join(resp.Header.Values(name), ", ")
	if value == "" {
		return fields
	}
	for member := range strings.SplitSeq(value, ",") {
		parts := strings.Split(strings.TrimSpace(member), ";")
		zone, err := strconv.Unquote(parts[0])
		if err != nil || len(parts) < 2 {
			t.Fatalf("%s: member %q is not a quoted zone name with parameters", name, member)
		}
		params := map[string]string{}
		for _, p := range parts[1:] {
			k, v, ok := strings.Cut(p, "=")
			if !ok || k == "" || v == "" {
				t.Fatalf("%s: member %q: parameter %q is not key=value", name, member, p)
			}
			params[k] = v
		}
		fields[zone] = params
	}
	return fields
}

// rlipPK is zone's partition key in resp's RateLimit field (the base64
// between the colons of pk=:...:), after checking that RateLimit-Policy
// gives the same; "" when the response has no RateLimit member for zone.
func rlipPK(t *testing.T, resp *http.Response, zone string) string {
	t.Helper()
	limit, ok := rlipFields(t, resp, "RateLimit")[zone]
	if !ok {
		return ""
	}
	policy := rlipFields(t, resp, "RateLimit-Policy")[zone]
	pk := limit["pk"]
	if len(pk) < 3 || pk[0] != ':' || pk[len(pk)-1] != ':' {
		t.Fatalf("RateLimit %q: pk=%s is not a byte sequence (:base64:)", zone, pk)
	}
	if policy["pk"] != pk {
		t.Errorf("zone %q: RateLimit pk=%s, RateLimit-Policy pk=%s; want the same", zone, pk, policy["pk"])
	}
	return pk[1 : len(pk)-1]
}

// rlipRemaining is zone's r parameter in resp's RateLimit field.
func rlipRemaining(t *testing.T, resp *http.Response, zone string) string {
	t.Helper()
	return rlipFields(t, resp, "RateLimit")[zone]["r"]
}

// rlipWantRefused checks a 429 of zone, whose policy is q per w seconds:
// paygate's error shape (rate_limited), the security headers, Retry-After
// of at least a second, and RateLimit-Policy and RateLimit members for the
// zone with nothing remaining. It returns the zone's partition key.
func rlipWantRefused(t *testing.T, resp *http.Response, body []byte, zone string, q, w int) string {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429 (body %s)", resp.StatusCode, body)
	}
	if e := decodeAPIError(t, resp, body, "rate_limited"); e.Error.Type != "rate_limit_error" {
		t.Errorf("error type = %q, want rate_limit_error", e.Error.Type)
	}
	checkHeaders(t, resp, apiHeaders)
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q, want seconds >= 1", resp.Header.Get("Retry-After"))
	}
	policy, ok := rlipFields(t, resp, "RateLimit-Policy")[zone]
	if !ok || policy["q"] != strconv.Itoa(q) || policy["w"] != strconv.Itoa(w) {
		t.Errorf("RateLimit-Policy = %q, want %q;q=%d;w=%d;pk=:...:", resp.Header.Get("RateLimit-Policy"), zone, q, w)
	}
	limit := rlipFields(t, resp, "RateLimit")[zone]
	if reset, err := strconv.Atoi(limit["t"]); limit["r"] != "0" || err != nil || reset < 1 {
		t.Errorf("RateLimit = %q, want %q;r=0;t=<seconds >= 1>;pk=:...:", resp.Header.Get("RateLimit"), zone)
	}
	pk := rlipPK(t, resp, zone)
	if pk == "" {
		t.Fatalf("no RateLimit member for zone %q: %q", zone, resp.Header.Get("RateLimit"))
	}
	return pk
}

// rlipNoRawIP checks that the partition key pk hides ip: it holds neither
// the address's bytes nor its text, encoded or decoded.
func rlipNoRawIP(t *testing.T, pk, ip string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(pk)
	if err != nil {
		t.Fatalf("pk %q is not base64: %v", pk, err)
	}
	addr := netip.MustParseAddr(ip)
	if bytes.Contains(raw, addr.AsSlice()) || bytes.Contains(raw, []byte(ip)) || strings.Contains(pk, ip) {
		t.Errorf("pk %q (%x) holds the client IP %s", pk, raw, ip)
	}
}

// rlipPerPeerStage limits every request to 3 per hour per client IP.
const rlipPerPeerStage = `redis_rate_limit {
			zone ip {
				key {paygate.client_ip}
				rate 3 1h
				burst 3
			}
		}`

// TestRateLimitIPPerPeer proves the per-IP limit from a peer that is no
// trusted proxy: its burst passes (RateLimit counting down), then a 429 in
// paygate's error shape with the security headers, Retry-After and the
// RateLimit fields, whose partition key hides the IP, and the upstream sees
// none of the refused requests; the client-IP headers a peer could send,
// rotating, all land in the peer's own (spent) bucket.
func TestRateLimitIPPerPeer(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := rlipStart(t, up, rlipConfig{stage: rlipPerPeerStage})
	for i := range 3 {
		resp, body := rlipGet(t, pg, "/v1/payment_methods", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status = %d, want 200 (body %s)", i+1, resp.StatusCode, body)
		}
		if got, want := rlipRemaining(t, resp, "ip"), strconv.Itoa(2-i); got != want {
			t.Errorf("request %d: RateLimit r=%s, want %s (RateLimit %q)", i+1, got, want, resp.Header.Get("RateLimit"))
		}
	}
	resp, body := rlipGet(t, pg, "/v1/payment_methods", nil)
	pk := rlipWantRefused(t, resp, body, "ip", 3, 3600)
	rlipNoRawIP(t, pk, "127.0.0.1")
	if n := up.Count(); n != 3 {
		t.Errorf("the upstream got %d requests, want the 3 admitted", n)
	}

	t.Run("spoofed client IP headers", func(t *testing.T) {
		spoofs := map[string]string{
			"X-Forwarded-For":  "198.51.100.%d",
			"X-Real-IP":        "198.51.100.%d",
			"Forwarded":        "for=198.51.100.%d;proto=https",
			"True-Client-IP":   "198.51.100.%d",
			"CF-Connecting-IP": "198.51.100.%d",
		}
		all := http.Header{}
		for name, format := range spoofs {
			for i := range 3 {
				value := fmt.Sprintf(format, 10*i+len(name))
				all.Set(name, value)
				resp, body := rlipGet(t, pg, "/v1/payment_methods", http.Header{name: {value}})
				if got := rlipWantRefused(t, resp, body, "ip", 3, 3600); got != pk {
					t.Errorf("%s: %s: pk %s, want the peer's %s", name, value, got, pk)
				}
			}
		}
		resp, body := rlipGet(t, pg, "/v1/payment_methods", all)
		if got := rlipWantRefused(t, resp, body, "ip", 3, 3600); got != pk {
			t.Errorf("every header at once: pk %s, want the peer's %s", got, pk)
		}
		if n := up.Count(); n != 3 {
			t.Errorf("the upstream got %d requests, want the 3 admitted", n)
		}
	})
}

// rlipTrustedStage is the per-IP stage of TestRateLimitIPBehindTrustedProxy:
// 8 requests per hour, 5 401s per 10 minutes, and a shadow zone of 2 per
// hour on GET /v1/payment_intents/{id}.
const rlipTrustedStage = `redis_rate_limit {
			zone ip {
				key {paygate.client_ip}
				rate 8 1h
				burst 8
			}
			zone ip_failures {
				key {paygate.client_ip}
				statuses 401
				rate 5 10m
				burst 5
			}
			zone ip_shadow {
				key {paygate.client_ip}
				match GET /v1/payment_intents/{id}
				rate 2 1h
				burst 2
				shadow
			}
		}`

// rlipTrustedBurst is the ip zone's burst in rlipTrustedStage.
const rlipTrustedBurst = 8

// TestRateLimitIPBehindTrustedProxy runs the shipped pipeline behind a
// trusted load balancer (deploy/Caddyfile's settings; the test client is
// the balancer), each subtest as clients of its own addresses: the
// right-most untrusted hop of X-Forwarded-For is the key, and no junk in
// the header makes a fresh bucket or an error; IPv6 clients share their
// /64; 401s from forged tokens spend the IP's failure budget, then even a
// valid token is refused, and other IPs are not; a shadow zone refuses
// nothing and says what it would have refused.
func TestRateLimitIPBehindTrustedProxy(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := rlipStart(t, up, rlipConfig{api: true, trusted: true, stage: rlipTrustedStage})
	alice := rlipBearer(t)

	t.Run("rotating left-hand hops", func(t *testing.T) {
		var pk string
		for i := range rlipTrustedBurst + 3 {
			hops := fmt.Sprintf("1.1.1.%d, 203.0.113.7", i+1)
			resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, hops)
			if i < rlipTrustedBurst {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%q: status = %d, want 200 (body %s)", hops, resp.StatusCode, body)
				}
				continue
			}
			got := rlipWantRefused(t, resp, body, "ip", 8, 3600)
			if pk != "" && got != pk {
				t.Errorf("%q: pk %s, want %s: one bucket for 203.0.113.7", hops, got, pk)
			}
			pk = got
		}
		rlipNoRawIP(t, pk, "203.0.113.7")
		// The next hop to the left is another client with its own bucket.
		resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, "203.0.113.7, 203.0.113.8")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("203.0.113.8: status = %d, want 200 (body %s)", resp.StatusCode, body)
		}
		if other := rlipPK(t, resp, "ip"); other == pk || other == "" {
			t.Errorf("203.0.113.8: pk %q, want its own, not 203.0.113.7's %s", other, pk)
		}
	})

	t.Run("malformed X-Forwarded-For", func(t *testing.T) {
		junk := []string{"unknown", "unknown, unknown", "_hidden", "", " , ,", "999.1.1.1", "1.2.3",
			"[::1", "1.2.3.4.5", "localhost", "0x7f.0.0.1"}
		thousand := func(i int) string {
			hops := make([]string, 999, 1000)
			for j := range hops {
				hops[j] = fmt.Sprintf("10.%d.%d.%d", i, j/256, j%256)
			}
			return strings.Join(append(hops, "198.51.100.9"), ", ")
		}
		for _, tt := range []struct {
			name string
			xff  func(i int) []string
		}{
			// Nothing parses: the balancer itself is the client.
			{"no address", func(i int) []string { return []string{junk[i%len(junk)]} }},
			{"a port", func(i int) []string { return []string{fmt.Sprintf("1.2.3.4:%d", 80+i)} }},
			{"a zone index", func(i int) []string { return []string{fmt.Sprintf("198.51.100.12%%eth%d", i)} }},
			{"junk after the address", func(i int) []string { return []string{fmt.Sprintf("198.51.100.11, junk-%d", i)} }},
			{"1,000 hops", func(i int) []string { return []string{thousand(i)} }},
			{"two X-Forwarded-For fields", func(i int) []string { return []string{fmt.Sprintf("10.9.%d.1", i), "198.51.100.10"} }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				var admitted int
				pks := map[string]bool{}
				for i := range rlipTrustedBurst + 3 {
					xff := tt.xff(i)
					resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, xff...)
					switch resp.StatusCode {
					case http.StatusOK:
						admitted++
					case http.StatusTooManyRequests, http.StatusBadRequest:
					default:
						t.Errorf("X-Forwarded-For %.60q: status = %d, want 200, 400 or 429 (body %s)", xff, resp.StatusCode, body)
					}
					if pk := rlipPK(t, resp, "ip"); pk != "" {
						pks[pk] = true
					}
				}
				if admitted > rlipTrustedBurst {
					t.Errorf("%d of %d requests admitted, want at most the burst of %d: junk made fresh buckets",
						admitted, rlipTrustedBurst+3, rlipTrustedBurst)
				}
				if len(pks) != 1 {
					t.Errorf("%d partition keys, want 1: %v", len(pks), slices.Sorted(maps.Keys(pks)))
				}
			})
		}
	})

	t.Run("IPv6 /64", func(t *testing.T) {
		var admitted int
		pks := map[string]bool{}
		for i := range rlipTrustedBurst + 3 {
			xff := fmt.Sprintf("2001:db8:1:2::%x", i+1)
			if i == rlipTrustedBurst {
				xff = "[2001:db8:1:2:ffff::1]:443"
			}
			resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, xff)
			switch resp.StatusCode {
			case http.StatusOK:
				admitted++
			case http.StatusTooManyRequests:
				rlipWantRefused(t, resp, body, "ip", 8, 3600)
			default:
				t.Fatalf("%s: status = %d, want 200 or 429 (body %s)", xff, resp.StatusCode, body)
			}
			pks[rlipPK(t, resp, "ip")] = true
		}
		if admitted != rlipTrustedBurst || len(pks) != 1 {
			t.Errorf("2001:db8:1:2::/64: %d admitted with %d partition keys, want %d with 1", admitted, len(pks), rlipTrustedBurst)
		}
		resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, "2001:db8:1:3::1")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("2001:db8:1:3::1: status = %d, want 200: another /64 (body %s)", resp.StatusCode, body)
		}
		if pks[rlipPK(t, resp, "ip")] {
			t.Error("2001:db8:1:3::1 has the partition key of 2001:db8:1:2::/64")
		}
	})

	t.Run("IPv4-mapped IPv6", func(t *testing.T) {
		for i := range rlipTrustedBurst {
			if resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, "198.51.100.77"); resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d: status = %d, want 200 (body %s)", i+1, resp.StatusCode, body)
			}
		}
		resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, "::ffff:198.51.100.77")
		rlipWantRefused(t, resp, body, "ip", 8, 3600)
	})

	t.Run("forged-token flood", func(t *testing.T) {
		const flooder, bystander = "192.0.2.66", "192.0.2.67"
		valid := hardeningToken(t, false)
		forged := func(i int) string {
			if i%2 == 0 {
				return rand.Text()
			}
			return testenv.ReplaceSegment(t, valid, 2, rand.Text())
		}
		for i := range 5 {
			h := http.Header{"Authorization": {"Bearer " + forged(i)}}
			if resp, body := rlipGet(t, pg, "/v1/payment_methods", h, flooder); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("forged token %d: status = %d, want 401 (body %s)", i+1, resp.StatusCode, body)
			}
		}
		before := up.Count()
		resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, flooder)
		rlipWantRefused(t, resp, body, "ip_failures", 5, 600)
		if rlipPK(t, resp, "ip") != "" {
			t.Errorf("RateLimit %q names the ip zone, want only ip_failures, the one that refused", resp.Header.Get("RateLimit"))
		}
		h := http.Header{"Authorization": {"Bearer " + forged(0)}}
		resp, body = rlipGet(t, pg, "/v1/payment_methods", h, flooder)
		rlipWantRefused(t, resp, body, "ip_failures", 5, 600)
		if n := up.Count(); n != before {
			t.Errorf("the upstream got %d requests from the refused IP", n-before)
		}
		if resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, bystander); resp.StatusCode != http.StatusOK {
			t.Errorf("another IP: status = %d, want 200 (body %s)", resp.StatusCode, body)
		}
	})

	t.Run("shadow zone", func(t *testing.T) {
		const series = `paygate_rate_limit_decisions_total{zone="ip_shadow",outcome="shadow_refused"}`
		for i := range 5 {
			resp, body := rlipGet(t, pg, "/v1/payment_intents/pi_rlipshadow", alice, "192.0.2.77")
			if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
				t.Fatalf("request %d: status = %d, want no refusal by the shadow zone (body %s)", i+1, resp.StatusCode, body)
			}
		}
		pg.WaitForMetric(t, series, testenv.MetricIs(3))
		pg.WaitForLog(t, `"shadow zone would refuse" for ip_shadow`,
			testenv.LogFields(map[string]string{"msg": "shadow zone would refuse", "zone": "ip_shadow"}))
	})
}

// TestRateLimitIPv6Prefix128 proves ipv6_prefix: at 128 every IPv6
// address behind the trusted proxy is a client of its own, where the
// default /64 makes them one (TestRateLimitIPBehindTrustedProxy).
func TestRateLimitIPv6Prefix128(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := rlipStart(t, up, rlipConfig{trusted: true, stage: `redis_rate_limit {
			ipv6_prefix 128
			zone ip {
				key {paygate.client_ip}
				rate 2 1h
				burst 2
			}
		}`})
	pks := map[string]bool{}
	for i := range 2 {
		resp, body := rlipGet(t, pg, "/v1/payment_methods", nil, "2001:db8:1:2::1")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("2001:db8:1:2::1, request %d: status = %d, want 200 (body %s)", i+1, resp.StatusCode, body)
		}
	}
	resp, body := rlipGet(t, pg, "/v1/payment_methods", nil, "2001:db8:1:2::1")
	pks[rlipWantRefused(t, resp, body, "ip", 2, 3600)] = true
	for n := 2; n <= 6; n++ {
		xff := fmt.Sprintf("2001:db8:1:2::%d", n)
		resp, body := rlipGet(t, pg, "/v1/payment_methods", nil, xff)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status = %d, want 200: an address of its own (body %s)", xff, resp.StatusCode, body)
		}
		pk := rlipPK(t, resp, "ip")
		if pks[pk] {
			t.Errorf("%s: pk %s is another address's", xff, pk)
		}
		pks[pk] = true
	}
}

// rlipPathStage counts GET /v1/payment_methods per client IP, 3 an hour,
// then (a stage of its own: the zones of a stage share their key) every
// request per route template, 4 an hour.
const rlipPathStage = `redis_rate_limit {
			zone methods_ip {
				key {paygate.client_ip}
				match GET /v1/payment_methods
				rate 3 1h
				burst 3
			}
		}
		redis_rate_limit {
			zone per_route {
				key {paygate.route}
				rate 4 1h
				burst 4
			}
		}`

// TestRateLimitIPPathVariants proves that no spelling of a limited
// endpoint's path buys a budget of its own, behind the shipped pipeline:
// once GET /v1/payment_methods is spent, a spelling of it either counts in
// the same zone and bucket (a query) or is no endpoint at all, so the zone
// does not match it and a later stage refuses it; the upstream sees none of
// them. A zone keyed by {paygate.route} puts every ambiguous spelling into
// one bucket ("other"), and its bucket of a route is every client's.
func TestRateLimitIPPathVariants(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := rlipStart(t, up, rlipConfig{api: true, trusted: true, stage: rlipPathStage})
	alice := rlipBearer(t)
	const client = "203.0.113.50"
	var ipPK, routePK string
	for i := range 3 {
		resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, client)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status = %d, want 200 (body %s)", i+1, resp.StatusCode, body)
		}
		ipPK, routePK = rlipPK(t, resp, "methods_ip"), rlipPK(t, resp, "per_route")
	}
	resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, client)
	rlipWantRefused(t, resp, body, "methods_ip", 3, 3600)

	t.Run("query", func(t *testing.T) {
		for _, target := range []string{"/v1/payment_methods?x=" + rand.Text(), "/v1/payment_methods?x=" + rand.Text(), "/v1/payment_methods?"} {
			h := alice.Clone()
			h.Set("X-Forwarded-For", client)
			resp, body := opaRaw(t, pg, "GET", target, h)
			if got := rlipWantRefused(t, resp, body, "methods_ip", 3, 3600); got != ipPK {
				t.Errorf("%s: methods_ip pk %s, want %s", target, got, ipPK)
			}
		}
	})

	t.Run("ambiguous spellings", func(t *testing.T) {
		var unrefused int
		otherPKs := map[string]bool{}
		for _, target := range []string{
			"/v1/payment_methods/", "//v1/payment_methods", "/v1//payment_methods", "/v1/payment%2Fmethods",
			"/v1/payment_methods;x", "/v1/payment%5Fmethods", "/v1/%70ayment_methods", "/V1/payment_methods",
			"/v1/Payment_Methods", "/v1/./payment_methods", "/v1/payment_methods/.", "/v1/x/../payment_methods",
		} {
			h := alice.Clone()
			h.Set("X-Forwarded-For", client)
			resp, body := opaRaw(t, pg, "GET", target, h)
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("%s: status = %d, want a refusal (body %s)", target, resp.StatusCode, body)
			}
			if resp.StatusCode != http.StatusTooManyRequests {
				unrefused++
			}
			if pk := rlipPK(t, resp, "methods_ip"); pk != "" && (pk != ipPK || resp.StatusCode != http.StatusTooManyRequests) {
				t.Errorf("%s: status %d with methods_ip pk %s, want a 429 of the client's bucket %s", target, resp.StatusCode, pk, ipPK)
			}
			if pk := rlipPK(t, resp, "per_route"); pk != "" {
				otherPKs[pk] = true
			}
		}
		if len(otherPKs) > 1 {
			t.Errorf("per_route: %d partition keys for the ambiguous spellings, want one bucket: %v", len(otherPKs), slices.Sorted(maps.Keys(otherPKs)))
		}
		if unrefused > 4 {
			t.Errorf("%d ambiguous spellings passed the stage, want at most per_route's burst of 4: buckets per spelling", unrefused)
		}
		if n := up.Count(); n != 3 {
			t.Errorf("the upstream got %d requests, want the 3 admitted", n)
		}
	})

	// per_route's counter of a route is every client's: another client
	// (with a fresh methods_ip budget) gets the route's last unit, then
	// finds it spent.
	t.Run("route bucket shared by every client", func(t *testing.T) {
		const other = "203.0.113.51"
		if resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, other); resp.StatusCode != http.StatusOK {
			t.Fatalf("the route's last unit: status %d (body %s)", resp.StatusCode, body)
		}
		resp, body := rlipGet(t, pg, "/v1/payment_methods", alice, other)
		if got := rlipWantRefused(t, resp, body, "per_route", 4, 3600); got != routePK {
			t.Errorf("per_route pk %s, want the route's %s", got, routePK)
		}
		if n := up.Count(); n != 4 {
			t.Errorf("the upstream got %d requests, want the 4 admitted", n)
		}
	})
}

// rlipStoreStage has a zone of each on_store_failure mode, each on an
// endpoint of its own.
const rlipStoreStage = `redis_rate_limit {
			zone store_deny {
				key {paygate.client_ip}
				match GET /v1/payment_intents/{id}
				rate 100 1h
				burst 100
				on_store_failure deny
			}
			zone store_allow {
				key {paygate.client_ip}
				match GET /v1/setup_intents/{id}
				rate 100 1h
				burst 100
				on_store_failure allow
			}
			zone store_local {
				key {paygate.client_ip}
				match GET /v1/payment_methods
				rate 3 1h
				burst 3
				on_store_failure local
				replicas 1
			}
		}`

// rlipCountLogs is how many of logs' entries have a message containing msg.
func rlipCountLogs(logs []testenv.LogEntry, msg string) int {
	n := 0
	for _, e := range logs {
		if strings.Contains(e.Str("msg"), msg) {
			n++
		}
	}
	return n
}

// TestRateLimitIPStoreFailure proves each on_store_failure mode with Redis
// stopped: deny answers 503 store_unavailable with Retry-After, allow
// admits, local limits by the zone's own burst in process; each fallback
// is counted by zone and mode, and the outage is logged once; once Redis
// is back, the decisions are its own again (a bucket spent locally is
// fresh there), which is logged once too.
func TestRateLimitIPStoreFailure(t *testing.T) {
	rs := testenv.Redis(t)
	up := testenv.StartUpstream(t, nil)
	pg := rlipStart(t, up, rlipConfig{stage: rlipStoreStage,
		global: "paygate {\n\t\tstore redis {{.Data.redis}}\n\t}", data: map[string]any{"redis": rs.URL()}})
	const deny, allow, local = "/v1/payment_intents/pi_rlip", "/v1/setup_intents/seti_rlip", "/v1/payment_methods"
	const cannot, again = "cannot decide rate limits", "decided by the store again"
	if resp, body := rlipGet(t, pg, local, nil); resp.StatusCode != http.StatusOK || rlipRemaining(t, resp, "store_local") != "2" {
		t.Fatalf("Redis up: status = %d, RateLimit %q; want 200 with r=2 (body %s)", resp.StatusCode, resp.Header.Get("RateLimit"), body)
	}

	rs.Stop()
	before := up.Count()
	resp, body := rlipGet(t, pg, deny, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("deny: status = %d, want 503 (body %s)", resp.StatusCode, body)
	}
	decodeAPIError(t, resp, body, "store_unavailable")
	checkHeaders(t, resp, apiHeaders)
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("deny: Retry-After = %q, want seconds >= 1", resp.Header.Get("Retry-After"))
	}
	if n := up.Count(); n != before {
		t.Errorf("deny: the upstream got the request")
	}
	if resp, body := rlipGet(t, pg, allow, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("allow: status = %d, want 200 (body %s)", resp.StatusCode, body)
	}
	for i := range 3 {
		if resp, body := rlipGet(t, pg, local, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("local, request %d: status = %d, want 200 (body %s)", i+1, resp.StatusCode, body)
		}
	}
	resp, body = rlipGet(t, pg, local, nil)
	rlipWantRefused(t, resp, body, "store_local", 3, 3600)
	for _, want := range []struct {
		zone, mode string
		n          float64
	}{{"store_deny", "deny", 1}, {"store_allow", "allow", 1}, {"store_local", "local", 4}} {
		pg.WaitForMetric(t, fmt.Sprintf(`paygate_rate_limit_fallbacks_total{zone=%q,mode=%q}`, want.zone, want.mode), testenv.MetricIs(want.n))
	}
	pg.WaitForLog(t, strconv.Quote(cannot), func(e testenv.LogEntry) bool { return strings.Contains(e.Str("msg"), cannot) })

	rs.Restart()
	testenv.Eventually(t, "the deny zone admits once Redis is back", func() bool {
		resp, _ := rlipGet(t, pg, deny, nil)
		return resp.StatusCode == http.StatusOK
	})
	pg.WaitForLog(t, strconv.Quote(again), func(e testenv.LogEntry) bool { return strings.Contains(e.Str("msg"), again) })
	// Spent in the local store, fresh in the restarted (empty) Redis.
	resp, body = rlipGet(t, pg, local, nil)
	if resp.StatusCode != http.StatusOK || rlipRemaining(t, resp, "store_local") != "2" {
		t.Errorf("local zone after the restart: status = %d, RateLimit %q; want Redis's fresh bucket: 200 with r=2 (body %s)",
			resp.StatusCode, resp.Header.Get("RateLimit"), body)
	}

	pg.Stop()
	logs := pg.LogEntries(t)
	for _, msg := range []string{cannot, again} {
		if n := rlipCountLogs(logs, msg); n != 1 {
			t.Errorf("%d log entries with %q, want 1", n, msg)
		}
	}
}

// rlipReloadStage limits every request per client IP to 3 an hour, with
// burst at once.
func rlipReloadStage(burst int) string {
	return fmt.Sprintf(`redis_rate_limit {
			zone ip {
				key {paygate.client_ip}
				rate 3 1h
				burst %d
			}
		}`, burst)
}

// TestRateLimitIPReload proves that a config reload keeps the buckets (a
// spent one is still spent right after it), that a larger burst applies at
// once, and that the decision metric keeps counting across reloads.
func TestRateLimitIPReload(t *testing.T) {
	const refusedSeries = `paygate_rate_limit_decisions_total{zone="ip",outcome="refused"}`
	up := testenv.StartUpstream(t, nil)
	pg := rlipStart(t, up, rlipConfig{stage: rlipReloadStage(3)})
	for i := range 3 {
		if resp, body := rlipGet(t, pg, "/v1/payment_methods", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status = %d, want 200 (body %s)", i+1, resp.StatusCode, body)
		}
	}
	resp, body := rlipGet(t, pg, "/v1/payment_methods", nil)
	rlipWantRefused(t, resp, body, "ip", 3, 3600)
	pg.WaitForMetric(t, refusedSeries, testenv.MetricIs(1))

	pg.Reload(t, fmt.Sprintf(rlipBareSite, 2, rlipReloadStage(3)))
	resp, body = rlipGet(t, pg, "/v1/payment_methods", nil)
	if g := resp.Header.Get("X-Rlip-Generation"); g != "2" {
		t.Fatalf("X-Rlip-Generation = %q, want 2: the reload is not in effect", g)
	}
	rlipWantRefused(t, resp, body, "ip", 3, 3600)
	pg.WaitForMetric(t, refusedSeries, testenv.MetricIs(2))

	pg.Reload(t, fmt.Sprintf(rlipBareSite, 3, rlipReloadStage(6)))
	for i := range 3 {
		resp, body := rlipGet(t, pg, "/v1/payment_methods", nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Rlip-Generation") != "3" {
			t.Fatalf("burst 6, request %d: status = %d, generation %q; want 200 under generation 3 (body %s)",
				i+1, resp.StatusCode, resp.Header.Get("X-Rlip-Generation"), body)
		}
	}
	resp, body = rlipGet(t, pg, "/v1/payment_methods", nil)
	// The policy is the burst (6) and the time to refill it (6 of 20 min).
	rlipWantRefused(t, resp, body, "ip", 6, 7200)
	pg.WaitForMetric(t, refusedSeries, testenv.MetricIs(3))
	if n := up.Count(); n != 6 {
		t.Errorf("the upstream got %d requests, want the 6 admitted", n)
	}
}
