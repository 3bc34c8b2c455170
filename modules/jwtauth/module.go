// Package jwtauth provides paygate's JWT authentication stage: the Caddy
// authentication provider http.authentication.providers.jwt and its
// jwt_auth directive, which wraps it in Caddy's authentication handler.
//
// A request is authenticated by a JWT from its Authorization: Bearer header
// or from a configured __Host- cookie, verified by package jwtverify against
// local keys, JWKS URLs or an HMAC secret. The user ID (sub) and selected
// claims become {http.auth.user.*} placeholders, and configured headers
// carry them to the upstream after every client-sent spelling of those
// headers is removed. A refused request gets 401 with an RFC 6750
// WWW-Authenticate challenge; the body (rendered by paygate_error) never
// says why, the log line, the audit event and the metric do.
package jwtauth

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/net/http/httpguts"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/claimname"
	"github.com/paygate/paygate/internal/headerstrip"
	"github.com/paygate/paygate/internal/health"
	"github.com/paygate/paygate/internal/jwtverify"
	"github.com/paygate/paygate/internal/offline"
	"github.com/paygate/paygate/internal/origin"
	"github.com/paygate/paygate/internal/reqid"
)

func init() {
	caddy.RegisterModule(Provider{})
}

// Defaults.
const (
	defaultRealm        = "paygate"
	defaultSkew         = 30 * time.Second
	defaultMaxTokenSize = 8 << 10
	maxMaxTokenSize     = 64 << 10
	defaultCacheSize    = 10000
	defaultSecretAlg    = "HS256"
	// cookiePrefix is required of the cookie's name: browsers accept such a
	// cookie only with Secure and Path=/ and without Domain, from the host
	// itself, so a sibling subdomain cannot plant one.
	cookiePrefix = "__Host-"
)

