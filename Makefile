# lvs.cluster — the stable interface (see README.md).
#   make demo       boot the lab, roll out a cluster with lvs.cluster.site, show it, drill a failover
#   make test       everything CI runs: lint, unit, sanity, build, lab and Molecule on UML guests
#   make lab-up     boot the default lab topology (5 UML guests); make lab-down removes it all
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
LABCTL := lab/labctl

.PHONY: help demo host-deps venv test lint unit sanity build lab-test molecule lab-up lab-down \
	lab-status soak bench-reconcile bench-module bench-scale bench-import bench-rollout bench-failover bench-checks bench-scaleout clean monitoring

help:
	@echo "make demo      boot the lab, roll out a cluster, show it working, drill a failover"
	@echo "make test      run everything CI runs (installs what it needs)"
	@echo "make lab-up    boot the default lab (lvs1 lvs2 web1 web2 client); make lab-down"
	@echo "make lint | unit | sanity | build | monitoring | lab-test | molecule   one stage of make test"
	@echo "make soak      20 crash/boot cycles of the pair on the lab (not in make test; SOAK_ARGS)"
	@echo "make bench-reconcile   IPVS reconcile engine vs ipvsadm in a UML guest (bench/)"
	@echo "make bench-module      ipvs_table with 10,000 services: whole Ansible tasks vs the engine"
	@echo "make bench-scale       lvsd at 10,000 x 10: start-up, 1 % reload, resync CPU, RSS (guest)"
	@echo "make bench-import      Python start-up and engine import in a guest, 2026-12-06 vs now"
	@echo "make bench-rollout     the demo lab's rollout and re-run per task, 2026-12-06 vs now"
	@echo "make bench-failover    client gap when the active router dies: ours vs keepalived"
	@echo "make bench-checks      lvsd's check engine CPU (host namespace) and vs keepalived (guest)"
	@echo "make bench-scaleout    a router's crash: three active routers (BGP, ECMP) vs the pair"

host-deps:
	@bash tools/host-deps.sh

$(VENV)/.installed: requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: host-deps $(VENV)/.installed

test: venv
	@bash tools/run-tests.sh

# Boot the default lab (or reuse it), run lvs.cluster.site, show the table, the request spread
# and a failover drill. make lab-down removes the lab.
demo: venv
	@bash tools/demo.sh

lint: venv
	ruff check .
	@# ansible-lint --offline does not put this tree on the collections path: link it there.
	@mkdir -p build/collections/ansible_collections/lvs
	@ln -sfn $(CURDIR) build/collections/ansible_collections/lvs/cluster
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build/collections ansible-lint --offline -q
	@# Module, filter and role docs as the Ansible docsite renders them (markup, references, RST).
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build/collections antsibull-docs lint-collection-docs --plugin-docs --no-skip-rstcheck .
	antsibull-changelog lint

unit: venv
	python -m pytest -q tests/unit lab/tests

sanity: venv
	bash tools/sanity.sh

build: venv
	bash tools/check-build.sh

# The Prometheus rules (promtool check/test rules), the Grafana dashboard, the metric names.
monitoring: venv
	bash tools/check-monitoring.sh

lab-test: venv
	python -m pytest -q tests/integration/lab

molecule: venv
	molecule test --all

lab-up: venv
	$(LABCTL) up

lab-down: venv
	$(LABCTL) down

lab-status: venv
	$(LABCTL) status

# Crash/boot cycles of the pair, sync daemon on, connections held across (lab/soak.py); ~1-2 min
# a cycle. SOAK_ARGS go to lab/soak.py, e.g. SOAK_ARGS="--cycles 5".
soak: venv
	python lab/soak.py $(SOAK_ARGS)

# IPVS reconcile engine vs ipvsadm in one UML guest (lab `bench`); see bench/README.md.
# BENCH_ARGS go to bench/reconcile.py measure, e.g. BENCH_ARGS="--runs 3".
bench-reconcile: venv
	@bash bench/run-reconcile.sh $(BENCH_ARGS)

# ipvs_table with 10,000 services x 10 destinations as whole Ansible tasks (check mode, applied,
# no-op) vs the engine alone, in the lab `benchmodule` (lab/topologies/bench-large.yml); see
# bench/README.md. BENCH_ARGS go to bench/module_scale.py run, e.g. BENCH_ARGS="--runs 3".
bench-module: venv
	@bash bench/run-module-scale.sh $(BENCH_ARGS)

# lvsd at 10,000 services x 10 real servers in one UML guest (and 1,000 x 4 for the growth)
bench-scale: venv
	@bash bench/run-lvsd-scale.sh $(BENCH_ARGS)

# import cost of the engine and the agents in a guest: BENCH_IMPORT_BEFORE's tree vs this one
bench-import: venv
	@bash bench/run-import-time.sh $(BENCH_ARGS)

# the demo lab's rollout and its idempotent re-run, per task: BENCH_ROLLOUT_BEFORE's tree vs this
bench-rollout: venv
	@bash bench/run-rollout-time.sh

# lvsd's check engine: CPU for 1,000 endpoints at 1 s on the host kernel (private namespace)
# and CPU per check against keepalived's TCP_CHECK/HTTP_GET in one UML guest (lab benchchecks).
bench-checks:
	@bash bench/run-checks.sh

clean:
	rm -rf build tests/output .pytest_cache .ruff_cache .hypothesis

# Failover gap seen by a client, ours vs keepalived, in the lab `benchfo`; see bench/README.md.
# BENCH_ARGS go to bench/failover.py, e.g. BENCH_ARGS="--trials 7".
bench-failover: venv
	@.venv/bin/python bench/failover.py $(BENCH_ARGS)

# A router's crash under held connections and new ones: bgp mode's three active routers vs the
# pulse pair (with and without the sync daemon) on the same lab `benchso`; see bench/README.md.
# BENCH_ARGS go to bench/scaleout.py, e.g. BENCH_ARGS="--trials 3".
bench-scaleout: venv
	@.venv/bin/python bench/scaleout.py $(BENCH_ARGS)
