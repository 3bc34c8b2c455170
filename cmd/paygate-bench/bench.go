package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"debug/buildinfo"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paygate/paygate/internal/devtoken"
	"github.com/paygate/paygate/internal/freeport"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/store"
)

const (
	// caddyModule is the module whose version both binaries must share.
	caddyModule = "github.com/caddyserver/caddy/v2"
	// bundlePath and jwksPath are where the harness serves the policy
	// bundle and the JWKS.
	bundlePath = "/bundles/paygate.tar.gz"
	jwksPath   = "/.well-known/jwks.json"
	// bundleRevisionMetric is set to 1 for the active bundle's revision.
	bundleRevisionMetric = "paygate_policy_bundle_revision_info"
)

// bench is one run: what it set up, and what it started, which close
// stops.
type bench struct {
	opts options
	// tmp holds every file of the run; close removes it.
	tmp string
	// redis is the private Redis's client; nil when no target needs it.
	redis *redis.Client
	// upstream is the upstream's address (host:port).
	upstream string
	keys     map[string]*signingKey
	// token is the one token of the fixed-token loads; the bare targets get
	// it too, so that every GET carries the same bytes.
	token string
	// bareConfig makes the bare site's Caddyfile for a server's ports.
	bareConfig func(serverPorts) string
	// pipelineConfig is the pipeline's Caddyfile, and pipelineEnv its
	// environment, ports aside.
	pipelineConfig string
	pipelineEnv    []string
	// logsOffConfig is pipelineConfig with both logs off.
	logsOffConfig string
	// pools are the new-token pools' files, by algorithm (see mintPools).
	pools map[string][]string

	children []*child
	// cleanups run after the children have stopped, last first.
	cleanups []func()
}

// running is a target whose server is up.
type running struct {
	spec targetSpec
	srv  *server
	// tokenFiles hold its tokens, a file a round (loadNewTokens only).
	tokenFiles []string
	// checkToken is the token of the request sent before the rounds, which
	// for a new-token target is none of its pool's.
	checkToken string
}

// start starts a child that close stops.
func (b *bench) start(name, logPath string, cmd *exec.Cmd) (*child, error) {
	c, err := startChild(name, logPath, cmd)
	if err != nil {
		return nil, err
	}
	b.children = append(b.children, c)
	return c, nil
}

// close stops every child, all at once, then runs the cleanups.
func (b *bench) close() {
	var wg sync.WaitGroup
	for _, c := range b.children {
		wg.Go(c.stop)
	}
	wg.Wait()
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
}

// benchmark runs the whole benchmark and returns its report.
func benchmark(ctx context.Context, opts options) (*report, error) {
	b := &bench{opts: opts}
	defer b.close()
	specs := selectTargets(opts.targets)
	m := readMachine()
	rep := &report{
		date:    time.Now().UTC(),
		machine: m,
		command: commandLine(os.Args, m),
		opts:    opts,
		specs:   specs,
		rounds:  map[string][]sample{},
	}
	var err error
	if rep.caddyVersion, rep.goVersion, err = binaryVersions(opts, specs); err != nil {
		return nil, err
	}
	if err := b.setUp(ctx, specs); err != nil {
		return nil, err
	}
	if rep.minting, err = b.mintTokens(ctx, specs); err != nil {
		return nil, err
	}
	targets, err := b.startTargets(ctx, specs)
	if err != nil {
		return nil, err
	}
	if err := b.runRounds(ctx, targets, rep); err != nil {
		return nil, err
	}
	if opts.profile != "" {
		if err := b.profile(ctx, targets, opts.profile); err != nil {
			return nil, err
		}
	}
	rep.finish()
	return rep, nil
}

