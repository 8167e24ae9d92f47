# Every target works on a fresh clone. Versions come from the lock files in requirements/, so a run
# next month installs what this one did; `make lock` is the only target that moves them.
#
#   .venv         newest end of the matrix: Python 3.13, newest resolution (requirements/newest.txt)
#   .venv-lowest  lowest end: Python 3.10, every runtime dependency at its declared floor
#                 (requirements/lowest.txt)
#   .tools        uv, pinned in requirements/tools.txt, which builds both
#
# `make demo` installs only the runtime extras into .venv; `make test` adds the dev tools on top.

PYTHON         ?= python3
NEWEST_VERSION := 3.13
LOWEST_VERSION := 3.10
PYENV_ROOT     ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
# The newest patch release of Python X.Y under pyenv, else pythonX.Y on PATH.
find_python     = $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)))),$(shell command -v python$(1) 2>/dev/null))
PY_NEWEST      ?= $(call find_python,$(NEWEST_VERSION))
PY_LOWEST      ?= $(call find_python,$(LOWEST_VERSION))

TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
LOWEST := .venv-lowest
BIN    := $(VENV)/bin
RUNTIME_EXTRAS := langchain,llama-index,server
# uv never downloads a Python (CI reaches only the package index) and links, not copies, from its cache.
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
# -rs: every skip is listed with its reason (none is silent).
PYTEST_OFFLINE := --block-network --allowed-hosts=127.0.0.1,localhost,::1 -rs

.PHONY: install install-lowest test test-newest test-lowest lint typecheck lock cassettes bench \
        recall demo serve clean typecheck-lowest

$(UV): requirements/tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet "$$(grep '^uv==' requirements/tools.txt)"
	touch $@

define need_python
	@test -n "$(1)" || { echo "error: Python $(2) not found (pyenv or PATH); pass $(3)=/path/to/python$(2)" >&2; exit 2; }
endef

# Runtime layer: what the demo, the server and the classes need, nothing else.
$(VENV)/.runtime: pyproject.toml requirements/newest.txt | $(UV)
	$(call need_python,$(PY_NEWEST),$(NEWEST_VERSION),PY_NEWEST)
	test -x $(BIN)/python || $(UV) venv --quiet --python $(PY_NEWEST) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python -e '.[$(RUNTIME_EXTRAS)]' -c requirements/newest.txt
	touch $@

# Dev layer: the pinned lint, type-check and test tools on top of the runtime layer.
$(VENV)/.dev: $(VENV)/.runtime requirements/tools.txt
	$(UV) pip install --quiet --python $(BIN)/python -e '.[test]' -c requirements/newest.txt
	touch $@

$(LOWEST)/.dev: pyproject.toml requirements/lowest.txt requirements/tools-lowest.txt | $(UV)
	$(call need_python,$(PY_LOWEST),$(LOWEST_VERSION),PY_LOWEST)
	test -x $(LOWEST)/bin/python || $(UV) venv --quiet --python $(PY_LOWEST) $(LOWEST)
	$(UV) pip install --quiet --python $(LOWEST)/bin/python -e '.[test]' -c requirements/lowest.txt
	touch $@

install: $(VENV)/.dev
install-lowest: $(LOWEST)/.dev

lint: $(VENV)/.dev
	$(BIN)/ruff check langchain_zilliz_bailian llama_index_ext tests scripts
	$(BIN)/ruff format --check langchain_zilliz_bailian llama_index_ext

## mypy --strict, in each environment against its own Python and dependency set.
typecheck: $(VENV)/.dev
	$(BIN)/mypy --cache-dir .mypy_cache/newest
typecheck-lowest: $(LOWEST)/.dev
	$(LOWEST)/bin/mypy --cache-dir .mypy_cache/lowest

## The whole matrix, offline: lint, strict types and every test at both ends (what CI runs).
test: lint test-newest test-lowest

test-newest: typecheck
	@$(BIN)/python -c "import sys; print('== newest end: Python', sys.version.split()[0])"
	ZB_MATRIX_END=newest $(BIN)/python -m pytest $(PYTEST_OFFLINE) -q

test-lowest: typecheck-lowest
	@$(LOWEST)/bin/python -c "import sys; print('== lowest end: Python', sys.version.split()[0])"
	ZB_MATRIX_END=lowest $(LOWEST)/bin/python -m pytest $(PYTEST_OFFLINE) -q

## Re-resolve both lock files from pyproject.toml and the tool pins (needs the package index).
lock: $(UV)
	$(TOOLS)/bin/python scripts/floors.py > requirements/.floors.txt
	$(UV) pip compile --quiet --no-header --universal --python-version $(LOWEST_VERSION) \
	    pyproject.toml --extra test -c requirements/tools.txt -o requirements/newest.txt
	$(UV) pip compile --quiet --no-header --python-version $(LOWEST_VERSION) \
	    --python-platform x86_64-manylinux_2_28 --resolution lowest-direct \
	    pyproject.toml --extra test -c requirements/tools-lowest.txt -c requirements/.floors.txt \
	    -o requirements/lowest.txt
	rm -f requirements/.floors.txt

## Re-record every cassette against the local compatible server (started by the test session).
cassettes: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_OFFLINE) -q -m "vcr" --record-mode=rewrite tests

bench: $(VENV)/.dev
	$(BIN)/python scripts/bench.py

## Retrieval quality of the default (lexical) embedder on the demo corpus.
recall: $(VENV)/.runtime
	$(BIN)/python scripts/recall.py

## Start the local server in-process, ingest the bundled docs, stream sourced answers (loopback only).
demo: $(VENV)/.runtime
	$(BIN)/zilliz-bailian demo

serve: $(VENV)/.runtime
	$(BIN)/zilliz-bailian serve

clean:
	rm -rf $(VENV) $(LOWEST) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache dist build
