package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	// clientTimeout bounds a whole request made with a Paygate's Client.
	clientTimeout = 30 * time.Second
	// dialTimeout bounds connecting and each TLS handshake.
	dialTimeout = 5 * time.Second
	// probeInterval is how often the readiness check retries a handshake.
	probeInterval = 20 * time.Millisecond
)

// rootPath returns where Caddy's local CA keeps its root certificate.
func (p *Paygate) rootPath() string {
	return filepath.Join(p.storage, "pki", "authorities", "local", "root.crt")
}

// waitTLS polls until the local CA's root exists and a handshake for
// "localhost" verifies against it (the site's certificate is issued in the
// background after start-up). It fails when the process exits or
// startTimeout passes.
func (p *Paygate) waitTLS() (*x509.CertPool, error) {
	ticker := time.NewTicker(probeInterval)
	defer ticker.Stop()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	for {
		roots, err := p.probeTLS()
		if err == nil {
			return roots, nil
		}
		select {
		case <-ticker.C:
		case <-p.proc.done:
			return nil, p.proc.exitedError()
		case <-timer.C:
			return nil, fmt.Errorf("%s: no verified TLS handshake on %s after %v: %v; output:\n%s",
				p.proc.name, p.HTTPSURL, startTimeout, err, p.proc.logs.all())
		}
	}
}

// probeTLS reads the root and makes one verified handshake for "localhost".
func (p *Paygate) probeTLS() (*x509.CertPool, error) {
	pem, err := os.ReadFile(p.rootPath())
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, errors.New("no certificate in " + p.rootPath())
	}
	dialer := &net.Dialer{Timeout: dialTimeout}
	conn, err := tls.DialWithDialer(dialer, "tcp", "127.0.0.1:"+strconv.Itoa(p.data.HTTPSPort),
		&tls.Config{ServerName: "localhost", RootCAs: roots})
	if err != nil {
		return nil, err
	}
	return roots, conn.Close()
}

// newClient returns a client that trusts roots, reaches localhost and
// *.localhost on 127.0.0.1 (where the sites are bound), and returns
// redirects to the caller instead of following them.
func newClient(roots *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: dialTimeout}
	return &http.Client{
		Timeout: clientTimeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				if host == "localhost" || strings.HasSuffix(host, ".localhost") {
					addr = net.JoinHostPort("127.0.0.1", port)
				}
				return dialer.DialContext(ctx, network, addr)
			},
			TLSClientConfig:     &tls.Config{RootCAs: roots},
			TLSHandshakeTimeout: dialTimeout,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// TLSConfig returns a client TLS configuration that trusts only this
// replica's local CA and verifies the name "localhost"; a test sets versions
// and cipher suites on it to probe the server's TLS policy with tls.Dial.
func (p *Paygate) TLSConfig() *tls.Config {
	return &tls.Config{ServerName: "localhost", RootCAs: p.roots}
}

// HTTPSAddr is the address of this replica's HTTPS listener, for tls.Dial.
func (p *Paygate) HTTPSAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.data.HTTPSPort))
}