// setUp checks the tools, reads deploy/Caddyfile, and starts what the
// servers talk to: the upstream and, for the pipeline, Redis, the JWKS and
// the policy bundle.
func (b *bench) setUp(ctx context.Context, specs []targetSpec) error {
	tools := map[string]string{"wrk": "wrk", "taskset": "util-linux"}
	if hasPipeline(specs) {
		tools["redis-server"] = "redis-server"
	}
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s (the Debian package %s): %w", tool, pkg, err)
		}
	}
	tmp, err := os.MkdirTemp("", "pgb")
	if err != nil {
		return err
	}
	b.tmp = tmp
	b.cleanups = append(b.cleanups, func() { _ = os.RemoveAll(tmp) })

	deploy, err := os.ReadFile(filepath.Join(b.opts.repo, "deploy", "Caddyfile"))
	if err != nil {
		return err
	}
	servers, err := serverOptions(string(deploy))
	if err != nil {
		return fmt.Errorf("deploy/Caddyfile: %w", err)
	}
	if b.pipelineConfig, err = pipelineCaddyfile(string(deploy)); err != nil {
		return fmt.Errorf("deploy/Caddyfile: %w", err)
	}
	if b.logsOffConfig, err = logsOffCaddyfile(b.pipelineConfig); err != nil {
		return fmt.Errorf("deploy/Caddyfile: %w", err)
	}
	if b.upstream, err = b.serve(http.HandlerFunc(upstream)); err != nil {
		return err
	}
	b.bareConfig = func(p serverPorts) string { return bareCaddyfile(servers, p, b.upstream) }

	keyDir := filepath.Join(tmp, "keys")
	if err := os.Mkdir(keyDir, 0o700); err != nil {
		return err
	}
	if b.keys, err = generateKeys(keyDir); err != nil {
		return err
	}
	if b.token, err = devtoken.Mint(b.keys["RS256"].key, tokenOptions()); err != nil {
		return err
	}
	if hasPipeline(specs) {
		return b.pipelineServices(ctx)
	}
	return nil
}

// startTargets starts every target's server, waits until each serves (for
// the pipeline, with its policy bundle active), and checks that each
// answers its request with the upstream's answer.
func (b *bench) startTargets(ctx context.Context, specs []targetSpec) ([]*running, error) {
	ports, err := freeport.Reserve(3 * len(specs))
	if err != nil {
		return nil, err
	}
	targets := make([]*running, len(specs))
	for i, spec := range specs {
		p := serverPorts{http: ports[3*i], https: ports[3*i+1], adminPort: ports[3*i+2]}
		bin, config, env := b.opts.paygate, b.bareConfig(p), []string(nil)
		if spec.stock {
			bin = b.opts.caddy
		}
		if spec.pipeline {
			config, env = b.pipelineConfig, append(slices.Clone(b.pipelineEnv), portEnv(p)...)
		}
		if spec.logsOff {
			config = b.logsOffConfig
		}
		srv, err := b.startServer(spec.name, bin, filepath.Join(b.tmp, spec.name), config, p, env)
		if err != nil {
			return nil, err
		}
		t := &running{spec: spec, srv: srv, tokenFiles: b.pools[spec.alg], checkToken: b.token}
		if spec.load == loadNewTokens {
			if t.checkToken, err = devtoken.Mint(b.keys[spec.alg].key, tokenOptions()); err != nil {
				return nil, err
			}
		}
		targets[i] = t
	}
	for _, t := range targets {
		if err := t.srv.waitReady(ctx); err != nil {
			return nil, err
		}
		if t.spec.pipeline {
			if err := t.srv.waitForMetric(ctx, bundleRevisionMetric, 1); err != nil {
				return nil, err
			}
		}
		if err := t.check(ctx); err != nil {
			return nil, err
		}
	}
	return targets, nil
}

// runRounds runs the warm-up round and the measured rounds, every target
// once in each, and keeps the measured rounds' samples in rep.
func (b *bench) runRounds(ctx context.Context, targets []*running, rep *report) error {
	script := filepath.Join(b.tmp, "bench.lua")
	if err := os.WriteFile(script, wrkScript, 0o600); err != nil {
		return err
	}
	for round := 0; round <= b.opts.rounds; round++ {
		order := roundOrder(len(targets), round)
		if round > 0 {
			names := make([]string, len(order))
			for i, ti := range order {
				names[i] = targets[ti].spec.name
			}
			rep.orders = append(rep.orders, names)
		}
		for _, ti := range order {
			t := targets[ti]
			s, err := b.measure(ctx, t, round, script)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%s: %-20s %8.0f req/s  %6.0f µs CPU/req  %d errors\n",
				roundName(round, b.opts.rounds), t.spec.name, s.rps, s.cpuPerReq, s.errors)
			if round > 0 {
				rep.rounds[t.spec.name] = append(rep.rounds[t.spec.name], s)
			}
		}
	}
	return nil
}

// roundOrder is the order of the targets in round (0 is the warm-up): the
// measured round i (from 1) starts at target (i-1) mod n.
func roundOrder(n, round int) []int {
	first := 0
	if round > 0 {
		first = (round - 1) % n
	}
	order := make([]int, n)
	for i := range order {
		order[i] = (first + i) % n
	}
	return order
}

