package main

import (
	"fmt"
	"regexp"
	"strings"
)

// The benchmark's Caddyfiles. The pipeline targets run deploy/Caddyfile
// itself, changed in two places only (pipelineCaddyfile); the bare targets,
// paygate's and stock Caddy's, take its global server options
// (serverOptions), so that every server speaks the same protocols under the
// same timeouts and limits.

const (
	// benchRate is the rate every zone gets: one request per microsecond,
	// the finest rate the store accepts, far beyond what one core serves.
	benchRate = "rate 1000000 1s"
	// benchBurst is the burst every zone gets.
	benchBurst = "burst 1000000000"
	// benchUpstream replaces the payment handler, which would call Stripe.
	benchUpstream = "reverse_proxy {env.PAYGATE_UPSTREAM}"
)

var (
	zoneLine  = regexp.MustCompile(`(?m)^[ \t]*zone [^ \t{}]+ \{[ \t]*$`)
	rateLine  = regexp.MustCompile(`(?m)^([ \t]*)rate [0-9]+ [0-9a-z]+[ \t]*$`)
	burstLine = regexp.MustCompile(`(?m)^([ \t]*)burst [0-9]+[ \t]*$`)
)

// pipelineCaddyfile returns deploy, the text of deploy/Caddyfile, with two
// changes and no others: inside "route /v1/*", the payments block is
// replaced by a reverse_proxy to {env.PAYGATE_UPSTREAM}; and every rate-limit
// zone's rate and burst are raised beyond any load, so that no request is
// refused while every zone still runs (and costs) what it runs in
// production. Logs, stages and their order stay as shipped. It fails when
// the text it changes is not there exactly as expected.
func pipelineCaddyfile(deploy string) (string, error) {
	pay, err := findInner(deploy, "route /v1/* {", "payments {")
	if err != nil {
		return "", err
	}
	out := deploy[:pay.start] + indentOf(deploy[pay.start:pay.end]) + benchUpstream + "\n" + deploy[pay.end:]

	zones := len(zoneLine.FindAllStringIndex(out, -1))
	rates := len(rateLine.FindAllStringIndex(out, -1))
	bursts := len(burstLine.FindAllStringIndex(out, -1))
	if zones == 0 || rates != zones || bursts != zones {
		return "", fmt.Errorf("want one \"rate <count> <period>\" and one \"burst <count>\" line per rate-limit zone; found %d zones, %d rate lines, %d burst lines", zones, rates, bursts)
	}
	out = rateLine.ReplaceAllString(out, "${1}"+benchRate)
	return burstLine.ReplaceAllString(out, "${1}"+benchBurst), nil
}

// logsOffCaddyfile returns pipeline, a pipelineCaddyfile, with its two logs
// off and no other change: the access log (the "log" block of the
// paygate_site snippet) removed and "decision_log off" the first line of
// opa_authz. It fails when the text it changes is not there exactly as
// expected.
func logsOffCaddyfile(pipeline string) (string, error) {
	access, err := findInner(pipeline, "(paygate_site) {", "log {")
	if err != nil {
		return "", err
	}
	out := pipeline[:access.start] + pipeline[access.end:]
	opa, err := findBlock(out, 0, len(out), "opa_authz {")
	if err != nil {
		return "", err
	}
	if strings.Contains(out[opa.start:opa.end], "decision_log") {
		return "", fmt.Errorf("opa_authz already sets decision_log")
	}
	line, next := lineAt(out, opa.start)
	return out[:next] + indentOf(line) + "\tdecision_log off\n" + out[next:], nil
}

// serverOptions returns the "servers { ... }" block of deploy's global
// options, as written there.
func serverOptions(deploy string) (string, error) {
	b, err := findBlock(deploy, 0, len(deploy), "servers {")
	if err != nil {
		return "", err
	}
	return deploy[b.start:b.end], nil
}

// bareCaddyfile is the bare site: the global server options of
// deploy/Caddyfile (servers, from serverOptions), a local certificate for
// 127.0.0.1 and a reverse_proxy to upstream; no paygate stage, no access
// log. Stock Caddy runs it too.
func bareCaddyfile(servers string, ports serverPorts, upstream string) string {
	return fmt.Sprintf(`{
	admin %s
	default_bind 127.0.0.1
	http_port %d
	https_port %d
	skip_install_trust
	auto_https disable_redirects
%s}

https://127.0.0.1:%d {
	bind 127.0.0.1
	tls internal
	reverse_proxy %s
}
`, ports.admin(), ports.http, ports.https, servers, ports.https, upstream)
}

// block is the text of a Caddyfile block: the line that opens it through
// the line that closes it, newlines included.
type block struct{ start, end int }

// findBlock finds the one line in text[from:to] that reads opener (blanks
// around it aside) and returns the block it opens. It fails when no line or
// more than one reads opener, or when the block does not close.
func findBlock(text string, from, to int, opener string) (block, error) {
	var found []int
	for off := from; off < to; {
		line, next := lineAt(text, off)
		if strings.TrimSpace(line) == opener {
			found = append(found, off)
		}
		off = next
	}
	if len(found) != 1 {
		return block{}, fmt.Errorf("want exactly one line %q, found %d", opener, len(found))
	}
	depth := 0
	for off := found[0]; off < to; {
		line, next := lineAt(text, off)
		depth += braceDepth(line)
		if depth <= 0 {
			return block{found[0], next}, nil
		}
		off = next
	}
	return block{}, fmt.Errorf("the block %q does not close", opener)
}

// findInner finds the one block that inner opens inside the one block
// that outer opens (see findBlock).
func findInner(text, outer, inner string) (block, error) {
	o, err := findBlock(text, 0, len(text), outer)
	if err != nil {
		return block{}, err
	}
	b, err := findBlock(text, o.start, o.end, inner)
	if err != nil {
		return block{}, fmt.Errorf("in %s: %w", strings.TrimSuffix(outer, " {"), err)
	}
	return b, nil
}

// indentOf is the blanks that line starts with.
func indentOf(line string) string {
	return line[:len(line)-len(strings.TrimLeft(line, " \t"))]
}

// lineAt returns the line starting at off, without its newline, and the
// offset of the next line.
func lineAt(text string, off int) (string, int) {
	if i := strings.IndexByte(text[off:], '\n'); i >= 0 {
		return text[off : off+i], off + i + 1
	}
	return text[off:], len(text)
}

// braceDepth is how much line changes the nesting depth: its opening braces
// minus its closing ones, before any comment (a "#" that starts a token).
// Placeholders such as {env.NAME} open and close on the same line.
func braceDepth(line string) int {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			line = line[:i]
			break
		}
	}
	return strings.Count(line, "{") - strings.Count(line, "}")
}
