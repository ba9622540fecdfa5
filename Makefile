# Everything runs from a project virtual environment built with Python 3.13 (Lambda's runtime) when
# the machine has it, installed from the lock requirements-dev.txt (every package pinned and hashed). No AWS
# account and no Docker needed. To add a dependency: one pinned line in requirements.in, then `make lock`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BIN ?= $(shell scripts/find-python)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/layers/shared:$(CURDIR)
# The region the user has configured (scripts/aws-region), us-east-1 when none: never one forced over theirs.
ifndef AWS_DEFAULT_REGION
export AWS_DEFAULT_REGION := $(shell scripts/aws-region)
endif
# No usage reports from the SAM CLI: everything here works offline.
export SAM_CLI_TELEMETRY ?= 0
# The runtime's python must be on PATH for `sam build` (BuildMethod: python3.13).
export PATH := $(dir $(PYTHON_BIN)):$(CURDIR)/$(VENV)/bin:$(PATH)
ARGS ?=
FN ?= state
EVENT ?= events/state/kinesis-batch.json


.PHONY: permissions permissions-record
.PHONY: help venv test e2e soak bench local-image sam-local-check invoke-docker unit integration lint demo pipeline invoke build watch clean complexity ruff types python-lint format check unit-check hooks lock results reconcile redrive layer-lock layer-check capacity up down send imports workshop-rounds workshop-generator workshop-generator-rounds workshop-generator-down

help: ## List the targets
	@grep -E '^[a-z0-9%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt
	$(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP) ## Create the virtual environment from the lock (requirements-dev.txt, --require-hashes)

# requirements.in holds the direct dependencies; pip-compile keeps every pin the lock already has unless told
# otherwise (make lock ARGS="--upgrade-package moto"). It asks the package index for every file's hash.
lock: $(STAMP) ## Compile requirements.in into the lock requirements-dev.txt (pip-compile --generate-hashes)
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file requirements-dev.txt $(ARGS) requirements.in

test: $(STAMP) ## Install what the tests need and run them all (unit, integration, property, template) on 2 workers, with coverage and its floor
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist worksteal --cov --cov-report=term $(ARGS)

e2e: $(STAMP) ## End-to-end tests: against the stack of make up, or a deployed one (RISK_PIPELINE_STACK=<stack name>)
	@$(PY) -m labs.generator.deploy idle
	$(PY) -m pytest -q -p no:cacheprovider -rs tests/e2e $(ARGS)

soak: $(STAMP) ## Property-based histories, soak profile: SOAK_HISTORIES (default 1000) fresh random histories; result published
	HYPOTHESIS_PROFILE=soak $(PY) -m pytest -q -p no:cacheprovider -n 2 tests/property -k history $(ARGS)

check: $(STAMP) ## The inner loop (under 20 s): ruff, format check, complexity, mypy, the import contracts and the unit tests, side by side
	$(MAKE) --no-print-directory -j 4 ruff complexity types imports unit-check

unit-check: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

format: $(STAMP) ## ruff's fixes (imports sorted among them) and ruff format, in place
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

hooks: $(STAMP) ## Install pre-commit's git hook (.pre-commit-config.yaml: ruff, format, file checks; offline)
	$(VENV)/bin/pre-commit install

unit: $(STAMP) ## Unit tests only
	$(PY) -m pytest -q tests/unit $(ARGS)

integration: $(STAMP) ## Integration tests only (moto, tables from template.yaml)
	$(PY) -m pytest -q tests/integration $(ARGS)

CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

# checkov (and MiniStack, below) pin libraries of their own that clash with the project's: each gets a virtual
# environment of its own, .venv-<tool> from requirements-<tool>.txt.
.venv-%/.installed: requirements-%.txt
	$(PYTHON_BIN) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip install --quiet -r requirements-$*.txt
	touch $@

