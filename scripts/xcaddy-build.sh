#!/usr/bin/env bash
# Builds a stock Caddy with paygate's modules using xcaddy (pinned in the
# tools/ module), from the settings in xcaddy.toml.
# Usage: scripts/xcaddy-build.sh <xcaddy.toml> <output binary>
set -euo pipefail
conf=${1:?xcaddy.toml}
out=${2:?output path}
root=$(cd "$(dirname "$conf")" && pwd)

value() { sed -n "s/^$1[[:space:]]*=[[:space:]]*\"\(.*\)\"[[:space:]]*$/\1/p" "$conf"; }
version=$(value caddy_version)
module=$(value module)
module_version=$(value version)
replace=$(value replace)
[ -n "$version" ] && [ -n "$module" ] && [ -n "$module_version" ] && [ -n "$replace" ] ||
	{ echo "$conf: caddy_version, module, version and replace are required" >&2; exit 1; }

# The module proxy does not know our module path: resolve it locally.
export GOPRIVATE="$module"
cd "$root/tools"
go build -o "$root/bin/xcaddy" github.com/caddyserver/xcaddy/cmd/xcaddy
cd "$root"
"$root/bin/xcaddy" build "$version" --output "$out" --with "$module@$module_version=$(cd "$root/$replace" && pwd)"
"$out" list-modules | grep -E '^(paygate|http\.handlers\.(security_headers|tls_enforce|paygate_error))$'
