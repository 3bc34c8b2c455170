// Package policies holds paygate's Rego policies and their Rego unit tests,
// embedded so that Go tests run them (go test ./policies) and so that
// "paygate bundle" can build the built-in policy without a source tree.
//
// The policies live in paygate/: authz.rego (package paygate.authz, the
// ownership policy that the opa_authz stage queries) and log.rego (package
// paygate.log, the decision-log mask). README.md describes the input
// document.
package policies

import (
	"embed"
	"io/fs"
)

// files holds every policy and its tests.
//
//go:embed paygate/*.rego
var files embed.FS

// Root is the directory in FS that holds the policies, and the one bundle
// root they are written for (data.paygate).
const Root = "paygate"

// FS returns the embedded policies and their tests, under Root.
func FS() fs.FS { return files }
