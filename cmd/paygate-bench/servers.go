package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

const (
	// serverCPU is where every server under test runs (taskset -c).
	serverCPU = "0"
	// startTimeout bounds a server's (or Redis's) start-up.
	startTimeout = 60 * time.Second
	// clientTimeout bounds the harness's own requests to a server.
	clientTimeout = 30 * time.Second
)

// serverPorts are one server's listeners on 127.0.0.1.
type serverPorts struct{ http, https, adminPort int }

// admin is the admin endpoint's address.
func (p serverPorts) admin() string { return "127.0.0.1:" + strconv.Itoa(p.adminPort) }

// server is one server under test, pinned to serverCPU.
type server struct {
	*child
	ports serverPorts
	// dataDir is its XDG_DATA_HOME, where Caddy's local CA lives.
	dataDir string
	// client trusts the server's local CA; set by waitReady.
	client *http.Client
	// metrics reads the admin API.
	metrics *http.Client
}

// startServer runs bin (paygate or Caddy) with the Caddyfile config in dir,
// a new directory, with env added to a minimal environment (and GOGC and
// GOMEMLIMIT from the harness's own), on serverCPU.
func (b *bench) startServer(name, bin, dir, config string, ports serverPorts, env []string) (*server, error) {
	home := filepath.Join(dir, "home")
	s := &server{ports: ports, dataDir: filepath.Join(home, ".local", "share"), metrics: &http.Client{Timeout: clientTimeout}}
	if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
		return nil, err
	}
	configPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command("taskset", "-c", serverCPU, bin, "run", "--config", configPath, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + s.dataDir,
	}, env...)
	// The Go runtime's GC settings pass through, so that one run can
	// measure them ("GOGC=200 make bench").
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	c, err := b.start(name, filepath.Join(dir, "server.log"), cmd)
	if err != nil {
		return nil, err
	}
	s.child = c
	return s, nil
}

// url is the HTTPS URL of path on the server.
func (s *server) url(path string) string {
	return "https://127.0.0.1:" + strconv.Itoa(s.ports.https) + path
}

// waitReady waits until the server's local CA has a root and a handshake
// for 127.0.0.1 verifies against it, and makes the server's client.
func (s *server) waitReady(ctx context.Context) error {
	rootPath := filepath.Join(s.dataDir, "caddy", "pki", "authorities", "local", "root.crt")
	var roots *x509.CertPool
	var last error
	err := poll(ctx, startTimeout, func() (bool, error) {
		if err := s.exited(); err != nil {
			return false, err
		}
		pem, err := os.ReadFile(rootPath)
		if err != nil {
			last = err
			return false, nil
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			last = errors.New("no certificate in " + rootPath)
			return false, nil
		}
		dialer := &net.Dialer{Timeout: 5 * time.Second}
		conn, err := tls.DialWithDialer(dialer, "tcp", "127.0.0.1:"+strconv.Itoa(s.ports.https), &tls.Config{ServerName: "127.0.0.1", RootCAs: roots})
		if err != nil {
			last = err
			return false, nil
		}
		return true, conn.Close()
	})
	if exited := s.exited(); exited != nil {
		return exited
	}
	if err != nil {
		return fmt.Errorf("%s: no verified TLS handshake: %w (last: %v); last lines of %s:\n%s", s.name, err, last, s.log, s.tail())
	}
	s.client = &http.Client{
		Timeout:   clientTimeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
	}
	return nil
}

// scrape reads the server's admin API's /metrics.
func (s *server) scrape(ctx context.Context) (metricFamilies, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.ports.admin()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.metrics.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: GET /metrics: status %d", s.name, resp.StatusCode)
	}
	m, err := parseMetrics(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	return m, nil
}

// cpu is the server's CPU time so far.
func (s *server) cpu() (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid()))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(stat))
}

// rss is the server's resident set size now.
func (s *server) rss() (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(status))
}

// waitForMetric scrapes /metrics until a series of the family name has the
// value want.
func (s *server) waitForMetric(ctx context.Context, name string, want float64) error {
	var last error
	err := poll(ctx, startTimeout, func() (bool, error) {
		if err := s.exited(); err != nil {
			return false, err
		}
		m, err := s.scrape(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		return m.has(name, want), nil
	})
	if exited := s.exited(); exited != nil {
		return exited
	}
	if err != nil {
		return fmt.Errorf("%s: no %s series of value %v: %w (last scrape error: %v); last lines of %s:\n%s", s.name, name, want, err, last, s.log, s.tail())
	}
	return nil
}
