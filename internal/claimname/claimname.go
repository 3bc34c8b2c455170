// Package claimname is the one rule for the names under which identity facts
// travel between stages: the keys of Caddy's {http.auth.user.*}
// placeholders that jwt_auth sets, the claims opa_authz reads back from them,
// and the resource types of the payment API's route table.
package claimname

// Reserved is the placeholder key Caddy's authentication handler sets itself
// ({http.auth.user.id}); no claim mapping may take it.
const Reserved = "id"

// maxLen bounds a name; no claim or resource type comes near it, and the
// name becomes part of placeholder keys and JSON members.
const maxLen = 64

// Valid reports whether s is snake_case (a lower-case letter, then
// lower-case letters, digits and '_'), at most 64 bytes, and not Reserved:
// a name that reads the same as a placeholder key, a JSON member and a Rego
// field.
func Valid(s string) bool {
	if s == "" || len(s) > maxLen || s == Reserved || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
