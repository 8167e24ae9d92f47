"""Fixtures for the Bailian app tests: mock clients, recordings, and an offline app backend.

``bailian_backend`` is the app the standard LangChain suites talk to: the session's local
compatible server (``local_server`` in ``tests/conftest.py``, Milvus Lite in a temp dir) on
loopback. Only ``BAILIAN_TEST_BACKEND=fake`` swaps in :class:`tests.fakes.bailian.FakeApp` behind
``httpx.MockTransport``; a server that fails to start fails the tests, never falls back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.bailian import BailianAppClient
from tests.fakes.bailian import (
    API_KEY,
    APP_ID,
    BASE_URL,
    NO_WAIT,
    Backend,
    FakeApp,
    Recorder,
    mock_http,
)


@pytest.fixture
def make_client() -> Callable[..., tuple[BailianAppClient, Recorder]]:
    """Build a client whose sync and async transports answer from a :class:`Recorder`."""

    def make(*responses: Callable[[], httpx.Response], **kwargs: Any):
        recorder = Recorder(list(responses))
        kwargs.setdefault("retry_policy", NO_WAIT)
        client = BailianAppClient(
            kwargs.pop("app_id", APP_ID),
            api_key=kwargs.pop("api_key", API_KEY),
            **mock_http(recorder),
            **kwargs,
        )
        return client, recorder

    return make


@pytest.fixture
def make_model() -> Callable[..., tuple[Any, Recorder]]:
    """Build a ``ChatBailianApp`` (or ``cls=BailianAppLLM``) answering from a :class:`Recorder`."""
    from langchain_zilliz_bailian import ChatBailianApp

    def make(*responses: Callable[[], httpx.Response], cls: Any = ChatBailianApp, **params: Any):
        recorder = Recorder(list(responses))
        params.setdefault("app_id", APP_ID)
        params.setdefault("api_key", API_KEY)
        params.setdefault("max_retries", 0)
        return cls(**mock_http(recorder), **params), recorder

    return make


@pytest.fixture(scope="session")
def bailian_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The session's local server; the in-test fake app only when asked for by name."""
    if os.environ.get("BAILIAN_TEST_BACKEND") != "fake":
        server = request.getfixturevalue("local_server")
        yield Backend("local", server.bailian_base_url, server.api_key)
        return
    sync_client, async_client = FakeApp().clients()
    try:
        yield Backend(
            "fake",
            BASE_URL,
            API_KEY,
            clients={"http_client": sync_client, "http_async_client": async_client},
        )
    finally:
        sync_client.close()
