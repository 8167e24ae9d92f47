# Every target works on a fresh clone. Versions come from the lock files in requirements/, so a run
# next month installs what this one did; `make lock` is the only target that moves them.
#
#   .venv         newest end of the matrix: Python 3.13, newest resolution (requirements/newest.txt)
#   .venv-lowest  lowest end: Python 3.10, every runtime dependency at its declared floor
#                 (requirements/lowest.txt)
#   .tools        uv, pinned in requirements/tools.txt, which builds both
#
# `make demo` installs only the runtime extras into .venv; `make test` syncs both venvs to their
# locks exactly (dev tools included) and runs the suite in each.

PYTHON         ?= python3
NEWEST_VERSION := 3.13
LOWEST_VERSION := 3.10
PYENV_ROOT     ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
# The newest patch release of Python X.Y under pyenv (version order), else pythonX.Y on PATH.
find_python     = $(or $(lastword $(shell ls -d $(PYENV_ROOT)/versions/$(1).*/bin/python$(1) 2>/dev/null | sort -V)),$(shell command -v python$(1) 2>/dev/null))
# The demo runs on any Python >= 3.10 (python3 when 3.13 is missing); `make test` checks that each
# venv runs its end's version (tests/toolchain).
PY_NEWEST      ?= $(or $(call find_python,$(NEWEST_VERSION)),$(shell command -v $(PYTHON)))
PY_LOWEST      ?= $(call find_python,$(LOWEST_VERSION))
# Full versions ("3.13.0"); each venv's stamps carry them, so a venv on another Python is rebuilt.
py_version      = $(if $(1),$(shell $(1) -c 'import sys; print(sys.version.split()[0])' 2>/dev/null))
NEWEST_PY      := $(call py_version,$(PY_NEWEST))
LOWEST_PY      := $(call py_version,$(PY_LOWEST))

TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
LOWEST := .venv-lowest
BIN    := $(VENV)/bin
RUNTIME_EXTRAS := langchain,llama-index,server
# uv never downloads a Python (CI reaches only the package index), and copies files out of its
# cache rather than hard-linking them (the cache may sit on another file system).
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
# -rs: every skipped test is listed with its reason (none is silent).
PYTEST_OFFLINE := --block-network --allowed-hosts=127.0.0.1,localhost,::1 -rs

.PHONY: install install-lowest test test-newest test-lowest test-milvus lint typecheck \
        typecheck-lowest lock cassettes bench bench-server recall demo serve clean

$(UV): requirements/tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet "$$(grep '^uv==' requirements/tools.txt)"
	touch $@

# Stop when Python $(2) was not found: $(1) is its full version (empty then), $(3) the variable
# that chooses another.
define need_python
	@test -n "$(1)" || { echo "error: Python $(2) not found (pyenv or PATH); pass $(3)=/path/to/python$(2)" >&2; exit 2; }
endef

# A venv at $(1) running exactly Python $(3) (made from $(2)); another one there is replaced.
define fresh_venv
	test "$$($(1)/bin/python -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)" = "$(3)" \
	    || { rm -rf $(1) && $(UV) venv --quiet --python $(2) $(1); }
endef

# Runtime layer: what the demo, the server and the classes need, nothing else.
$(VENV)/.runtime-$(NEWEST_PY): pyproject.toml requirements/newest.txt requirements/build.txt | $(UV)
	$(call need_python,$(NEWEST_PY),$(NEWEST_VERSION),PY_NEWEST)
	$(call fresh_venv,$(VENV),$(PY_NEWEST),$(NEWEST_PY))
	$(UV) pip install --quiet --python $(BIN)/python --build-constraints requirements/build.txt \
	    -e '.[$(RUNTIME_EXTRAS)]' -c requirements/newest.txt
	touch $@

# Dev layer: exactly the lock (the pinned lint, type-check and test tools included), then the
# package itself, editable.
$(VENV)/.dev-$(NEWEST_PY): $(VENV)/.runtime-$(NEWEST_PY) requirements/tools.txt
	$(UV) pip sync --quiet --python $(BIN)/python requirements/newest.txt
	$(UV) pip install --quiet --python $(BIN)/python --build-constraints requirements/build.txt \
	    --no-deps -e .
	touch $@

