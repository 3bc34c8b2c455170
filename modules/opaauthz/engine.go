package opaauthz

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/google/uuid"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/logging"
	"github.com/open-policy-agent/opa/v1/plugins"
	bundleplugin "github.com/open-policy-agent/opa/v1/plugins/bundle"
	"github.com/open-policy-agent/opa/v1/plugins/discovery"
	"github.com/open-policy-agent/opa/v1/plugins/logs"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/server"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/reqid"
)

// engine is one embedded OPA: a plug-in manager that owns the policy store,
// the bundle downloader and the decision logger, and the query prepared
// against the active policy.
//
// The query is prepared when a policy activates (at load, and on every new
// bundle), never per request: requests load the current snapshot and
// evaluate it, so a new bundle swaps the policy for the requests that start
// after it while those in flight finish with the one they began with. A
// bundle that fails to download, verify or compile never reaches the store,
// so the active snapshot stays.
type engine struct {
	manager     *plugins.Manager
	query       *parsedQuery
	log         *opaLogger
	console     *opaLogger
	decisionLog *logs.Plugin
	cancel      context.CancelFunc

	snap      atomic.Pointer[snapshot]
	ready     chan struct{}
	readyOnce sync.Once
	// started is when the engine began fetching its policy: every handler
	// sharing it waits for the first activation until started plus its
	// startup_wait, so two sites on one bundle wait once, not in turn.
	started time.Time

	// confirmed is when the active policy was last known current, in Unix
	// nanoseconds: its activation, or the bundle service's last 304 Not
	// Modified for it.
	confirmed atomic.Int64
	// lastRefusal is the last failed bundle download attempt, or nil.
	lastRefusal atomic.Pointer[bundleRefusal]
}

// snapshot is the active policy: its prepared query and bundle revisions.
type snapshot struct {
	query *rego.PreparedEvalQuery
	// err is set when the query could not be prepared against the policy;
	// every request is then denied with eval_error.
	err      error
	revision string
	bundles  map[string]server.BundleInfo
	// cache holds the policy's decisions, or is nil when they cannot be
	// cached (see decisionCache).
	cache *decisionCache
}

// engines holds the engines of bundle configurations across config
// reloads: a reload that keeps the same bundle, query and decision-log
// settings keeps the same engine, with its active bundle, instead of
// downloading the bundle again (and refusing requests if the service is
// down at that moment). A policy directory is read again at every load.
var engines = caddy.NewUsagePool()

// startEngine gives h its engine: a new one for a policy directory, or the
// pooled one for a bundle configuration.
func (h *Handler) startEngine(cfg []byte) error {
	if h.PolicyDir != "" {
		dir, err := caddy.NewReplacer().ReplaceOrErr(h.PolicyDir, true, true)
		if err != nil {
			return fmt.Errorf("policy_dir: %w", err)
		}
		b, err := loadPolicyDir(dir)
		if err != nil {
			return err
		}
		e, err := newEngine(cfg, b, h.query, h.logger)
		if err != nil {
			return fmt.Errorf("policy_dir %s: %w", dir, err)
		}
		h.engine = e
		return nil
	}
	if h.Bundle.AllowUnsigned {
		h.logger.Warn("allow_unsigned: bundle signatures are not verified; set public_key to refuse bundles that were not signed by the platform team",
			zap.String("bundle", h.Bundle.URL))
	}
	key := string(cfg) + "\x00" + h.Query
	val, loaded, err := engines.LoadOrNew(key, func() (caddy.Destructor, error) {
		return newEngine(cfg, nil, h.query, h.logger)
	})
	if err != nil {
		return err
	}
	h.poolKey, h.engine = key, val.(*engine)
	if loaded {
		h.engine.setLogger(h.logger)
	}
	return nil
}

// releaseEngine stops h's engine, or releases h's hold on a pooled one.
func (h *Handler) releaseEngine() error {
	switch {
	case h.poolKey != "":
		_, err := engines.Delete(h.poolKey)
		return err
	case h.engine != nil:
		return h.engine.Destruct()
	}
	return nil
}

