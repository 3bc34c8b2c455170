// Package secretref checks how a secret is given in paygate's configuration:
// only as one {env.NAME} or {file.PATH} placeholder, so that the secret
// itself is never in a Caddyfile, in the adapted JSON or in the admin API's
// view of the config.
package secretref

import "regexp"

var placeholder = regexp.MustCompile(`^\{(env|file)\.[^{}\s]+\}$`)

// Valid reports whether s is one {env.NAME} or {file.PATH} placeholder.
func Valid(s string) bool {
	return placeholder.MatchString(s)
}
