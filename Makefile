# Build / run / test entry points for the onboarding portal.
#
#   make run     migrate, seed the demo tenant, start web + Celery worker + beat (bin/dev)
#   make test    pytest (SQLite + filesystem broker by default; set DATABASE_URL /
#                REDIS_URL for PostgreSQL + Redis). Extra args: make test PYTEST_ARGS="-k foo"
#   make lint    ruff check + ruff format --check
#   make fmt     ruff check --fix + ruff format
#   make lock    regenerate requirements.lock from a fresh venv
#   make bench   benchmarks on PostgreSQL (DATABASE_URL); figures in docs/benchmarks.md
#   make clean   remove caches and collected static files (distclean: also .venv and var/)
#
# The virtualenv is built by the first Python >= 3.12 found (see FIND_PYTHON below);
# override with `make PYTHON=/path/to/python3.12 ...`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV        := .venv
VPY         := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
REQS        := requirements.lock requirements-dev.in requirements.in
PYTEST_ARGS ?=

# Exit status 0 iff the interpreter running it is >= 3.12.
PY_VERSION_CHECK := import sys; sys.exit(sys.version_info < (3, 12))

# Shell snippet printing the real path (sys.executable, so pyenv shims are resolved)
# of the first usable interpreter: python3.13, python3.12 on PATH, then pyenv's
# 3.13.* / 3.12.* builds (newest first; pyenv may be absent), then python3.
# Every candidate is actually run: a pyenv shim for a version that is not
# selected exists on PATH but fails, and is skipped.
FIND_PYTHON = \
  pyroot=$$(command -v pyenv >/dev/null 2>&1 && pyenv root 2>/dev/null || true); \
  pyenv_pys=; \
  if [ -n "$$pyroot" ]; then \
    pyenv_pys=$$( { ls -d "$$pyroot"/versions/3.13.*/bin/python3.13 2>/dev/null || true; } | sort -rV; \
                  { ls -d "$$pyroot"/versions/3.12.*/bin/python3.12 2>/dev/null || true; } | sort -rV ); \
  fi; \
  for c in python3.13 python3.12 $$pyenv_pys python3; do \
    if "$$c" -c '$(PY_VERSION_CHECK)' >/dev/null 2>&1; then \
      "$$c" -c 'import sys; print(sys.executable)'; exit 0; \
    fi; \
  done; \
  exit 1

# Lazily evaluated: only recipes that build a venv pay for the search.
ifdef PYTHON
PYTHON_FOUND = $(shell "$(PYTHON)" -c '$(PY_VERSION_CHECK)' >/dev/null 2>&1 && "$(PYTHON)" -c 'import sys; print(sys.executable)')
else
PYTHON_FOUND = $(shell $(FIND_PYTHON))
endif

define NO_PYTHON_MSG
error: no Python >= 3.12 found. Tried python3.13 and python3.12 on PATH, pyenv versions/3.13.* and 3.12.* (if pyenv is installed) and python3. Install one (e.g. `pyenv install 3.12`, or your OS package python3.12) or pass PYTHON=/path/to/python3.12.
endef

# An existing venv whose interpreter is missing, broken or older than 3.12 is
# rebuilt: mark the stamp out of date so the venv recipe runs and recreates it.
VENV_STALE := $(shell [ -e $(VENV)/pyvenv.cfg ] && ! $(VPY) -c '$(PY_VERSION_CHECK)' >/dev/null 2>&1 && echo yes)
ifeq ($(VENV_STALE),yes)
.PHONY: $(STAMP)
endif

.PHONY: help venv .venv which-python assets run test bench lint fmt lock clean distclean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

which-python:
	@py='$(PYTHON_FOUND)'; \
	if [ -z "$$py" ]; then echo '$(NO_PYTHON_MSG)' >&2; exit 1; fi; \
	echo "$$py"; "$$py" --version

venv .venv: $(STAMP)

$(STAMP): $(REQS)
	@py='$(PYTHON_FOUND)'; \
	if [ -z "$$py" ]; then echo '$(NO_PYTHON_MSG)' >&2; exit 1; fi; \
	if [ -e $(VENV)/pyvenv.cfg ] && ! $(VPY) -c '$(PY_VERSION_CHECK)' >/dev/null 2>&1; then \
	  echo "==> $(VENV) has no usable Python >= 3.12; recreating it"; \
	  rm -rf $(VENV); \
	fi; \
	if [ ! -x $(VPY) ]; then \
	  echo "==> creating $(VENV) with $$py ($$("$$py" --version 2>&1))"; \
	  "$$py" -m venv $(VENV); \
	fi
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install -c requirements.lock -r requirements-dev.in
	@touch $@

# htmx comes from the npm registry (package-lock.json pins it), never copied into the repo.
HTMX := static/vendor/htmx.min.js
$(HTMX): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js $@

assets: $(HTMX)

run: $(STAMP) $(HTMX)
	@mkdir -p var
	$(VPY) manage.py migrate --noinput
	$(VPY) manage.py seed_demo
	exec ./bin/dev

test: $(STAMP) $(HTMX)
	@mkdir -p var
	$(VENV)/bin/pytest $(PYTEST_ARGS)

BENCH_ARGS ?=
bench: $(STAMP)
	@test -n "$${DATABASE_URL:-}" || { echo "make bench needs DATABASE_URL=postgres://... of a database it may scratch" >&2; exit 1; }
	$(VPY) manage.py bench --create-database
	$(VPY) manage.py migrate --noinput
	$(VPY) manage.py bench $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Resolve requirements-dev.in (which includes requirements.in) from scratch, without
# the old lock as constraints, in a throw-away venv, and freeze the result.
lock:
	@py='$(PYTHON_FOUND)'; \
	if [ -z "$$py" ]; then echo '$(NO_PYTHON_MSG)' >&2; exit 1; fi; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "==> resolving requirements-dev.in with $$py in $$tmp"; \
	"$$py" -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install -r requirements-dev.in; \
	"$$tmp/venv/bin/python" -m pip freeze --exclude-editable > "$$tmp/lock"; \
	mv "$$tmp/lock" requirements.lock; \
	echo "==> wrote requirements.lock ($$(wc -l < requirements.lock) packages)"

clean:
	rm -rf .pytest_cache .ruff_cache staticfiles artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) var node_modules static/vendor