# The complexity gate, radon's ranks through xenon as aws-lambda-handler-cookbook has it: no function or method
# above B (cyclomatic complexity 10), every module A (the average of its blocks 5 at most), the average A; tests
# are left out, as there. `radon cc -s -n B .` names the functions above A.
complexity: $(STAMP) ## Cyclomatic complexity gate (xenon): functions B at most, modules A, average A
	$(VENV)/bin/xenon --max-absolute B --max-modules A --max-average A --exclude 'tests/*' .

ruff: $(STAMP) ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP) ## mypy
	$(VENV)/bin/mypy

imports: $(STAMP) ## The import contracts (import-linter, pyproject.toml): the shared layer's layers, localpipe's rooms, no cycle
	$(VENV)/bin/lint-imports --no-cache --no-logo

python-lint: ruff complexity types imports ## ruff, ruff format --check, the complexity gate, mypy, the import contracts

lint: python-lint $(CHECKOV_STAMP) ## python-lint, then cfn-lint, sam validate --lint, the SAM-generated resources (of the workshop generator's template too), checkov, the layer lock
	$(VENV)/bin/cfn-lint template.yaml labs/generator/template.yaml
	$(VENV)/bin/sam validate --lint --template template.yaml
	$(VENV)/bin/sam validate --lint --template labs/generator/template.yaml
	$(PY) -m localpipe.stack.translated
	$(PY) -m localpipe.stack.translated labs/generator/template.yaml
	$(MAKE) --no-print-directory permissions
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet
	$(PY) -m localpipe.stack.layerlock

# make permissions judges every request of the recording (permissions/recording.json) against the template
# resolved for one concrete stack: these say which (any name, region and account give the same answers; the
# account is an example). A checkout of the workshop (GENERATOR=<its GeneratorLambdaPackage>, as make
# workshop-rounds takes it, or WORKSHOP=<the checkout>) adds its generator and frontend.
PERMISSIONS_STACK ?= risk-pipeline-dev
PERMISSIONS_ACCOUNT ?= 123456789012
WORKSHOP_CHECKOUT ?= $(or $(if $(GENERATOR),$(abspath $(GENERATOR)/../..)),$(if $(wildcard $(WORKSHOP)/event-driven),$(abspath $(WORKSHOP))))

permissions: $(STAMP) ## Every recorded AWS request allowed by the template's policies, every grant used (run by make lint)
	$(PY) -m permissions check --stack-name $(PERMISSIONS_STACK) --region $(AWS_DEFAULT_REGION) \
		--account $(PERMISSIONS_ACCOUNT) $(if $(WORKSHOP_CHECKOUT),--workshop $(WORKSHOP_CHECKOUT))

permissions-record: $(STAMP) ## Record again every AWS request each principal makes (local runs on moto; GENERATOR=... adds the workshop's)
	$(PY) -m permissions record $(if $(WORKSHOP_CHECKOUT),--workshop $(WORKSHOP_CHECKOUT))

layer-lock: $(STAMP) ## Re-lock the shared layer: layers/shared/requirements.in -> requirements.txt (every pin, hashes)
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file layers/shared/requirements.txt layers/shared/requirements.in

layer-check: $(STAMP) ## sam build the shared layer and check that it holds exactly its lock (run by make lint)
	$(PY) -m localpipe.stack.layerlock

lab%-check: $(STAMP) ## A lab's check on your code in labs/workbench/ (make lab2-check), or the finished code (FINISHED=1)
	$(PY) -m labs.check $* $(if $(FINISHED),--finished)

bench: $(STAMP) ## Benchmarks side by side in one run: table of figures and targets, compared with the last; result published
	$(PY) -m benchmarks $(ARGS)

# Each command that measures (demo, pipeline, capacity, send, bench, soak, workshop-rounds) publishes its result:
# docs/results/<kind>.json, the latest of each kind (committed), and docs/results/history/ (every run, git-ignored).
results: $(STAMP) ## docs/results.md from the latest published result of each command, with its commit, date and machine
	$(PY) -m results

capacity: $(STAMP) ## Capacity model of the aggregate designs, Combining off and on and two alternatives (simulated time): table, JSON and chart in capacity/results/; result published
	$(PY) -m capacity $(ARGS)

