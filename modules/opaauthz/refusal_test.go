package opaauthz

import (
	"errors"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/download"
	bundleplugin "github.com/open-policy-agent/opa/v1/plugins/bundle"
)

// TestRefusalOf checks that each way OPA refuses a bundle is named by the
// check that failed, with the key's ID for the checks that used it, and
// that a signature failure's cause is logged without OPA's "signature:"
// label, which the redactor would take for a secret's name.
func TestRefusalOf(t *testing.T) {
	status := func(err error) bundleplugin.Status {
		var s bundleplugin.Status
		s.SetError(err)
		return s
	}
	tests := []struct {
		name string
		err  error
		want bundleRefusal
	}{
		{"signed with another key", errors.New("failed to verify JWT signature: invalid ECDSA signature"),
			bundleRefusal{check: "signature_invalid", keyID: "paygate", err: "invalid ECDSA signature"}},
		{"unsigned", errors.New("bundle missing .signatures.json file"),
			bundleRefusal{check: "unsigned", err: "bundle missing .signatures.json file"}},
		{"a file changed after signing", errors.New("paygate/authz.rego: digest mismatch (want: 01, got: 02)"),
			bundleRefusal{check: "file_modified", err: "paygate/authz.rego: digest mismatch (want: 01, got: 02)"}},
		{"a file added after signing", errors.New("file paygate/x.rego not included in bundle signature"),
			bundleRefusal{check: "file_not_signed", err: "file paygate/x.rego not included in bundle signature"}},
		{"a signed file removed", errors.New("file(s) [paygate/x.rego] specified in bundle signatures but not found in the target bundle"),
			bundleRefusal{check: "signed_file_missing", err: "file(s) [paygate/x.rego] specified in bundle signatures but not found in the target bundle"}},
		{"a scope of another key", errors.New("scope mismatch"),
			bundleRefusal{check: "scope_mismatch", keyID: "paygate", err: "scope mismatch"}},
		{"two signatures", errors.New(".signatures.json: multiple JWTs not supported (expected exactly one)"),
			bundleRefusal{check: "signature_malformed", err: "multiple JWTs not supported (expected exactly one)"}},
		{"a service error", download.HTTPError{StatusCode: 503},
			bundleRefusal{check: "download", err: "server replied with Service Unavailable", httpCode: "503"}},
		{"a policy that does not compile", ast.Errors{ast.NewError(ast.CompileErr, nil, "rego_unsafe_var_error")},
			bundleRefusal{check: "compile", err: "error(s) occurred while compiling module(s); rego_compile_error: rego_unsafe_var_error"}},
		{"anything else", errors.New("unexpected EOF"),
			bundleRefusal{check: "other", err: "unexpected EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refusalOf(status(tt.err)); got != tt.want {
				t.Errorf("refusalOf(%q) = %+v, want %+v", tt.err, got, tt.want)
			}
		})
	}
}