// roundName names round for the progress lines.
func roundName(round, rounds int) string {
	if round == 0 {
		return "warm-up"
	}
	return fmt.Sprintf("round %d/%d", round, rounds)
}

// hasPipeline reports whether a target runs the pipeline.
func hasPipeline(specs []targetSpec) bool {
	for _, s := range specs {
		if s.pipeline {
			return true
		}
	}
	return false
}

// portEnv is what deploy/Caddyfile reads to listen on p.
func portEnv(p serverPorts) []string {
	return []string{
		fmt.Sprintf("PAYGATE_HTTP_PORT=%d", p.http),
		fmt.Sprintf("PAYGATE_HTTPS_PORT=%d", p.https),
		"PAYGATE_ADMIN=" + p.admin(),
	}
}

// pipelineServices starts what the pipeline needs (a private Redis with
// benchIntent's owner recorded in it, the JWKS and the signed policy
// bundle) and returns the environment of deploy/Caddyfile, ports aside.
func (b *bench) pipelineServices(ctx context.Context) error {
	client, redisURL, err := b.startRedis(ctx, b.tmp)
	if err != nil {
		return err
	}
	b.redis = client
	b.cleanups = append(b.cleanups, func() { _ = client.Close() })
	// Recorded as the payment handler records it, under the store's default
	// prefix, which deploy/Caddyfile keeps.
	if err := ownership.Record(ctx, store.NewRedis(client, store.RedisOptions{}), benchIntent, benchUser); err != nil {
		return err
	}

	jwks, err := jwksJSON(b.keys)
	if err != nil {
		return err
	}
	bundleFile := filepath.Join(b.tmp, "paygate.tar.gz")
	if _, err := output(command(ctx, b.opts.paygate, "bundle",
		"--policies", filepath.Join(b.opts.repo, "policies", "paygate"),
		"--signing-key", filepath.Join(b.opts.repo, "testdata", "opa", "bundle-signing.key"),
		"--output", bundleFile)); err != nil {
		return err
	}
	bundle, err := os.ReadFile(bundleFile)
	if err != nil {
		return err
	}
	addr, err := b.serve(staticFiles{
		jwksPath:   {contentType: "application/json", body: jwks, etag: `"jwks"`},
		bundlePath: {contentType: "application/gzip", body: bundle, etag: `"bundle"`},
	})
	if err != nil {
		return err
	}

	sealKey := make([]byte, 32)
	if _, err := rand.Read(sealKey); err != nil {
		return err
	}
	b.pipelineEnv = []string{
		"PAYGATE_DOMAIN=127.0.0.1",
		"PAYGATE_TLS=internal",
		"PAYGATE_BIND=127.0.0.1",
		"REDIS_URL=" + redisURL,
		"PAYGATE_ISSUER=" + benchIssuer,
		"PAYGATE_JWKS_URL=http://" + addr + jwksPath,
		"PAYGATE_POLICY_BUNDLE_URL=http://" + addr + bundlePath,
		"PAYGATE_POLICY_PUBLIC_KEY=" + filepath.Join(b.opts.repo, "testdata", "opa", "bundle-signing.pub"),
		"PAYGATE_IDEMPOTENCY_KEY=" + base64.StdEncoding.EncodeToString(sealKey),
		"STRIPE_SECRET_KEY=sk_test_paygate_bench_not_a_key",
		"STRIPE_WEBHOOK_SECRET=whsec_paygate_bench_not_a_secret",
		"PAYGATE_CATALOG=" + filepath.Join(b.opts.repo, "testdata", "catalog", "catalog.json"),
		"PAYGATE_UPSTREAM=" + b.upstream,
	}
	return nil
}

// mintTokens mints the new-token targets' pools before anything is
// measured: for each round and the warm-up, as many tokens as -token-rate
// requests per second would need. It returns what it did, for the report.
func (b *bench) mintTokens(ctx context.Context, specs []targetSpec) (string, error) {
	var algs []string
	for _, s := range specs {
		if s.load == loadNewTokens {
			algs = append(algs, s.alg)
		}
	}
	if len(algs) == 0 {
		return "", nil
	}
	dir := filepath.Join(b.tmp, "tokens")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	perRound := b.opts.tokenRate * int(b.opts.duration/time.Second)
	total := perRound * (b.opts.rounds + 1)
	fmt.Fprintf(os.Stderr, "minting %d tokens for each of %s on every CPU...\n", total, strings.Join(algs, ", "))
	start := time.Now()
	var err error
	if b.pools, err = mintPools(ctx, dir, b.keys, algs, b.opts.rounds+1, perRound); err != nil {
		return "", err
	}
	done := fmt.Sprintf("%d tokens (%d a round, warm-up included) for each of %s, minted in %v before the first round",
		total, perRound, strings.Join(algs, ", "), time.Since(start).Round(time.Second))
	fmt.Fprintln(os.Stderr, done)
	return done, nil
}

