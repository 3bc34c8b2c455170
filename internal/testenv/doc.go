// Package testenv is the end-to-end test harness: it runs the real paygate
// binary with a Caddyfile per test, an upstream that records what reaches it,
// and Stripe's stripe-mock behind a recording proxy.
//
// A typical test:
//
//	up := testenv.StartUpstream(t, nil)
//	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
//		Upstream: up,
//		Site: `https://localhost:{{.HTTPSPort}} {
//			bind 127.0.0.1
//			reverse_proxy {{.Upstream}}
//		}`,
//	})
//	resp, err := pg.Client().Get(pg.HTTPSURL + "/v1/ping")
//
// The harness owns the Caddyfile's global options block (admin endpoint,
// storage, ports, local CA); a test writes only the site part, and extra
// global options through PaygateOptions.Global. Both are text/template
// texts executed with TemplateData. Write every site as
// https://localhost:{{.HTTPSPort}} (or http://localhost:{{.HTTPPort}}) with
// "bind 127.0.0.1" so that nothing listens beyond loopback, and keep at least
// one HTTPS site for "localhost": start-up waits for Caddy's "serving initial
// configuration" log message (so the default logger must stay at INFO or
// below) and then for a verified TLS handshake for "localhost".
// PaygateOptions.Caddyfile runs a given Caddyfile (deploy/Caddyfile, say)
// as it is instead, with the ports and admin address passed in Env.
//
// Every process is stopped in t.Cleanup, and the last lines of its output are
// logged when the test failed. Tests must not sleep to wait for these
// processes; the harness waits on conditions (log lines, handshakes).
//
// The package is also the test kit every paygate test shares:
//
//   - Waiting: Eventually for a condition; Paygate.WaitForLog for a log
//     entry, since a response can arrive before the lines about it are
//     written; Paygate.WaitForMetric for a value on /metrics. Each gives up
//     after WaitTimeout. Paygate.Logs is the complete output, once the
//     process has been stopped: the one place to look for what must not be
//     logged.
//   - Reading: ParseLogEntries and LogEntry for Caddy's JSON log lines,
//     ParseMetrics for the Prometheus text format.
//   - Tokens: MintJWT and SignJWT mint any token in process (any alg, none
//     included, any key, header members and claims, or raw segment texts);
//     DevToken mints what "paygate token" would, which the shipped
//     Caddyfile accepts. It signs with jwx directly, so that the tests of
//     paygate's own JWT code can use it.
//   - Policies: BundleServer serves OPA bundles, which the subpackage
//     bundletest builds as "paygate bundle" does (apart, so that only the
//     tests that need OPA compile it).
//
// Environment:
//
//   - PAYGATE_BIN: a built paygate binary (absolute path); otherwise each test
//     process builds cmd/paygate once.
//   - PAYGATE_STRIPE_MOCK: a built stripe-mock binary (absolute path);
//     otherwise each test process builds it once from the tools module.
//   - CI=true: a missing prerequisite (the Go toolchain, a binary) fails the
//     test instead of skipping it; see Require.
package testenv
