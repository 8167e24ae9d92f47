"""Fixtures for the LlamaIndex tests: an instrumentation event log and a clean ``Settings``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_index.core import Settings
from llama_index_instrumentation import get_dispatcher

from tests.fakes.llama_index import EventLog


@pytest.fixture
def event_log() -> Iterator[EventLog]:
    """Every instrumentation event fired during the test (root dispatcher)."""
    log = EventLog(events=[])
    root = get_dispatcher()
    root.add_event_handler(log)
    yield log
    root.event_handlers.remove(log)


@pytest.fixture
def clean_settings() -> Iterator[object]:
    """``Settings`` with no global LLM before and after the test."""
    Settings._llm = None
    yield Settings
    Settings._llm = None