// request is the target's request as the harness sends it before the
// rounds; idemKey is its Idempotency-Key, for the POST target.
func (t *running) request(ctx context.Context, idemKey string) (*http.Request, error) {
	method, path, body := http.MethodGet, benchPath, ""
	if t.spec.load.posts() {
		method, path, body = http.MethodPost, postPath, benchOrder
	}
	req, err := http.NewRequestWithContext(ctx, method, t.srv.url(path), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.checkToken)
	if t.spec.load.posts() {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", idemKey)
	}
	return req, nil
}

// check sends the target's request once and wants the upstream's answer.
func (t *running) check(ctx context.Context) error {
	req, err := t.request(ctx, checkKey)
	if err != nil {
		return err
	}
	resp, err := t.srv.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w; last lines of %s:\n%s", t.spec.name, req.Method, req.URL, err, t.srv.log, t.srv.tail())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(bytes.TrimSpace(body), upstreamBody) {
		var hdr bytes.Buffer
		_ = resp.Header.Write(&hdr)
		return fmt.Errorf("%s: %s %s answered %s, want 200 with the upstream's %s:\n%s\n%s\nlast lines of %s:\n%s",
			t.spec.name, req.Method, req.URL, resp.Status, upstreamBody, hdr.Bytes(), body, t.srv.log, t.srv.tail())
	}
	return nil
}

// measure runs wrk on the target for one round (0 is the warm-up) and reads
// the server's counters around it.
func (b *bench) measure(ctx context.Context, t *running, round int, script string) (sample, error) {
	w := wrkRun{script: script, connections: b.opts.connections, duration: b.opts.duration}
	switch t.spec.load {
	case loadGet:
		w.url, w.args = t.srv.url(benchPath), []string{"fixed", b.token}
	case loadNewTokens:
		w.url, w.args = t.srv.url(benchPath), []string{"tokens", t.tokenFiles[round]}
	case loadPost:
		// Keys unique across rounds: the round, then a counter.
		w.url, w.args = t.srv.url(postPath), []string{"post", b.token, fmt.Sprintf("bench-r%d-", round), benchOrder}
	case loadReplay:
		w.url, w.args = t.srv.url(postPath), []string{"replay", b.token, checkKey, benchOrder}
	}
	before, err := b.counters(ctx, t.srv, true)
	if err != nil {
		return sample{}, err
	}
	steady := b.steadyReadings(ctx, t.srv)
	res, err := w.run(ctx)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", t.spec.name, err)
	}
	window := <-steady
	if window.err != nil {
		return sample{}, window.err
	}
	after, err := b.counters(ctx, t.srv, false)
	if err != nil {
		return sample{}, err
	}
	rss, err := t.srv.rss()
	if err != nil {
		return sample{}, err
	}
	if err := t.srv.exited(); err != nil {
		return sample{}, err
	}
	return newSample(res, before, after, window.readings, rss), nil
}

// steadyWindow is two readings of a server's store calls and of the
// upstream's count, taken while wrk runs.
type steadyWindow struct {
	readings []counters
	err      error
}

// steadyReadings reads the server's store calls and the upstream's count
// twice while wrk runs, a second after it starts and a second before it
// stops, for the round trips per request: at wrk's end the requests it
// cancels have made calls without reaching the upstream, which would count
// their calls against the others; inside the run, the requests in flight
// at either reading balance out. No readings when the run is too short for
// a window.
func (b *bench) steadyReadings(ctx context.Context, srv *server) <-chan steadyWindow {
	out := make(chan steadyWindow, 1)
	const margin = time.Second
	if b.opts.duration < 3*margin {
		out <- steadyWindow{}
		return out
	}
	start := time.Now()
	go func() {
		var w steadyWindow
		for _, at := range []time.Duration{margin, b.opts.duration - margin} {
			select {
			case <-ctx.Done():
				out <- steadyWindow{err: ctx.Err()}
				return
			case <-time.After(time.Until(start.Add(at))):
			}
			var c counters
			c.upstream = upstreamRequests.Load()
			m, err := srv.scrape(ctx)
			if err == nil {
				c.runtimeCounters, err = m.runtimeCounters()
			}
			if err != nil {
				out <- steadyWindow{err: fmt.Errorf("%s: %w", srv.name, err)}
				return
			}
			w.readings = append(w.readings, c)
		}
		out <- w
	}()
	return out
}

