# One virtual environment, made by the targets that need it; every target works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_OFFLINE := --block-network --allowed-hosts=127.0.0.1,localhost,::1

.PHONY: install test lint typecheck cassettes bench recall demo serve clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check langchain_zilliz_bailian llama_index_ext tests scripts
	$(BIN)/ruff format --check langchain_zilliz_bailian llama_index_ext

typecheck: $(STAMP)
	$(BIN)/mypy

## The whole suite, offline: lint, strict types, then every test (cassettes replay, the local server runs on loopback).
test: lint typecheck
	$(BIN)/python -m pytest $(PYTEST_OFFLINE) -q

## Re-record every cassette against the local compatible server (started by the test session).
cassettes: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_OFFLINE) -q -m "vcr" --record-mode=rewrite tests

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

## Retrieval quality of the default (lexical) embedder on the demo corpus.
recall: $(STAMP)
	$(BIN)/python scripts/recall.py

## Start the local server in-process, ingest the bundled docs, stream sourced answers (loopback only).
demo: $(STAMP)
	$(BIN)/zilliz-bailian demo

serve: $(STAMP)
	$(BIN)/zilliz-bailian serve

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build
