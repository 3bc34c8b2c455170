package testenv

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"

	"github.com/paygate/paygate/internal/freeport"
)

// readyMessage is the message Caddy's "run" command logs once the initial
// configuration is running.
const readyMessage = "serving initial configuration"

// portAttempts is how many sets of free ports a replica tries before giving
// up, should another process take a port between FreePort and Caddy's bind.
const portAttempts = 3

// PaygateOptions describes the paygate processes a test starts.
type PaygateOptions struct {
	// Site is the site part of the Caddyfile, a text/template executed with
	// TemplateData. Address sites as https://localhost:{{.HTTPSPort}} with
	// "bind 127.0.0.1".
	Site string
	// Global is extra text for the global options block, such as a paygate
	// app block; a text/template executed with TemplateData. Empty by default.
	Global string
	// Upstream, when set, is the recorder whose URL is {{.Upstream}}.
	Upstream *Upstream
	// StripeMock, when set, is the stripe-mock whose URL is {{.StripeMock}}.
	StripeMock *StripeMock
	// Data is passed to the templates as {{.Data}}, for anything else.
	Data map[string]any
	// Env is added to the minimal environment of the processes (HOME and the
	// XDG directories point into the test's temporary directory); it serves
	// {env.NAME} and {$NAME} in the Caddyfile. Each value is a text/template
	// executed with TemplateData.
	Env map[string]string
	// Caddyfile, when set, is the path of a Caddyfile that the processes run
	// as it is (a shipped one, say) instead of the harness's; Site and Global
	// are then unused, and Env must make it bind 127.0.0.1, listen on
	// {{.HTTPPort}} and {{.HTTPSPort}}, serve its admin API on
	// {{.AdminAddr}}, and serve "localhost" with Caddy's local CA in its
	// default storage ($XDG_DATA_HOME/caddy), with skip_install_trust.
	// Reload is not available for such a process.
	Caddyfile string
}

// TemplateData is what the Site and Global templates of PaygateOptions see.
type TemplateData struct {
	// HTTPPort and HTTPSPort are this replica's http_port and https_port.
	HTTPPort, HTTPSPort int
	// AdminAddr is this replica's admin endpoint, host:port on 127.0.0.1.
	AdminAddr string
	// Replica is this replica's index, from 0.
	Replica int
	// Upstream is the upstream recorder's URL, or empty.
	Upstream string
	// StripeMock is the stripe-mock recording proxy's URL, or empty.
	StripeMock string
	// Data is PaygateOptions.Data.
	Data map[string]any
}

// Paygate is one running paygate process (one replica).
type Paygate struct {
	// HTTPSURL is https://localhost:<https port>, the base URL of the sites.
	HTTPSURL string
	// HTTPURL is http://localhost:<http port>, where Caddy redirects to HTTPS
	// or serves http:// sites.
	HTTPURL string
	// AdminURL is http://127.0.0.1:<port>, the admin API (also /metrics).
	AdminURL string

	bin        string
	configPath string
	storage    string
	env        []string
	global     string
	data       TemplateData
	proc       *process
	client     *http.Client
	roots      *x509.CertPool

	// fixed is set when configPath is PaygateOptions.Caddyfile, which the
	// harness never writes.
	fixed bool
}

// StartPaygate starts one paygate process with opts and waits until it serves
// HTTPS; it is stopped when the test ends. Start-up failures fail the test
// with the process's output.
func StartPaygate(t testing.TB, opts PaygateOptions) *Paygate {
	t.Helper()
	return StartCluster(t, opts, 1)[0]
}

// StartCluster starts n replicas of the same configuration side by side, each
// with its own ports, storage (and so its own local CA) and client, and waits
// until all of them serve HTTPS; they are stopped when the test ends.
func StartCluster(t testing.TB, opts PaygateOptions, n int) []*Paygate {
	t.Helper()
	replicas, err := startCluster(t, Binary(t), opts, n)
	if err != nil {
		t.Fatal(err)
	}
	return replicas
}