// loadPolicyDir reads a directory (or bundle file) of policies and data,
// leaving out Rego test files.
func loadPolicyDir(dir string) (*bundle.Bundle, error) {
	b, err := loader.NewFileLoader().
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotation(true).
		WithFilter(func(_ string, info fs.FileInfo, _ int) bool {
			return !info.IsDir() && strings.HasSuffix(info.Name(), "_test.rego")
		}).
		AsBundle(dir)
	if err != nil {
		return nil, fmt.Errorf("policy_dir: %w", err)
	}
	return b, nil
}

// newEngine starts OPA with the configuration cfg (OPA's config file format)
// and, for a policy directory, the bundle initial, which is activated before
// newEngine returns (a policy that does not compile is an error).
func newEngine(cfg []byte, initial *bundle.Bundle, q *parsedQuery, logger *zap.Logger) (*engine, error) {
	e := &engine{
		query:   q,
		log:     newOPALogger(logger),
		console: newOPALogger(logger.Named("decision_log")),
		ready:   make(chan struct{}),
		started: time.Now(),
	}
	opts := []func(*plugins.Manager){
		plugins.Logger(e.log),
		plugins.ConsoleLogger(e.console),
	}
	if initial != nil {
		opts = append(opts, plugins.InitBundles(map[string]*bundle.Bundle{bundleName: initial}))
	}
	m, err := plugins.New(cfg, uuid.NewString(), inmem.New(), opts...)
	if err != nil {
		return nil, fmt.Errorf("configuring OPA: %w", err)
	}
	e.manager = m
	m.RegisterCompilerTrigger(e.activated)

	// The plug-ins' background work (polling, uploads) lives as long as the
	// engine, not as long as the config load that started it.
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	// Init activates the policy directory's bundle. It runs before any
	// plug-in is registered, so that stopping the manager after a policy
	// that does not compile stops only its status loop.
	if err := m.Init(ctx); err != nil {
		m.Stop(ctx)
		cancel()
		return nil, err
	}

	d, err := discover(m, e.console)
	if err != nil {
		m.Stop(ctx)
		cancel()
		return nil, fmt.Errorf("configuring OPA: %w", err)
	}
	m.Register(discovery.Name, d)
	if p := bundleplugin.Lookup(m); p != nil {
		p.Register("opa_authz", e.bundleStatus)
	}
	if err := m.Start(ctx); err != nil {
		// Only the bundle plug-in's start can fail (an unusable persistence
		// directory), and it starts first: stopping the manager would wait
		// for plug-ins that never started, so only their context ends.
		cancel()
		return nil, err
	}
	e.decisionLog = logs.Lookup(m)
	return e, nil
}

// discover has OPA's discovery build the plug-ins that the manager's
// configuration asks for (without a discovery service: the bundle
// downloader and the decision logger) and register them, unstarted.
func discover(m *plugins.Manager, console *opaLogger) (*discovery.Discovery, error) {
	return discovery.New(m, discovery.Factories(map[string]plugins.Factory{consolePlugin: consoleFactory{console}}))
}

// checkEngineConfig is what offline validation checks of a bundle
// configuration: OPA reads cfg and builds its plug-ins as in newEngine, but
// nothing is initialised or started, so nothing is downloaded and no policy
// activates. The manager is left for the process's end (stopping plug-ins
// that never started would wait for them): offline validation is a
// process that ends after one validation.
func checkEngineConfig(cfg []byte, logger *zap.Logger) error {
	log := newOPALogger(logger)
	m, err := plugins.New(cfg, uuid.NewString(), inmem.New(), plugins.Logger(log), plugins.ConsoleLogger(log))
	if err == nil {
		_, err = discover(m, log)
	}
	if err != nil {
		return fmt.Errorf("configuring OPA: %w", err)
	}
	return nil
}

// stopTimeout bounds how long stopping an engine may take, uploading the
// decisions still buffered included.
const stopTimeout = 5 * time.Second

// setLogger moves the engine's logs to the logger of a newer config.
func (e *engine) setLogger(logger *zap.Logger) {
	e.log.setLogger(logger)
	e.console.setLogger(logger.Named("decision_log"))
}

// Destruct stops the engine: the downloader stops and buffered decisions
// are uploaded.
func (e *engine) Destruct() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	e.manager.Stop(ctx)
	e.cancel()
	clearRevision(e)
	return nil
}

