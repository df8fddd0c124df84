# MTD VAT platform — everything runs from here; each target installs what it needs into .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
CHROMIUM := /usr/bin/chromium
# Rule unit tests and `make observe` use Debian's Prometheus (promtool, prometheus) and
# Alertmanager (amtool); the packages do not start any server by themselves.
PROMTOOL := /usr/bin/promtool
AMTOOL   := /usr/bin/amtool

.DEFAULT_GOAL := help
.PHONY: help install up down status logs migrate test lint typecheck check clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[dev,local]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the platform with dev and local extras

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "installing Chromium for the browser tests (apt-get) …"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "the browser tests need Chromium: sudo apt-get install -y chromium" >&2; exit 1; \
	fi

$(PROMTOOL) $(AMTOOL):
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "installing Prometheus and Alertmanager tools (apt-get) …"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null; \
	else \
	  echo "the rule tests and make observe need them: sudo apt-get install -y prometheus prometheus-alertmanager" >&2; exit 1; \
	fi

up: $(STAMP) ## start PostgreSQL, NATS and all six services; print their URLs
	@$(PY) -m services.stack up

down: $(STAMP) ## stop everything started by `make up` (data is kept in .local/)
	@$(PY) -m services.stack down

status: $(STAMP) ## show what runs and whether it is ready
	@$(PY) -m services.stack status

logs: $(STAMP) ## last lines of every service's log (make logs SERVICE=auth)
	@$(PY) -m services.stack logs $(SERVICE)

migrate: $(STAMP) ## create the per-service databases and migrate them to head
	@$(PY) -m services.stack migrate

test: $(STAMP) $(CHROMIUM) $(PROMTOOL) $(AMTOOL) ## run the test suite against real PostgreSQL and NATS (embedded unless given)
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: no tests were collected" >&2; exit 1; fi; exit $$rc

lint: $(STAMP) ## ruff (lint + format check)
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .

typecheck: $(STAMP) ## mypy --strict over services/
	@$(PY) -m mypy

check: lint typecheck test ## everything CI runs

clean: down ## stop the stack and delete .local/ (all local data)
	rm -rf .local

.PHONY: observe
observe: $(STAMP) $(PROMTOOL) ## Prometheus with the platform's rules scraping `make up`'s stack; print its URL
	@$(PY) -m deploy.observe up