// Provider authenticates requests by JWT. Exactly one kind of key is
// configured: JWKS URLs and key files (asymmetric algorithms), or an HMAC
// secret.
type Provider struct {
	// Issuer is the one accepted iss claim; placeholders such as
	// {env.PAYGATE_ISSUER} are resolved at start-up. Required.
	Issuer string `json:"issuer,omitempty"`

	// Audiences are the accepted aud values; a token must name at least one
	// of them. Placeholders are resolved. Required.
	Audiences []string `json:"audiences,omitempty"`

	// JWKSURLs are JWK set URLs (https; http only to loopback); {env.*}
	// placeholders are expanded. Each is
	// fetched at start, refreshed in the background when its Cache-Control
	// max-age ends (within jwks_min_refresh and jwks_max_refresh), and
	// refetched when a token names an unknown kid (at most once per
	// jwks_retry_interval). Redirects are followed only to https on the same
	// host.
	JWKSURLs []string `json:"jwks_urls,omitempty"`

	// KeyFiles are local public keys: PEM (public keys or certificates), a
	// JWK or a JWK set. Read once per config load; {env.*} placeholders in
	// paths are expanded.
	KeyFiles []KeyFile `json:"key_files,omitempty"`

	// Secret is an HMAC secret, normally a {env.*} or {file.*} placeholder.
	// It must be at least as long as the hash (32 bytes for HS256) and
	// excludes JWKS URLs and key files.
	Secret string `json:"secret,omitempty"`

	// SecretAlgorithm is the one algorithm the secret verifies: HS256 (the
	// default), HS384 or HS512.
	SecretAlgorithm string `json:"secret_algorithm,omitempty"`

	// Algorithms is the allow-list of signature algorithms. Default: RS256,
	// PS256, ES256 and EdDSA; with a secret, the secret's algorithm. "none"
	// is never accepted, and HMAC never with asymmetric algorithms.
	Algorithms []string `json:"algorithms,omitempty"`

	// Skew is the clock skew tolerated on exp, nbf and iat. Default: 30s;
	// at most 5m.
	Skew caddy.Duration `json:"skew,omitempty"`

	// Type, when set, is the typ header every token must carry, e.g.
	// "at+jwt" (RFC 9068); compared case-insensitively, "application/"
	// optional.
	Type string `json:"typ,omitempty"`

	// RequiredClaims must be present (not null) in every token, besides
	// exp, iss, aud and sub, which always are.
	RequiredClaims []string `json:"required_claims,omitempty"`

	// MaxTokenSize is the longest token, in bytes, that is parsed at all.
	// Default: 8192; at most 65536.
	MaxTokenSize int `json:"max_token_size,omitempty"`

	// CacheSize is how many verified tokens are remembered (by SHA-256), so
	// that a repeated token skips signature verification. An entry never
	// outlives its token's exp or its key. Default: 10000.
	CacheSize int `json:"cache_size,omitempty"`

	// DisableCache turns the verified-token cache off.
	DisableCache bool `json:"disable_cache,omitempty"`

	// Cookie, when set, is a cookie that may carry the token instead of the
	// Authorization header. Its name must start with __Host-. A
	// state-changing request (not GET, HEAD, OPTIONS or TRACE) that uses it
	// must come from the site itself or a trusted origin (Origin, or without
	// it Sec-Fetch-Site: same-origin).
	Cookie string `json:"cookie,omitempty"`

	// TrustedOrigins are origins (scheme://host[:port]) besides the site's
	// own whose state-changing requests may use the cookie; placeholders are
	// resolved. Needs Cookie.
	TrustedOrigins []string `json:"trusted_origins,omitempty"`

	// Placeholders maps placeholder names to claims: {"email": "email"}
	// makes the email claim {http.auth.user.email}. The user ID
	// ({http.auth.user.id}) is always sub.
	Placeholders map[string]string `json:"placeholders,omitempty"`

	// IdentityHeaders maps request header names to claims: {"X-User-Id":
	// "sub"} sends sub to the upstream as X-User-Id. Every spelling of these
	// headers a client sent (any case, "_" for "-") is removed first, and
	// so is every token naming one of them in the Connection header, so that
	// no proxy drops them as hop-by-hop; a header whose claim is absent is
	// only removed.
	IdentityHeaders map[string]string `json:"identity_headers,omitempty"`

	// StripCredential removes the Authorization header and the cookie from
	// the request before it goes on, so the upstream never sees the token.
	StripCredential bool `json:"strip_credential,omitempty"`

	// Realm is the realm of the WWW-Authenticate challenge. Default:
	// paygate.
	Realm string `json:"realm,omitempty"`

	// JWKSMinRefresh is the floor under a JWKS response's max-age, and the
	// refresh interval when it has none. Default: 5m.
	JWKSMinRefresh caddy.Duration `json:"jwks_min_refresh,omitempty"`

	// JWKSMaxRefresh is the ceiling over a JWKS response's max-age.
	// Default: 24h.
	JWKSMaxRefresh caddy.Duration `json:"jwks_max_refresh,omitempty"`

	// JWKSMaxStale is how long past its refresh time the last good JWK set
	// is still used while fetching it fails; after that every token is
	// refused (fail closed), and the readiness check "jwks" fails, as it
	// does until the set is first loaded. Default: 1h.
	JWKSMaxStale caddy.Duration `json:"jwks_max_stale,omitempty"`

	// JWKSRetryInterval is the least time between two fetches of one JWKS
	// URL other than scheduled refreshes: retries after a failure, and
	// refetches for an unknown kid. Default: 30s.
	JWKSRetryInterval caddy.Duration `json:"jwks_retry_interval,omitempty"`

	// JWKSTimeout bounds one JWKS fetch. Default: 10s.
	JWKSTimeout caddy.Duration `json:"jwks_timeout,omitempty"`

	verifier  *jwtverify.Verifier
	trusted   map[string]bool
	strip     headerstrip.Names
	challenge string
	logger    *zap.Logger
	audit     *zap.Logger
}