// activated runs, inside the committing transaction, whenever the policy
// changes: it prepares the query against the new policy and makes it the
// active snapshot.
func (e *engine) activated(txn storage.Transaction) {
	ctx := context.Background()
	store := e.manager.Store
	names, err := bundle.ReadBundleNamesFromStore(ctx, store, txn)
	if err != nil && !storage.IsNotFound(err) {
		e.log.Error("reading the active bundles: %v", err)
		return
	}
	if len(names) == 0 {
		// The empty policy of a manager that has not loaded a bundle yet.
		return
	}
	s := &snapshot{bundles: make(map[string]server.BundleInfo, len(names))}
	for _, name := range names {
		rev, err := bundle.ReadBundleRevisionFromStore(ctx, store, txn, name)
		if err != nil && !storage.IsNotFound(err) {
			e.log.Error("reading the revision of bundle %s: %v", name, err)
		}
		s.bundles[name] = server.BundleInfo{Revision: rev}
	}
	s.revision = s.bundles[bundleName].Revision

	pq, err := rego.New(
		rego.ParsedQuery(e.query.body),
		rego.Compiler(e.manager.GetCompiler()),
		rego.Store(store),
		rego.Transaction(txn),
	).PrepareForEval(ctx)
	if err != nil {
		s.err = fmt.Errorf("preparing %s: %w", e.query.text, err)
		e.log.WithFields(map[string]any{"revision": s.revision}).Error("the policy activated but its query cannot be prepared; denying every request: %v", err)
	} else {
		s.query = &pq
		s.cache = newDecisionCache(e.query.body, e.manager.GetCompiler().Modules)
	}
	e.snap.Store(s)
	e.confirmed.Store(time.Now().UnixNano())
	activations.WithLabelValues("success").Inc()
	setRevision(e, s.revision)
	e.log.WithFields(map[string]any{"revision": s.revision}).Info("policy activated")
	e.readyOnce.Do(func() { close(e.ready) })
}

// bundleStatus runs after every download attempt. One that succeeded
// (a bundle activated, or 304 Not Modified) confirms that the active policy
// is current. One that failed (the service unreachable or answering an
// error, a bad signature, a policy that does not compile) leaves the active
// policy in place; it is counted and logged, one line per attempt, naming
// the check that failed and, for a signature check, the key's ID.
func (e *engine) bundleStatus(s bundleplugin.Status) {
	if s.Code == "" {
		e.confirmed.Store(s.LastSuccessfulRequest.UnixNano())
		return
	}
	activations.WithLabelValues("failure").Inc()
	active := "(none)"
	if snap := e.snap.Load(); snap != nil {
		active = snap.revision
	}
	r := refusalOf(s)
	e.lastRefusal.Store(&r)
	fields := map[string]any{
		"bundle":          s.Name,
		"check":           r.check,
		"error":           r.err,
		"http_code":       string(s.HTTPCode),
		"active_revision": active,
	}
	if r.keyID != "" {
		fields["key_id"] = r.keyID
	}
	e.log.WithFields(fields).Error("policy bundle refused; the active policy stays")
}

// decide evaluates the active policy for in, or takes its decision from
// the policy's decision cache, and logs the decision under the request's
// ID.
func (e *engine) decide(ctx context.Context, in *input, header http.Header, requestID string) decision {
	snap := e.snap.Load()
	if snap == nil {
		return decision{result: resultUnavailable}
	}
	var (
		d      decision
		value  ast.Value
		result ast.Value
		err    error
		key    string
		hit    bool
		c      cachedDecision
	)
	if snap.cache != nil {
		key = snap.cache.key(in)
		if c, hit = snap.cache.Get(key, in.now); hit {
			d, result = c.d, c.result
			cacheHits.Inc()
		}
	}
	if !hit {
		members := in.timeless()
		value = in.withTime(members)
		var rs rego.ResultSet
		rs, err = snap.eval(ctx, value, in.now)
		d = interpret(rs, err)
		var convErr error
		result, convErr = resultValue(rs)
		if snap.cache != nil && err == nil && convErr == nil {
			c = cachedDecision{d: d, result: result}
			if e.decisionLog != nil {
				c.input = newCachedInput(snap.cache.fullKey(in, key), members)
			}
			snap.cache.Put(key, c, in.now)
			cacheMisses.Inc()
		}
	}
	d.id = uuid.NewString()
	if e.decisionLog != nil {
		if input, jsonErr := logInput(snap.cache, in, key, value, c.input); jsonErr != nil {
			e.log.WithFields(map[string]any{"decision_id": d.id}).Error("decision log: %v", jsonErr)
		} else {
			e.logDecision(ctx, snap, d.id, input, result, err, in.now, header, in.clientIP, requestID)
		}
	}
	return d
}