// counters reads the server's counters and Redis's. The CPU time is read
// next to the wrk run (last before it, first after it), so that the scrape
// costs the round nothing.
func (b *bench) counters(ctx context.Context, srv *server, beforeRun bool) (counters, error) {
	var c counters
	readCPU := func() error {
		c.upstream = upstreamRequests.Load()
		var err error
		if c.cpu, err = srv.cpu(); err != nil {
			return err
		}
		stat, err := os.ReadFile("/proc/stat")
		if err != nil {
			return err
		}
		c.cpus, err = parseProcStat(string(stat))
		return err
	}
	if !beforeRun {
		if err := readCPU(); err != nil {
			return c, err
		}
	}
	m, err := srv.scrape(ctx)
	if err != nil {
		return c, err
	}
	if c.runtimeCounters, err = m.runtimeCounters(); err != nil {
		return c, fmt.Errorf("%s: %w", srv.name, err)
	}
	if c.redisCommands, err = redisCommands(ctx, b.redis); err != nil {
		return c, err
	}
	if beforeRun {
		if err := readCPU(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// binaryVersions returns the versions of Caddy and Go that the targets'
// binaries are built with, and fails if the binaries' Caddy versions differ.
func binaryVersions(opts options, specs []targetSpec) (caddyVersion, goVersion string, err error) {
	bins := []string{opts.paygate}
	for _, s := range specs {
		if s.stock {
			bins = append(bins, opts.caddy)
			break
		}
	}
	for _, bin := range bins {
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			return "", "", err
		}
		v := ""
		if info.Main.Path == caddyModule {
			v = info.Main.Version
		}
		for _, d := range info.Deps {
			if d.Path == caddyModule {
				v = d.Version
			}
		}
		switch {
		case v == "":
			return "", "", fmt.Errorf("%s is not built with %s", bin, caddyModule)
		case caddyVersion != "" && v != caddyVersion:
			return "", "", fmt.Errorf("%s and %s are built with different Caddy versions (%s, %s)", bins[0], bin, caddyVersion, v)
		}
		caddyVersion = v
		if goVersion == "" {
			goVersion = info.GoVersion
		}
	}
	return caddyVersion, goVersion, nil
}

// profile loads the target named name for one more -duration while its
// server's CPU profile is taken (the admin API's /debug/pprof/profile), and
// writes the profile beside the report as cpu-<name>.pprof, and its
// allocation profile as allocs-<name>.pprof.
func (b *bench) profile(ctx context.Context, targets []*running, name string) error {
	i := slices.IndexFunc(targets, func(t *running) bool { return t.spec.name == name })
	if i < 0 {
		return fmt.Errorf("-profile: %s is not one of the targets run", name)
	}
	t := targets[i]
	if t.spec.load == loadNewTokens {
		return fmt.Errorf("-profile: %s sends new tokens, which the rounds used up", name)
	}
	seconds := max(int(b.opts.duration/time.Second)-1, 1)
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.srv.ports.admin(), seconds)
	profiled := make(chan error, 1)
	path := filepath.Join(filepath.Dir(b.opts.out), "cpu-"+name+".pprof")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	go func() { profiled <- fetchTo(ctx, url, path) }()
	// A round number of its own: POST keys are new, not replays.
	if _, err := b.measure(ctx, t, b.opts.rounds+1, filepath.Join(b.tmp, "bench.lua")); err != nil {
		return err
	}
	if err := <-profiled; err != nil {
		return fmt.Errorf("-profile: %w", err)
	}
	// The allocations since the server started, the rounds included.
	allocs := filepath.Join(filepath.Dir(path), "allocs-"+name+".pprof")
	if err := fetchTo(ctx, fmt.Sprintf("http://%s/debug/pprof/allocs", t.srv.ports.admin()), allocs); err != nil {
		return fmt.Errorf("-profile: %w", err)
	}
	fmt.Fprintf(os.Stderr, "CPU profile of %s: %s (go tool pprof -top %s %s); allocations: %s\n", name, path, b.opts.paygate, path, allocs)
	return nil
}

// fetchTo writes the body of a GET of url to path.
func fetchTo(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
