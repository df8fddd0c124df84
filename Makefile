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

.PHONY: coverage
coverage: $(STAMP) $(CHROMIUM) $(PROMTOOL) $(AMTOOL) ## the test suite under coverage, then the gate (80% overall, 90% critical modules)
	@rm -f .coverage .coverage.*
	@$(PY) -m pytest --cov --cov-report=term:skip-covered $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: no tests were collected" >&2; exit 1; fi; \
	  [ $$rc -eq 0 ] || exit $$rc
	@$(PY) -m contracts.coverage_gate

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

.PHONY: demo
demo: $(STAMP) ## the whole journey on the HMRC sandbox: tenant, connection, return, receipt (starts the stack if needed)
	@$(PY) -m services.stack up
	@$(PY) -m services.cli demo

.PHONY: chaos
chaos: $(STAMP) ## chaos drills on a fresh local stack under load; table + JSON in chaos/results/ (DRILL=name for one)
	@$(PY) -m chaos.drills $(if $(DRILL),--drill $(DRILL))

# Load test: PROFILE=smoke|baseline|deadline|soak; LOAD_ARGS e.g. "--spike-rate 50 --spike-seconds 120".
PROFILE ?= smoke
.PHONY: load
load: $(STAMP) ## k6 load test, drain, reconciliation and hmrclib comparison (PROFILE=smoke)
	@$(PY) -m loadtests.run --profile $(PROFILE) $(LOAD_ARGS)

# Backups and disaster recovery (services/backup). BACKUP_DIR, BACKUP_ENCRYPTION_KEY[_FILE]
# and BACKUP_DATABASE_URL as for `python -m services.backup`; the local stack by default.
DRILL_RETURNS ?= 100000
.PHONY: backup dr-drill
backup: $(STAMP) ## sealed base backup + logical dumps of the stack into .local/backups
	@$(PY) -m services.backup backup

dr-drill: $(STAMP) ## load 100k returns, back up, destroy, restore, verify; report RTO and RPO
	@mkdir -p .local
	@$(PY) -m services.backup drill --returns $(DRILL_RETURNS) --report .local/dr-drill-report.json

# Key rotation under load (services/auth/bench.py): KEK and signing key rotated, re-wrapped
# online across two auth processes; fails on any failed request or unreadable value.
ROTATION_SECONDS ?= 120
ROTATION_RATE ?= 20
.PHONY: rotation-bench
rotation-bench: $(STAMP) ## rotate KEK, signing key and a client secret under load; 0 failures
	@$(PY) -m services.auth.bench --seconds $(ROTATION_SECONDS) --rate $(ROTATION_RATE)

# Security checks: bandit (bandit.yaml, reviewed findings in bandit-baseline.json), a secret
# scan of every file git would see against .secrets.baseline (compared on a copy: moved
# lines are not a failure, new secrets are), and pip-audit when PyPI is reachable.
.PHONY: security
security: $(STAMP) ## bandit, secret scan, dependency audit (skipped when offline)
	@$(VENV)/bin/bandit -q -c bandit.yaml -b bandit-baseline.json -r services deploy loadtests contracts
	@tmp=$$(mktemp); cp .secrets.baseline $$tmp; \
	  git ls-files -z --cached --others --exclude-standard | \
	  xargs -0 sh -c '$(VENV)/bin/detect-secrets-hook --baseline "$$0" "$$@"; rc=$$?; [ $$rc -eq 3 ] && rc=0; exit $$rc' $$tmp; \
	  rc=$$?; rm -f $$tmp; \
	  if [ $$rc -ne 0 ]; then echo "secret scan: new secrets (above); see docs/security.md" >&2; exit 1; fi
	@if ! $(PY) -c 'import urllib.request as u; u.urlopen("https://pypi.org/pypi/pip/json", timeout=10)' 2>/dev/null; then \
	  echo "pip-audit: skipped, PyPI's vulnerability data is unreachable from here (network)"; \
	else \
	  tmp=$$(mktemp); $(VENV)/bin/pip-audit --skip-editable --progress-spinner off -f json -o $$tmp >/dev/null 2>&1; \
	  $(PY) -c "$$PIP_AUDIT_VERDICT" $$tmp; rc=$$?; rm -f $$tmp; exit $$rc; \
	fi

# pip-audit's JSON to a verdict: a dependency PyPI does not know (a private mirror's
# versions) was not audited, so "no vulnerabilities" is only claimed for what was.
define PIP_AUDIT_VERDICT
import json, sys
deps = json.load(open(sys.argv[1]))["dependencies"]
audited = [d for d in deps if "skip_reason" not in d]
found = [f"{d['name']} {d['version']}: {v['id']}" for d in audited for v in d.get("vulns", [])]
for line in found:
    print("pip-audit: VULNERABLE", line)
if not audited:
    print(f"pip-audit: skipped, PyPI has vulnerability data for none of the {len(deps)} installed versions (mirror or network)")
else:
    print(f"pip-audit: {len(audited)} audited, {len(found)} known vulnerabilities, {len(deps) - len(audited)} not on PyPI")
sys.exit(1 if found else 0)
endef
export PIP_AUDIT_VERDICT

.PHONY: contracts
contracts: $(STAMP) ## regenerate contracts/openapi/*.json and the model-derived event schemas
	@$(PY) -m contracts

.PHONY: mutation
mutation: $(STAMP) ## mutation testing (mutmut) of the fraud-header and return validation; prints the score
	@rm -rf mutants
	@$(PY) -m mutmut run --max-children $${MUTATION_JOBS:-2}
	@$(PY) -m mutmut export-cicd-stats >/dev/null
	@$(PY) -m contracts.mutation_score

# The golden dataset: every scenario in golden-dataset/ against the stack in MTD_LOCAL_DIR
# (a fresh temporary one when unset) with the HMRC simulator in deterministic mode.
.PHONY: golden golden-update
golden: $(STAMP) ## run the golden dataset; a hash mismatch or a diff fails
	@$(PY) -m golden run

golden-update: $(STAMP) ## re-record the golden dataset's expected outputs and its manifest
	@$(PY) -m golden update
