# Two commands matter: `make run` (serve the API locally) and `make test` (the whole suite).
SHELL := /bin/bash
# The template's Runtime (tests/project/test_consistency.py keeps the two in step). The first such Python
# that runs: python3.13 on PATH, else pyenv's (a pyenv shim exists even where its version is not selected).
PYTHON_VERSION := 3.13
ifndef PYTHON
PYTHON := $(shell for p in python$(PYTHON_VERSION) "$$(pyenv prefix $(PYTHON_VERSION) 2>/dev/null)/bin/python$(PYTHON_VERSION)"; do \
	"$$p" -c 'import platform; assert platform.python_version().startswith("$(PYTHON_VERSION).")' 2>/dev/null \
	&& { command -v "$$p"; break; }; done)
endif
ifeq ($(PYTHON),)
PYTHON = $(error Python $(PYTHON_VERSION) not found: put python$(PYTHON_VERSION) on PATH or run `pyenv install $(PYTHON_VERSION)`)
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# SAM CLI and cfn-lint live in a tool venv of their own: aws-sam-cli pins older boto3 and pydantic.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
# `sam build` for python3.13 runs `python3.13` from PATH: the interpreter's own directory goes first.
SAM = PATH="$(shell $(PYTHON) -c 'import os, sys; print(os.path.dirname(sys.executable))'):$$PATH" \
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
HOST ?= 127.0.0.1
PORT ?= 3000
# The template's Architecture parameter for `make build` (deploys); the layer's Makefile reads it too.
ARCHITECTURE ?= arm64
export DATABASE_URL ?= sqlite:///.local/invest.db

.PHONY: install run migrate test lint lint-template typecheck generate build bench docs docs-build clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/invest migrate

run: migrate
	$(BIN)/invest serve --host $(HOST) --port $(PORT)

# The whole suite: every database, Redis, a real browser and Docker (for `sam local`, test-sam's part),
# which devtools/ensure-services brings up.
test: install $(SAM_STAMP)
	devtools/ensure-services
	$(BIN)/pytest

# The suite on SQLite alone, without servers, browser or slow tests: under a minute.
.PHONY: test-quick
test-quick: install
	$(BIN)/pytest -m "not (postgres or mysql or redis or browser or slow or sam)"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# Every generated file: the bundled OpenAPI document and the monitoring stack (devtools/invest_dev/generate.py).
generate: install
	$(BIN)/invest generate

$(SAM_STAMP): devtools/sam-requirements.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r devtools/sam-requirements.txt
	touch $(SAM_STAMP)

# Lambda's /opt and /var/task are read-only and sam build ships no bytecode, so every cold start would
# compile each module it imports, several times its cost (docs/operations.md#build). unchecked-hash:
# the deployment zip's 2-second timestamps would make timestamp-checked .pyc files look stale.
build: $(SAM_STAMP)
	ARCHITECTURE=$(ARCHITECTURE) $(SAM) build --template-file template.yaml --parameter-overrides Architecture=$(ARCHITECTURE)
	$(PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build

lint-template: $(SAM_STAMP)
	$(SAM_VENV)/bin/cfn-lint template.yaml monitoring/template.yaml
	$(SAM) validate --lint --template-file template.yaml

# sam local (docs/development.md#sam-local): the functions in Lambda runtime containers, on the host's
# architecture, with the runtime image built here from Debian packages (devtools/invest_dev/sam/) and the
# flags of samconfig.toml's `local` environment; on PostgreSQL (SAM_DATABASE_URL), or on SQLite
# (SAM_DATABASE=sqlite: .local/sam/sqlite/invest.db, or a sqlite:/// SAM_DATABASE_URL), migrated first.
.PHONY: sam-api sam-invoke test-sam
SAM_SERVICES = docker $(if $(filter sqlite,$(SAM_DATABASE))$(findstring sqlite:,$(SAM_DATABASE_URL)),,postgres)
sam-api: install $(SAM_STAMP)
	devtools/ensure-services $(SAM_SERVICES)
	$(BIN)/python -m invest_dev.sam api

sam-invoke: install $(SAM_STAMP)
	@test -n "$(FN)" || { echo "usage: make sam-invoke FN=<function logical ID>, e.g. FN=HealthFunction" >&2; exit 2; }
	devtools/ensure-services $(SAM_SERVICES)
	$(BIN)/python -m invest_dev.sam invoke $(FN)

# Every function once in its runtime container, the gateway suites and the fidelity test through sam local.
test-sam: install $(SAM_STAMP)
	devtools/ensure-services docker postgres
	$(BIN)/pytest -m sam -p no:randomly

# The bundled OpenAPI document, linted by Redocly CLI (rules in redocly.yaml; every problem is an error) and
# Spectral (.spectral.yaml) at the versions devtools/package-lock.json pins, as it pins openapi-diff.
NODE_STAMP := devtools/node_modules/.package-lock.json
$(NODE_STAMP): devtools/package.json devtools/package-lock.json
	cd devtools && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# The suite's breaking-change check runs openapi-diff, pinned there too (tests/http/test_breaking_changes.py).
test: $(NODE_STAMP)

.PHONY: lint-openapi
lint-openapi: $(NODE_STAMP)
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true devtools/node_modules/.bin/redocly lint \
		--config redocly.yaml layers/common/investment_system/openapi.json
	devtools/node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity hint \
		layers/common/investment_system/openapi.json

# Cold start (without and with SnapStart) and warm latency of every function, beside a single-app reference
# in the same runs; package sizes of the last build. Writes docs/benchmarks.md (see devtools/invest_dev/bench/).
bench: install
	$(BIN)/python -m invest_dev.bench

# Mixed traffic from many simulated investors, then an audit of the database against what they were told
# (devtools/invest_dev/load/, docs/load-testing.md). Each writes its section of docs/load-results.md.
# LOAD_ARGS adds options: LOAD_ARGS="--database postgres", "--base-url https://<stage> --database-url ...".
.PHONY: load load-postgres-outage load-redis-outage load-ci
load: install
	$(BIN)/python -m invest_dev.load $(LOAD_ARGS)

load-postgres-outage: install
	$(BIN)/python -m invest_dev.load --fault postgres $(LOAD_ARGS)

load-redis-outage: install
	$(BIN)/python -m invest_dev.load --fault redis $(LOAD_ARGS)

# CI's short runs: SQLite, then PostgreSQL with an outage; they fail the build when the audit fails.
load-ci: install
	$(BIN)/python -m invest_dev.load --ci

# The documentation site (docs/, mkdocs.yml): served with live reload, or built into site/ failing on any warning.
docs: install
	$(BIN)/mkdocs serve -a 127.0.0.1:8000

docs-build: install
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) $(SAM_VENV) .local .aws-sam .pytest_cache .mypy_cache .ruff_cache site
