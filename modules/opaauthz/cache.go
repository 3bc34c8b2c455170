package opaauthz

import (
	"strconv"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/paygate/paygate/internal/ttlcache"
)

// inputFields is a set of the input document's top-level keys.
type inputFields uint16

const (
	fieldMethod inputFields = 1 << iota
	fieldPath
	fieldSegments
	fieldRoute
	fieldUser
	fieldClientIP
	fieldTime
	fieldResource

	allFields = fieldResource<<1 - 1
)

var fieldsByKey = map[string]inputFields{
	"method":    fieldMethod,
	"path":      fieldPath,
	"segments":  fieldSegments,
	"route":     fieldRoute,
	"user":      fieldUser,
	"client_ip": fieldClientIP,
	"time":      fieldTime,
	"resource":  fieldResource,
}

// reads reports which top-level input keys the query and the modules read,
// and whether they call a non-deterministic built-in (time.now_ns,
// http.send, rand.*, ...), whose answer no input decides. A reference to
// the whole input, a key that is not a constant, or a `with input` makes
// every key read.
func reads(query ast.Body, modules map[string]*ast.Module) (fields inputFields, deterministic bool) {
	deterministic = true
	call := func(op ast.Ref) {
		if b, ok := ast.BuiltinMap[op.String()]; ok && b.Nondeterministic {
			deterministic = false
		}
	}
	nodes := []any{query}
	for _, m := range modules {
		nodes = append(nodes, m)
	}
	for _, m := range nodes {
		ast.WalkRefs(m, func(ref ast.Ref) bool {
			if !ref.HasPrefix(ast.InputRootRef) {
				return false
			}
			if len(ref) < 2 {
				fields = allFields
				return false
			}
			key, ok := ref[1].Value.(ast.String)
			if !ok {
				fields = allFields
				return false
			}
			fields |= fieldsByKey[string(key)]
			return false
		})
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			if e.IsCall() {
				call(e.Operator())
			}
			for _, w := range e.With {
				if ref, ok := w.Target.Value.(ast.Ref); ok && ref.HasPrefix(ast.InputRootRef) {
					fields = allFields
				}
			}
			return false
		})
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if c, ok := t.Value.(ast.Call); ok && len(c) > 0 {
				if op, ok := c[0].Value.(ast.Ref); ok {
					call(op)
				}
			}
			return false
		})
	}
	return fields, deterministic
}

// Decision cache bounds: a decision is kept at most decisionCacheTTL, and
// at most decisionCacheSize decisions are kept.
const (
	decisionCacheTTL  = 10 * time.Second
	decisionCacheSize = 10000
)

// decisionCache remembers the decisions of one policy activation, keyed by
// the exact values of the input keys the policy reads. It exists only for
// a policy that never reads input.time nor calls a non-deterministic
// built-in, so the decision is a function of the key: the nanosecond time
// in every input cannot make each request a miss, because it is not in
// the key. A new activation (a new bundle revision) starts a new cache.
type decisionCache struct {
	fields inputFields
	*ttlcache.Cache[cachedDecision]
}

// cachedDecision is a decision and the value the policy gave for it (for
// the decision log); with the decision log on, also the input it was made
// for.
type cachedDecision struct {
	d      decision
	result ast.Value
	input  *cachedInput
}

// cachedInput is the input document a cached decision was made for,
// without its time, as OPA's value (its members) and as Go values (doc),
// and the input's full key (every key but the time). A hit whose full key
// is the same logs this document with its own time instead of building its
// input again; a hit that differs in a key the policy does not read
// (another client IP) builds its own. Nothing changes members or doc once
// made: each log gets a copy of doc, which OPA's masking may change.
type cachedInput struct {
	fullKey string
	members [][2]*ast.Term
	doc     map[string]any
}

// newCachedInput returns the cached input made of members, or nil if they
// have no JSON form (never, for the values input builds).
func newCachedInput(fullKey string, members [][2]*ast.Term) *cachedInput {
	v, err := ast.JSON(ast.NewObject(members...))
	doc, ok := v.(map[string]any)
	if err != nil || !ok {
		return nil
	}
	return &cachedInput{fullKey: fullKey, members: members, doc: doc}
}

// copyJSON copies a JSON document decoded into Go values: its objects and
// arrays are new, its strings, numbers and booleans shared (they cannot be
// changed). An object gets room for one more member.
func copyJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v)+1)
		for k, e := range v {
			m[k] = copyJSON(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = copyJSON(e)
		}
		return a
	}
	return v
}

// newDecisionCache returns the cache for query on a policy made of modules,
// or nil when its decisions depend on more than the input's values.
func newDecisionCache(query ast.Body, modules map[string]*ast.Module) *decisionCache {
	fields, deterministic := reads(query, modules)
	if !deterministic || fields&fieldTime != 0 {
		return nil
	}
	return &decisionCache{fields: fields, Cache: ttlcache.New[cachedDecision](decisionCacheTTL, decisionCacheSize)}
}

// key is the cache key of in: each read key's values, length-prefixed so
// that no two inputs share a key.
func (c *decisionCache) key(in *input) string {
	return inputKey(in, c.fields)
}

// fullKey is the key of every input key but the time: the same for two
// inputs only when their documents differ in the time alone.
func (c *decisionCache) fullKey(in *input, key string) string {
	if c.fields|fieldTime == allFields {
		return key
	}
	return inputKey(in, allFields)
}

// inputKey is the key of in's values of fields, the time never among them.
func inputKey(in *input, fields inputFields) string {
	b := make([]byte, 0, 128)
	add := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	if fields&fieldMethod != 0 {
		add(in.method)
	}
	if fields&(fieldPath|fieldSegments) != 0 {
		b = strconv.AppendInt(b, int64(len(in.segments)), 10)
		for _, s := range in.segments {
			add(s)
		}
	}
	template, resourceType := in.routeFacts()
	if fields&fieldRoute != 0 {
		add(template)
		add(resourceType)
		add(in.resourceID)
	}
	if fields&fieldUser != 0 {
		add(in.sub)
		b = strconv.AppendInt(b, int64(len(in.claims)), 10)
		for _, cl := range in.claims {
			add(cl.name)
			add(cl.value)
		}
	}
	if fields&fieldClientIP != 0 {
		add(in.clientIP)
	}
	if fields&fieldResource != 0 {
		add(resourceType)
		add(in.resourceID)
		add(in.owner)
		b = strconv.AppendBool(b, in.exists)
	}
	return string(b)
}