// startCluster starts n replicas of bin concurrently and returns an error,
// holding each failing replica's output, if any of them does not start.
func startCluster(t testing.TB, bin string, opts PaygateOptions, n int) ([]*Paygate, error) {
	base := t.TempDir()
	replicas := make([]*Paygate, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			replicas[i], errs[i] = startReplica(t, bin, filepath.Join(base, strconv.Itoa(i)), opts, i)
		})
	}
	wg.Wait()
	return replicas, errors.Join(errs...)
}

// startReplica starts replica i in dir, trying new ports when one was taken.
func startReplica(t testing.TB, bin, dir string, opts PaygateOptions, i int) (*Paygate, error) {
	var err error
	for range portAttempts {
		var p *Paygate
		p, err = launch(t, bin, dir, opts, i)
		if err == nil || !portTaken(err) {
			return p, err
		}
	}
	return nil, err
}

// launch writes replica i's Caddyfile with fresh ports, runs it, and waits
// until it is ready; a process that is not ready is stopped.
func launch(t testing.TB, bin, dir string, opts PaygateOptions, i int) (*Paygate, error) {
	ports, err := freeport.Reserve(3)
	if err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "home")
	dataHome := filepath.Join(home, ".local", "share")
	p := &Paygate{
		HTTPURL:    fmt.Sprintf("http://localhost:%d", ports[0]),
		HTTPSURL:   fmt.Sprintf("https://localhost:%d", ports[1]),
		AdminURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		bin:        bin,
		configPath: filepath.Join(dir, "Caddyfile"),
		storage:    filepath.Join(dir, "storage"),
		env: []string{
			"HOME=" + home,
			"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
			"XDG_DATA_HOME=" + dataHome,
		},
		global: opts.Global,
		data: TemplateData{
			HTTPPort:  ports[0],
			HTTPSPort: ports[1],
			AdminAddr: fmt.Sprintf("127.0.0.1:%d", ports[2]),
			Replica:   i,
			Data:      opts.Data,
		},
	}
	if opts.Upstream != nil {
		p.data.Upstream = opts.Upstream.URL
	}
	if opts.StripeMock != nil {
		p.data.StripeMock = opts.StripeMock.URL
	}
	for k, v := range opts.Env {
		value, err := render("env "+k, v, p.data)
		if err != nil {
			return nil, err
		}
		p.env = append(p.env, k+"="+value)
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	if opts.Caddyfile != "" {
		if p.configPath, err = filepath.Abs(opts.Caddyfile); err != nil {
			return nil, err
		}
		p.fixed = true
		p.storage = filepath.Join(dataHome, "caddy")
	} else if err := p.writeConfig(opts.Site); err != nil {
		return nil, err
	}

	cmd := exec.Command(bin, "run", "--config", p.configPath, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = p.env
	proc, err := startProcess(fmt.Sprintf("paygate replica %d", i), cmd)
	if err != nil {
		return nil, err
	}
	p.proc = proc
	if err := p.waitReady(); err != nil {
		proc.stop()
		return nil, err
	}
	proc.stopAtCleanup(t)
	// Registered after stopAtCleanup so that it runs first: idle keep-alive
	// connections would otherwise hold up Caddy's graceful shutdown.
	t.Cleanup(p.client.CloseIdleConnections)
	return p, nil
}

// waitReady waits for Caddy's ready message, then for a verified TLS
// handshake, and builds the client from the local CA's root.
func (p *Paygate) waitReady() error {
	if _, err := p.proc.waitReady(isReadyMessage); err != nil {
		return err
	}
	roots, err := p.waitTLS()
	if err != nil {
		return err
	}
	p.roots = roots
	p.client = newClient(roots)
	return nil
}

// isReadyMessage reports whether line is Caddy's JSON log entry for
// readyMessage.
func isReadyMessage(line []byte) bool {
	var entry struct {
		Msg string `json:"msg"`
	}
	return json.Unmarshal(line, &entry) == nil && entry.Msg == readyMessage
}

// writeConfig renders the complete Caddyfile for site: the harness's global
// options, then opts.Global, then the site.
func (p *Paygate) writeConfig(site string) error {
	global, err := render("global", p.global, p.data)
	if err != nil {
		return err
	}
	siteText, err := render("site", site, p.data)
	if err != nil {
		return err
	}
	if global = strings.TrimSpace(global); global != "" {
		global = "\t" + global + "\n"
	}
	config := fmt.Sprintf(`{
	admin %s
	persist_config off
	storage file_system %s
	skip_install_trust
	local_certs
	http_port %d
	https_port %d
%s}

%s
`, p.data.AdminAddr, strconv.Quote(p.storage), p.data.HTTPPort, p.data.HTTPSPort, global, strings.TrimSpace(siteText))
	return os.WriteFile(p.configPath, []byte(config), 0o600)
}

// render executes the text/template text with data; a missing key in
// data.Data is an error.
func render(name, text string, data TemplateData) (string, error) {
	tmpl, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("%s template: %w", name, err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("%s template: %w", name, err)
	}
	return b.String(), nil
}

// Client returns an HTTP client for this replica: it trusts only this
// replica's local CA, dials 127.0.0.1 for localhost (and *.localhost), does
// not follow redirects, and times out after 30 s. Clients of one replica
// share a connection pool; each call returns a new *http.Client, so a test
// may set its fields (a Jar, say) without affecting others.
func (p *Paygate) Client() *http.Client {
	c := *p.client
	return &c
}

// Command is the paygate binary run with args and then this replica's
// --config and --adapter, in its environment (for commands that read the
// running configuration, such as paygate reindex).
func (p *Paygate) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(p.bin, append(args, "--config", p.configPath, "--adapter", "caddyfile")...)
	cmd.Dir = filepath.Dir(p.configPath)
	cmd.Env = p.env
	return cmd
}

