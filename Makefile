# Fanzha — developer and CI entry points. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fanzha-setup-stamp
PYTEST_ARGS ?= -q

export DEBIAN_FRONTEND := noninteractive

# Debian packages the tests need. Each one has a check command that succeeds when it is
# already there; `make sysdeps` installs (as root) only the packages whose check fails.
# To add one:  SYS_PACKAGES += nats-server
#              SYS_CHECK_nats-server := command -v nats-server
SYS_PACKAGES := postgresql
SYS_CHECK_postgresql := command -v initdb || ls /usr/lib/postgresql/*/bin/initdb
# The browser tests drive Debian's chromium (never a downloaded one); npm installs the
# pages' front-end packages (HTMX, ECharts) at setup.
# fonts-wqy-zenhei: Chinese glyphs in the browser's screenshots (docs/screenshots).
SYS_PACKAGES += chromium npm fonts-wqy-zenhei
SYS_CHECK_chromium := command -v chromium
SYS_CHECK_npm := command -v npm
SYS_CHECK_fonts-wqy-zenhei := fc-list :lang=zh | grep -q .
NODE_STAMP := node_modules/.fanzha-npm-stamp
KERNEL_STAMP := $(VENV)/.fanzha-kernels-stamp
# The sources of the compiled loops (Numba caches each in __pycache__ beside its file).
KERNEL_SOURCES := $(shell grep -rl --include='*.py' '^@kernel' fanzha 2>/dev/null)

.PHONY: help setup sysdeps test check lint types imports demo bench clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

setup: $(STAMP) $(NODE_STAMP) $(KERNEL_STAMP) ## create .venv from uv.lock and node_modules from package-lock.json, compile the kernels

# The pages' HTMX and ECharts come from npm at setup, never at run time, and are never
# committed (the app serves them from node_modules at /static/vendor/). Offline-safe: the
# npm cache is tried first, and a missing npm only warns (the API works without the pages).
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefer-offline --no-audit --no-fund --loglevel=error \
	    || npm ci --offline --no-audit --no-fund --loglevel=error; \
	  touch $@; \
	else \
	  echo "setup: npm is missing ('sudo make sysdeps'): the web pages will lack HTMX and ECharts"; \
	fi

# Re-sync when the venv is missing or the lock (or pyproject) is newer than the stamp.
$(STAMP): uv.lock pyproject.toml
	@if command -v uv >/dev/null 2>&1; then uv=uv; else \
	  echo "setup: installing uv with pip"; \
	  $(PYTHON) -m pip install --quiet uv \
	    || $(PYTHON) -m pip install --quiet --user --break-system-packages uv; \
	  uv="$(PYTHON) -m uv"; \
	fi; \
	$$uv sync --frozen --compile-bytecode
	@touch $@

# Compile the Numba kernels once (20-30 s in a fresh checkout), so that the first demo or
# replay does not; again when a kernel's source changes. A failure only warns: the kernels
# then compile on their first call, as they would without this step.
$(KERNEL_STAMP): $(STAMP) $(KERNEL_SOURCES) fanzha/warming.py
	@echo "setup: compiling the Numba kernels (once; cached in __pycache__)"
	@$(BIN)/python -m fanzha.warming || echo "setup: kernels not compiled now; they compile on first use"
	@touch $@

sysdeps: ## install missing Debian packages the tests need (as root)
	@missing=""; \
	$(foreach p,$(SYS_PACKAGES),if ! ( $(SYS_CHECK_$(p)) ) >/dev/null 2>&1; then missing="$$missing $(p)"; fi;) \
	if [ -z "$$missing" ]; then \
	  echo "sysdeps: present: $(SYS_PACKAGES)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "sysdeps: installing$$missing"; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "sysdeps: missing Debian packages:$$missing"; \
	  echo "sysdeps: run 'sudo make sysdeps' (or 'sudo apt-get install$$missing');"; \
	  echo "sysdeps: until then the tests that need them are skipped (and fail under CI=true)."; \
	fi

test: sysdeps setup ## run the test suite (Debian packages first: npm is one of them)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: setup ## mypy --strict (files and options in pyproject.toml)
	$(BIN)/mypy --strict

imports: setup ## import-linter contracts (pure packages import no adapters)
	$(BIN)/lint-imports

check: lint types imports test ## lint + types + import contracts + tests

demo: setup ## run the end-to-end demo
	$(BIN)/fanzha demo

bench: setup ## run the benchmarks
	$(BIN)/python -m bench

clean: ## remove caches and build outputs (keeps .venv and data)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis .coverage htmlcov dist build
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
	rm -f $(KERNEL_STAMP)

distclean: clean ## also remove .venv
	rm -rf $(VENV)
