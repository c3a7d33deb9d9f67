# Tidewatch: the single entry point. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
CLUSTER := e2e/cluster
TOOLS_BIN = $(shell $(CLUSTER)/build.sh bin-dir)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: test
test: unit alerts check-generated e2e e2e-node ## unit tests, alert rule tests, generated-file freshness, the e2e suite on a local control plane, then the real-node tier

.PHONY: unit
unit: tools ## unit and integration tests that need no cluster
	PATH="$(TOOLS_BIN):$$PATH" $(CARGO) test --workspace --exclude tidewatch-e2e

.PHONY: alerts
alerts: tools ## promtool and amtool checks of alerts/ and the Alertmanager example
	PROMTOOL="$(TOOLS_BIN)/promtool" alerts/check.sh

.PHONY: e2e
e2e: tools ## end-to-end suite against the local control plane (started and stopped around it)
	e2e/run.sh

.PHONY: e2e-node
e2e-node: tools ## the real-node tier: images, a kubelet, the Prometheus Operator, and the tests on them (root)
	e2e/node/run.sh

.PHONY: images
images: tools ## build every image the real node runs, offline, into e2e/.work/images
	e2e/images/build.sh

.PHONY: node-up
node-up: images ## join a real node (containerd, kubelet, kube-proxy, CoreDNS) to the running local control plane
	e2e/node/up.sh

.PHONY: node-down
node-down: ## stop the real node and restore every host setting it changed
	e2e/node/down.sh

.PHONY: monitoring-up
monitoring-up: ## run the Prometheus Operator and a Prometheus on the real node
	e2e/node/monitoring-up.sh

.PHONY: e2e-kind
e2e-kind: ## the e2e suite on a kind cluster with the operator and inference images (needs Docker and kind)
	e2e/kind/run.sh

.PHONY: tools
tools: ## build the pinned control plane, helm, kwok and Prometheus from Go modules (cached)
	$(CLUSTER)/build.sh all

.PHONY: cluster-up
cluster-up: tools ## start etcd, kube-apiserver, controller-manager, scheduler and kwok on loopback
	$(CLUSTER)/up.sh

.PHONY: cluster-down
cluster-down: ## stop every process of the local control plane
	$(CLUSTER)/down.sh

.PHONY: generate
generate: ## regenerate CRDs, dashboards and other generated files
	$(CARGO) run --quiet -p tidewatch-operator -- crds --output-dir crds
	$(CARGO) run --quiet -p tidewatch-operator -- dashboards --output-dir dashboards
	$(CARGO) build --quiet -p tidewatch-operator
	"$${CARGO_TARGET_DIR:-target}/debug/tidewatch-operator" rbac > manifests/rbac/operator.yaml
	charts/generate.sh "$${CARGO_TARGET_DIR:-target}/debug/tidewatch-operator"

.PHONY: check-generated
check-generated: generate ## fail when a generated file is stale
	@if ! git diff --exit-code --stat -- crds dashboards charts/tidewatch manifests; then \
		echo "generated files are stale: run 'make generate' and commit the result" >&2; exit 1; fi

.PHONY: lint
lint: ## rustfmt check and clippy with warnings denied
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

.PHONY: demo
demo: ## the whole system on a local control plane in one command: operator, examples, inference, Prometheus, a failure burst and the alerts it fires
	scripts/demo.sh

.PHONY: demo-down
demo-down: ## stop everything `make demo` started
	scripts/demo-down.sh

.PHONY: bench
bench: bench-inference bench-operator bench-rules ## every benchmark, printing figures (not part of make test)

.PHONY: bench-inference
bench-inference: ## inference server vs MLServer, a FastAPI + scikit-learn baseline and an actix-web floor, measured with wrk
	inference/bench/run.sh

.PHONY: bench-operator
bench-operator: cluster-up ## Tidewatch vs Sloth's controller on the local control plane: 1,000 MLServices + 1,000 SLOs vs 1,000 PrometheusServiceLevels, created without a rate limit
	operator/bench/run.sh

.PHONY: bench-rules
bench-rules: ## 500 SLOs' rules, Tidewatch's and Sloth's, evaluated side by side in one Prometheus
	operator/bench/rules/run.sh
