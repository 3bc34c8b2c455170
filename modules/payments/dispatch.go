package payments

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"unicode"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
)

// maxBody bounds a request body of the payment API.
const maxBody = 64 << 10

// userPlaceholder is the authenticated user, set by any Caddy
// authentication provider (jwt_auth, basic_auth).
const userPlaceholder = "http.auth.user.id"

// maxUserID bounds a user ID: it goes into store keys and Stripe metadata
// (whose values hold at most 500 characters).
const maxUserID = 255

// idPattern is what a Stripe object ID in a path must look like; anything
// else names no object of ours.
var idPattern = regexp.MustCompile(`^(pi|pm)_[A-Za-z0-9_]{1,250}$`)

// call is one request to the payment API, as the endpoint handlers see it.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	user string
	// id is the object ID of the path, if the route has one.
	id   string
	body []byte
	// resource is what the audit event names: the object acted on.
	resource string
}

// route is one endpoint of the payment API.
type route struct {
	method string
	// pattern is the path; "{pi}" and "{pm}" stand for the ID of a payment
	// intent or payment method.
	pattern string
	// action names the endpoint in metrics and audit events.
	action string
	serve  func(h *Handler, c *call) error
}

// routes is the payment API of the design's section 3.
var routes = []route{
	{http.MethodPost, "/v1/payment_intents", "payment_intent.create", (*Handler).createPaymentIntent},
	{http.MethodGet, "/v1/payment_intents/{pi}", "payment_intent.get", (*Handler).getPaymentIntent},
	{http.MethodPost, "/v1/payment_intents/{pi}/confirm", "payment_intent.confirm", (*Handler).confirmPaymentIntent},
	{http.MethodPost, "/v1/payment_intents/{pi}/cancel", "payment_intent.cancel", (*Handler).cancelPaymentIntent},
	{http.MethodPost, "/v1/setup_intents", "setup_intent.create", (*Handler).createSetupIntent},
	{http.MethodGet, "/v1/payment_methods", "payment_method.list", (*Handler).listPaymentMethods},
	{http.MethodDelete, "/v1/payment_methods/{pm}", "payment_method.detach", (*Handler).detachPaymentMethod},
	{http.MethodDelete, "/v1/customers/me", "customer.erase", (*Handler).eraseCustomer},
}

// Errors of the dispatch.
var (
	errNotFound         = apierror.ResourceMissing
	errMethod           = apierror.New(http.StatusMethodNotAllowed, apierror.TypeInvalidRequest, "method_not_allowed", "This method is not allowed here.")
	errUnauthenticated  = apierror.New(http.StatusUnauthorized, apierror.TypeAuthentication, "unauthorized", "Authentication is required.")
	errBodyTooLarge     = apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest, "body_too_large", "The request body is too large.")
	errUnsupportedMedia = apierror.New(http.StatusUnsupportedMediaType, apierror.TypeInvalidRequest, "unsupported_media_type", "Request bodies must be JSON (Content-Type: application/json).")
	errLiveKeyPlain     = apierror.New(http.StatusInternalServerError, apierror.TypeAPI, "internal_error", "An internal error occurred.")
)

// match reports whether path has pattern's shape, and the ID in its place.
// The ID is not checked here: a malformed ID is "no such resource", not
// "no such endpoint".
func match(pattern, path string) (id string, ok bool) {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return "", false
	}
	for i, p := range ps {
		switch {
		case p == "{pi}" || p == "{pm}":
			if xs[i] == "" {
				return "", false
			}
			id = xs[i]
		case p != xs[i]:
			return "", false
		}
	}
	return id, true
}

