# paygate: see README.md.
GO        ?= go
BIN       := $(CURDIR)/bin
PAYGATE   := $(BIN)/paygate
STRIPE_MOCK := $(BIN)/stripe-mock
# `make run` keeps Caddy's data (its internal CA, certificates) here.
RUN_DIR   := $(CURDIR)/.run
# Packages whose tests run under the race detector in `make test`: every
# module and building block (the end-to-end tests run the built binary).
RACE_PKGS := ./internal/... ./modules/...

.PHONY: all build stripe-mock kustomize run demo-cluster test lint check-config bench bench-micro mutate bundle xcaddy image clean

all: build

build:
	$(GO) build -buildvcs=auto -o $(PAYGATE) ./cmd/paygate

# stripe-mock is built from the separate tools/ module so that its old
# dependency pins stay out of paygate's module graph.
stripe-mock:
	cd tools && $(GO) build -o $(STRIPE_MOCK) github.com/stripe/stripe-mock

# kustomize's build, from its own module (tools/kustomize), for the manifest
# tests (e2e/manifests_test.go): no kubectl needed.
KUSTOMIZE := $(BIN)/kustomizebuild
kustomize:
	cd tools/kustomize && $(GO) build -o $(KUSTOMIZE) .

# The shipped Caddyfile with stripe-mock as the Stripe backend.
run: build stripe-mock
	./scripts/run-dev.sh $(PAYGATE) $(STRIPE_MOCK) $(RUN_DIR)

# Three replicas of deploy/Caddyfile on one Redis, with real requests
# showing what they share (scripts/demo-cluster.sh says what it shows).
demo-cluster: build stripe-mock
	./scripts/demo-cluster.sh $(PAYGATE) $(STRIPE_MOCK) $(RUN_DIR)/demo-cluster

# The whole suite: lint, the shipped configs, every test (the end-to-end ones
# against the built binary, private redis-servers and stripe-mock), and the
# race detector on every module and building block.
test: lint check-config stripe-mock kustomize
	PAYGATE_BIN=$(PAYGATE) PAYGATE_STRIPE_MOCK=$(STRIPE_MOCK) PAYGATE_KUSTOMIZE=$(KUSTOMIZE) $(GO) test -count=1 -timeout 30m ./...
	PAYGATE_BIN=$(PAYGATE) PAYGATE_STRIPE_MOCK=$(STRIPE_MOCK) $(GO) test -count=1 -race -timeout 20m $(RACE_PKGS)

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# The environment check-config adapts the shipped Caddyfiles with.
CHECK_ENV := PAYGATE_DOMAIN=pay.example.com REDIS_URL=redis://127.0.0.1:6379/0 XDG_DATA_HOME=$$(mktemp -d) \
	STRIPE_SECRET_KEY=sk_test_check STRIPE_API_BASE=http://127.0.0.1:12111 PAYGATE_UPSTREAM=127.0.0.1:9 \
	STRIPE_WEBHOOK_SECRET=whsec_check_config_only PAYGATE_IDEMPOTENCY_KEY=cGF5Z2F0ZS1jaGVjay1jb25maWctc2VhbC1rZXktMzI= \
	PAYGATE_ISSUER=https://id.example.com PAYGATE_JWKS_URL=https://id.example.com/.well-known/jwks.json \
	PAYGATE_CATALOG=testdata/catalog/catalog.json \
	PAYGATE_POLICY_BUNDLE_URL=http://127.0.0.1:9/paygate.tar.gz PAYGATE_POLICY_PUBLIC_KEY=testdata/opa/bundle-signing.pub

# The shipped Caddyfiles must validate and be formatted as `paygate fmt` would;
# the production one must pass `paygate doctor` for several replicas.
# Validation is offline (--offline): no JWKS fetch, bundle download or Redis,
# so no network and no wait for a bundle; everything else is checked.
check-config: build
	@for f in Caddyfile deploy/Caddyfile; do \
		echo "validate $$f"; \
		out=$$($(CHECK_ENV) $(PAYGATE) validate --offline --config $$f --adapter caddyfile 2>&1) || { echo "$$out"; exit 1; }; \
		$(PAYGATE) fmt $$f | diff -u $$f - || { echo "$$f is not formatted: run $(PAYGATE) fmt --overwrite $$f"; exit 1; }; \
	done
	@echo "doctor deploy/Caddyfile"; $(CHECK_ENV) $(PAYGATE) doctor --config deploy/Caddyfile --replicas 3

# The Go micro-benchmarks of every package.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Flags for paygate-bench, e.g. BENCH_FLAGS='-rounds 2 -duration 3s'; by
# default a CPU profile of the GET pipeline is taken after the rounds
# (bench/results/cpu-get.pprof).
BENCH_FLAGS ?= -profile get

# The side-by-side load benchmark (cmd/paygate-bench): paygate's pipeline,
# a bare reverse_proxy in paygate and in a stock Caddy of the same version,
# loaded by wrk in interleaved rounds. The servers run on CPU 0, the harness
# and everything else it starts on CPU 1. Writes bench/results/latest.md and
# fails when one of the report's targets does.
bench: build
	$(GO) build -o $(BIN)/caddy github.com/caddyserver/caddy/v2/cmd/caddy
	$(GO) build -o $(BIN)/paygate-bench ./cmd/paygate-bench
	@command -v wrk >/dev/null || { \
		sudo=; if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo=sudo; fi; \
		$$sudo apt-get install -y wrk || { $$sudo apt-get update && $$sudo apt-get install -y wrk; }; \
	}
	taskset -c 1 $(BIN)/paygate-bench -paygate $(PAYGATE) -caddy $(BIN)/caddy $(BENCH_FLAGS)

# Flags for paygate-mutate, e.g. MUTATE_FLAGS='-only webhook-any-signature'.
MUTATE_FLAGS ?=

# The mutation sweep (cmd/paygate-mutate): each mutation of
# testdata/mutations/security.jsonl disables one security check in a copy of
# the checkout, and some end-to-end test must then fail. About 25 s a
# mutation (27 minutes for all), so not part of `make test`. Writes testdata/mutations/latest.md
# and fails when a mutation survives or no longer applies.
mutate: stripe-mock kustomize
	$(GO) run ./cmd/paygate-mutate -stripe-mock $(STRIPE_MOCK) -kustomize $(KUSTOMIZE) $(MUTATE_FLAGS)

# The policies as a signed OPA bundle, signed with the development key.
bundle: build
	$(PAYGATE) bundle --policies policies/paygate --signing-key testdata/opa/bundle-signing.key --output $(BIN)/paygate-bundle.tar.gz

# A stock Caddy with paygate's modules, built by xcaddy from xcaddy.toml.
xcaddy:
	./scripts/xcaddy-build.sh xcaddy.toml $(BIN)/caddy-paygate

# The container image (Dockerfile) with docker or podman, whichever works
# here; IMAGE names it. Without either, it says so and succeeds.
IMAGE ?= paygate:dev
image:
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
		echo "docker build -t $(IMAGE) ."; docker build -t $(IMAGE) .; \
	elif command -v podman >/dev/null 2>&1; then \
		echo "podman build -t $(IMAGE) ."; podman build -t $(IMAGE) .; \
	elif command -v docker >/dev/null 2>&1; then \
		echo "image: not built: docker is installed but its daemon does not answer (docker info failed), and there is no podman"; \
	else \
		echo "image: not built: neither docker nor podman is installed"; \
	fi

clean:
	rm -rf $(BIN) $(RUN_DIR)
