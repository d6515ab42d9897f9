# sote-broker: developer and CI entry points (GNU make). `make help` lists them.
#
#   make install                       uv (from PyPI if missing), then .venv from uv.lock
#   make lint                          ruff check + mypy --strict broker/ bench/
#   make test [PYTEST_ARGS="-k foo"]   lint, then pytest on PYTEST_WORKERS processes (default 2)
#   make demo                          broker, mock IdPs, demo portal, mail sink (8000-8006, 8025)
#   make demo-ha                       the same with two replicas on PostgreSQL behind a balancer
#   make bench                         benchmarks (bench/README.md); figures, not pass/fail
#   make mutate [MODULES="oidc claims"]  mutation testing by module group (docs/mutation.md)
#   make clean                         remove .venv, var/ and caches

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
UV ?= scripts/uv.sh
# Debian packages the project needs (installed only if missing, only as root): chromium for the
# browser tests (tests/browser, Playwright drives /usr/bin/chromium; it never downloads one);
# postgresql for the store's tests on PostgreSQL (tests/postgres.py runs its own server).
APT_PACKAGES ?= chromium xmlsec1 postgresql
PYTEST_ARGS ?=
# pytest-xdist processes for `make test` (0: the tests in pytest's own process, as for --pdb). Two,
# not `auto`: this is a 2-core machine shared with others, and most tests wait on real servers,
# PostgreSQL or Chromium (each worker starts its own) rather than on the CPU. --dist worksteal:
# each worker starts on one half of the tests in order (a file's module fixtures are made about
# once) and takes half of what the other has left when it is done, so neither waits at the end
# (tests/upstream and tests/flows ran quicker so than with load or loadfile).
PYTEST_WORKERS ?= 2
# Module groups for `make mutate` (scripts/mutate.py --list); empty: the default set (about
# 17 minutes). Each group is stopped after MUTATE_TIMEOUT seconds.
MODULES ?=
MUTATE_TIMEOUT ?= 1200

export PYTHON
# uv cannot download Python builds here: always use the system's Python.
export UV_PYTHON_DOWNLOADS ?= never

.PHONY: help install lint test demo demo-ha bench mutate clean

help:
	@sed -n 's/^#   make/make/p' $(firstword $(MAKEFILE_LIST))

install:
	scripts/apt-install.sh $(APT_PACKAGES)
	scripts/install-uv.sh
	$(UV) sync --frozen --python $(PYTHON)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy --strict broker/ bench/

test: install lint
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

demo: install
	scripts/demo.sh

demo-ha: install
	scripts/demo-ha.sh

bench: install
	$(UV) run --frozen python -m bench

mutate: install
	MUTATE_TIMEOUT=$(MUTATE_TIMEOUT) $(UV) run --frozen python scripts/mutate.py $(MODULES)

clean:
	rm -rf .venv var mutants .pytest_cache .mypy_cache .ruff_cache
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