// serveAPI dispatches a request to its endpoint, then counts and audits it.
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request) error {
	if h.live && r.TLS == nil {
		// Validate refused live keys on servers without TLS; a server that
		// also listens on its HTTP port still gets here over plain HTTP.
		h.logger.Error("live Stripe key: refusing a request that did not arrive over TLS",
			zap.Bool("alert", true), zap.String("path", r.URL.Path))
		return caddyhttp.Error(errLiveKeyPlain.Status, errLiveKeyPlain.WithCause(errors.New("live Stripe key on a plain-HTTP request")))
	}
	// IDs never need escaping: an escaped path is someone's trick.
	if r.URL.RawPath != "" {
		return caddyhttp.Error(errNotFound.Status, errNotFound.WithCause(errors.New("escaped path")))
	}
	var (
		rt    *route
		id    string
		allow []string
	)
	for i := range routes {
		if got, ok := match(routes[i].pattern, r.URL.Path); ok {
			if routes[i].method != r.Method {
				allow = append(allow, routes[i].method)
				continue
			}
			rt, id = &routes[i], got
			break
		}
	}
	if rt == nil {
		if len(allow) > 0 {
			e := errMethod.WithHeader("Allow", strings.Join(allow, ", "))
			return caddyhttp.Error(e.Status, e)
		}
		return caddyhttp.Error(errNotFound.Status, errNotFound.WithCause(errors.New("no such endpoint")))
	}

	c := &call{w: w, r: r, id: id, resource: id}
	err := h.prepare(c, rt.pattern)
	if err == nil {
		err = rt.serve(h, c)
	}
	h.record(r, rt.action, c.user, c.resource, err)
	if err != nil {
		e := apierror.Resolve(err, http.StatusInternalServerError)
		return caddyhttp.Error(e.Status, err)
	}
	return nil
}

// prepare finds the user, checks the path's ID and reads the body.
func (h *Handler) prepare(c *call, pattern string) error {
	repl, _ := c.r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl != nil {
		c.user, _ = repl.GetString(userPlaceholder)
	}
	if !validUserID(c.user) {
		c.user = ""
		return errUnauthenticated.WithCause(errors.New("no valid {http.auth.user.id}: is an authentication stage before payments?"))
	}
	if c.id != "" && !validID(c.id, pattern) {
		// Not an ID: client text that the audit event must not carry.
		c.resource = ""
		return errNotFound.WithCause(errors.New("malformed object ID"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errBodyTooLarge.WithCause(err)
		}
		return apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "bad_request", "The request could not be read.").WithCause(err)
	}
	if len(body) > 0 {
		mt, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return errUnsupportedMedia.WithCause(errors.New("body without a JSON Content-Type"))
		}
	}
	c.body = body
	return nil
}

// validID reports whether id is an ID of the kind the pattern's placeholder
// stands for.
func validID(id, pattern string) bool {
	prefix := "pi_"
	if strings.Contains(pattern, "{pm}") {
		prefix = "pm_"
	}
	return strings.HasPrefix(id, prefix) && idPattern.MatchString(id)
}

// validUserID accepts what an authentication stage may reasonably set: 1 to
// 255 bytes without control characters.
func validUserID(id string) bool {
	if id == "" || len(id) > maxUserID {
		return false
	}
	for _, r := range id {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// record counts an action and writes its audit event.
func (h *Handler) record(r *http.Request, action, user, resource string, err error) {
	outcome, auditOutcome, code := outcomeSucceeded, audit.Succeeded, ""
	if err != nil {
		e := apierror.Resolve(err, http.StatusInternalServerError)
		code = e.Code
		switch {
		case e.Status == http.StatusPaymentRequired:
			outcome, auditOutcome = outcomeDeclined, audit.Failed
		case e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound:
			outcome, auditOutcome = outcomeRejected, audit.Denied
		case e.Status < 500:
			outcome, auditOutcome = outcomeRejected, audit.Failed
		default:
			outcome, auditOutcome = outcomeError, audit.Failed
		}
	}
	observe(action, outcome, code)
	audit.Log(h.audit, r, audit.Event{Action: action, Outcome: auditOutcome, Actor: user, Resource: resource, Reason: code})
}