// Stop shuts the process down (SIGTERM, then SIGKILL after 10 s) and waits
// for it to exit. The test's cleanup does this too; Stop is for tests that
// take a replica away or read the complete logs (Logs).
func (p *Paygate) Stop() {
	p.client.CloseIdleConnections()
	p.proc.stop()
}

// Terminate sends the process SIGTERM, as a service manager stopping it
// would, and returns at once: the process drains (shutdown_delay, then the
// grace period) while the test watches; the test's cleanup waits for it.
func (p *Paygate) Terminate(t testing.TB) {
	t.Helper()
	if err := p.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("testenv: SIGTERM: %v", err)
	}
}

// Kill ends the process with SIGKILL, as a crash or the OOM killer would:
// no graceful shutdown, in-flight requests cut off. It waits for the exit.
func (p *Paygate) Kill() {
	p.client.CloseIdleConnections()
	p.proc.kill()
}

// SetGlobal replaces the extra global options (a template, like
// PaygateOptions.Global) that the next Reload writes.
func (p *Paygate) SetGlobal(global string) {
	p.global = global
}

// Reload replaces the site part of the configuration with site (a template,
// like PaygateOptions.Site) through "paygate reload", failing the test if
// the new configuration is not running when it returns.
func (p *Paygate) Reload(t testing.TB, site string) {
	t.Helper()
	if err := p.TryReload(site); err != nil {
		t.Fatal(err)
	}
}

// TryReload is Reload that returns the error, with the command's output,
// instead of failing the test; a rejected configuration leaves the running
// one in place.
func (p *Paygate) TryReload(site string) error {
	if p.fixed {
		return fmt.Errorf("paygate reload: %s is run as it is, not rewritten", p.configPath)
	}
	if err := p.writeConfig(site); err != nil {
		return err
	}
	cmd := exec.Command(p.bin, "reload", "--config", p.configPath, "--adapter", "caddyfile", "--address", p.data.AdminAddr)
	cmd.Env = p.env
	// Our idle connections belong to the servers being replaced; closed
	// first, they do not hold up those servers' shutdown (Go's HTTP/2 server
	// waits a second for a client to act on its GOAWAY).
	p.client.CloseIdleConnections()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("paygate reload: %v; output:\n%s", err, out)
	}
	return nil
}