demo: $(STAMP) ## Run the whole pipeline locally on an embedded moto server and check the aggregates; result published
	$(PY) -m localpipe demo $(ARGS)

pipeline: $(STAMP) ## The local pipeline with your own options: make pipeline ARGS="--messages 2000 --crash-rate 0.1"
	$(PY) -m localpipe pipeline $(ARGS)

invoke: $(STAMP) ## Invoke one function in process, without Docker: make invoke FN=state EVENT=events/state/...
	$(PY) -m localpipe invoke $(FN) $(EVENT) $(ARGS)

watch: $(STAMP) ## Live aggregates and latency: the stack of make up, a deployed one (ARGS="--stack NAME") or a local run
	$(PY) -m localpipe watch $(ARGS)

reconcile: $(STAMP) ## Drift of the aggregates from the StateTable; exit 1 on drift (ARGS="--stack NAME [--repair]")
	$(PY) -m localpipe reconcile $(ARGS)

redrive: $(STAMP) ## What the stages gave up, brought back once: the stack of make up, or ARGS="--stack NAME [--queue Q] [--dry-run]"
	$(PY) -m localpipe redrive $(ARGS)

local-image: $(STAMP) ## Docker (started if needed) and the offline Lambda and moto images, built once from the registries
	scripts/docker-daemon start
	PYTHON=$(PY) scripts/local-image

sam-local-check: local-image ## Every sample event through `sam local invoke` in Lambda containers, results checked
	$(PY) -m localpipe.containers.sam_local check

invoke-docker: local-image ## One function in its Lambda container: make invoke-docker FN=StateFunction EVENT=events/...
	$(PY) -m localpipe.containers.sam_local invoke $(FN) $(EVENT)

MINISTACK_VENV := .venv-ministack
# MiniStack pins its own botocore and graphql-core: it gets a virtual environment of its own (the rule above).
MINISTACK_STAMP := $(MINISTACK_VENV)/.installed

up: $(STAMP) $(MINISTACK_STAMP) ## A local AWS (MiniStack, 127.0.0.1:4566) with this stack deployed by sam deploy (WORKSHOP=1: WorkshopMode=true)
	$(PY) -m localpipe.ministack up $(if $(filter-out 0,$(WORKSHOP)),--workshop) $(ARGS)

down: ## Stop what make up started and remove its state (.local-stack/), the workshop's generator with it
	@if [ -x $(PY) ]; then $(PY) -m labs.generator.deploy down; $(PY) -m localpipe.ministack down; \
	else echo "no local stack is up"; fi

workshop-rounds: $(STAMP) ## The workshop's own generator, unchanged, run from here round by round against make up WORKSHOP=1: GENERATOR=/path/to/GeneratorLambdaPackage [ROUNDS=4]
	@$(PY) -m labs.generator.deploy idle
	$(PY) -m labs.workshop_rounds $(GENERATOR) --rounds $(or $(ROUNDS),4)

workshop-generator: $(STAMP) ## The workshop's generator deployed beside make up WORKSHOP=1 (AWS=1: on AWS), playing once a minute: GENERATOR=/path/to/GeneratorLambdaPackage
	$(PY) -m labs.generator.deploy up $(GENERATOR) $(if $(filter-out 0,$(AWS)),--aws)

workshop-generator-rounds: $(STAMP) ## The deployed generator's rounds so far (its log) and its SCORE
	$(PY) -m labs.generator.deploy rounds

workshop-generator-down: $(STAMP) ## Remove the workshop's generator (AWS=1: from AWS)
	$(PY) -m labs.generator.deploy down $(if $(filter-out 0,$(AWS)),--aws)

send: $(STAMP) ## Traffic to the stack of make up, until the aggregates are exact: ARGS=--workshop for the lab-2 burst
	@$(PY) -m labs.generator.deploy idle
	$(PY) -m localpipe.ministack send $(ARGS)

build: $(STAMP) ## sam build (needs python3.13 on PATH)
	$(VENV)/bin/sam build --template template.yaml

clean: ## Remove the virtual environment and build output
	rm -rf $(VENV) $(CHECKOV_VENV) $(MINISTACK_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