// loggedInput is a decision's input document for its decision log, as
// OPA's value and as Go values (which OPA's masking may change).
type loggedInput struct {
	value ast.Value
	doc   any
}

// logInput returns in's input document for its decision log. Its OPA
// value is value, when it was built for an evaluation; else the cached
// decision's members with in's time, when in's full key is the cached
// one's; else built anew. Its Go values are a copy of the cached
// decision's, with in's time, whenever the value is the cached input's
// (the miss that cached it included); else converted from the value.
func logInput(cache *decisionCache, in *input, key string, value ast.Value, cached *cachedInput) (loggedInput, error) {
	if cached != nil && (value != nil || cache.fullKey(in, key) == cached.fullKey) {
		if value == nil {
			value = in.withTime(cached.members)
		}
		doc := copyJSON(cached.doc).(map[string]any)
		doc["time"] = in.timeText()
		return loggedInput{value: value, doc: doc}, nil
	}
	if value == nil {
		value = in.value()
	}
	doc, err := ast.JSON(value)
	return loggedInput{value: value, doc: doc}, err
}

// resultValue is what a decision log records as the result: the query's
// value, all of them when there are several, nil when there is none.
func resultValue(rs rego.ResultSet) (ast.Value, error) {
	switch len(rs) {
	case 0:
		return nil, nil
	case 1:
		return ast.InterfaceToValue(rs[0].Expressions[0].Value)
	}
	values := make([]any, len(rs))
	for i, r := range rs {
		values[i] = r.Expressions[0].Value
	}
	return ast.InterfaceToValue(values)
}

// eval evaluates the prepared query. The evaluation is not cancelled with
// the request (it takes microseconds): a context that can be cancelled
// would cost a goroutine per evaluation to watch it.
func (s *snapshot) eval(ctx context.Context, input ast.Value, now time.Time) (rego.ResultSet, error) {
	if s.err != nil {
		return nil, s.err
	}
	return s.query.Eval(context.WithoutCancel(ctx), rego.EvalParsedInput(input), rego.EvalTime(now))
}

// logDecision hands the decision to OPA's decision-log plug-in, which masks
// it with the policy's mask rule and writes or uploads it. The request ID
// is a custom field of the event ("custom": {"request_id": ...} in an
// upload); the console log writes it beside decision_id.
func (e *engine) logDecision(ctx context.Context, snap *snapshot, id string, input loggedInput, result ast.Value, evalErr error, now time.Time, header http.Header, clientIP, requestID string) {
	info := &server.Info{
		DecisionID:         id,
		Timestamp:          now.UTC(),
		Path:               e.query.path,
		Input:              &input.doc,
		InputAST:           input.value,
		Bundles:            snap.bundles,
		RemoteAddr:         clientIP,
		HTTPRequestContext: logging.HTTPRequestContext{Header: header},
		Error:              evalErr,
	}
	if requestID != "" {
		info.Custom = map[string]any{reqid.LogField: requestID}
	}
	if info.Path == "" {
		info.Query = e.query.text
	}
	if result != nil {
		// A fresh copy per event: masking may change it.
		if v, err := ast.JSON(result); err == nil {
			info.Results = &v
		}
	}
	// OPA evaluates the drop and mask rules for each event: as for the
	// decision, a context that cannot be cancelled spares a goroutine each.
	if err := e.decisionLog.Log(context.WithoutCancel(ctx), info); err != nil {
		e.log.WithFields(map[string]any{"decision_id": id}).Error("decision log: %v", err)
	}
}
