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
# Every paygate module must be in the build.
want="paygate http.handlers.security_headers http.handlers.tls_enforce http.handlers.paygate_error
http.handlers.card_data_guard http.authentication.providers.jwt http.handlers.opa_authz
http.handlers.payments http.handlers.payment_events http.handlers.stripe_webhook http.handlers.request_guard
http.handlers.api_methods http.handlers.api_response caddy.logging.encoders.redact"
modules=$("$out" list-modules)
for m in $want; do
	grep -qx "$m" <<<"$modules" || { echo "$out lacks the module $m" >&2; exit 1; }
done
echo "$out has every paygate module"