// KeyFile is a local key file.
type KeyFile struct {
	// Path is the file's path.
	Path string `json:"path"`
	// Algorithm, when set, is the one algorithm every key in the file
	// verifies; otherwise a key's alg member, or the one its type implies
	// (RSA: RS256; EC: by curve; Ed25519: EdDSA).
	Algorithm string `json:"algorithm,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Provider) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.authentication.providers.jwt",
		New: func() caddy.Module { return new(Provider) },
	}
}

// Provision loads the keys, starts the JWKS refreshers (not in offline
// validation: package offline) and builds the verifier.
func (p *Provider) Provision(ctx caddy.Context) error {
	// Caddy provisions a new Provider for every config load, so both are
	// nil here; a test sets its own before Provision, as the JWKS
	// refreshers started below log through them from then on.
	if p.logger == nil {
		p.logger = ctx.Logger()
	}
	if p.audit == nil {
		p.audit = audit.Logger(ctx)
	}
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("jwt_auth: metrics: %w", err)
	}
	p.setDefaults()
	switch {
	case len(p.JWKSURLs) == 0 && len(p.KeyFiles) == 0 && p.Secret == "":
		return errors.New("jwt_auth: no keys: configure jwks, key_file or secret")
	case p.Secret != "" && (len(p.JWKSURLs) > 0 || len(p.KeyFiles) > 0):
		return errors.New("jwt_auth: an HMAC secret cannot be combined with jwks or key_file")
	}

	repl := caddy.NewReplacer()
	secret := repl.ReplaceKnown(p.Secret, "")
	if p.Secret != "" && secret == "" {
		return errors.New("jwt_auth: the secret is empty (is its placeholder's variable or file set?)")
	}
	names := p.Algorithms
	if len(names) == 0 {
		names = jwtverify.DefaultAlgorithms
		if secret != "" {
			names = []string{p.SecretAlgorithm}
		}
	}
	algs, err := jwtverify.ParseAlgorithms(names)
	if err != nil {
		return fmt.Errorf("jwt_auth: algorithms: %w", err)
	}

	var static []*jwtverify.Key
	if secret != "" {
		k, err := jwtverify.SecretKey([]byte(secret), p.SecretAlgorithm)
		if err != nil {
			return fmt.Errorf("jwt_auth: %w", err)
		}
		static = append(static, k)
	}
	for _, kf := range p.KeyFiles {
		keys, err := jwtverify.KeysFromFile(repl.ReplaceKnown(kf.Path, ""), kf.Algorithm, algs)
		if err != nil {
			return fmt.Errorf("jwt_auth: %w", err)
		}
		static = append(static, keys...)
	}
	var sources []jwtverify.Source
	if len(static) > 0 {
		sources = append(sources, jwtverify.NewStatic(static...))
	}
	remotes := make(map[string]*jwtverify.Remote, len(p.JWKSURLs))
	for _, u := range p.JWKSURLs {
		jwksURL := repl.ReplaceKnown(u, "")
		r, err := jwtverify.NewRemote(ctx, jwksURL, algs, jwtverify.RemoteOptions{
			MinRefresh:    time.Duration(p.JWKSMinRefresh),
			MaxRefresh:    time.Duration(p.JWKSMaxRefresh),
			MaxStale:      time.Duration(p.JWKSMaxStale),
			RetryInterval: time.Duration(p.JWKSRetryInterval),
			Timeout:       time.Duration(p.JWKSTimeout),
			OnFetch:       p.fetched,
		})
		if err != nil {
			return fmt.Errorf("jwt_auth: %w", err)
		}
		if !offline.Skip(p.logger, "the JWKS fetch", zap.String("url", jwksURL)) {
			r.Start()
		}
		sources = append(sources, r)
		remotes[jwksURL] = r
	}

	cacheSize := p.CacheSize
	if p.DisableCache {
		cacheSize = 0
	}
	// Every string a deployment varies comes through placeholders
	// ({env.PAYGATE_ISSUER}); an unset variable is a start-up error, never
	// an empty or literal "{env...}" value that would refuse every token.
	issuer, err := repl.ReplaceOrErr(p.Issuer, true, true)
	if err != nil {
		return fmt.Errorf("jwt_auth: issuer: %w", err)
	}
	audiences, err := replaceAll(repl, p.Audiences)
	if err != nil {
		return fmt.Errorf("jwt_auth: audience: %w", err)
	}
	origins, err := replaceAll(repl, p.TrustedOrigins)
	if err != nil {
		return fmt.Errorf("jwt_auth: trusted_origins: %w", err)
	}
	p.verifier, err = jwtverify.New(jwtverify.Options{
		Issuer:         issuer,
		Audiences:      audiences,
		Algorithms:     algs,
		Skew:           time.Duration(p.Skew),
		Type:           p.Type,
		RequiredClaims: p.RequiredClaims,
		MaxTokenSize:   p.MaxTokenSize,
		CacheSize:      cacheSize,
		OnCacheLookup:  cacheLookedUp,
	}, sources...)
	if err != nil {
		return fmt.Errorf("jwt_auth: %w", err)
	}

	p.trusted = make(map[string]bool, len(origins))
	for _, o := range origins {
		n, ok := origin.Normalize(o)
		if !ok {
			return fmt.Errorf("jwt_auth: trusted origin %q is not scheme://host[:port]", o)
		}
		p.trusted[n] = true
	}
	p.strip = headerstrip.NewNames(slices.Collect(maps.Keys(p.IdentityHeaders))...)
	p.challenge = `Bearer realm="` + p.Realm + `"`
	for jwksURL, r := range remotes {
		health.Register(p, "jwks", jwksURL, jwksHealth(r))
	}
	return nil
}

// Cleanup withdraws the provider's readiness checks; its JWKS refreshers
// stop with the config's context.
func (p *Provider) Cleanup() error {
	health.Unregister(p)
	return nil
}

// replaceAll resolves the placeholders of every value; an unknown or empty
// one is an error.
func replaceAll(repl *caddy.Replacer, values []string) ([]string, error) {
	out := make([]string, len(values))
	for i, v := range values {
		r, err := repl.ReplaceOrErr(v, true, true)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

func (p *Provider) setDefaults() {
	if p.Realm == "" {
		p.Realm = defaultRealm
	}
	if p.Skew == 0 {
		p.Skew = caddy.Duration(defaultSkew)
	}
	if p.MaxTokenSize == 0 {
		p.MaxTokenSize = defaultMaxTokenSize
	}
	if p.CacheSize == 0 {
		p.CacheSize = defaultCacheSize
	}
	if p.SecretAlgorithm == "" {
		p.SecretAlgorithm = defaultSecretAlg
	}
}

// Validate checks the configuration.
func (p *Provider) Validate() error {
	switch {
	case p.Issuer == "":
		return errors.New("jwt_auth: issuer is required")
	case len(p.Audiences) == 0:
		return errors.New("jwt_auth: at least one audience is required")
	case p.Skew < 0 || time.Duration(p.Skew) > jwtverify.MaxSkew:
		return fmt.Errorf("jwt_auth: skew must be between 0 and %s", jwtverify.MaxSkew)
	case p.MaxTokenSize < 0 || p.MaxTokenSize > maxMaxTokenSize:
		return fmt.Errorf("jwt_auth: max_token_size must be between 1 and %d", maxMaxTokenSize)
	case p.CacheSize < 0:
		return errors.New("jwt_auth: cache_size cannot be negative")
	case p.Cookie != "" && (!strings.HasPrefix(p.Cookie, cookiePrefix) || !httpguts.ValidHeaderFieldName(p.Cookie)):
		return fmt.Errorf("jwt_auth: cookie %q: the name must be a token starting with %s", p.Cookie, cookiePrefix)
	case len(p.TrustedOrigins) > 0 && p.Cookie == "":
		return errors.New("jwt_auth: trusted_origins only applies to the cookie; set cookie")
	case strings.ContainsAny(p.Realm, "\"\\") || !httpguts.ValidHeaderFieldValue(p.Realm):
		return fmt.Errorf("jwt_auth: realm %q cannot hold quotes, backslashes or control characters", p.Realm)
	}
	for key, claim := range p.Placeholders {
		if !claimname.Valid(key) {
			return fmt.Errorf("jwt_auth: placeholder name %q must be snake_case and not id", key)
		}
		if claim == "" {
			return fmt.Errorf("jwt_auth: placeholder %q names no claim", key)
		}
	}
	folded := make(map[string]string, len(p.IdentityHeaders))
	for name, claim := range p.IdentityHeaders {
		if !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("jwt_auth: identity header %q is not a valid header name", name)
		}
		if claim == "" {
			return fmt.Errorf("jwt_auth: identity header %q names no claim", name)
		}
		if other, dup := folded[headerstrip.Fold(name)]; dup {
			return fmt.Errorf("jwt_auth: identity headers %q and %q are spellings of one header", other, name)
		}
		folded[headerstrip.Fold(name)] = name
	}
	return nil
}

// Authenticate implements caddyauth.Authenticator. A refused request gets
// the WWW-Authenticate challenge and (caddyauth.User{}, false, nil), which
// Caddy's authentication handler turns into a 401 error for
// handle_errors; keys that cannot be trusted (a JWKS never loaded or stale)
// are a technical failure and also return the error.
func (p *Provider) Authenticate(w http.ResponseWriter, r *http.Request) (caddyauth.User, bool, error) {
	cred, reason := extractCredential(r.Header, p.Cookie)
	if reason != "" {
		return p.refuse(w, r, reason, cred.source, nil)
	}
	if cred.source == sourceCookie && crossSite(r, p.trusted) {
		return p.refuse(w, r, reasonCrossSite, cred.source, nil)
	}
	claims, err := p.verifier.Verify(r.Context(), cred.token)
	if err != nil {
		return p.refuse(w, r, string(jwtverify.ReasonOf(err)), cred.source, err)
	}

	// {http.auth.user.iss} is always the verified issuer, so that stages
	// keyed by user (rate limits) can tell two IdPs' equal subs apart.
	user := caddyauth.User{ID: claims.Subject, Metadata: make(map[string]string, len(p.Placeholders)+1)}
	for key, claim := range p.Placeholders {
		if v, ok := claims.Value(claim); ok {
			user.Metadata[key] = v
		}
	}
	user.Metadata[IssuerPlaceholder] = claims.Issuer
	p.strip.Strip(r.Header)
	p.strip.UnlistFromConnection(r.Header)
	for name, claim := range p.IdentityHeaders {
		v, ok := claims.Value(claim)
		if !ok {
			continue
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return p.refuse(w, r, reasonIdentity, cred.source, fmt.Errorf("claim %q cannot be sent as header %s", claim, name))
		}
		r.Header.Set(name, v)
	}
	if p.StripCredential {
		r.Header.Del("Authorization")
		if p.Cookie != "" {
			stripCookie(r.Header, p.Cookie)
		}
	}
	authSuccesses.WithLabelValues(cred.source).Inc()
	return user, true, nil
}

// refuse sets the challenge, records the refusal (log, audit event,
// metric) and returns the unauthenticated result. The challenge carries
// error="invalid_token" once a credential was presented; RFC 6750 §3.1 says
// a request without one gets no error code.
//
// Keys that cannot be trusted (a JWKS never loaded, or stale past
// jwks_max_stale) say nothing about the token: such a request gets no
// challenge but a pending 503 authentication_unavailable with Retry-After,
// so that clients retry instead of dropping a token that may be good.
func (p *Provider) refuse(w http.ResponseWriter, r *http.Request, reason, source string, cause error) (caddyauth.User, bool, error) {
	technical := reason == string(jwtverify.ReasonKeysUnavailable)
	if technical {
		apierror.SetPending(r, apierror.AuthUnavailable)
	} else {
		challenge := p.challenge
		if reason != reasonMissing {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	authFailures.WithLabelValues(reason).Inc()
	audit.Log(p.audit, r, audit.Event{Action: "token_rejected", Outcome: audit.Denied, Reason: reason})

	level := zapcore.InfoLevel
	if technical {
		level = zapcore.ErrorLevel
	}
	if c := p.logger.Check(level, "token rejected"); c != nil {
		fields := []zap.Field{
			zap.String(reqid.LogField, reqid.From(r)),
			zap.String("reason", reason),
			zap.String("source", source),
		}
		// alg and kid only when the verifier vouches for them: a supported
		// algorithm, a configured key.
		var ve *jwtverify.Error
		if errors.As(cause, &ve) && ve.Alg != "" {
			fields = append(fields, zap.String("alg", ve.Alg))
		}
		if ve != nil && ve.KeyID != "" {
			fields = append(fields, zap.String("kid", ve.KeyID))
		}
		if cause != nil {
			fields = append(fields, zap.String("cause", cause.Error()))
		}
		c.Write(fields...)
	}
	if technical {
		return caddyauth.User{}, false, cause
	}
	return caddyauth.User{}, false, nil
}

// fetched logs and counts a JWKS fetch.
func (p *Provider) fetched(res jwtverify.FetchResult) {
	if res.Err != nil {
		jwksFetches.WithLabelValues("error").Inc()
		if c := p.logger.Check(zapcore.WarnLevel, "JWKS fetch failed; keeping the last good key set"); c != nil {
			c.Write(zap.String("url", res.URL), zap.Error(res.Err))
		}
		return
	}
	jwksFetches.WithLabelValues("ok").Inc()
	if c := p.logger.Check(zapcore.DebugLevel, "JWKS fetched"); c != nil {
		c.Write(zap.String("url", res.URL), zap.Int("keys", res.Keys), zap.Int("skipped", res.Skipped), zap.Duration("lifetime", res.Lifetime))
	}
}

func cacheLookedUp(hit bool) {
	if hit {
		tokenCacheLookups.WithLabelValues("hit").Inc()
	} else {
		tokenCacheLookups.WithLabelValues("miss").Inc()
	}
}

// IssuerPlaceholder is the user metadata key (placeholder
// {http.auth.user.iss}) that always holds the token's verified issuer.
const IssuerPlaceholder = "iss"

// Interface guards
var (
	_ caddy.Provisioner       = (*Provider)(nil)
	_ caddy.Validator         = (*Provider)(nil)
	_ caddy.CleanerUpper      = (*Provider)(nil)
	_ caddyauth.Authenticator = (*Provider)(nil)
)
