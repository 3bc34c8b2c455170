#!/usr/bin/env bash
# `make demo-cluster`: three paygate replicas of deploy/Caddyfile on one
# Redis, with stripe-mock as Stripe, a JWKS and a signed policy bundle served
# on loopback, and real requests showing what the replicas share:
#   1. one rate limit across the three;
#   2. one idempotent payment, whichever replica a retry reaches;
#   3. a Stripe webhook processed once, whichever replica it reaches;
#   4. a new policy bundle rolled out to all three;
#   5. a replica killed (SIGKILL), its client's retry answered by another
#      with the same payment.
# Usage: scripts/demo-cluster.sh <paygate binary> <stripe-mock binary> <run dir>
set -euo pipefail
paygate=$(realpath "${1:?paygate binary}")
stripe_mock=$(realpath "${2:?stripe-mock binary}")
run=$(realpath -m "${3:?run directory}")
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
for tool in redis-server curl jq; do
	command -v "$tool" >/dev/null || { echo "demo-cluster needs $tool" >&2; exit 1; }
done
rm -rf "$run"
mkdir -p "$run/files"

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# wait_for <what> <command...>: runs the command until it succeeds (30 s).
wait_for() {
	local what=$1
	shift
	for _ in $(seq 300); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "timed out waiting for $what" >&2
	exit 1
}

step "Redis, stripe-mock, the identity provider's JWKS and the bundle server"
# A short socket path (unix sockets take about 100 bytes).
sock=$(mktemp -u /tmp/pgdemo-XXXXXX.sock)
redis-server --port 0 --unixsocket "$sock" --save "" --appendonly no >"$run/redis.log" 2>&1 &
pids+=($!)
wait_for redis redis-cli -s "$sock" ping
"$stripe_mock" -http-addr 127.0.0.1:12211 -https-addr 127.0.0.1:0 >"$run/stripe-mock.log" 2>&1 &
pids+=($!)
cp testdata/jwt/dev-jwks.json "$run/files/jwks.json"
"$paygate" bundle --policies policies/paygate --signing-key testdata/opa/bundle-signing.key \
	--revision demo-1 --output "$run/files/paygate.tar.gz" >/dev/null
"$paygate" file-server --root "$run/files" --listen 127.0.0.1:12212 >"$run/files.log" 2>&1 &
pids+=($!)
wait_for "the file server" curl -sf http://127.0.0.1:12212/jwks.json
echo "redis unix://$sock, stripe-mock 127.0.0.1:12211, JWKS and bundle demo-1 on 127.0.0.1:12212"

step "Three replicas of deploy/Caddyfile, as production runs them"
export REDIS_URL="unix://$sock"
export PAYGATE_DOMAIN=localhost PAYGATE_TLS=internal PAYGATE_BIND=127.0.0.1
export STRIPE_SECRET_KEY=sk_test_paygatedemo STRIPE_API_BASE=http://127.0.0.1:12211 PAYGATE_STRIPE_MODE=test
export STRIPE_WEBHOOK_SECRET=whsec_paygate_development_only
export PAYGATE_IDEMPOTENCY_KEY=cGF5Z2F0ZS1kZXYtb25seS1zZWFsLWtleS0zMmJ5dGU=
export PAYGATE_ISSUER=https://id.paygate.localhost PAYGATE_JWKS_URL=http://127.0.0.1:12212/jwks.json
export PAYGATE_CATALOG=testdata/catalog/catalog.json PAYGATE_UPSTREAM=127.0.0.1:9
export PAYGATE_POLICY_BUNDLE_URL=http://127.0.0.1:12212/paygate.tar.gz
export PAYGATE_POLICY_PUBLIC_KEY=testdata/opa/bundle-signing.pub PAYGATE_POLICY_POLLING="1s 2s"
replica_pid=()
start_replica() {
	local i=$1
	mkdir -p "$run/r$i"
	PAYGATE_HTTPS_PORT=$((8450 + i)) PAYGATE_HTTP_PORT=$((8090 + i)) PAYGATE_ADMIN=127.0.0.1:$((2030 + i)) \
		PAYGATE_INTERNAL_PORT=$((9180 + i)) \
		XDG_DATA_HOME="$run/r$i/data" XDG_CONFIG_HOME="$run/r$i/config" \
		"$paygate" run --config deploy/Caddyfile --adapter caddyfile >"$run/r$i/paygate.log" 2>&1 &
	replica_pid[i]=$!
	pids+=($!)
}
url() { echo "https://localhost:$((8450 + $1))"; }
cacert() { echo "$run/r$1/data/caddy/pki/authorities/local/root.crt"; }
for i in 1 2 3; do start_replica "$i"; done
for i in 1 2 3; do
	wait_for "replica $i" curl -s --cacert "$(cacert "$i")" "$(url "$i")/" -o /dev/null
	echo "replica $i: $(url "$i") (log $run/r$i/paygate.log)"
done