$(LOWEST)/.dev-$(LOWEST_PY): pyproject.toml requirements/lowest.txt requirements/tools-lowest.txt \
        requirements/build-lowest.txt | $(UV)
	$(call need_python,$(LOWEST_PY),$(LOWEST_VERSION),PY_LOWEST)
	$(call fresh_venv,$(LOWEST),$(PY_LOWEST),$(LOWEST_PY))
	$(UV) pip sync --quiet --python $(LOWEST)/bin/python requirements/lowest.txt
	$(UV) pip install --quiet --python $(LOWEST)/bin/python \
	    --build-constraints requirements/build-lowest.txt --no-deps -e .
	touch $@

install: $(VENV)/.dev-$(NEWEST_PY)
install-lowest: $(LOWEST)/.dev-$(LOWEST_PY)

lint: install
	$(BIN)/ruff check langchain_zilliz_bailian llama_index_ext tests scripts
	$(BIN)/ruff format --check langchain_zilliz_bailian llama_index_ext tests scripts

## mypy --strict, in each environment against its own Python and dependency set.
typecheck: install
	$(BIN)/mypy --cache-dir .mypy_cache/newest
typecheck-lowest: install-lowest
	$(LOWEST)/bin/mypy --cache-dir .mypy_cache/lowest

## The whole matrix, offline: lint, strict types and every test at both ends (what CI runs).
test: lint test-newest test-lowest

test-newest: typecheck
	@echo "== newest end: Python $(NEWEST_PY)"
	ZB_MATRIX_END=newest ZB_MATRIX_PYTHON=$(NEWEST_VERSION) \
	    $(BIN)/python -m pytest $(PYTEST_OFFLINE) -q

test-lowest: typecheck-lowest
	@echo "== lowest end: Python $(LOWEST_PY)"
	ZB_MATRIX_END=lowest ZB_MATRIX_PYTHON=$(LOWEST_VERSION) \
	    $(LOWEST)/bin/python -m pytest $(PYTEST_OFFLINE) -q

## The whole server suite on a real Milvus server (PyPI milvus's milvus-server, started and stopped
## by the test session; about a minute to start). `make test` runs a reduced suite there.
test-milvus: install
	ZB_TEST_REAL_MILVUS=1 $(BIN)/python -m pytest $(PYTEST_OFFLINE) -q tests/server

## Re-resolve both lock files from pyproject.toml and the tool pins (needs the package index).
lock: $(VENV)/.runtime-$(NEWEST_PY)
	$(BIN)/python scripts/floors.py > requirements/.floors.txt
	$(UV) pip compile --quiet --no-header --universal --python-version $(LOWEST_VERSION) \
	    pyproject.toml --extra test -c requirements/tools.txt -o requirements/newest.txt
	$(UV) pip compile --quiet --no-header --python-version $(LOWEST_VERSION) \
	    --python-platform x86_64-manylinux_2_28 --resolution lowest-direct \
	    pyproject.toml --extra test -c requirements/tools-lowest.txt -c requirements/.floors.txt \
	    -o requirements/lowest.txt
	rm -f requirements/.floors.txt

## Re-record every cassette against the local compatible server (started by the test session).
cassettes: install
	$(BIN)/python -m pytest $(PYTEST_OFFLINE) -q -m "vcr" --record-mode=rewrite tests

## Client benchmarks: the demo path, 40 concurrent ainvoke on a cold retriever vs raw httpx (one
## describe call), and the cost per SSE event layer by layer (raw httpx, client, LangChain floor).
bench: install
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_fanout.py
	$(BIN)/python scripts/bench_stream.py

## The local server against pymilvus on the same data: search p50 at 1k/10k/50k chunks, then
## throughput and p99 at 1/8/32 clients (Milvus Lite; pass --milvus-uri to the script for a server).
bench-server: install
	$(BIN)/python scripts/bench_search.py
	$(BIN)/python scripts/bench_concurrency.py

## Recall@1/@4, MRR, indexing throughput and search latency of each embedder on two corpora.
recall: $(VENV)/.runtime-$(NEWEST_PY)
	$(BIN)/python scripts/recall.py

## Start the local server in-process, ingest the bundled docs, stream sourced answers (loopback only).
demo: $(VENV)/.runtime-$(NEWEST_PY)
	$(BIN)/zilliz-bailian demo

serve: $(VENV)/.runtime-$(NEWEST_PY)
	$(BIN)/zilliz-bailian serve

clean:
	rm -rf $(VENV) $(LOWEST) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache dist build
