#!/usr/bin/env bash
# `make run`: paygate with the shipped Caddyfile and stripe-mock as the Stripe
# backend, both on loopback; stops stripe-mock when paygate exits.
# Usage: scripts/run-dev.sh <paygate binary> <stripe-mock binary> <run dir>
set -euo pipefail
paygate=${1:?paygate binary}
stripe_mock=${2:?stripe-mock binary}
run_dir=${3:?run directory}
mkdir -p "$run_dir"

# Only loopback: without -https-addr stripe-mock also listens on :12112.
"$stripe_mock" -http-addr 127.0.0.1:12111 -https-addr 127.0.0.1:0 >"$run_dir/stripe-mock.log" 2>&1 &
mock=$!
trap 'kill "$mock" 2>/dev/null || true' EXIT
echo "stripe-mock on http://127.0.0.1:12111 (log: $run_dir/stripe-mock.log)"

export XDG_DATA_HOME="$run_dir/data" XDG_CONFIG_HOME="$run_dir/config"
# stripe-mock accepts any test-mode key; real keys come from the environment.
export STRIPE_SECRET_KEY="${STRIPE_SECRET_KEY:-sk_test_paygatedev}"
export STRIPE_API_BASE="${STRIPE_API_BASE:-http://127.0.0.1:12111}"
# The webhook route's development signing secret; `paygate webhook sign`
# reads the same variable.
export STRIPE_WEBHOOK_SECRET="${STRIPE_WEBHOOK_SECRET:-whsec_paygate_development_only}"
# The idempotency stage's development seal key (32 bytes, base64).
export PAYGATE_IDEMPOTENCY_KEY="${PAYGATE_IDEMPOTENCY_KEY:-cGF5Z2F0ZS1kZXYtb25seS1zZWFsLWtleS0zMmJ5dGU=}"
"$paygate" run --config Caddyfile --adapter caddyfile