# call <replica> <method> <path> [curl args...]: prints the status, then the body.
call() {
	local i=$1 method=$2 path=$3
	shift 3
	curl -s --cacert "$(cacert "$i")" -X "$method" "$(url "$i")$path" -w '\n%{http_code}' "$@"
}
alice=$("$paygate" token --sub alice)
auth=(-H "Authorization: Bearer $alice")

step "1. One rate limit across the replicas"
echo "The shipped per-user zone admits a burst of 30 (then 120 a minute), the per-IP one 60:"
echo "70 requests from one user and address, round robin over the replicas."
declare -A seen
for n in $(seq 70); do
	i=$(((n % 3) + 1))
	status=$(call "$i" GET /v1/payment_methods "${auth[@]}" | tail -1)
	seen[$status]=$((${seen[$status]:-0} + 1))
done
for s in "${!seen[@]}"; do echo "  HTTP $s: ${seen[$s]}"; done
[[ ${seen[429]:-0} -gt 0 ]] || { echo "no 429: the replicas do not share the limit" >&2; exit 1; }
echo "Each replica alone would have admitted all 70; together they refused the excess."
# A fresh client address for what follows: the per-IP budget is spent.
redis-cli -s "$sock" flushall >/dev/null

step "2. One idempotent payment, whichever replica the retries reach"
order='{"items":[{"sku":"standard_clean","quantity":1}],"currency":"usd","reference":"demo-1"}'
for i in 1 2 3; do
	out=$(call "$i" POST /v1/payment_intents "${auth[@]}" -H "Content-Type: application/json" \
		-H "Idempotency-Key: demo-order-1" -D "$run/headers-$i" -d "$order")
	id=$(echo "$out" | head -n -1 | jq -r .id)
	replayed=$(grep -i '^idempotent-replayed:' "$run/headers-$i" | tr -d '\r' || true)
	echo "  replica $i: HTTP $(echo "$out" | tail -1) $id ${replayed:-(executed)}"
done

step "3. A Stripe webhook processed once, whichever replica it reaches"
event="$run/event.json"
cat >"$event" <<EOF
{"id":"evt_demo_1","object":"event","type":"payment_intent.succeeded","api_version":"2023-10-16","created":$(date +%s),"livemode":false,
 "data":{"object":{"id":"pi_demo_1","object":"payment_intent","status":"succeeded"}}}
EOF
for i in 1 2 3; do
	out=$("$paygate" webhook sign --secret-env STRIPE_WEBHOOK_SECRET --payload "$event" \
		--url "$(url "$i")/webhooks/stripe" --cacert "$(cacert "$i")" 2>&1 || true)
	echo "  replica $i: $(echo "$out" | tr '\n' ' ')"
done
for i in 1 2 3; do
	echo "  replica $i: $(curl -s "http://127.0.0.1:$((2030 + i))/metrics" | grep '^paygate_webhook_events_total' | grep -v ' 0$' | tr '\n' ' ')"
done

step "4. A new policy bundle, rolled out to every replica"
"$paygate" bundle --policies policies/paygate --signing-key testdata/opa/bundle-signing.key \
	--revision demo-2 --output "$run/files/paygate.tar.gz.new" >/dev/null
mv "$run/files/paygate.tar.gz.new" "$run/files/paygate.tar.gz"
revision() { curl -s "http://127.0.0.1:$((2030 + $1))/metrics" | grep '^paygate_policy_bundle_revision_info' | grep -o 'revision="[^"]*"'; }
for i in 1 2 3; do
	wait_for "replica $i to activate demo-2" sh -c "curl -s http://127.0.0.1:$((2030 + i))/metrics | grep -q 'revision=\"demo-2\"'"
	echo "  replica $i: $(revision "$i")"
done

step "5. A replica killed; the client's retry reaches another"
out=$(call 1 POST /v1/payment_intents "${auth[@]}" -H "Content-Type: application/json" -H "Idempotency-Key: demo-order-2" \
	-d '{"items":[{"sku":"deep_clean","quantity":1}],"currency":"usd","reference":"demo-2"}')
first=$(echo "$out" | head -n -1 | jq -r .id)
echo "  replica 1 created $first; killing replica 1 (SIGKILL)"
{
	kill -9 "${replica_pid[1]}"
	wait "${replica_pid[1]}" || true
} 2>/dev/null
out=$(call 2 POST /v1/payment_intents "${auth[@]}" -H "Content-Type: application/json" -H "Idempotency-Key: demo-order-2" \
	-D "$run/headers-retry" -d '{"items":[{"sku":"deep_clean","quantity":1}],"currency":"usd","reference":"demo-2"}')
retried=$(echo "$out" | head -n -1 | jq -r .id)
echo "  the retry on replica 2: HTTP $(echo "$out" | tail -1) $retried $(grep -i '^idempotent-replayed:' "$run/headers-retry" | tr -d '\r')"
[[ "$first" == "$retried" ]] || { echo "the retry made another payment" >&2; exit 1; }
echo "  the same payment: nothing lost, nothing charged twice."

step "Done"
echo "Logs: $run (each replica's paygate.log); Redis: redis-cli -s $sock"
