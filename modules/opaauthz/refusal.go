package opaauthz

import (
	"strings"

	bundleplugin "github.com/open-policy-agent/opa/v1/plugins/bundle"

	"github.com/paygate/paygate/internal/opabundle"
)

// A refusalCheck recognises, by OPA's wording, which check refused a
// bundle. OPA's bundle status keeps only the error's text.
type refusalCheck struct {
	// marker is a part of OPA's message. When it ends in ": ", only the
	// text after it is logged as the error: the check names what OPA's
	// wording said, and "signature: <cause>" would read as a secret to the
	// redactor, which would mask the cause.
	marker string
	// check is the check that failed, as logged.
	check string
	// keyed is set when the check used the signing key, whose ID is then
	// logged.
	keyed bool
}

// refusalChecks are the checks a bundle may fail, each with OPA's wording
// (v1/bundle: verify.go, bundle.go).
var refusalChecks = []refusalCheck{
	{marker: "bundle missing .signatures.json file", check: "unsigned"},
	{marker: "verification key not provided", check: "signed_without_key"},
	{marker: "failed to verify JWT signature: ", check: "signature_invalid", keyed: true},
	{marker: "verification key corresponding to ID", check: "key_unknown", keyed: true},
	{marker: "scope mismatch", check: "scope_mismatch", keyed: true},
	{marker: ".signatures.json: ", check: "signature_malformed"},
	{marker: "failed to split compact JWT: ", check: "signature_malformed"},
	{marker: "failed to base64 decode JWT ", check: "signature_malformed"},
	{marker: "not included in bundle signature", check: "file_not_signed"},
	{marker: "digest mismatch", check: "file_modified"},
	{marker: "specified in bundle signatures but not found", check: "signed_file_missing"},
}

// bundleRefusal is what the log says about a refused bundle.
type bundleRefusal struct {
	// check is the check that failed: one of refusalChecks', "download"
	// for an HTTP error, "compile" for a policy that does not compile, or
	// "other".
	check string
	// keyID is the signing key's ID when the check used it, else "".
	keyID string
	// err is the cause, in OPA's words or what follows them.
	err string
	// httpCode is the bundle service's HTTP status for a download that
	// failed with one, else "".
	httpCode string
}

// refusalOf reads the refusal of a failed download attempt from its status.
func refusalOf(s bundleplugin.Status) bundleRefusal {
	msg := s.Message
	for _, err := range s.Errors {
		msg += "; " + err.Error()
	}
	switch {
	case s.HTTPCode != "":
		return bundleRefusal{check: "download", err: msg, httpCode: string(s.HTTPCode)}
	case len(s.Errors) > 0:
		return bundleRefusal{check: "compile", err: msg}
	}
	for _, c := range refusalChecks {
		i := strings.Index(msg, c.marker)
		if i < 0 {
			continue
		}
		r := bundleRefusal{check: c.check, err: msg}
		if strings.HasSuffix(c.marker, ": ") {
			r.err = msg[i+len(c.marker):]
		}
		if c.keyed {
			r.keyID = opabundle.KeyID
		}
		return r
	}
	return bundleRefusal{check: "other", err: msg}
}
